"""Catalog persistence for ``data_dir``: one JSON file next to the vault, rewritten atomically.

Passwords are not written: the server re-sets them from its constructor on every start."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from cyverse_link.sandbox.irods.catalog import Avu, Catalog, Coll, DataObj, Replica, User

FILE_NAME = "catalog.json"
VERSION = 1


def save(cat: Catalog, data_dir: Path) -> None:
    with cat.lock:
        state = {
            "version": VERSION,
            "zone": cat.zone,
            "next_id": cat.next_id,
            "users": [{**dataclasses.asdict(u), "password": ""} for u in cat.users.values()],
            "colls": [dataclasses.asdict(c) for c in cat.colls.values()],
            "objs": [dataclasses.asdict(o) for o in cat.objs.values()],
        }
        cat.dirty = False
    target = data_dir / FILE_NAME
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, target)


def load(cat: Catalog, data_dir: Path) -> bool:
    """Fill ``cat`` from the saved file; False if there is none."""
    source = data_dir / FILE_NAME
    if not source.exists():
        return False
    state: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    if state.get("version") != VERSION or state.get("zone") != cat.zone:
        raise ValueError(
            f"{source} holds a catalog for zone {state.get('zone')!r} (format "
            f"{state.get('version')}); use another data_dir or delete it"
        )
    with cat.lock:
        cat.next_id = int(state["next_id"])
        cat.users = {u["name"]: User(**u) for u in state["users"]}
        cat.colls = {c["path"]: Coll(**{**c, "avus": _avus(c["avus"])}) for c in state["colls"]}
        cat.objs = {}
        for o in state["objs"]:
            reps = [Replica(**r) for r in o["replicas"]]
            cat.objs[o["path"]] = DataObj(**{**o, "avus": _avus(o["avus"]), "replicas": reps})
        cat.dirty = False
    return True


def _avus(raw: list[dict[str, Any]]) -> list[Avu]:
    return [Avu(**a) for a in raw]

"""A small world for reliability tests: a sandbox iRODS server, a drop folder of real JPEGs, a
config for ``sync``, and the invariants every fault test ends with:

* no lost file: every drop-folder file has a ledger row, and every row that says its upload is
  done points at an object in iRODS whose bytes *and* catalog checksum are the file's MD5
  (no unverified object counted as done);
* no duplicate row: one Symbiota media row per ``sourceIdentifier`` (and one per image);
* a clear error: every failed row carries a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from PIL import Image

from cyverse_link.config.settings import Settings, load_settings
from cyverse_link.core.models import Stage, Status
from cyverse_link.core.retry import Backoff
from cyverse_link.ledger.store import FileRecord, Ledger
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.irods.server import ObjectInfo
from cyverse_link.sandbox.symbiota_schema import (
    add_collection,
    add_occurrence,
    create_symbiota_schema,
)

USER = "collmgr"
IRODS_PASSWORD = "irods-Secret-7f3a9c"
FOLDER = "herbarium"
COLLID = 7
PATTERN = r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"


def catalogs(n: int) -> list[str]:
    return [f"ASU{1000 + i:07d}" for i in range(n)]


def write_images(folder: Path, n: int) -> list[str]:
    """n distinct small JPEGs named by catalog number, in two trays; their rel_paths."""
    rels = []
    for i, cat in enumerate(catalogs(n)):
        img = Image.new("RGB", (48, 64), (30 + 7 * i % 200, 120, 90))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        rel = f"tray{i % 2}/{cat}.jpg"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(buf.getvalue())
        rels.append(rel)
    return sorted(rels)


def seed_symbiota(db_url: str, n: int) -> None:
    engine = sa.create_engine(db_url)
    try:
        create_symbiota_schema(engine, "media")
        with engine.begin() as conn:
            add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=COLLID)
            for cat in catalogs(n):
                add_occurrence(conn, COLLID, cat)
    finally:
        engine.dispose()


class ServerProcess:
    """``python -m cyverse_link.sandbox.irods`` in a child process; ``object()`` reads through
    python-irodsclient, like ``SandboxIrods.object`` does in-process."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cyverse_link.sandbox.irods", "--user", USER,
             "--password", IRODS_PASSWORD, "--shared", f"{FOLDER}:{USER}",
             "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        host, port = self.proc.stdout.readline().split()
        self.host, self.port = host, int(port)

    def _session(self) -> Any:
        from irods.session import iRODSSession

        return iRODSSession(host=self.host, port=self.port, user=USER, password=IRODS_PASSWORD,
                            zone="iplant")  # fmt: skip

    def object(self, path: str) -> ObjectInfo:
        with self._session() as s:
            obj = s.data_objects.get(path)
            with obj.open("r") as fh:
                data = fh.read()
            return ObjectInfo(obj.size, obj.checksum or None, data)

    def listing(self, root: str) -> dict[str, str | None]:
        from irods.column import Like
        from irods.models import Collection, DataObject

        with self._session() as s:
            q = s.query(Collection.name, DataObject.name, DataObject.checksum).filter(
                Like(Collection.name, root + "%")
            )
            return {f"{r[Collection.name]}/{r[DataObject.name]}": r[DataObject.checksum]
                    for r in q}  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Rig:
    root: Path
    srv: Any  # SandboxIrods in-process, or ServerProcess
    n: int
    rels: list[str]
    config_path: Path
    db_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @property
    def collection(self) -> str:
        return f"/iplant/home/shared/{FOLDER}/ASU"

    def configure(self, **sections: dict[str, Any]) -> None:
        """Change config keys (section → {key: value}) and rewrite the file."""
        data = yaml.safe_load(self.config_path.read_text())
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        self.config_path.write_text(yaml.safe_dump(data))

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def sync(self, *, quick_resend: bool = False, **kwargs: Any) -> Any:
        """``run_sync`` in-process; ``quick_resend``: the iRODS store re-sends without its
        back-off pause (faults that need re-sends stay fast)."""
        from cyverse_link.datastore.irods import IrodsStore
        from cyverse_link.sync.pipeline import run_sync

        store = None
        if quick_resend and "store" not in kwargs:
            irods = self.settings.irods
            no_wait = Backoff(irods.retries, 0)  # re-send at once
            store = kwargs["store"] = IrodsStore(irods, IRODS_PASSWORD, retry=no_wait)
        try:
            with self.environment():
                return run_sync(self.settings, retry_delay=0, **kwargs)
        finally:
            if store is not None:
                store.close()

    def records(self) -> dict[str, FileRecord]:
        with Ledger(self.settings.state.db_url) as ledger:
            return {r.rel_path: r for r in ledger.iter_records()}

    def media_rows(self) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT * FROM media ORDER BY mediaID")).mappings()
                return [dict(r) for r in rows]
        finally:
            engine.dispose()


def make_rig(
    root: Path,
    *,
    n: int = 6,
    threads: int = 2,
    db_url: str | None = None,
    persona: str = "4.3.1",
    out_of_process: bool = False,
) -> Rig:
    srv: Any
    if out_of_process:
        srv = ServerProcess(root / "irods-data")
    else:
        srv = SandboxIrods(persona, zone="iplant", users={USER: IRODS_PASSWORD})
        srv.make_shared_folder(FOLDER, USER)
        srv.start()
    rels = write_images(root / "incoming", n)
    db_url = db_url or f"sqlite:///{root / 'symbiota.sqlite'}"
    seed_symbiota(db_url, n)
    config = {
        "collection": {"collid": COLLID, "code": "ASU-PLANTS"},
        "source": {"path": "./incoming"},
        "identifiers": {"pattern": PATTERN, "match_on": ["catalogNumber"]},
        "irods": {
            "host": srv.host, "port": srv.port, "zone": "iplant", "user": USER,
            "password": "keyring", "collection": f"/iplant/home/shared/{FOLDER}/ASU",
            "threads": threads, "retries": 2, "connection_timeout": 30,
        },
        "derivatives": {"enabled": True, "web_width": 32, "thumbnail_width": 16},
        "symbiota": {"mode": "db", "db_url": db_url, "password": "none"},
        "state": {"db_url": "sqlite:///state/ledger.sqlite", "report_dir": "./reports"},
    }  # fmt: skip
    config_path = root / "cyverse-link.yaml"
    config_path.write_text(yaml.safe_dump(config))
    rig = Rig(root, srv, n, rels, config_path, db_url)
    rig.env["CYVERSE_LINK_IRODS_PASSWORD"] = IRODS_PASSWORD
    return rig


def upload_done(rec: FileRecord) -> bool:
    return rec.stage > Stage.UPLOADED or (rec.stage is Stage.UPLOADED and rec.status is Status.DONE)


def assert_consistent(rig: Rig, *, complete: bool, all_seen: bool = True) -> dict[str, FileRecord]:
    """The invariants; ``complete`` also demands every file linked exactly once. ``all_seen``
    (a run that got to its end, even with failures): every drop-folder file has a row."""
    recs = rig.records()
    if all_seen:
        missing = set(rig.rels) - set(recs)
        assert not missing, f"files missing from the ledger: {missing}"
    for rel, rec in recs.items():
        local = rig.root / "incoming" / rel
        md5 = hashlib.md5(local.read_bytes(), usedforsecurity=False).hexdigest()
        if rec.status is Status.FAILED:
            assert rec.error and len(rec.error) > 10, f"{rel}: failed without a clear error"
        if upload_done(rec):
            assert rec.md5 == md5 and rec.irods_path
            info = rig.srv.object(rec.irods_path)
            assert hashlib.md5(info.data, usedforsecurity=False).hexdigest() == md5, (
                f"{rel}: counted as uploaded but the bytes in iRODS differ"
            )
            assert info.checksum == md5, f"{rel}: counted as uploaded, catalog checksum differs"
    rows = rig.media_rows()
    sids = [r["sourceIdentifier"] for r in rows]
    assert len(sids) == len(set(sids)), f"duplicate media rows: {sorted(sids)}"
    if complete:
        assert all(r.complete for r in recs.values()), {
            k: (r.stage.name, r.status.value, r.error) for k, r in recs.items() if not r.complete
        }
        assert sorted(sids) == sorted(f"irods:{recs[rel].irods_path}" for rel in rig.rels)
    return recs

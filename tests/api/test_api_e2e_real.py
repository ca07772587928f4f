"""End to end on the real Symbiota 3.4.14: one drop folder synced in db mode into one portal
and in api mode into another (same records, same occids), through the sandbox iRODS and
dav-anon URLs. Both must link the same occids, in the same order, with the same URLs; a second
api run sends no write request; the real pages show what the README says about mediaType."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from api_support import RealDb
from click.testing import CliRunner
from symbiota_real import RealPortal

from cyverse_link.cli import cli
from cyverse_link.demo.data import (
    CATALOG_PATTERN,
    SAMPLES,
    SPECIMENS,
    specimen_image,
    write_samples,
)
from cyverse_link.portal.api_client import SymbiotaApi
from cyverse_link.sandbox.irods import SandboxIrods

USER, PASSWORD = "alice", "alice-sandbox-pw"
COLLID = 7
LINKED = [s for s in SAMPLES if s.expect == "linked"]
COMPARED = (
    "occid", "tid", "sortOccurrence", "sourceIdentifier", "url", "thumbnailUrl", "originalUrl",
    "archiveUrl", "format", "hashFunction", "hashValue", "mediaMD5", "owner", "imageType",
)  # fmt: skip


def seed(portal: RealPortal) -> dict[str, int]:
    db = RealDb(portal)
    try:
        occids = {}
        for catalog, name in SPECIMENS.items():
            tid = db.taxon(name)
            occids[catalog] = db.occurrence(COLLID, catalog, tidInterpreted=tid, sciname=name)
        return occids
    finally:
        db.close()


def sync(
    tmp: Path,
    portal: RealPortal,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    between: Callable[[], None] = lambda: None,
    after: Callable[[Path], Any] = lambda config: None,
) -> Any:
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as irods:
        irods.make_shared_folder("herbarium", USER)
        symbiota: dict[str, Any] = {"mode": mode}
        if mode == "db":
            symbiota.update(db_url=portal.db_url, password="none")
        else:
            monkeypatch.setenv("E2E_SYMBIOTA_TOKEN", portal.api_token)
            symbiota.update(
                portal_url=portal.portal_url, api_url=portal.api_url,
                api_token="env:E2E_SYMBIOTA_TOKEN",
            )  # fmt: skip
        cfg = {
            "collection": {"collid": COLLID, "code": "ASU-PLANTS"},
            "source": {"path": "in"},
            "identifiers": {"pattern": CATALOG_PATTERN},
            "irods": {
                "host": irods.host, "port": irods.port, "user": USER,
                "collection": "/iplant/home/shared/herbarium/ASU", "threads": 2, "retries": 2,
                "connection_timeout": 30,
            },
            "urls": {"provider": "davanon"},
            "derivatives": {"web_width": 400, "thumbnail_width": 80, "large_width": 600},
            "symbiota": symbiota,
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        }  # fmt: skip
        tmp.mkdir()
        config = tmp / "cyverse-link.yaml"
        config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        write_samples(tmp / "in", size=(500, 700))
        run = CliRunner().invoke(cli, ["-c", str(config), "--no-progress", "sync", "--json"])
        between()
        again = CliRunner().invoke(cli, ["-c", str(config), "--no-progress", "sync", "--json"])
        return run, again, after(config)


def rescan(config: Path) -> Any:
    """A re-scanned image: new content under the same name (the same bytes in both modes)."""
    path = config.parent / "in" / "DEMO000102.jpg"
    specimen_image("DEMO000102 rescan", (10, 200, 30), (500, 700)).save(path, "JPEG")
    return CliRunner().invoke(cli, ["-c", str(config), "--no-progress", "sync", "--json"])


def report_mentions(folder: Path, text: str) -> bool:
    return any(text in p.read_text("utf-8") for p in (folder / "reports").glob("*.json"))


def rows_of(portal: RealPortal) -> list[Any]:
    db = RealDb(portal)
    try:
        return db.media()
    finally:
        db.close()


@pytest.mark.mariadb
def test_api_mode_links_what_db_mode_links(
    real_symbiota_factory: Callable[..., RealPortal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    by_db, by_api = real_symbiota_factory(), real_symbiota_factory()
    occids = seed(by_db)
    assert seed(by_api) == occids  # fresh databases: the same occids

    run, _, changed = sync(tmp_path / "db", by_db, "db", monkeypatch, after=rescan)
    assert run.exit_code == 1, run.output  # the bad samples
    assert json.loads(changed.stdout)["counts"]["mapped"] == 1

    sent: list[tuple[str, str]] = []
    original = SymbiotaApi.request

    def counting(self: SymbiotaApi, method: str, url: str, **kw: Any) -> requests.Response:
        sent.append((method, url))
        return original(self, method, url, **kw)

    monkeypatch.setattr(SymbiotaApi, "request", counting)
    marks: list[int] = []

    def change_one_image(config: Path) -> Any:
        marks.append(len(sent))
        return rescan(config)

    run, again, changed = sync(
        tmp_path / "api",
        by_api,
        "api",
        monkeypatch,
        between=lambda: marks.append(len(sent)),
        after=change_one_image,
    )
    assert run.exit_code == 1, run.output
    counts = json.loads(run.stdout)["counts"]
    assert counts["mapped"] == len(LINKED) and counts["unmatched"] == 1
    # the unmatched line says what the API cannot see
    assert report_mentions(tmp_path / "api", "invisible to the Symbiota API")
    first_run = [m for m, _ in sent[: marks[0]]]
    assert first_run.count("POST") == len(LINKED)
    assert again.exit_code == 1, again.output
    assert json.loads(again.stdout)["counts"]["mapped"] == 0
    writes_after = [m for m, _ in sent[marks[0] : marks[1]] if m != "GET"]
    assert writes_after == []  # the second run sends no write request
    assert changed.exit_code == 1, changed.output
    assert json.loads(changed.stdout)["counts"]["mapped"] == 1
    assert [m for m, _ in sent[marks[1] :] if m != "GET"] == ["PATCH"]  # one PATCH, in place
    assert "DELETE" not in first_run

    db_rows = sorted(rows_of(by_db), key=lambda r: r["sourceIdentifier"])
    api_rows = sorted(rows_of(by_api), key=lambda r: r["sourceIdentifier"])
    assert len(db_rows) == len(api_rows) == len(LINKED)
    # the same rows; only mediaType differs (NULL through the API). (mediaID order follows
    # the order uploads finish in, in both modes; the pages order by sortOccurrence.)
    assert [[r[k] for k in COMPARED] for r in api_rows] == [
        [r[k] for k in COMPARED] for r in db_rows
    ]
    assert {r["mediaType"] for r in db_rows} == {"image"}
    assert {r["mediaType"] for r in api_rows} == {None}

    # the occurrence page shows the thumbnails in sortOccurrence order, as in db mode
    occid = occids["DEMO000101"]
    for portal, rows in ((by_db, db_rows), (by_api, api_rows)):
        page = requests.get(
            f"{portal.portal_url}/collections/individual/index.php",
            params={"occid": occid},
            timeout=60,
        ).text
        thumbs = [r["thumbnailUrl"] for r in sorted(
            (r for r in rows if r["occid"] == occid), key=lambda r: r["sortOccurrence"]
        )]  # fmt: skip
        shown = [u for u in re.findall(r'src="([^"]+\.thumb\.jpg)"', page)]
        assert shown == thumbs, portal.name
    # the image details page shows the image only for mediaType 'image' (README: API route)
    for portal, rows, shows in ((by_db, db_rows, True), (by_api, api_rows, False)):
        mid = rows[0]["mediaID"]
        page = requests.get(
            f"{portal.portal_url}/imagelib/imgdetails.php", params={"mediaid": mid}, timeout=60
        ).text
        assert (f'<img src="{rows[0]["url"]}"' in page) is shows

"""End to end: the CLI and ``run_sync`` through the real python-irodsclient to the sandbox iRODS
server, the BisQue sandbox over HTTP, and Symbiota on MariaDB (both schema flavours) or SQLite.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.config.settings import load_settings
from cyverse_link.core.errors import LockHeld
from cyverse_link.core.models import RemoteObject, Stage, Status, UrlProvider
from cyverse_link.datastore.irods import IrodsStore
from cyverse_link.demo.data import CATALOG_PATTERN, SAMPLES, SPECIMENS, write_samples
from cyverse_link.demo.run import run_demo
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.lock import RunLock, lock_path
from cyverse_link.sandbox.bisque_server import BisqueSandbox
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.symbiota_schema import (
    add_collection,
    add_occurrence,
    add_taxon,
    create_symbiota_schema,
)
from cyverse_link.sync.pipeline import run_sync

USER, PASSWORD = "alice", "alice-sandbox-pw"
COLLID = 7
OPEN_API = 602  # DATA_OBJ_OPEN: every upload opens the object for writing
LINKED = [s for s in SAMPLES if s.expect == "linked"]
UPLOADED = [s for s in SAMPLES if s.expect in ("linked", "unmatched")]


@pytest.fixture
def irods(request: pytest.FixtureRequest) -> Iterator[SandboxIrods]:
    persona = getattr(request, "param", "4.3.1")
    with SandboxIrods(persona, zone="iplant", users={USER: PASSWORD}) as srv:
        srv.make_shared_folder("herbarium", USER)
        yield srv


def seed_symbiota(db_url: str, flavour: str = "media") -> dict[str, int]:
    engine = sa.create_engine(db_url)
    try:
        create_symbiota_schema(engine, flavour)  # type: ignore[arg-type]
        with engine.begin() as conn:
            add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=COLLID)
            return {
                cat: add_occurrence(conn, COLLID, cat, tid=add_taxon(conn, name))
                for cat, name in SPECIMENS.items()
            }
    finally:
        engine.dispose()


def write_config(
    tmp_path: Path,
    irods: SandboxIrods,
    *,
    db_url: str = "",
    mode: str = "db",
    provider: str = "davanon",
    bisque_url: str = "",
    port: int | None = None,
) -> Path:
    cfg: dict[str, Any] = {
        "collection": {"collid": COLLID, "code": "ASU-PLANTS"},
        "source": {"path": "in"},
        "identifiers": {"pattern": CATALOG_PATTERN},
        "irods": {
            "host": irods.host, "port": port or irods.port, "user": USER,
            "collection": "/iplant/home/shared/herbarium/ASU", "threads": 3, "retries": 2,
            "connection_timeout": 30,
        },
        "urls": {"provider": provider},
        "derivatives": {"web_width": 400, "thumbnail_width": 80, "large_width": 600},
        "symbiota": {"mode": mode, "db_url": db_url, "password": "none", "csv_dir": "out"},
        "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
    }  # fmt: skip
    if provider == "bisque":
        cfg["bisque"] = {"url": bisque_url, "user": USER, "timeout": 30, "retries": 1}
    path = tmp_path / "cyverse-link.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    write_samples(tmp_path / "in", size=(500, 700))
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    monkeypatch.setenv("CYVERSE_LINK_BISQUE_PASSWORD", PASSWORD)


def sync_cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["-c", str(config), "--no-progress", "sync", *args])


def media_rows(db_url: str, table: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY sourceIdentifier"))
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.mariadb
@pytest.mark.parametrize("flavour", ["media", "images"])
def test_sync_to_sandbox_irods_and_mariadb(
    tmp_path: Path, irods: SandboxIrods, mariadb_url: str, env: None, flavour: str
) -> None:
    occids = seed_symbiota(mariadb_url, flavour)
    config = write_config(tmp_path, irods, db_url=mariadb_url)
    irods.faults.drop_during_write(1)  # one dropped upload on the way: re-sent, verified
    result = sync_cli(config, "--json")
    assert result.exit_code == 1, result.output  # the bad samples
    out = json.loads(result.stdout)
    assert out["counts"]["mapped"] == len(LINKED) and out["counts"]["failed"] == 3
    assert out["counts"]["uploaded"] == len(UPLOADED) and out["counts"]["unmatched"] == 1

    coll = "/iplant/home/shared/herbarium/ASU"
    assert irods.inherits(coll) and "read" in irods.acl(coll)["anonymous"]
    rows = {r["sourceIdentifier"]: r for r in media_rows(mariadb_url, flavour)}
    assert len(rows) == len(LINKED)
    for sample in UPLOADED:
        local = tmp_path / "in" / sample.name
        path = f"{coll}/{sample.name}"
        obj = irods.object(path)
        assert obj.checksum == md5_of(local) and obj.size == local.stat().st_size
        assert "read" in irods.acl(path).get("anonymous", "")
        avus = {a: v for a, v, _ in irods.avus(path)}
        assert avus["cyverse_link.catalog_number"] == sample.catalog
        assert avus["cyverse_link.collid"] == str(COLLID)
        assert avus["cyverse_link.source_md5"] == obj.checksum
        derivs = irods.data_objects(f"{path.rsplit('/', 1)[0]}/_derivatives")
        stem = sample.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        assert f"{stem}.{obj.checksum[:8]}.web.jpg" in {d.rsplit("/", 1)[-1] for d in derivs}
    for sample in LINKED:
        row = rows[f"irods:{coll}/{sample.name}"]
        md5 = md5_of(tmp_path / "in" / sample.name)
        assert row["occid"] == occids[sample.catalog] and row["tid"]
        assert row["url"].startswith("https://data.cyverse.org/dav-anon/iplant/projects/")
        assert row["url"].endswith(".web.jpg") and row["thumbnailUrl"].endswith(".thumb.jpg")
        jpeg = sample.name.endswith(".jpg")
        # hashValue/mediaMD5 describe the file at originalUrl (issue 12.5): the JPEG master,
        # or for a TIFF/PNG master its large JPEG; the master's MD5 stays in the AVUs
        at_original = md5
        if not jpeg:
            folder, name = f"{coll}/{sample.name}".rsplit("/", 1)
            large = f"{name.rsplit('.', 1)[0]}.{md5[:8]}.large.jpg"
            assert row["originalUrl"].endswith(f"/_derivatives/{large}")
            at_original = irods.object(f"{folder}/_derivatives/{large}").checksum
            assert at_original != md5
        assert (row["hashFunction"], row["hashValue"], row["mediaMD5"]) == (
            "MD5",
            at_original,
            at_original,
        )
        assert row["format"] == "image/jpeg" and row["recordID"]
        assert (row["archiveUrl"] is None) == jpeg
        assert row["originalUrl"].endswith(".jpg")  # the JPEG original or the large derivative
        if flavour == "media":
            assert row["mediaType"] == "image"
    assert rows[f"irods:{coll}/DEMO000101_2.jpg"]["sortOccurrence"] == 2

    assert irods.stats.peak_connections <= 3  # irods.threads: the main thread holds none

    # second run: no upload (no object opened for writing), no database write
    before = irods.stats.snapshot().requests.get(OPEN_API, 0)
    again = sync_cli(config, "--json")
    assert again.exit_code == 1
    counts = json.loads(again.stdout)["counts"]
    assert (counts["unchanged"], counts["uploaded"], counts["mapped"]) == (len(LINKED), 0, 0)
    assert irods.stats.snapshot().requests.get(OPEN_API, 0) == before
    assert {r["sourceIdentifier"]: r for r in media_rows(mariadb_url, flavour)} == rows


class KillingIrodsStore(IrodsStore):
    """The real store, with the process 'killed' right after the n-th verified upload."""

    kill_after = 3

    def put(self, local: Path, remote: str, md5: str) -> RemoteObject:
        obj = super().put(local, remote, md5)
        KillingIrodsStore.kill_after -= 1
        if KillingIrodsStore.kill_after == 0:
            raise KeyboardInterrupt
        return obj


@pytest.mark.mariadb
def test_killed_run_then_rerun_ends_like_an_uninterrupted_one(
    tmp_path: Path, irods: SandboxIrods, mariadb_url: str, env: None
) -> None:
    occids = seed_symbiota(mariadb_url)
    settings = load_settings(write_config(tmp_path, irods, db_url=mariadb_url))
    KillingIrodsStore.kill_after = 5
    store = KillingIrodsStore(settings.irods, PASSWORD)
    with pytest.raises(KeyboardInterrupt):
        run_sync(settings, store=store, retry_delay=0)
    store.close()
    irods.faults.drop_during_write(1)  # and one more dropped write in the re-run
    report = run_sync(settings, retry_delay=0)
    assert report.counts.failed == 3
    rows = media_rows(mariadb_url, "media")
    assert sorted(r["occid"] for r in rows) == sorted(occids[s.catalog] for s in LINKED)
    assert len({r["sourceIdentifier"] for r in rows}) == len(rows) == len(LINKED)
    coll = "/iplant/home/shared/herbarium/ASU"
    for sample in UPLOADED:
        assert irods.object(f"{coll}/{sample.name}").checksum == md5_of(
            tmp_path / "in" / sample.name
        )
    with Ledger(settings.state.db_url) as led:
        state = {r.rel_path: (r.stage, r.status) for r in led.iter_records()}
    assert [state[s.name] for s in LINKED] == [(Stage.MAPPED, Status.DONE)] * len(LINKED)
    assert state["DEMO000999.jpg"] == (Stage.MAPPED, Status.SKIPPED)
    third = run_sync(settings)
    assert (third.counts.uploaded, third.counts.mapped, third.counts.unchanged) == (0, 0, 5)


def test_bisque_urls_end_to_end(tmp_path: Path, irods: SandboxIrods, env: None) -> None:
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    with BisqueSandbox({USER: PASSWORD}) as bq:
        config = write_config(tmp_path, irods, db_url=db_url, provider="bisque", bisque_url=bq.url)
        first = sync_cli(config)
        assert first.exit_code == 1, first.output
        registered = len(bq.resources)
        assert sync_cli(config).exit_code == 1
        assert len(bq.resources) == registered == len(UPLOADED)  # nothing registered twice
    rows = media_rows(db_url, "media")
    assert len(rows) == len(LINKED)
    for row in rows:
        assert row["url"].startswith(f"{bq.url}/image_service/image/")
        assert "resize:1250/format:jpeg" in row["url"]
        assert row["thumbnailUrl"].endswith("thumbnail:200,200")


@pytest.mark.parametrize("irods", ["4.3.1", "4.2.8"], indirect=True)
def test_csv_mode_end_to_end(tmp_path: Path, irods: SandboxIrods, env: None) -> None:
    config = write_config(tmp_path, irods, mode="csv")
    result = sync_cli(config, "--json")
    assert result.exit_code == 1, result.output
    counts = json.loads(result.stdout)["counts"]
    # no read access to the portal: nothing was checked, so nothing is claimed as mapped
    assert counts["mapped"] == 0 and counts["extra"]["not_checked"] == len(UPLOADED)
    assert "DEMO000101.jpg: in the import CSV (not checked)" in result.output
    assert ": linked" not in result.output
    (path,) = (tmp_path / "out").glob("*.csv")
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # the portal's importer does the matching: every uploaded image gets a row
    assert sorted(r["catalogNumber"] for r in rows) == sorted(s.catalog for s in UPLOADED)
    assert all(r["sourceIdentifier"].startswith("irods:/iplant/home/shared/") for r in rows)
    assert all(r["hashFunction"] == "MD5" and len(r["hashValue"]) == 32 for r in rows)
    assert sync_cli(config).exit_code == 1
    assert len(list((tmp_path / "out").glob("*.csv"))) == 1  # nothing new to write


def test_exit_codes(tmp_path: Path, irods: SandboxIrods, monkeypatch: pytest.MonkeyPatch) -> None:
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    for bad in ("DEMO000105.jpg", "DEMO000106.jpg", "field-notes.jpg", "DEMO000999.jpg"):
        (tmp_path / "in" / bad).unlink()
    # 2: no password anywhere (no keyring entry, no env override), named in the message
    missing = sync_cli(config)
    assert missing.exit_code == 2 and "irods.password" in missing.output
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    # 4: another run holds the lock
    with RunLock(lock_path(load_settings(config))):
        assert sync_cli(config).exit_code == 4
    # a dry run changes nothing anywhere (no object, no row, no ledger)
    dry = sync_cli(config, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert not irods.data_objects("/iplant/home/shared/herbarium")
    assert not (tmp_path / "state.sqlite").exists() and not media_rows(db_url, "media")
    # 0: everything linked
    ok = sync_cli(config)
    assert ok.exit_code == 0, ok.output
    assert "report: " in ok.output and PASSWORD not in ok.output
    # 1: a bad file appears
    (tmp_path / "in" / "DEMO000102_3.jpg").write_bytes(b"")
    assert sync_cli(config).exit_code == 1
    # 3: the server refuses the login / cannot be reached
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", "wrong")
    refused = sync_cli(config)
    assert refused.exit_code == 3 and "wrong" not in refused.output
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    (tmp_path / "down").mkdir()
    down = write_config(tmp_path / "down", irods, db_url=db_url, port=1)
    assert sync_cli(down).exit_code == 3


def test_check_reports_each_service(tmp_path: Path, irods: SandboxIrods, env: None) -> None:
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    irods_pw = PASSWORD
    result = CliRunner().invoke(cli, ["-c", str(config), "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(ln.startswith("= irods") and "4.3.1" in ln for ln in lines)
    assert any(ln.startswith("= symbiota") and "media" in ln for ln in lines)
    assert irods_pw not in result.output
    bad = CliRunner().invoke(
        cli, ["-c", str(config), "check"], env={"CYVERSE_LINK_IRODS_PASSWORD": "nope"}
    )
    assert bad.exit_code == 3 and any(ln.startswith("! irods") for ln in bad.output.splitlines())


def test_demo_runs_offline(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo", provider=UrlProvider.DAVANON)
    assert result.first.counts.mapped == len(LINKED)
    assert result.second.counts.uploaded == 0 and result.second.counts.mapped == 0
    assert sorted({x.catalog for x in result.linked}) == sorted(SPECIMENS)
    again = run_demo(tmp_path / "demo")  # an earlier demo folder may be reused
    assert again.first.counts.mapped == len(LINKED)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.jpg").write_bytes(b"x")
    refused = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path / "mine")])
    assert refused.exit_code == 2 and (tmp_path / "mine" / "precious.jpg").exists()
    cli_run = CliRunner().invoke(cli, ["--no-progress", "demo"])
    assert cli_run.exit_code == 0, cli_run.output
    assert "linked specimens" in cli_run.output and "DEMO000104" in cli_run.output


def test_lock_is_held_for_the_run(tmp_path: Path, irods: SandboxIrods, env: None) -> None:
    settings = load_settings(write_config(tmp_path, irods, mode="csv"))
    with RunLock(lock_path(settings)), pytest.raises(LockHeld):
        run_sync(settings)


def test_changed_image_new_object_new_urls_same_row(
    tmp_path: Path, irods: SandboxIrods, env: None
) -> None:
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    assert sync_cli(config).exit_code == 1
    coll = "/iplant/home/shared/herbarium/ASU"
    old_path = f"{coll}/DEMO000102.jpg"
    old_bytes = irods.object(old_path).data
    (before,) = [
        r for r in media_rows(db_url, "media") if r["sourceIdentifier"].endswith("102.jpg")
    ]
    local = tmp_path / "in" / "DEMO000102.jpg"
    local.write_bytes(local.read_bytes()[:-2] + b"\x00\xff\xd9")  # new bytes, same name
    assert sync_cli(config).exit_code == 1
    assert irods.object(old_path).data == old_bytes  # never overwritten
    rows = [r for r in media_rows(db_url, "media") if "DEMO000102" in r["sourceIdentifier"]]
    assert len(rows) == 1  # updated in place, not duplicated
    (after,) = rows
    md5 = md5_of(local)
    assert after["mediaID"] == before["mediaID"] and after["recordID"] == before["recordID"]
    assert after["sourceIdentifier"] == f"irods:{coll}/DEMO000102.v{md5[:8]}.jpg"
    assert after["hashValue"] == md5 and after["url"] != before["url"]
    assert f".{md5[:8]}.web.jpg" in after["url"]
    assert irods.object(after["sourceIdentifier"].removeprefix("irods:")).checksum == md5


def test_check_with_bisque_and_an_unreachable_portal(
    tmp_path: Path, irods: SandboxIrods, env: None
) -> None:
    with BisqueSandbox({USER: PASSWORD}) as bq:
        config = write_config(
            tmp_path, irods, db_url="mysql+pymysql://nobody@127.0.0.1:1/symbiota",
            provider="bisque", bisque_url=bq.url,
        )  # fmt: skip
        result = CliRunner().invoke(cli, ["-c", str(config), "check"])
    lines = result.output.splitlines()
    assert any(ln.startswith("= bisque") and "logged in" in ln for ln in lines), result.output
    assert any(ln.startswith("! symbiota") for ln in lines), result.output
    assert result.exit_code == 3


def test_awkward_names_go_through(tmp_path: Path, irods: SandboxIrods, env: None) -> None:
    """Spaces, accents, '#', '%' and '&' in folder and file names: real iRODS paths,
    percent-encoded URLs, the same sourceIdentifier on the second run."""
    config = write_config(tmp_path, irods, mode="csv")
    src = tmp_path / "in"
    (src / "Bandeja nº 3 #1 & 50%").mkdir()
    good = src / "DEMO000101.jpg"
    odd = src / "Bandeja nº 3 #1 & 50%" / "DEMO000102 dorsal (copy).jpg"
    odd.write_bytes(good.read_bytes())
    result = sync_cli(config, "--json")
    assert result.exit_code == 1, result.output
    path = "/iplant/home/shared/herbarium/ASU/Bandeja nº 3 #1 & 50%/DEMO000102 dorsal (copy).jpg"
    assert irods.object(path).checksum == md5_of(odd)
    (csv_path,) = (tmp_path / "out").glob("*.csv")
    with csv_path.open(encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["sourceIdentifier"] == f"irods:{path}")
    assert row["catalogNumber"] == "DEMO000102"
    assert "/Bandeja%20n%C2%BA%203%20%231%20%26%2050%25/" in row["originalUrl"]
    assert sync_cli(config, "--json").exit_code == 1
    assert json.loads(sync_cli(config, "--json").stdout)["counts"]["uploaded"] == 0

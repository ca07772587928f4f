"""The pipeline's logic over the real ledger, scan and dav-anon URLs, with an in-memory data
store and portal: stages, resume after a kill, changed content, batching, error isolation."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cyverse_link.config.settings import Settings, parse_settings
from cyverse_link.core.errors import LockHeld, PermissionDenied, ServiceUnavailable, TransferFailed
from cyverse_link.core.events import Event, EventKind
from cyverse_link.core.models import Stage, Status
from cyverse_link.core.retry import Backoff
from cyverse_link.dropfolder import scan as scan_mod
from cyverse_link.ledger.store import Ledger
from cyverse_link.publish.davanon import DavAnonProvider
from cyverse_link.run.lock import RunLock, lock_path
from cyverse_link.run.report import RunReport, load_report
from cyverse_link.sync.pipeline import run_sync
from cyverse_link.sync.transfer import RetryPolicy

from .fakes import FakePortal, Killed, KillingStore

COLL = "/iplant/home/shared/proj/ASU"
DAV = "https://data.example.org/dav-anon"


def make_settings(tmp_path: Path, **over: object) -> Settings:
    data: dict[str, Any] = {
        "collection": {"collid": 7, "code": "ASU"},
        "source": {"path": "in"},
        "identifiers": {"pattern": r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"},
        "irods": {"user": "me", "collection": COLL, "threads": 3, "retries": 2},
        "urls": {"davanon_base": DAV},
        "symbiota": {"mode": "csv", "batch_size": 2},
        "derivatives": {"web_width": 300, "thumbnail_width": 40, "large_width": 500},
        "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
    }
    for key, value in over.items():
        section, name = key.split("__")
        data.setdefault(section, {})[name] = value
    return parse_settings(data, base_dir=tmp_path)


def image(color: tuple[int, int, int], fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (600, 400), color).save(buf, fmt)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "box1").mkdir(parents=True)
    (d / "ASU0000001.jpg").write_bytes(image((200, 0, 0)))
    (d / "ASU0000001_2.jpg").write_bytes(image((0, 200, 0)))
    (d / "box1" / "ASU0000002.tif").write_bytes(image((0, 0, 200), "TIFF"))
    (d / "ASU0000003.jpg").write_bytes(image((9, 9, 9)))  # no such specimen
    (d / "ASU0000006.jpg").write_bytes(image((1, 2, 3)))  # two specimens share the number
    (d / "ASU0000004.jpg").write_bytes(b"")  # empty
    (d / "ASU0000005.jpg").write_bytes(image((4, 4, 4))[:300])  # corrupt: cut short
    (d / "label-scan.jpg").write_bytes(image((5, 5, 5)))  # no catalog number
    return d


class World:
    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.store = KillingStore(retry=Backoff(retries=2, base_delay=0.0))
        self.portal = FakePortal(
            specimens={"ASU0000001": [101], "ASU0000002": [102], "ASU0000006": [106, 107]}
        )
        self.provider = DavAnonProvider(DAV)
        self.events: list[Event] = []

    def run(self, limit: int | None = None) -> RunReport:
        return run_sync(
            self.settings, limit=limit, on_event=self.events.append, store=self.store,
            portal=self.portal, provider=self.provider, retry_delay=0,
        )  # fmt: skip

    def ledger(self) -> dict[str, Any]:
        with Ledger(self.settings.state.db_url) as led:
            return {r.rel_path: r for r in led.iter_records()}

    def objects(self) -> dict[str, str | None]:
        return {o.path: o.checksum for o in self.store.list(COLL)}

    def puts(self) -> int:
        return self.store.calls["put"]


def test_first_run_links_good_images_and_reports_bad_ones(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    r = w.run()
    c = r.counts
    assert (c.discovered, c.uploaded, c.published, c.registered) == (8, 5, 5, 5)
    assert (c.mapped, c.unmatched, c.ambiguous, c.failed) == (3, 1, 1, 3)
    assert r.exit_code == 1
    (finished,) = [e for e in w.events if e.kind is EventKind.FINISHED]
    assert finished.counts == c
    report = load_report(r.path)  # type: ignore[arg-type]
    entries = {e["rel_path"]: e for e in report["entries"]}
    assert len(entries) == 8 and report["counts"]["mapped"] == 3
    assert entries["ASU0000004.jpg"]["status"] == "failed" and "empty" in entries[
        "ASU0000004.jpg"]["error"]  # fmt: skip
    assert "no catalog number" in entries["label-scan.jpg"]["error"]
    assert entries["ASU0000003.jpg"]["match"] == "unmatched"
    assert entries["ASU0000001_2.jpg"]["occid"] == 101
    assert entries["ASU0000001_2.jpg"]["urls"]["url"].startswith(f"{DAV}/iplant/projects/proj/")
    # originals and derivatives (the TIFF also has a large one), verified checksums, AVUs
    orig = f"{COLL}/box1/ASU0000002.tif"
    objects = w.objects()
    assert orig in objects and all(objects.values())
    derivs = sorted(p.rsplit(".", 2)[-2] for p in objects if "/box1/_derivatives/" in p)
    assert derivs == ["large", "thumb", "web"]
    md5 = w.ledger()["box1/ASU0000002.tif"].md5
    assert objects[orig] == md5
    assert w.store.get_metadata(orig) == {
        "catalog_number": "ASU0000002", "collid": "7", "source_md5": md5
    }  # fmt: skip
    assert w.store.get_metadata(f"{COLL}/ASU0000001_2.jpg")["suffix"] == "2"
    # public through the folder's inheritance: one call, no per-object ACLs
    assert w.store.calls["make_tree_public"] == 1 and w.store.calls["make_public"] == 0
    assert all(w.store.is_public(p) for p in objects)
    # portal: batched matching and linking, sort order, archive URL for the TIFF
    assert all(len(batch) <= 2 for batch in w.portal.match_calls)
    occ, lk = w.portal.rows[f"irods:{COLL}/ASU0000001_2.jpg"]
    assert occ == 101 and lk.sort_occurrence == 2 and lk.urls.url.endswith(".web.jpg")
    tif = w.portal.rows[f"irods:{orig}"][1]
    assert tif.urls.archive_url and tif.urls.archive_url.endswith("ASU0000002.tif")
    # ledger: unmatched/ambiguous say why and stay retryable; bad files failed with reasons
    led = w.ledger()
    assert (led["ASU0000003.jpg"].stage, led["ASU0000003.jpg"].status) == (
        Stage.MAPPED, Status.SKIPPED)  # fmt: skip
    assert led["ASU0000003.jpg"].error.startswith("unmatched")
    assert led["ASU0000006.jpg"].error.startswith("ambiguous")
    assert led["ASU0000005.jpg"].status is Status.FAILED
    assert (led["ASU0000001.jpg"].stage, led["ASU0000001.jpg"].status) == (
        Stage.MAPPED, Status.DONE)  # fmt: skip


def test_second_run_over_unchanged_folder_does_nothing(
    tmp_path: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = World(make_settings(tmp_path))
    w.run()
    calls, writes, before = dict(w.store.calls), w.portal.write_calls, dict(w.portal.rows)
    opened: list[str] = []
    real_inspect = scan_mod.inspect_file

    def inspect(path: Path, rel: str, *a: Any, **kw: Any) -> Any:
        opened.append(rel)
        return real_inspect(path, rel, *a, **kw)

    monkeypatch.setattr(scan_mod, "inspect_file", inspect)
    r = w.run()
    assert opened == []  # not a single file read again, the bad ones included
    assert r.counts.unchanged == 3 and r.counts.uploaded == 0 and r.counts.mapped == 0
    assert r.counts.failed == 3  # the bad files are still there, still reported
    new_calls = {k: n - calls.get(k, 0) for k, n in w.store.calls.items() if n != calls.get(k, 0)}
    assert new_calls == {"server_version": 1}  # no put, checksum, metadata or ACL call
    assert w.portal.write_calls == writes and w.portal.rows == before
    assert r.path is not None and r.exit_code == 1
    (drop / "ASU0000007.jpg").write_bytes(image((7, 7, 7)))
    w.run()
    assert opened == ["ASU0000007.jpg"]  # only the new one


def test_unmatched_image_is_linked_once_the_record_appears(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    w.run()
    w.portal.specimens["ASU0000003"] = [103]
    puts = w.puts()
    r = w.run()
    assert r.counts.mapped == 1 and r.counts.uploaded == 0
    assert w.puts() == puts
    assert w.portal.rows[f"irods:{COLL}/ASU0000003.jpg"][0] == 103


def test_create_skeletal_writes_unmatched(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path, symbiota__create_skeletal=True))
    w.portal.skeletal = True
    r = w.run()
    assert r.counts.mapped == 4 and r.counts.unmatched == 0 and r.counts.ambiguous == 1


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_changed_image_gets_new_path_and_updates_its_row(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    w.run()
    old = f"{COLL}/ASU0000001.jpg"
    old_bytes = w.store.read(old)
    first_urls = w.ledger()["ASU0000001.jpg"].urls
    # hashValue is of the file at originalUrl: a TIFF's large JPEG, not the TIFF (issue 12.5)
    _, tif = w.portal.rows[f"irods:{COLL}/box1/ASU0000002.tif"]
    large = tif.urls.original_url.rsplit("/", 1)[-1]
    assert large.endswith(".large.jpg")
    assert tif.md5 == md5(w.store.read(f"{COLL}/box1/_derivatives/{large}"))
    assert tif.md5 != w.ledger()["box1/ASU0000002.tif"].md5
    f = drop / "ASU0000001.jpg"
    f.write_bytes(image((10, 20, 250)))
    touch_later(f)
    r = w.run()
    assert r.counts.uploaded == 1 and r.counts.mapped == 1
    assert w.store.read(old) == old_bytes  # never overwritten
    new = w.ledger()["ASU0000001.jpg"].irods_path
    assert new != old and new.startswith(f"{COLL}/ASU0000001.v")
    assert f"irods:{old}" not in w.portal.rows  # row moved, not duplicated
    occ, lk = w.portal.rows[f"irods:{new}"]
    assert occ == 101 and lk.previous_source_identifier == f"irods:{old}"
    # the writer is told what the tool wrote last, to tell a curator's changes from its own
    assert lk.written is not None and (lk.written.urls, lk.written.occid) == (first_urls, 101)
    md5_8 = w.ledger()["ASU0000001.jpg"].md5[:8]
    assert f".{md5_8}.web.jpg" in lk.urls.url  # new content, new derivative URLs
    # a third change versions again; the original name keeps its first bytes
    f.write_bytes(image((250, 250, 0)))
    touch_later(f)
    w.run()
    newer = w.ledger()["ASU0000001.jpg"].irods_path
    assert newer not in (old, new) and w.store.read(old) == old_bytes
    rows = [sid for sid in w.portal.rows if sid.startswith(f"irods:{COLL}/ASU0000001.")]
    assert rows == [f"irods:{newer}"]


def test_transient_upload_failures_are_resent(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    w.store.faults.drop_during_write(2)  # the store re-sends (irods.retries), no double retry
    r = w.run()
    assert r.counts.mapped == 3 and r.counts.failed == 3
    assert all(w.objects().values())  # the partial objects were re-sent and verified


def test_retry_policy_retries_only_what_it_should() -> None:
    events: list[Event] = []
    policy = RetryPolicy(3, 0, on_event=events.append)
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ServiceUnavailable("connection reset")
        return "ok"

    assert policy.call("metadata", "a.jpg", flaky) == "ok" and len(events) == 2
    assert all(e.kind is EventKind.RETRY for e in events)

    def dropped() -> None:
        calls["n"] += 1
        raise TransferFailed("dropped")  # retryable, but the store already re-sent it

    calls["n"] = 0
    with pytest.raises(TransferFailed):
        policy.call("upload", "a.jpg", dropped, only=ServiceUnavailable)
    assert calls["n"] == 1

    def denied() -> None:
        calls["n"] += 1
        raise PermissionDenied("no")

    calls["n"] = 0
    with pytest.raises(PermissionDenied):
        policy.call("upload", "a.jpg", denied)
    assert calls["n"] == 1


def test_persistent_failure_is_isolated_and_resumes_later(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    w.store.faults.deny(f"{COLL}/ASU0000001.jpg")
    r = w.run()
    assert r.counts.mapped == 2 and r.counts.failed == 4
    rec = w.ledger()["ASU0000001.jpg"]
    assert (rec.stage, rec.status) == (Stage.UPLOADED, Status.FAILED) and rec.error
    w.store.faults.denied.clear()
    r2 = w.run()
    assert r2.counts.mapped == 1 and r2.counts.uploaded == 1 and r2.counts.unchanged == 2


def test_limit_counts_files_with_work(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    r = w.run(limit=2)
    assert r.counts.registered == 2


def test_dry_run_writes_nothing(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    r = run_sync(w.settings, dry_run=True, portal=w.portal)
    assert r.dry_run and r.counts.discovered == 8 and r.counts.unmatched == 1
    assert not (tmp_path / "state.sqlite").exists() and not w.objects()
    assert w.portal.write_calls == 0


def test_second_run_while_one_holds_the_lock(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))
    with RunLock(lock_path(w.settings)), pytest.raises(LockHeld):
        w.run()


@pytest.mark.parametrize("kill_after", [0, 1, 4, 9, 14])
def test_killed_run_resumes_to_the_same_state(tmp_path: Path, kill_after: int) -> None:
    def world(name: str) -> World:
        base = tmp_path / name
        base.mkdir()
        src = base / "in"
        src.mkdir()
        for i, c in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200), (9, 9, 9)]):
            (src / f"ASU000000{i + 1}.jpg").write_bytes(image(c))
        (src / "ASU0000002_b.png").write_bytes(image((5, 6, 7), "PNG"))
        return World(make_settings(base))

    ref = world("ref")
    ref.run()
    w = world("killed")
    w.store.kill_after_puts = kill_after
    with pytest.raises(Killed):
        w.run()
    w.store.kill_after_puts = None
    w.run()
    assert set(w.objects()) == set(ref.objects())
    assert all(w.objects().values())
    assert set(w.portal.rows) == set(ref.portal.rows)
    state = {k: (v.stage, v.status) for k, v in w.ledger().items()}
    assert state == {k: (v.stage, v.status) for k, v in ref.ledger().items()}
    again = w.run().counts
    assert (again.unchanged, again.unmatched, again.uploaded) == (3, 2, 0)


def test_service_outage_mid_run_stops_with_exit_3_and_resumes(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path, irods__threads=1))
    w.store.kill_after_puts = None
    real_put = w.store.put
    puts = {"n": 0}

    def put(local: Path, remote: str, md5: str) -> Any:
        puts["n"] += 1
        if puts["n"] == 5:
            w.store.faults.unavailable = True  # the Data Store goes away mid-run
        return real_put(local, remote, md5)

    w.store.put = put  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable, match="stopped answering") as err:
        w.run()
    assert err.value.exit_code == 3
    w.store.faults.unavailable = False
    r = w.run()
    assert r.counts.mapped == 3 and r.counts.failed == 3  # only the bad files
    assert all(w.objects().values())


def test_portal_outage_stops_the_run_and_mapping_resumes(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path))

    def down(catalogs: Any) -> Any:
        raise ServiceUnavailable("portal database unreachable")

    w.portal.match = down  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        w.run()
    del w.portal.match
    done = [
        k for k, v in w.ledger().items() if v.stage >= Stage.REGISTERED and v.status is Status.DONE
    ]
    assert done  # uploaded, public and with URLs before the portal was needed
    r = w.run()
    assert r.counts.mapped == 3 and r.counts.uploaded == 5 - len(done)  # kept, not re-sent


def test_not_public_means_no_acl_calls_and_a_warning(tmp_path: Path, drop: Path) -> None:
    w = World(make_settings(tmp_path, irods__public=False))
    r = w.run()
    assert r.counts.mapped == 3 and r.counts.published == 0
    assert w.store.calls["make_tree_public"] == 0 and w.store.calls["make_public"] == 0
    assert any(e.kind is EventKind.INFO and "irods.public is false" in (e.message or "")
               for e in w.events)  # fmt: skip


def test_many_files_many_workers(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for i in range(60):
        folder = src / f"box{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (i, 2 * i, 255 - i)).save(buf, "JPEG")
        (folder / f"ASU{i:07d}.jpg").write_bytes(buf.getvalue())
    w = World(make_settings(tmp_path, irods__threads=4, symbiota__batch_size=7))
    w.portal.specimens = {f"ASU{i:07d}": [1000 + i] for i in range(60)}
    r = w.run()
    assert (r.counts.uploaded, r.counts.mapped, r.counts.failed) == (60, 60, 0)
    assert len(w.portal.rows) == 60 and len(w.objects()) == 60 * 3
    assert all(len(b) <= 7 for b in w.portal.match_calls)
    led = w.ledger()
    assert {(v.stage, v.status) for v in led.values()} == {(Stage.MAPPED, Status.DONE)}
    assert {v.occid for v in led.values()} == set(range(1000, 1060))


def test_ledger_commits_per_file(tmp_path: Path) -> None:
    """A file's worker stages are committed in two transactions (target path before the
    write; uploaded + published + registered after), its mapping with its batch: at most
    2 commits per file plus the batches, where each stage used to be its own (6 per file)."""
    import sqlalchemy as sa

    src = tmp_path / "in"
    src.mkdir()
    n = 12
    for i in range(n):
        (src / f"ASU{i:07d}.jpg").write_bytes(image((i, 9, 9)))
    w = World(make_settings(tmp_path, derivatives__enabled=False, symbiota__batch_size=6))
    w.portal.specimens = {f"ASU{i:07d}": [1000 + i] for i in range(n)}
    commits = {"n": 0}

    def count(_conn: Any) -> None:
        commits["n"] += 1

    sa.event.listen(sa.engine.Engine, "commit", count)
    try:
        r = w.run()
    finally:
        sa.event.remove(sa.engine.Engine, "commit", count)
    assert (r.counts.uploaded, r.counts.mapped) == (n, n)
    assert commits["n"] <= 2 * n + n // 6 + 4, commits  # + the run's own rows, the schema
    assert {(v.stage, v.status) for v in w.ledger().values()} == {(Stage.MAPPED, Status.DONE)}

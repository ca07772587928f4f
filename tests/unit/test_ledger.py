from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from cyverse_link.core.errors import LedgerError, LockHeld
from cyverse_link.core.models import Counts, MediaUrls, Problem, Stage, Status
from cyverse_link.ledger import store as ledger_mod
from cyverse_link.ledger.store import FileRecord, Ledger
from cyverse_link.run.lock import RunLock, lock_path_for

TRICKY = [
    "a.jpg",
    "a-1.jpg",
    "a/z.jpg",
    "a/b/c.jpg",
    "a b/x.jpg",
    "B.jpg",
    "b.jpg",
    "é.jpg",
    "e.jpg",
    "Z.jpg",
    "ä/ö.jpg",
    "a!.jpg",
    "日本/標本.jpg",
    "ab/c.jpg",
]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite'}"


def test_schema_created_and_reopen_is_idempotent(url: str) -> None:
    with Ledger(url) as led:
        assert led.schema_version == ledger_mod.SCHEMA_VERSION
        led.advance("a.jpg", Stage.DISCOVERED, size=3, mtime_ns=5)
    with Ledger(url) as led:
        assert led.get("a.jpg") is not None
        assert led.schema_version == ledger_mod.SCHEMA_VERSION


def test_newer_schema_is_refused(url: str) -> None:
    Ledger(url).close()
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    eng.dispose()
    with pytest.raises(LedgerError, match="newer than this cyverse-link"):
        Ledger(url)


def test_registered_migrations_run_once_in_order(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Ledger(url).close()
    ran: list[int] = []
    migrations = dict(ledger_mod._MIGRATIONS)
    nxt = ledger_mod.SCHEMA_VERSION + 1
    migrations[nxt] = lambda conn: (
        ran.append(nxt),
        conn.execute(sa.text("ALTER TABLE files ADD COLUMN note TEXT")),
    )
    monkeypatch.setattr(ledger_mod, "_MIGRATIONS", migrations)
    monkeypatch.setattr(ledger_mod, "SCHEMA_VERSION", nxt)
    Ledger(url).close()
    Ledger(url).close()
    assert ran == [nxt]


def test_advance_round_trips_every_field(url: str) -> None:
    urls = MediaUrls("https://x/web.jpg", "https://x/t.jpg", "https://x/o.jpg", None, "image/jpeg")
    with Ledger(url) as led:
        led.advance(
            "d/ASU1_a.jpg",
            Stage.IDENTIFIED,
            size=10,
            mtime_ns=20,
            md5="0" * 32,
            mime="image/jpeg",
            catalog="ASU1",
            suffix="a",
            problems=(Problem.WRONG_EXTENSION, Problem.TOO_LARGE),
            detail="why",
        )
        led.advance("d/ASU1_a.jpg", Stage.REGISTERED, irods_path="/z/h/d/ASU1_a.jpg", urls=urls)
        led.advance("d/ASU1_a.jpg", Stage.MAPPED, occid=42, last_run=3)
        rec = led.get("d/ASU1_a.jpg")
    assert rec is not None
    assert (rec.size, rec.mtime_ns, rec.md5, rec.mime) == (10, 20, "0" * 32, "image/jpeg")
    assert (rec.catalog, rec.suffix, rec.detail) == ("ASU1", "a", "why")
    assert rec.problems == (Problem.WRONG_EXTENSION, Problem.TOO_LARGE)
    assert rec.urls == urls and rec.irods_path == "/z/h/d/ASU1_a.jpg"
    assert (rec.stage, rec.status, rec.occid, rec.last_run) == (Stage.MAPPED, Status.DONE, 42, 3)
    assert rec.complete and rec.updated_at is not None
    assert rec.same_file(10, 20) and not rec.same_file(10, 21)
    local = rec.to_local_file()
    assert (local.rel_path, local.md5, local.problems) == (rec.rel_path, rec.md5, rec.problems)


def test_fail_counts_attempts_and_success_resets(url: str) -> None:
    with Ledger(url) as led:
        led.fail("new.jpg", Stage.UPLOADED, "connection reset")  # first sight is a failure
        led.fail("new.jpg", Stage.UPLOADED, "checksum mismatch")
        rec = led.get("new.jpg")
        assert rec is not None
        assert (rec.status, rec.stage, rec.attempts) == (Status.FAILED, Stage.UPLOADED, 2)
        assert rec.error == "checksum mismatch"
        assert [r.rel_path for r in led.failures()] == ["new.jpg"]
        led.advance("new.jpg", Stage.UPLOADED)
        rec = led.get("new.jpg")
        assert rec is not None
        assert (rec.status, rec.attempts, rec.error) == (Status.DONE, 0, None)
        assert led.failures() == []


def test_error_text_is_capped(url: str) -> None:
    with Ledger(url) as led:
        led.fail("x.jpg", Stage.UPLOADED, "e" * 10_000)
        rec = led.get("x.jpg")
    assert rec is not None and rec.error is not None
    assert len(rec.error) == ledger_mod.MAX_ERROR_CHARS


def test_unknown_field_is_a_programming_error(url: str) -> None:
    with Ledger(url) as led, pytest.raises(TypeError, match="unknown ledger fields: colour"):
        led.advance("x.jpg", Stage.DISCOVERED, colour="red")


def _fill(led: Ledger) -> None:
    for i, p in enumerate(reversed(TRICKY)):
        led.advance(p, Stage.DISCOVERED, size=i, mtime_ns=i, md5=f"{i:032x}")


def test_iter_records_is_code_point_ordered_like_scan(url: str) -> None:
    with Ledger(url, yield_per=3) as led:
        _fill(led)
        assert [r.rel_path for r in led.iter_records()] == sorted(TRICKY)


@pytest.mark.mariadb
def test_mariadb_ledger_orders_and_round_trips(mariadb_url: str) -> None:
    with Ledger(mariadb_url, yield_per=4) as led:
        _fill(led)
        assert [r.rel_path for r in led.iter_records()] == sorted(TRICKY)
        led.fail("B.jpg", Stage.PUBLISHED, "denied")
        led.fail("B.jpg", Stage.PUBLISHED, "denied again")
        rec = led.get("B.jpg")
        assert rec is not None and rec.attempts == 2
        assert led.get("b.jpg") is not None and led.get("b.jpg") != rec  # case-sensitive keys
    with Ledger(mariadb_url) as led:  # reopen: no migration re-run
        assert len(led.get_many(TRICKY)) == len(TRICKY)


def test_writes_during_iteration_do_not_block(url: str) -> None:
    """The merge-join reads the ledger while the pipeline records transitions."""
    with Ledger(url, yield_per=2) as led:
        _fill(led)
        for rec in led.iter_records():
            led.advance(rec.rel_path, Stage.IDENTIFIED, catalog="X")
        assert led.summary() == {(Stage.IDENTIFIED, Status.DONE): len(TRICKY)}


def test_get_many_summary_mapped_and_runs(url: str) -> None:
    with Ledger(url) as led:
        _fill(led)
        paths = [f"p{i}.jpg" for i in range(1200)]  # more than one IN batch
        for p in paths[:3]:
            led.advance(p, Stage.MAPPED, urls=MediaUrls(f"https://x/{p}"))
        led.fail("a.jpg", Stage.UPLOADED, "boom")
        assert set(led.get_many([*paths, "a.jpg", "a.jpg"])) == {*paths[:3], "a.jpg"}
        assert led.summary() == {
            (Stage.DISCOVERED, Status.DONE): len(TRICKY) - 1,
            (Stage.UPLOADED, Status.FAILED): 1,
            (Stage.MAPPED, Status.DONE): 3,
        }
        assert [r.rel_path for r in led.iter_mapped()] == paths[:3]
        run = led.start_run("sync")
        assert led.last_run() is not None and led.last_run().finished is None  # type: ignore[union-attr]
        led.finish_run(run, Counts(discovered=5, failed=1), "/r/x.json")
        last = led.last_run("sync")
        assert last is not None and last.id == run and last.finished is not None
        assert last.counts is not None and last.counts["discovered"] == 5
        assert last.report_path == "/r/x.json"
        assert led.last_run("plan") is None


def test_forget(url: str) -> None:
    with Ledger(url) as led:
        led.advance("a.jpg", Stage.DISCOVERED)
        led.forget("a.jpg")
        assert led.get("a.jpg") is None


def test_killed_run_keeps_every_committed_transition(url: str, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from cyverse_link.ledger.store import Ledger
        from cyverse_link.core.models import Stage
        led = Ledger({url!r})
        for i in range(5):
            led.advance(f"f{{i}}.jpg", Stage.UPLOADED, size=i)
        led.advance("f0.jpg", Stage.PUBLISHED)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Ledger(url) as led:
        recs = {r.rel_path: r for r in led.iter_records()}
    assert len(recs) == 5
    assert recs["f0.jpg"].stage is Stage.PUBLISHED and recs["f4.jpg"].stage is Stage.UPLOADED


def test_full_disk_is_a_clear_ledger_error(url: str) -> None:
    led = Ledger(url)
    led._engine.dispose()
    page_limit: list[int] = []

    @sa.event.listens_for(led._engine, "connect")
    def small(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA page_count")
        page_limit.append(cur.fetchone()[0] + 2)
        cur.execute(f"PRAGMA max_page_count = {page_limit[-1]}")
        cur.close()

    with pytest.raises(LedgerError, match="is full; free some space") as info:
        for i in range(1000):
            led.advance(f"{i}.jpg", Stage.DISCOVERED, detail="x" * 4000)
    assert "recording progress failed" in str(info.value)
    led.close()


def test_errors_never_show_the_password() -> None:
    with pytest.raises(LedgerError) as info:
        Ledger("mysql+pymysql://me:S3cretPw@127.0.0.1:1/ledger")
    assert "S3cretPw" not in str(info.value)
    assert "***" in str(info.value)


def test_bad_url_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match=r"state\.db_url"):
        Ledger("not a url")


def test_unopenable_sqlite_file(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger(f"sqlite:///{tmp_path / 'dir.sqlite'}")


def test_memory_ledger_works() -> None:
    with Ledger("sqlite://") as led:
        led.advance("a.jpg", Stage.DISCOVERED)
        assert isinstance(led.get("a.jpg"), FileRecord)


def test_lock_second_holder_gets_lockheld_naming_pid(tmp_path: Path) -> None:
    path = lock_path_for(tmp_path / "x.yaml")
    assert path.name == "x.yaml.lock"
    with RunLock(path):
        with pytest.raises(LockHeld, match=rf"pid {os.getpid()}\)") as info:
            RunLock(path).acquire()
        assert info.value.exit_code == 4
    with RunLock(path):  # released: can be taken again
        pass


def test_lock_held_by_another_process_and_released_when_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml.lock"
    script = textwrap.dedent(
        f"""
        import sys, time
        from cyverse_link.run.lock import RunLock
        with RunLock({str(path)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=rf"pid {proc.pid}\)"):
            RunLock(path).acquire()
    finally:
        proc.kill()
        proc.wait()
    with RunLock(path):  # the kernel released it with the dead process
        pass

"""Remote services failing during a whole ``sync``: the Symbiota MariaDB loses our connection in
the middle of mapping, and BisQue answers 503 to everything for a while. Each ends with the
usual invariants (no lost file, no duplicate media row, nothing unverified counted as done, a
clear error) and a re-run that finishes the job."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from reliability_rig import Rig, assert_consistent, make_rig, upload_done

from cyverse_link.core.errors import ServiceUnavailable
from cyverse_link.portal.base import MatchRules
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.sandbox.bisque_server import BisqueSandbox

BISQUE_USER, BISQUE_PASSWORD = "collmgr", "bisque-Secret-51d2e0"


# ---- MariaDB: the session is killed while a batch is being written -----------------------


class KillDuringInsert:
    """Kills our MariaDB session from a second (admin) connection just as the ``nth`` (bulk)
    INSERT into ``media`` is about to run, so that statement meets a dead connection.

    From the client's side this is what a server restart looks like: the TCP session is gone
    and the server rolls back the transaction that was open on it (we may not restart the
    shared MariaDB; ``KILL CONNECTION`` has the same effect on exactly our session)."""

    def __init__(self, admin_url: str, nth: int) -> None:
        self.admin = sa.create_engine(admin_url)
        self.nth, self.seen, self.killed = nth, 0, False
        self.lock = threading.Lock()

    def __call__(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith("INSERT INTO MEDIA"):
            return
        with self.lock:
            self.seen += 1
            if self.seen != self.nth:
                return
        thread_id = conn.connection.dbapi_connection.thread_id()
        with self.admin.connect() as admin:
            admin.execute(sa.text(f"KILL CONNECTION {int(thread_id)}"))
        self.killed = True


@pytest.mark.mariadb
def test_mariadb_connection_killed_during_mapping(tmp_path: Path, mariadb_url: str) -> None:
    rig = make_rig(tmp_path, n=8, threads=2, db_url=mariadb_url)
    try:
        rig.configure(symbiota={"batch_size": 2})
        s = rig.settings
        rules = MatchRules(s.collection.collid, match_on=s.identifiers.match_on)
        portal = SymbiotaDb(s.symbiota.db_url, None, rules=rules, batch_size=2)
        # one bulk INSERT per batch of 2: the third batch meets the dead connection
        killer = KillDuringInsert(mariadb_url.split("?")[0].rsplit("/", 1)[0], nth=3)
        sa.event.listen(portal._engine, "before_cursor_execute", killer)
        try:
            with pytest.raises(ServiceUnavailable) as info:
                rig.sync(portal=portal)
        finally:
            portal.close()
            killer.admin.dispose()
        assert killer.killed
        message = str(info.value)
        assert "Symbiota database" in message and "running" in message
        recs = assert_consistent(rig, complete=False)
        mapped = [r for r in recs.values() if r.complete]
        rows = rig.media_rows()
        assert 0 < len(mapped) < rig.n
        # Every file the ledger calls mapped has its row; the killed batch left no half rows.
        sids = {r["sourceIdentifier"] for r in rows}
        assert {f"irods:{r.irods_path}" for r in mapped} <= sids
        assert len(rows) % 2 == 0, "a batch is one transaction: all of its rows or none"
        again = rig.sync()  # the database is back (a fresh connection from the pool)
        assert again.counts.failed == 0
        assert again.counts.uploaded == 0  # nothing re-sent to iRODS: only mapping was left
        assert_consistent(rig, complete=True)
    finally:
        rig.srv.stop()


# ---- BisQue: a storm of 503s ----------------------------------------------------------------


@pytest.fixture
def bisque_rig(tmp_path: Path) -> Iterator[tuple[Rig, BisqueSandbox]]:
    rig = make_rig(tmp_path, n=6, threads=2)
    bq = BisqueSandbox({BISQUE_USER: BISQUE_PASSWORD}).start()
    rig.configure(
        urls={"provider": "bisque"},
        bisque={"url": bq.url, "user": BISQUE_USER, "password": "keyring",
                "irods_host": "data.iplantcollaborative.org", "timeout": 30, "retries": 3},
    )  # fmt: skip
    rig.env["CYVERSE_LINK_BISQUE_PASSWORD"] = BISQUE_PASSWORD
    try:
        yield rig, bq
    finally:
        bq.stop()
        rig.srv.stop()


def registrations(bq: BisqueSandbox) -> list[str]:
    return sorted(r.value for r in bq.resources.values())


def test_bisque_503_storm_stops_cleanly_then_resumes(bisque_rig: tuple[Rig, BisqueSandbox]) -> None:
    rig, bq = bisque_rig
    bq.fail_next(10_000, 503, retry_after=0)  # BisQue is down for the whole run
    try:
        report = rig.sync()
    except ServiceUnavailable as exc:
        assert "503" in str(exc) or "BisQue" in str(exc), exc
        report = None
    if report is not None:
        assert report.counts.failed > 0 and report.counts.mapped == 0
    recs = assert_consistent(rig, complete=False)
    assert not any(r.complete for r in recs.values())  # nothing mapped without a URL
    assert rig.media_rows() == []
    assert registrations(bq) == []  # BisQue acted on nothing
    # Verified uploads are not redone: the re-run uploads only what the first run (stopped
    # early: "the service stopped answering") did not reach, then registers and maps all.
    not_uploaded = sum(not upload_done(recs[rel]) if rel in recs else 1 for rel in rig.rels)
    bq.fail_next(0)
    again = rig.sync()
    assert again.counts.failed == 0 and again.counts.uploaded == not_uploaded
    assert_consistent(rig, complete=True)
    regs = registrations(bq)
    assert len(regs) == len(set(regs)) == rig.n, "one BisQue registration per image"


def test_short_bisque_503_burst_is_ridden_out(bisque_rig: tuple[Rig, BisqueSandbox]) -> None:
    rig, bq = bisque_rig
    bq.fail_next(3, 503, retry_after=0)  # fewer than bisque.retries in a row
    report = rig.sync()
    assert report.counts.failed == 0
    assert_consistent(rig, complete=True)
    regs = registrations(bq)
    assert len(regs) == len(set(regs)) == rig.n  # a retried insert registered nothing twice

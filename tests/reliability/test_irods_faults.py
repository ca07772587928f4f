"""iRODS faults during a whole ``sync`` (sandbox server, real python-irodsclient, real ledger):
a connection reset in the middle of a write, a wrong catalog checksum, and more connections
than the server accepts. Each ends with the invariants of ``reliability_rig.assert_consistent``
and, after the fault is gone, a re-run that finishes the job without duplicating anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_rig import IRODS_PASSWORD, Rig, assert_consistent, make_rig, upload_done

from cyverse_link.core.errors import ServiceUnavailable
from cyverse_link.core.models import Stage, Status
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.irods import IrodsStore

WRITE = 676  # the API a put's data travels in


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, n=6, threads=2)
    try:
        yield r
    finally:
        r.srv.stop()


class CutOffStore(IrodsStore):
    """An IrodsStore whose every attempt to upload ``target`` is cut off mid-write: the
    sandbox's one-shot drop is armed before the first attempt and re-armed in the pause
    before each re-send (the store's injected ``sleep``)."""

    def __init__(self, rig: Rig, target: str) -> None:
        self.rig, self.target, self.active = rig, target, False
        irods = rig.settings.irods
        no_wait = Backoff(irods.retries, 0, sleep=self._between)
        super().__init__(irods, IRODS_PASSWORD, retry=no_wait)

    def put(self, local: Path, remote: str, md5: str) -> Any:
        if remote != self.target:
            return super().put(local, remote, md5)
        self.active = True
        self.rig.srv.faults.drop_during_write(1)
        try:
            return super().put(local, remote, md5)
        finally:
            self.active = False

    def _between(self, _seconds: float) -> None:
        if self.active:
            self.rig.srv.faults.drop_during_write(1)


def test_connection_reset_mid_write_is_resent_and_nothing_is_lost(rig: Rig) -> None:
    rig.srv.faults.drop_during_write(5)  # somewhere in the middle of the run
    report = rig.sync(quick_resend=True)
    assert report.counts.failed == 0 and report.exit_code == 0
    assert_consistent(rig, complete=True)
    assert rig.srv.stats.snapshot().connections_opened > 2  # the dropped link was replaced


def test_drops_beyond_the_retries_fail_that_file_clearly_then_resume(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, n=6, threads=1)
    target_rel = rig.rels[2]
    store = CutOffStore(rig, f"{rig.collection}/{target_rel}")
    try:
        report = rig.sync(store=store)
        assert report.counts.failed == 1 and report.exit_code == 1
        recs = assert_consistent(rig, complete=False)
        bad = recs[target_rel]
        assert bad.status is Status.FAILED and not upload_done(bad)
        assert "connection" in (bad.error or "").lower(), bad.error
        assert all(r.complete for rel, r in recs.items() if rel != target_rel)
        # The fault is gone: the next run finishes exactly the unfinished work.
        again = rig.sync()
        assert again.counts.failed == 0 and again.counts.unchanged == rig.n - 1
        assert again.counts.uploaded == 1
        assert_consistent(rig, complete=True)
    finally:
        store.close()
        rig.srv.stop()


def test_corrupted_catalog_checksum_is_resent(rig: Rig) -> None:
    target = f"{rig.collection}/{rig.rels[2]}"
    rig.srv.faults.corrupt_checksum(target)
    report = rig.sync(quick_resend=True)
    assert report.counts.failed == 0
    assert_consistent(rig, complete=True)  # includes: its catalog checksum is right now


def test_checksum_wrong_on_every_attempt_is_never_counted_as_uploaded(rig: Rig) -> None:
    target = f"{rig.collection}/{rig.rels[2]}"
    for _ in range(rig.settings.irods.retries + 1):
        rig.srv.faults.corrupt_checksum(target)
    report = rig.sync(quick_resend=True)
    assert report.counts.failed == 1 and report.exit_code == 1
    recs = assert_consistent(rig, complete=False)
    bad = recs[rig.rels[2]]
    assert bad.status is Status.FAILED and not upload_done(bad)
    assert "checksum" in (bad.error or "").lower()
    assert not any(r["sourceIdentifier"].endswith(rig.rels[2]) for r in rig.media_rows())
    again = rig.sync()  # the catalog heals (the fault was for that many attempts only)
    assert again.counts.failed == 0 and again.counts.uploaded == 1
    assert_consistent(rig, complete=True)


@pytest.mark.parametrize("threads", [1, 4])
def test_a_run_stays_within_a_connection_cap_of_its_thread_count(
    tmp_path: Path, threads: int
) -> None:
    """CyVerse's proxy refuses connections beyond its cap; ``irods.threads`` is the budget a
    run may use (the config allows up to 10, the cap). With the server capped at exactly
    ``threads`` connections, a whole sync still succeeds."""
    rig = make_rig(tmp_path, n=8, threads=threads)
    try:
        rig.srv.faults.max_connections = threads
        report = rig.sync()
        snap = rig.srv.stats.snapshot()
        assert snap.connections_refused == 0, f"the run opened more than {threads} connections"
        assert snap.peak_connections <= threads
        assert report.counts.failed == 0
        assert_consistent(rig, complete=True)
    finally:
        rig.srv.stop()


def test_a_server_refusing_our_workers_fails_clearly_and_loses_nothing(tmp_path: Path) -> None:
    """A cap below ``irods.threads`` (someone else uses connections from this address): the
    refused workers' files fail with a message about the connection, the rest go through, and a
    later run with room finishes them."""
    rig = make_rig(tmp_path, n=8, threads=4)
    try:
        rig.srv.faults.max_connections = 2
        try:
            report = rig.sync()
        except ServiceUnavailable as exc:  # the run may also stop early: "stopped answering"
            assert "connections per address" in str(exc) and "run again" in str(exc)
            report = None
        assert rig.srv.stats.snapshot().connections_refused >= 1
        recs = assert_consistent(rig, complete=False)
        for rec in recs.values():
            if rec.status is Status.FAILED:
                assert "connections per address" in (rec.error or ""), rec.error
        if report is not None:
            assert report.counts.failed == sum(r.status is Status.FAILED for r in recs.values())
        rig.srv.faults.max_connections = None
        rig.sync()
        assert_consistent(rig, complete=True)
    finally:
        rig.srv.stop()


def test_stage_records_never_claim_more_than_irods_holds(rig: Rig) -> None:
    """Cut the link on the first write and stop right there (no retries): the ledger may say
    "derived" (target recorded) but never "uploaded" for a file whose bytes did not land."""
    rig.configure(irods={"retries": 0})
    rig.srv.faults.drop_during_write(1)
    report = rig.sync(quick_resend=True)
    assert report.counts.failed == 1
    recs = assert_consistent(rig, complete=False)
    failed = [r for r in recs.values() if r.status is Status.FAILED]
    assert len(failed) == 1 and failed[0].stage <= Stage.UPLOADED
    rig.configure(irods={"retries": 2})
    rig.sync()
    assert_consistent(rig, complete=True)

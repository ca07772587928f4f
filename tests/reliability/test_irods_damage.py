"""Bytes damaged on the way into iRODS, under the real servers' checksum rules, personas 4.3.1
and 4.2.8 (the sandbox flips one stored byte before its close hashes the object; see
``cyverse_link/sandbox/irods/finalize.py`` for the server source it follows). A whole ``sync``
must never count a damaged original as uploaded nor link it; it re-sends; a file damaged on
every attempt fails clearly; the next run repairs it without duplicating anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_rig import Rig, assert_consistent, make_rig, upload_done

from cyverse_link.core.models import Status

MISMATCH = -314000  # USER_CHKSUM_MISMATCH: the 4.3 close refusing damaged bytes


@pytest.fixture(params=["4.3.1", "4.2.8"])
def rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    r = make_rig(tmp_path, n=13, threads=2, persona=request.param)
    try:
        yield r
    finally:
        r.srv.stop()


def test_every_third_upload_damaged_none_counted_or_linked(rig: Rig) -> None:
    """The situation in issue 11: an independent server flipping one byte of every third
    upload had 4 of 13 damaged originals linked as verified."""
    rig.srv.faults.damage_every(3)
    report = rig.sync(quick_resend=True)
    rig.srv.faults.damage_every(0)
    damaged = rig.srv.faults.damaged
    assert len(damaged) >= 8 and any("/_derivatives/" not in p for p in damaged), damaged
    assert_consistent(rig, complete=False)  # nothing counted as uploaded holds wrong bytes
    if rig.srv.persona == "4.3.1":  # each damaged close was refused by the server itself
        assert rig.srv.stats.errors.get(MISMATCH, 0) == len(damaged)
    if report.counts.failed:
        assert report.exit_code == 1
    again = rig.sync(quick_resend=True)
    assert again.counts.failed == 0
    assert_consistent(rig, complete=True)


def test_original_damaged_on_every_attempt_fails_unlinked_then_rerun_repairs(rig: Rig) -> None:
    rel = rig.rels[4]
    target = f"{rig.collection}/{rel}"
    attempts = rig.settings.irods.retries + 1
    rig.srv.faults.damage_upload(target, attempts)
    report = rig.sync(quick_resend=True)
    assert rig.srv.faults.damaged == [target] * attempts  # re-sent, damaged each time
    assert report.counts.failed == 1 and report.exit_code == 1
    recs = assert_consistent(rig, complete=False)
    bad = recs[rel]
    assert bad.status is Status.FAILED and not upload_done(bad)
    assert "checksum" in (bad.error or "").lower()
    assert not any(r["sourceIdentifier"].endswith(rel) for r in rig.media_rows())
    stored = rig.srv.object(target)
    assert stored.data != (rig.root / "incoming" / rel).read_bytes()  # the damage is real
    again = rig.sync(quick_resend=True)
    assert again.counts.failed == 0 and again.counts.uploaded == 1
    assert_consistent(rig, complete=True)

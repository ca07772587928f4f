"""What one ``sync`` costs per file against the sandbox iRODS server (real python-irodsclient,
real ledger), and that the cheaper path keeps the guarantees it replaced: names are read from
one listing per folder, not looked up per file, yet different bytes are never overwritten and
identical ones are not sent again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_rig import USER, Rig, assert_consistent, make_rig

GENQUERY, ATOMIC_AVU, CHKSUM = 702, 20002, 629


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, n=24, threads=1)
    r.configure(derivatives={"enabled": False})
    try:
        yield r
    finally:
        r.srv.stop()


def test_requests_per_file_of_a_first_sync(rig: Rig) -> None:
    """Per file: open, 2 lseeks, write, close (the server verifies the MD5 at close) and one
    atomic AVU call = 6. Before: PRC's put with its 2 GenQueries, an existence look-up, a
    checksum read-back and an AVU read = 11. Per run: log-in, folders, tree publish and one
    listing per folder."""
    before = rig.srv.stats.snapshot()
    report = rig.sync()
    after = rig.srv.stats.snapshot()
    assert report.counts.uploaded == rig.n and report.counts.failed == 0
    delta = {k: v - before.requests.get(k, 0) for k, v in after.requests.items()}
    n = rig.n
    assert delta.get(ATOMIC_AVU, 0) == n  # one metadata request per file, nothing read first
    assert delta.get(GENQUERY, 0) <= 10, delta  # per run only: no look-up per file
    assert delta.get(CHKSUM, 0) == 0
    assert sum(delta.values()) <= 6 * n + 20, delta  # was 11 per file
    assert_consistent(rig, complete=True)


def test_foreign_bytes_at_a_target_name_are_kept_and_identical_ones_not_resent(
    rig: Rig,
) -> None:
    """Objects already in iRODS before the first run (no ledger knows them): different bytes
    make the file go to its versioned name, identical bytes are taken as uploaded."""
    src = rig.root / "incoming"
    other, same = rig.rels[0], rig.rels[1]
    rig.srv.seed_object(f"{rig.collection}/{other}", b"someone else's bytes", owner=USER)
    rig.srv.seed_object(f"{rig.collection}/{same}", (src / same).read_bytes(), owner=USER)
    report = rig.sync()
    assert report.counts.failed == 0 and report.counts.uploaded == rig.n - 1
    assert rig.srv.object(f"{rig.collection}/{other}").data == b"someone else's bytes"
    recs = assert_consistent(rig, complete=True)
    md5 = hashlib.md5((src / other).read_bytes(), usedforsecurity=False).hexdigest()
    stem = other.rsplit(".", 1)[0]
    assert recs[other].irods_path == f"{rig.collection}/{stem}.v{md5[:8]}.jpg"
    assert recs[same].irods_path == f"{rig.collection}/{same}"
    avus = {a: v for a, v, _ in rig.srv.avus(f"{rig.collection}/{same}")}
    assert avus["cyverse_link.source_md5"] == recs[same].md5  # metadata set on it all the same

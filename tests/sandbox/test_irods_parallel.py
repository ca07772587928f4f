"""python-irodsclient's own parallel put and get (APIs 20000 and 20004, replica tokens) against
the 4.3.1 persona; sandbox/irods/parallel.py cites the server source each behaviour follows."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import irods.keywords as kw
import pytest
from irods.exception import USER_CHKSUM_MISMATCH, iRODSException
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, USERS

FD_INFO, REPLICA_CLOSE = 20000, 20004
PUT = {kw.FORCE_FLAG_KW: True}
SIZE = 40 << 20  # above PRC's 32 MiB single-stream limit


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("parallel") / "big.tif"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, hashlib.md5(data).hexdigest()


@pytest.fixture
def srv() -> SandboxIrods:
    with SandboxIrods(persona="4.3.1", users=USERS) as server:
        yield server  # type: ignore[misc]


def session(srv: SandboxIrods) -> iRODSSession:
    return iRODSSession(
        host=srv.host, port=srv.port, user="alice", password="alice-pw", zone="iplant"
    )


@pytest.mark.slow
def test_parallel_put_and_get_of_40_mib(
    srv: SandboxIrods, big: tuple[Path, str], tmp_path: Path
) -> None:
    local, md5 = big
    target = f"{HOME}/big.tif"
    sess = session(srv)
    try:
        sess.data_objects.put(str(local), target, num_threads=4, **PUT, verifyChksum=md5)
        stored = srv.object(target)
        assert stored.data == local.read_bytes() and stored.checksum == md5
        assert srv.replicas(target)[0].status == "1"
        snap = srv.stats.snapshot()
        assert snap.requests.get(FD_INFO) == 1 and snap.requests.get(REPLICA_CLOSE, 0) >= 1
        assert snap.peak_connections >= 2  # the extra transfer connections
        assert not srv.replica_tokens  # the finalizing close ended the token
        back = tmp_path / "back.tif"
        sess.data_objects.get(target, str(back), num_threads=4)
        assert back.read_bytes() == local.read_bytes()
    finally:
        sess.cleanup()


@pytest.mark.slow
def test_parallel_put_damaged_in_transit_is_refused_at_the_final_close(
    srv: SandboxIrods, big: tuple[Path, str]
) -> None:
    local, md5 = big
    target = f"{HOME}/dmg.tif"
    srv.faults.damage_upload(target)
    sess = session(srv)
    try:
        with pytest.raises(USER_CHKSUM_MISMATCH):
            sess.data_objects.put(str(local), target, num_threads=4, **PUT, verifyChksum=md5)
        assert srv.object(target).checksum is None
        assert srv.replicas(target)[0].status != "1"
    finally:
        sess.cleanup()


def test_an_open_with_a_foreign_replica_token_is_refused(srv: SandboxIrods) -> None:
    sess = session(srv)
    try:
        with sess.data_objects.open(f"{HOME}/t.bin", "w") as f:
            f.write(b"x")
        with pytest.raises(iRODSException) as info:
            sess.data_objects.open(f"{HOME}/t.bin", "a", create=False, replicaToken="bogus")
        assert info.value.code == -406000  # LOCKED_DATA_OBJECT_ACCESS
    finally:
        sess.cleanup()

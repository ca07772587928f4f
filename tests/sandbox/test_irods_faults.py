"""Fault switches, statistics, PRC quirks (stray closes), persistence and parallel-transfer APIs."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import irods.keywords as kw
import pytest
from irods.exception import (
    BAD_INPUT_DESC_INDEX,
    SYS_FILE_DESC_OUT_OF_RANGE,
    SYS_UNMATCHED_API_NUM,
    USER_CHKSUM_MISMATCH,
    NetworkException,
)
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, USERS, SessionFactory

PUT = {kw.FORCE_FLAG_KW: True}


def src(tmp_path: Path, data: bytes) -> str:
    p = tmp_path / "src.bin"
    p.write_bytes(data)
    return str(p)


def test_drop_during_write_leaves_partial_object(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    data = b"\x01" * (9 << 20)  # two writes: 8 MiB + 1 MiB
    target = f"{HOME}/partial.bin"
    server.faults.drop_during_write(2)
    sess = connect("alice")
    with pytest.raises(NetworkException):
        sess.data_objects.put(src(tmp_path, data), target, num_threads=1, **PUT)
    sess.cleanup()
    info = server.object(target)
    assert info.size == 8 << 20 and info.checksum is None
    assert server.replicas(target)[0].status == ("2" if server.persona == "4.3.1" else "0")
    # the switch fired once; the retry succeeds on a fresh connection
    sess.data_objects.put(src(tmp_path, data), target, num_threads=1, **PUT, regChksum="")
    assert server.object(target).checksum == hashlib.md5(data).hexdigest()


def test_drop_during_write_calls_queue_up(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    server.faults.drop_during_write(1)
    server.faults.drop_during_write(1)
    for _ in range(2):
        sess = connect("alice")
        with pytest.raises(NetworkException):
            sess.data_objects.put(src(tmp_path, b"x"), f"{HOME}/q", num_threads=1, **PUT)
        sess.cleanup()
    assert server.faults.pending_drops == 0
    connect("alice").data_objects.put(src(tmp_path, b"x"), f"{HOME}/q", num_threads=1, **PUT)
    assert server.object(f"{HOME}/q").data == b"x"


def test_max_connections_refuses_extra(connect: SessionFactory, server: SandboxIrods) -> None:
    server.faults.max_connections = 1
    first = connect("alice")
    assert first.collections.exists(HOME)  # holds one connection in its pool
    with pytest.raises(NetworkException):
        connect("bob").collections.exists(HOME)
    assert server.stats.connections_refused == 1
    server.faults.max_connections = None
    assert connect("bob").collections.exists(f"/{server.zone}/home/bob")


def test_corrupt_checksum_next_store_only(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    sess = connect("alice")
    data = b"abc" * 100
    good = hashlib.md5(data).hexdigest()
    target = f"{HOME}/c.bin"
    server.faults.corrupt_checksum(target)
    sess.data_objects.put(src(tmp_path, data), target, num_threads=1, **PUT, regChksum="")
    assert server.object(target).checksum not in (None, good)
    sess.data_objects.put(src(tmp_path, data), target, num_threads=1, **PUT, regChksum="")
    assert server.object(target).checksum == good
    fresh = f"{HOME}/c2.bin"  # a new object: both personas compare (test_irods_checksums.py)
    server.faults.corrupt_checksum(fresh)
    with pytest.raises(USER_CHKSUM_MISMATCH):
        sess.data_objects.put(src(tmp_path, data), fresh, num_threads=1, **PUT, verifyChksum=good)
    sess.cleanup()


def test_reply_delay(connect: SessionFactory, server: SandboxIrods) -> None:
    server.faults.reply_delay = 0.2
    start = time.monotonic()
    assert connect("alice").collections.exists(HOME)  # version + 2 auth + 1 query replies
    assert time.monotonic() - start >= 0.6
    with pytest.raises(NetworkException):
        connect("alice", connection_timeout=0.05).collections.exists(HOME)
    server.faults.reply_delay = 0


def test_stats_count_connections_and_requests(
    connect: SessionFactory, server: SandboxIrods
) -> None:
    sessions = [connect("alice") for _ in range(3)]
    barrier = threading.Barrier(3)

    def hit(s: iRODSSession) -> None:
        barrier.wait()
        s.collections.exists(HOME)

    threads = [threading.Thread(target=hit, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = server.stats.snapshot()
    assert snap.connections_opened == 3 and snap.current_connections == 3
    assert snap.peak_connections == 3 and snap.requests[702] == 3
    for s in sessions:
        s.cleanup()
    deadline = time.monotonic() + 30
    while server.stats.current_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stats.current_connections == 0


def test_stray_close_gets_bad_descriptor_and_server_survives(alice: iRODSSession) -> None:
    with alice.pool.get_connection() as conn, pytest.raises(BAD_INPUT_DESC_INDEX):
        conn.close_file(7)
    with alice.pool.get_connection() as conn, pytest.raises(SYS_FILE_DESC_OUT_OF_RANGE):
        conn.close_file(1)
    assert alice.collections.exists(HOME)


def test_unknown_api_number(alice: iRODSSession) -> None:
    from irods.message import iRODSMessage

    with alice.pool.get_connection() as conn:
        conn.send(iRODSMessage("RODS_API_REQ", int_info=99999))
        with pytest.raises(SYS_UNMATCHED_API_NUM):
            conn.recv()


def test_parallel_transfer_apis_are_absent_on_428(tmp_path: Path) -> None:
    """4.2.8 has no 20000/20004 (PRC needs 4.2.9): a > 32 MiB put goes single stream."""
    with SandboxIrods(persona="4.2.8", users=USERS) as srv:
        sess = iRODSSession(
            host=srv.host, port=srv.port, user="alice", password="alice-pw", zone="iplant"
        )
        try:
            data = b"\1" * (33 << 20)
            sess.data_objects.put(src(tmp_path, data), f"{HOME}/p.bin", num_threads=4, **PUT)
            assert srv.object(f"{HOME}/p.bin").data == data
            assert srv.stats.requests.get(20000, 0) == 0
            from irods.message import JSON_Message, iRODSMessage

            with sess.pool.get_connection() as conn:
                body = JSON_Message({"fd": 3}, server_version=conn.server_version)
                conn.send(iRODSMessage("RODS_API_REQ", msg=body, int_info=20000))
                with pytest.raises(SYS_UNMATCHED_API_NUM):
                    conn.recv()
        finally:
            sess.cleanup()


def test_persistence_across_restart(tmp_path: Path) -> None:
    store = tmp_path / "irods"
    store.mkdir()
    data = b"persisted" * 1000
    with SandboxIrods(users=USERS, data_dir=store) as srv:
        sess = iRODSSession(
            host=srv.host, port=srv.port, user="alice", password="alice-pw", zone="iplant"
        )
        try:
            sess.collections.create(f"{HOME}/keep")
            target = f"{HOME}/keep/k.bin"
            sess.data_objects.put(src(tmp_path, data), target, num_threads=1, **PUT, regChksum="")
        finally:
            sess.cleanup()
    assert (store / "catalog.json").exists()
    assert "alice-pw" not in (store / "catalog.json").read_text()
    with SandboxIrods(users=USERS, data_dir=store) as again:
        info = again.object(f"{HOME}/keep/k.bin")
        assert info.data == data and info.checksum == hashlib.md5(data).hexdigest()
        sess = iRODSSession(
            host=again.host, port=again.port, user="alice", password="alice-pw", zone="iplant"
        )
        try:
            assert sess.data_objects.get(f"{HOME}/keep/k.bin").size == len(data)
        finally:
            sess.cleanup()

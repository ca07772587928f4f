"""Sandbox iRODS against the unmodified python-irodsclient: login, collections, put/get."""

from __future__ import annotations

import hashlib
from pathlib import Path

import irods.keywords as kw
import pytest
from irods.exception import (
    CAT_INVALID_AUTHENTICATION,
    CAT_INVALID_USER,
    OBJ_PATH_DOES_NOT_EXIST,
    USER_CHKSUM_MISMATCH,
)
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, SessionFactory

PUT = {kw.FORCE_FLAG_KW: True}


def write(tmp_path: Path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_login_reports_persona_version(alice: iRODSSession, server: SandboxIrods) -> None:
    assert alice.server_version == server.persona_tuple
    assert alice.collections.exists(HOME)
    counts = server.stats.requests
    if server.persona == "4.3.1":
        assert counts.get(110000) == 2 and 703 not in counts
    else:
        assert counts.get(703) == 1 and counts.get(704) == 1 and 110000 not in counts


def test_wrong_password_is_refused(connect: SessionFactory, server: SandboxIrods) -> None:
    with pytest.raises(CAT_INVALID_AUTHENTICATION):
        connect("alice", password="wrong").collections.exists(HOME)
    assert 702 not in server.stats.requests  # the connection never proceeded


def test_unknown_user_is_refused(connect: SessionFactory) -> None:
    with pytest.raises(CAT_INVALID_USER):
        connect("mallory", password="x").collections.exists(HOME)


def test_collections_create_recursive_and_exists(alice: iRODSSession) -> None:
    coll = alice.collections.create(f"{HOME}/a/b/c")
    assert coll.path == f"{HOME}/a/b/c"
    assert alice.collections.exists(f"{HOME}/a")
    assert alice.collections.exists(f"{HOME}/a/b/c")
    assert not alice.collections.exists(f"{HOME}/nope")
    # imkdir -p semantics on an existing path
    assert alice.collections.create(f"{HOME}/a/b/c").id == coll.id
    assert sorted(c.name for c in alice.collections.get(f"{HOME}/a").subcollections) == ["b"]


def test_put_get_round_trip_with_registered_checksum(
    alice: iRODSSession, server: SandboxIrods, tmp_path: Path
) -> None:
    data = b"specimen image bytes\x00\xff" * 5000
    src = write(tmp_path, "img.jpg", data)
    target = f"{HOME}/img.jpg"
    alice.data_objects.put(src, target, num_threads=1, **PUT, **{kw.REG_CHKSUM_KW: ""})
    info = server.object(target)
    assert info.size == len(data) and info.data == data
    assert info.checksum == hashlib.md5(data).hexdigest()
    obj = alice.data_objects.get(target)
    assert obj.checksum == hashlib.md5(data).hexdigest() and obj.size == len(data)
    out = tmp_path / "out.jpg"
    alice.data_objects.get(target, str(out), num_threads=1, **PUT)
    assert out.read_bytes() == data


def test_put_without_checksum_keywords_leaves_checksum_empty(
    alice: iRODSSession, server: SandboxIrods, tmp_path: Path
) -> None:
    alice.data_objects.put(write(tmp_path, "a", b"abc"), f"{HOME}/a", num_threads=1, **PUT)
    assert alice.data_objects.get(f"{HOME}/a").checksum is None
    assert server.compute_pending_checksums() == 1
    assert alice.data_objects.get(f"{HOME}/a").checksum == hashlib.md5(b"abc").hexdigest()


def test_verify_checksum_mismatch_raises_and_replica_stays(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    sess = connect("alice")
    src = write(tmp_path, "v", b"payload")
    target = f"{HOME}/v"
    with pytest.raises(USER_CHKSUM_MISMATCH):
        sess.data_objects.put(src, target, num_threads=1, **PUT, **{kw.VERIFY_CHKSUM_KW: "0" * 32})
    sess.cleanup()
    import gc

    gc.collect()  # PRC's finalizers send one or two more closes for the failed descriptor
    assert server.stats.errors[-314000] == 1
    assert server.stats.errors.get(-345000, 0) == server.stats.requests[673] - 1
    info = server.object(target)
    assert info.data == b"payload" and info.checksum is None
    ok = hashlib.md5(b"payload").hexdigest()
    sess.data_objects.put(src, target, num_threads=1, **PUT, **{kw.VERIFY_CHKSUM_KW: ok})
    assert server.object(target).checksum == ok


def test_large_file_single_thread(
    alice: iRODSSession, server: SandboxIrods, tmp_path: Path
) -> None:
    data = bytes(range(256)) * (40 * 4096)  # 40 MiB
    src = write(tmp_path, "big.bin", data)
    target = f"{HOME}/big.bin"
    alice.data_objects.put(src, target, num_threads=1, **PUT, **{kw.REG_CHKSUM_KW: ""})
    assert server.object(target).checksum == hashlib.md5(data).hexdigest()
    assert server.stats.requests[676] == 5  # 8 MiB chunks
    out = tmp_path / "big.out"
    alice.data_objects.get(target, str(out), num_threads=1, **PUT)
    assert out.stat().st_size == len(data)
    assert hashlib.md5(out.read_bytes()).digest() == hashlib.md5(data).digest()


def test_open_missing_object_without_create(alice: iRODSSession) -> None:
    with pytest.raises(OBJ_PATH_DOES_NOT_EXIST):
        alice.data_objects.open(f"{HOME}/missing", "r")


def test_concurrent_sessions_put_in_parallel(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    import threading

    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            sess = connect("alice")
            for i in range(8):
                data = f"{n}-{i}".encode() * 100
                src = write(tmp_path, f"w{n}-{i}", data)
                target = f"{HOME}/par/w{n}-{i}"
                sess.data_objects.put(src, target, num_threads=1, **PUT, **{kw.REG_CHKSUM_KW: ""})
        except BaseException as exc:
            errors.append(exc)

    connect("alice").collections.create(f"{HOME}/par")
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(server.data_objects(f"{HOME}/par")) == 32
    info = server.object(f"{HOME}/par/w3-7")
    assert info.checksum == hashlib.md5(b"3-7" * 100).hexdigest()
    assert server.stats.peak_connections >= 2


def test_negotiation_is_refused_like_cyverse(connect: SessionFactory) -> None:
    """CyVerse runs CS_NEG_REFUSE: TCP is fine, a client that requires TLS fails."""
    from irods.exception import NetworkException

    neg = {"client_server_negotiation": "request_server_negotiation"}
    assert connect("alice", client_server_policy="CS_NEG_REFUSE", **neg).collections.exists(HOME)
    with pytest.raises(NetworkException, match="negotiation failure"):
        connect("alice", client_server_policy="CS_NEG_REQUIRE", **neg).collections.exists(HOME)

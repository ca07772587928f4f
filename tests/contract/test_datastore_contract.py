"""One contract for every DataStore: memory, and IrodsStore against sandbox 4.3.1 and 4.2.8."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from datastore_backends import RETRIES, Backend, md5_of

from cyverse_link.core.errors import (
    ChecksumMismatch,
    DataStoreError,
    NotFound,
    PermissionDenied,
    TransferFailed,
)

GENQUERY, ACL = 702, 707


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_then_verify(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "a.jpg", b"\xff\xd8 specimen bytes " * 100)
    remote = f"{backend.root}/a.jpg"
    got = backend.store.put(local, remote, md5_of(local))
    assert (got.path, got.size, got.checksum) == (remote, local.stat().st_size, md5_of(local))
    assert backend.store.checksum(remote) == md5_of(local)
    assert [o.path for o in backend.store.list(backend.root)] == [remote]
    assert backend.store.server_version() in ("4.3.1", "4.2.8")


def test_read_head_gives_the_first_bytes(backend: Backend, tmp_path: Path) -> None:
    data = b"\xff\xd8\xff" + os.urandom(10_000)
    local = write(tmp_path, "h.jpg", data)
    backend.store.put(local, f"{backend.root}/h.jpg", md5_of(local))
    empty = write(tmp_path, "e.jpg", b"")
    backend.store.put(empty, f"{backend.root}/e.jpg", md5_of(empty))
    assert backend.store.read_head(f"{backend.root}/h.jpg", 4096) == data[:4096]
    assert backend.store.read_head(f"{backend.root}/e.jpg", 4096) == b""
    with pytest.raises(NotFound):
        backend.store.read_head(f"{backend.root}/missing.jpg", 16)


@pytest.mark.slow
def test_put_40_mib_single_stream(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "big.tif", os.urandom(40 * 1024 * 1024))
    remote = f"{backend.root}/big.tif"
    assert backend.store.put(local, remote, md5_of(local)).checksum == md5_of(local)
    if backend.server is not None:  # num_threads=1: no parallel transfer, one connection
        assert backend.store.open_connections() == 1
        assert backend.requests(20000) == 0  # no parallel-transfer API


def test_overwrite_replaces_bytes_and_nothing_else(backend: Backend, tmp_path: Path) -> None:
    one = write(tmp_path, "one", b"first version")
    two = write(tmp_path, "two", b"second, longer version")
    other = write(tmp_path, "other", b"sibling")
    backend.store.put(other, f"{backend.root}/sibling.jpg", md5_of(other))
    backend.store.put(one, f"{backend.root}/x.jpg", md5_of(one))
    got = backend.store.put(two, f"{backend.root}/x.jpg", md5_of(two))
    assert (got.size, got.checksum) == (two.stat().st_size, md5_of(two))
    listed = {o.path: o.checksum for o in backend.store.list(backend.root)}
    assert listed == {
        f"{backend.root}/sibling.jpg": md5_of(other),
        f"{backend.root}/x.jpg": md5_of(two),
    }


def test_names_with_unicode_and_spaces(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"unicode")
    folder = f"{backend.root}/Herbário de São Paulo"
    remote = f"{folder}/SPF 001234 (dorsal) ñ.jpg"
    backend.store.ensure_collection(folder)
    backend.store.put(local, remote, md5_of(local))
    backend.store.set_metadata(remote, {"catalog": "SPF001234 – ñ"})
    assert [o.path for o in backend.store.list(backend.root)] == [remote]
    assert backend.store.checksum(remote) == md5_of(local)
    assert backend.store.get_metadata(remote) == {"catalog": "SPF001234 – ñ"}


def test_ensure_collection_is_idempotent_and_recursive(backend: Backend, tmp_path: Path) -> None:
    deep = f"{backend.root}/a/b/c"
    backend.store.ensure_collection(deep)
    backend.store.ensure_collection(deep)
    backend.store.ensure_collection(f"{backend.root}/a/b")
    local = write(tmp_path, "f", b"x")
    backend.store.put(local, f"{deep}/f.jpg", md5_of(local))
    assert [o.path for o in backend.store.list(f"{backend.root}/a")] == [f"{deep}/f.jpg"]


def test_listing_is_recursive_and_scoped(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"x")
    for coll in ("p_1", "p_1/sub", "pX1"):  # ``_`` is a LIKE wildcard: pX1 must stay out
        backend.store.ensure_collection(f"{backend.root}/{coll}")
        backend.store.put(local, f"{backend.root}/{coll}/f.jpg", md5_of(local))
    paths = [o.path for o in backend.store.list(f"{backend.root}/p_1")]
    assert paths == [f"{backend.root}/p_1/f.jpg", f"{backend.root}/p_1/sub/f.jpg"]
    assert list(backend.store.list(f"{backend.root}/missing")) == []


@pytest.mark.slow
def test_listing_1200_objects_is_paged_bulk(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"tiny")
    md5 = md5_of(local)
    backend.tmp = str(tmp_path)
    for i in range(1200):  # 700 at the root, 500 one level down
        sub = "" if i < 700 else "/deeper"
        backend.seed(f"{backend.root}{sub}/img{i:05d}.jpg", b"tiny")
    before = backend.requests(GENQUERY) if backend.server else 0
    listed = list(backend.store.list(backend.root))
    assert len(listed) == 1200
    assert len({o.path for o in listed}) == 1200
    assert all(o.checksum == md5 and o.size == 4 for o in listed)
    if backend.server is not None:
        queries = backend.requests(GENQUERY) - before
        # 1,200 rows in pages of 500 over two conditions (== root, like root/%): a handful of
        # GenQueries (page + close per full page), never one per object.
        assert queries <= 10, queries


def test_replicas_fold_into_one_object(backend: Backend, tmp_path: Path) -> None:
    if backend.server is None:
        pytest.skip("the memory store has no replicas")
    local = write(tmp_path, "f", b"replicated")
    remote = f"{backend.root}/r.jpg"
    backend.store.put(local, remote, md5_of(local))
    backend.server.add_replica(remote)
    assert [(o.path, o.checksum) for o in backend.store.list(backend.root)] == [
        (remote, md5_of(local))
    ]


def test_anonymous_reads_only_after_publish(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"public soon")
    remote = f"{backend.root}/pub.jpg"
    backend.store.put(local, remote, md5_of(local))
    assert not backend.store.is_public(remote)
    assert not backend.anonymous_can_read(remote)
    backend.store.make_public(remote)
    assert backend.store.is_public(remote)
    assert backend.anonymous_can_read(remote)


def test_tree_publish_uses_inherit(backend: Backend, tmp_path: Path) -> None:
    tree = f"{backend.root}/tree"
    backend.store.ensure_collection(tree)
    local = write(tmp_path, "f", b"leaf")
    backend.store.put(local, f"{tree}/before.jpg", md5_of(local))
    acl_before = backend.requests(ACL) if backend.server else 0
    backend.store.make_tree_public(tree)
    if backend.server is not None:
        assert backend.requests(ACL) - acl_before == 2  # read + inherit, whatever the size
    backend.store.ensure_collection(f"{tree}/later")
    backend.store.put(local, f"{tree}/later/after.jpg", md5_of(local))
    for path in (f"{tree}/before.jpg", f"{tree}/later/after.jpg"):
        assert backend.store.is_public(path), path
        assert backend.anonymous_can_read(path), path
    assert backend.store.is_public(tree)


def test_metadata_set_twice_keeps_one_value(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"meta")
    remote = f"{backend.root}/m.jpg"
    backend.store.put(local, remote, md5_of(local))
    backend.store.set_metadata(remote, {"catalog": "ASU0012345", "run": "1"})
    backend.store.set_metadata(remote, {"catalog": "ASU0012345", "run": "1"})
    assert backend.store.get_metadata(remote) == {"catalog": "ASU0012345", "run": "1"}
    backend.store.set_metadata(remote, {"run": "2"})
    assert backend.store.get_metadata(remote) == {"catalog": "ASU0012345", "run": "2"}


@pytest.mark.parametrize("key", ["ipc_UUID", "ipc-bisque-id", "cyverse_link.ipc_x"])
def test_reserved_ipc_attributes_are_refused(backend: Backend, tmp_path: Path, key: str) -> None:
    local = write(tmp_path, "f", b"meta")
    remote = f"{backend.root}/m.jpg"
    backend.store.put(local, remote, md5_of(local))
    with pytest.raises(PermissionDenied, match="ipc"):
        backend.store.set_metadata(remote, {key: "x"})
    with pytest.raises(DataStoreError, match="empty"):
        backend.store.set_metadata(remote, {"catalog": ""})


def test_missing_paths_raise_not_found(backend: Backend, tmp_path: Path) -> None:
    missing = f"{backend.root}/nope.jpg"
    local = write(tmp_path, "f", b"x")
    for call in (
        lambda: backend.store.checksum(missing),
        lambda: backend.store.get_metadata(missing),
        lambda: backend.store.set_metadata(missing, {"a": "b"}),
        lambda: backend.store.make_public(missing),
        lambda: backend.store.put(local, f"{backend.root}/no/such/dir/f.jpg", md5_of(local)),
    ):
        with pytest.raises(NotFound):
            call()
    assert not backend.store.is_public(missing)


# -- faults ----------------------------------------------------------------------------------


def test_drop_mid_write_is_resent(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", os.urandom(300_000))
    remote = f"{backend.root}/d.jpg"
    backend.drop_during_write(1)
    got = backend.store.put(local, remote, md5_of(local))
    assert got.checksum == md5_of(local)
    assert backend.store.checksum(remote) == md5_of(local)


def test_drops_beyond_retries_fail_and_leave_nothing_verified(
    backend: Backend, tmp_path: Path
) -> None:
    local = write(tmp_path, "f", os.urandom(300_000))
    remote = f"{backend.root}/d.jpg"
    backend.drop_during_write(RETRIES + 1)
    with pytest.raises(TransferFailed) as info:
        backend.store.put(local, remote, md5_of(local))
    assert info.value.retryable
    # whatever partial object stayed, its checksum never equals the local MD5
    stray = {o.path: o for o in backend.store.list(backend.root)}
    assert remote not in stray or stray[remote].checksum != md5_of(local)


def test_corrupt_checksum_is_resent(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"bytes to corrupt")
    remote = f"{backend.root}/c.jpg"
    backend.corrupt_checksum(remote, times=1)
    assert backend.store.put(local, remote, md5_of(local)).checksum == md5_of(local)


def test_corrupt_checksum_beyond_retries_raises(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"bytes to corrupt")
    remote = f"{backend.root}/c.jpg"
    backend.corrupt_checksum(remote, times=RETRIES + 1)
    with pytest.raises(ChecksumMismatch, match=md5_of(local)):
        backend.store.put(local, remote, md5_of(local))


def test_bytes_damaged_in_transit_are_resent(backend: Backend, tmp_path: Path) -> None:
    """One byte flipped on the way in (the server hashes the damaged bytes): the put must not
    succeed with them; it re-sends, and the stored bytes end up exactly the file's."""
    local = write(tmp_path, "f", os.urandom(200_000))
    remote = f"{backend.root}/dmg.jpg"
    backend.damage_in_transit(remote, times=1)
    got = backend.store.put(local, remote, md5_of(local))
    assert got.checksum == md5_of(local)
    assert backend.stored_bytes(remote) == local.read_bytes()
    assert backend.store.checksum(remote) == md5_of(local)


def test_overwrite_damaged_in_transit_is_resent(backend: Backend, tmp_path: Path) -> None:
    """The same file sent again over an object that already holds it (4.2.8 keeps the old
    checksum when the given one equals it, whatever bytes arrived)."""
    local = write(tmp_path, "f", os.urandom(100_000))
    remote = f"{backend.root}/again.jpg"
    backend.store.put(local, remote, md5_of(local))
    backend.damage_in_transit(remote, times=1)
    assert backend.store.put(local, remote, md5_of(local)).checksum == md5_of(local)
    assert backend.stored_bytes(remote) == local.read_bytes()


def test_bytes_damaged_on_every_attempt_fail_the_put(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", os.urandom(50_000))
    remote = f"{backend.root}/always.jpg"
    backend.damage_in_transit(remote, times=RETRIES + 1)
    with pytest.raises(ChecksumMismatch, match=md5_of(local)):
        backend.store.put(local, remote, md5_of(local))
    assert backend.stored_bytes(remote) != local.read_bytes()
    listed = {o.path: o.checksum for o in backend.store.list(backend.root)}
    assert listed.get(remote) != md5_of(local)  # nothing says it arrived intact
    # the fault is gone: the next put repairs it
    assert backend.store.put(local, remote, md5_of(local)).checksum == md5_of(local)
    assert backend.stored_bytes(remote) == local.read_bytes()


def test_wrong_local_md5_is_never_reported_uploaded(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"changed after hashing")
    with pytest.raises(ChecksumMismatch):
        backend.store.put(local, f"{backend.root}/w.jpg", "0" * 32)


def test_metadata_on_a_new_object_is_the_same_as_a_full_set(
    backend: Backend, tmp_path: Path
) -> None:
    """``new=True`` may skip reading the AVUs first; if the object has some after all (someone
    added one meanwhile, or the caller was wrong), the result is still an exact set."""
    local = write(tmp_path, "f", b"meta")
    remote = f"{backend.root}/n.jpg"
    backend.store.put(local, remote, md5_of(local))
    backend.store.set_metadata(remote, {"catalog": "ASU0000001", "run": "1"}, new=True)
    assert backend.store.get_metadata(remote) == {"catalog": "ASU0000001", "run": "1"}
    backend.store.set_metadata(remote, {"catalog": "ASU0000002", "run": "1"}, new=True)
    assert backend.store.get_metadata(remote) == {"catalog": "ASU0000002", "run": "1"}


def test_list_children_is_one_level(backend: Backend, tmp_path: Path) -> None:
    local = write(tmp_path, "f", b"x")
    for rel in ("a.jpg", "b.jpg", "sub/c.jpg"):
        backend.store.ensure_collection(f"{backend.root}/{rel}".rsplit("/", 1)[0])
        backend.store.put(local, f"{backend.root}/{rel}", md5_of(local))
    got = [(o.path, o.checksum) for o in backend.store.list_children(backend.root)]
    assert got == [(f"{backend.root}/{n}", md5_of(local)) for n in ("a.jpg", "b.jpg")]
    assert list(backend.store.list_children(f"{backend.root}/none")) == []

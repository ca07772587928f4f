"""ACLs (anonymous read, inherit, level strings per persona), AVUs, atomic operations, unlink."""

from __future__ import annotations

from pathlib import Path

import irods.keywords as kw
import pytest
from irods.access import iRODSAccess
from irods.exception import (
    CAT_INSUFFICIENT_PRIVILEGE_LEVEL,
    CAT_INVALID_ARGUMENT,
    CAT_NO_ACCESS_PERMISSION,
    CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
    DataObjectDoesNotExist,
)
from irods.meta import AVUOperation, iRODSMeta
from irods.models import DataObject
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, SessionFactory


def put(sess: iRODSSession, tmp_path: Path, target: str, data: bytes = b"img") -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    sess.data_objects.put(str(src), target, num_threads=1, **{kw.FORCE_FLAG_KW: True})


def anonymous_read(connect: SessionFactory, path: str) -> bytes:
    anon = connect("anonymous", password="")
    with anon.data_objects.open(path, "r") as fh:
        data: bytes = fh.read()
    return data


def test_anonymous_reads_only_after_grant(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    alice = connect("alice")
    target = f"{HOME}/public.jpg"
    put(alice, tmp_path, target, b"public bytes")
    with pytest.raises(CAT_NO_ACCESS_PERMISSION):
        anonymous_read(connect, target)
    alice.acls.set(iRODSAccess("read", target, "anonymous"))
    assert anonymous_read(connect, target) == b"public bytes"
    expected = "read object" if server.persona == "4.2.8" else "read_object"
    assert server.acl(target)["anonymous"] == expected
    acls = {(a.user_name, a.access_name) for a in alice.acls.get(alice.data_objects.get(target))}
    assert ("anonymous", expected) in acls and ("alice", "own") in acls


def test_inherit_on_collection_propagates_to_new_objects(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    folder = server.make_shared_folder("myproject", owner="alice")
    alice = connect("alice")
    alice.acls.set(iRODSAccess("inherit", folder))
    alice.acls.set(iRODSAccess("read", folder, "anonymous"))
    assert alice.collections.get(folder).inheritance is True
    alice.collections.create(f"{folder}/2026/batch1")
    target = f"{folder}/2026/batch1/ASU0001.jpg"
    put(alice, tmp_path, target, b"inherited")
    assert "anonymous" in server.acl(target) and server.acl(target)["alice"] == "own"
    assert anonymous_read(connect, target) == b"inherited"
    # noinherit stops it for objects created afterwards
    alice.acls.set(iRODSAccess("noinherit", folder))
    put(alice, tmp_path, f"{folder}/later.jpg")
    assert "anonymous" not in server.acl(f"{folder}/later.jpg")


ALWAYS_OK = ["read", "read_object", "modify_object", "write", "own", "null"]
ONLY_431 = ["delete_object", "read_metadata", "create_object", "modify_metadata"]


@pytest.mark.parametrize("level", ALWAYS_OK + ONLY_431 + ["bogus", "read object spaced"])
def test_acl_level_strings_per_persona(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path, level: str
) -> None:
    alice = connect("alice")
    target = f"{HOME}/acl.jpg"
    put(alice, tmp_path, target)
    acl = iRODSAccess(level, target, "bob")
    if level in ALWAYS_OK or (level in ONLY_431 and server.persona == "4.3.1"):
        alice.acls.set(acl)
        assert ("bob" in server.acl(target)) is (level != "null")
    else:
        with pytest.raises(CAT_INVALID_ARGUMENT):
            alice.acls.set(acl)


def test_acl_changes_need_own_and_admin_mode_needs_rodsadmin(
    connect: SessionFactory, tmp_path: Path
) -> None:
    alice, bob = connect("alice"), connect("bob")
    target = f"{HOME}/mine.jpg"
    put(alice, tmp_path, target)
    with pytest.raises(CAT_NO_ACCESS_PERMISSION):
        bob.acls.set(iRODSAccess("read", target, "bob"))
    with pytest.raises(CAT_INSUFFICIENT_PRIVILEGE_LEVEL):
        bob.acls.set(iRODSAccess("read", target, "bob"), admin=True)
    connect("rods", password="rods").acls.set(iRODSAccess("read", target, "bob"), admin=True)
    with bob.data_objects.open(target, "r") as fh:
        assert fh.read() == b"img"
    with pytest.raises(CAT_NO_ACCESS_PERMISSION):
        put(bob, tmp_path, target)  # read is not write


def test_avu_add_set_rm_and_protection(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    alice = connect("alice")
    target = f"{HOME}/meta.jpg"
    put(alice, tmp_path, target)
    alice.metadata.add(DataObject, target, iRODSMeta("cyverse_link:catalog", "ASU1", "id"))
    with pytest.raises(CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME):
        alice.metadata.add(DataObject, target, iRODSMeta("cyverse_link:catalog", "ASU1", "id"))
    alice.metadata.set(DataObject, target, iRODSMeta("cyverse_link:catalog", "ASU2"))
    mine = [a for a in server.avus(target) if a[0].startswith("cyverse_link")]
    assert mine == [("cyverse_link:catalog", "ASU2", "")]
    assert [a[0] for a in server.avus(target)].count("ipc_UUID") == 1  # CyVerse rule
    obj = alice.data_objects.get(target)
    assert obj.metadata.get_one("cyverse_link:catalog").value == "ASU2"
    alice.metadata.remove(DataObject, target, iRODSMeta("cyverse_link:catalog", "ASU2"))
    assert not [a for a in server.avus(target) if a[0].startswith("cyverse_link")]
    for call in (alice.metadata.add, alice.metadata.set):
        with pytest.raises(CAT_INSUFFICIENT_PRIVILEGE_LEVEL):
            call(DataObject, target, iRODSMeta("ipc-bisque-id", "1"))
    connect("rods", password="rods").metadata.add(DataObject, target, iRODSMeta("ipc-x", "1"))
    with pytest.raises(CAT_NO_ACCESS_PERMISSION):
        connect("bob").metadata.add(DataObject, target, iRODSMeta("a", "b"))


def test_atomic_operations(connect: SessionFactory, server: SandboxIrods, tmp_path: Path) -> None:
    alice = connect("alice")
    target = f"{HOME}/atomic.jpg"
    put(alice, tmp_path, target)
    alice.metadata.add(DataObject, target, iRODSMeta("k", "old"))
    alice.metadata.apply_atomic_operations(
        DataObject,
        target,
        AVUOperation(operation="remove", avu=iRODSMeta("k", "old")),
        AVUOperation(operation="remove", avu=iRODSMeta("k", "never-there")),
        AVUOperation(operation="add", avu=iRODSMeta("k", "new", "u")),
    )
    assert [a for a in server.avus(target) if a[0] == "k"] == [("k", "new", "u")]
    with pytest.raises(CAT_INSUFFICIENT_PRIVILEGE_LEVEL):
        alice.metadata.apply_atomic_operations(
            DataObject,
            target,
            AVUOperation(operation="add", avu=iRODSMeta("k", "2")),
            AVUOperation(operation="add", avu=iRODSMeta("ipc_UUID", "x")),
        )
    assert [a for a in server.avus(target) if a[0] == "k"] == [("k", "new", "u")]  # all or none


def test_unlink(connect: SessionFactory, server: SandboxIrods, tmp_path: Path) -> None:
    alice = connect("alice")
    target = f"{HOME}/gone.jpg"
    put(alice, tmp_path, target)
    with pytest.raises(CAT_NO_ACCESS_PERMISSION):
        connect("bob").data_objects.unlink(target, force=True)
    alice.data_objects.unlink(target, force=True)
    assert not server.exists(target)
    with pytest.raises(DataObjectDoesNotExist):
        alice.data_objects.get(target)

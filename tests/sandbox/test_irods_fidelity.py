"""Behaviours taken from the real servers' source (docs/sandbox-irods.md §4): users over the
admin API, group-based ACLs, removal rights, passwordless users, GenQuery joins and atomic
metadata errors. python-irodsclient's own suite (tests/prc) checks them again."""

from __future__ import annotations

import json
from pathlib import Path

import irods.keywords as kw
import pytest
from irods.access import iRODSAccess
from irods.column import Like
from irods.exception import (
    CAT_INVALID_USER,
    CAT_NO_ACCESS_PERMISSION,
    SYS_INVALID_INPUT_PARAM,
)
from irods.meta import AVUOperation, iRODSMeta
from irods.models import Collection, DataObject, DataObjectMeta, User
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, ZONE, SessionFactory


def put(sess: iRODSSession, tmp_path: Path, target: str, data: bytes = b"img") -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    sess.data_objects.put(str(src), target, num_threads=1, **{kw.FORCE_FLAG_KW: True})


def test_admin_creates_a_user_who_logs_in_and_joins_public(
    connect: SessionFactory, server: SandboxIrods
) -> None:
    rods = connect("rods", password="rods")
    rods.users.create("carol", "rodsuser").modify("password", "c-pw")
    carol = connect("carol", password="c-pw")
    assert carol.collections.get(f"/{ZONE}/home/carol").name == "carol"
    assert server.catalog.users["carol"].groups == ["public"]
    assert "public" not in server.catalog.users["anonymous"].groups  # core.re.template
    rods.users.remove("carol")
    assert not server.exists(f"/{ZONE}/home/carol")


def test_a_user_without_password_is_an_invalid_user(
    connect: SessionFactory, server: SandboxIrods
) -> None:
    connect("rods", password="rods").users.create("dave", "rodsuser")
    with pytest.raises(CAT_INVALID_USER):
        connect("dave", password="").collections.get(f"/{ZONE}/home/dave")
    assert connect("anonymous", password="").collections.get(f"/{ZONE}/home").name == "home"


def test_new_entries_get_rodsadmin_group_not_rods(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    put(connect("alice"), tmp_path, f"{HOME}/a.jpg")
    acl = server.acl(f"{HOME}/a.jpg")
    assert "rods" not in acl and acl["rodsadmin"] == "own"  # cyverse_logic.re, under home


def test_stock_rules_grant_rods_nothing_on_a_users_object(tmp_path: Path) -> None:
    with SandboxIrods(persona="4.3.1", zone=ZONE, users={"alice": "a"}, cyverse_rules=False) as srv:
        alice = iRODSSession(host=srv.host, port=srv.port, user="alice", password="a", zone=ZONE)
        rods = iRODSSession(host=srv.host, port=srv.port, user="rods", password="rods", zone=ZONE)
        try:
            put(alice, tmp_path, f"{HOME}/a.jpg")
            assert srv.acl(f"{HOME}/a.jpg") == {"alice": "own"}
            with pytest.raises(CAT_NO_ACCESS_PERMISSION):
                rods.data_objects.open(f"{HOME}/a.jpg", "r").close()
        finally:
            alice.cleanup()
            rods.cleanup()


def test_write_does_not_allow_removing(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    alice, bob = connect("alice"), connect("bob")
    target = f"{HOME}/shared.jpg"
    put(alice, tmp_path, target)
    alice.acls.set(iRODSAccess("write", target, "bob"))
    put(bob, tmp_path, target, b"overwritten by bob")  # modify_object may overwrite
    for force in (True, False):
        with pytest.raises(CAT_NO_ACCESS_PERMISSION):
            bob.data_objects.unlink(target, force=force)
    assert server.object(target).data == b"overwritten by bob"


def test_genquery_case_insensitive_equals(connect: SessionFactory, tmp_path: Path) -> None:
    alice = connect("alice")
    put(alice, tmp_path, f"{HOME}/MiXeD.jpg")
    rows = (
        alice.query(DataObject.name, case_sensitive=False)
        .filter(Collection.name == HOME.upper(), DataObject.name == "mixed.JPG")
        .all()
    )
    assert [r[DataObject.name] for r in rows] == ["MiXeD.jpg"]


def test_two_conditions_on_avu_names_find_the_object_with_both(
    connect: SessionFactory, tmp_path: Path
) -> None:
    alice = connect("alice")
    for name, avus in (("both.jpg", [("A", "1"), ("B", "2")]), ("one.jpg", [("A", "1")])):
        put(alice, tmp_path, f"{HOME}/{name}")
        for a, v in avus:
            alice.metadata.add(DataObject, f"{HOME}/{name}", iRODSMeta(a, v))
    rows = (
        alice.query(DataObject.name)
        .filter(DataObjectMeta.name == "A", DataObjectMeta.value == "1")
        .filter(DataObjectMeta.name == "B", DataObjectMeta.value == "2")
        .all()
    )
    assert [r[DataObject.name] for r in rows] == ["both.jpg"]


def test_data_object_joined_with_user_lists_acl_holders(
    connect: SessionFactory, tmp_path: Path
) -> None:
    alice = connect("alice")
    put(alice, tmp_path, f"{HOME}/u.jpg")
    alice.acls.set(iRODSAccess("read", f"{HOME}/u.jpg", "bob"))
    rows = alice.query(DataObject.name, User.name).filter(Like(DataObject.name, "u.%")).all()
    assert {r[User.name] for r in rows} >= {"alice", "bob"}


def test_atomic_metadata_on_a_missing_object_answers_like_4_3_1(
    connect: SessionFactory, server: SandboxIrods
) -> None:
    alice = connect("alice")
    path = f"{HOME}/missing.jpg"
    with pytest.raises(SYS_INVALID_INPUT_PARAM) as caught:
        alice.metadata.apply_atomic_operations(
            DataObject, path, AVUOperation(operation="add", avu=iRODSMeta("a", "b"))
        )
    answer = caught.value.server_msg.get_json_encoded_struct()
    assert answer == {
        "operation": {},
        "operation_index": 0,
        "error_message": f"Entity does not exist [entity_name={path}]",
    }
    assert json.dumps(answer)  # plain JSON, no nesting under "failed_operation"

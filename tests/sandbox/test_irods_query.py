"""GenQuery against the sandbox through python-irodsclient: paging, operators, joins, ACL filter."""

from __future__ import annotations

from typing import Any

import pytest
from irods.column import Between, In, Like, NotLike
from irods.exception import CollectionDoesNotExist
from irods.models import Collection, DataObject, DataObjectMeta
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, SessionFactory


def names(query: object) -> list[str]:
    return sorted(row[DataObject.name] for row in query)  # type: ignore[attr-defined]


def test_paging_returns_every_row(alice: iRODSSession, server: SandboxIrods) -> None:
    for i in range(1200):
        server.seed_object(f"{HOME}/many/f{i:04d}.jpg", b"x", owner="alice")
    before = server.stats.requests.get(702, 0)
    q = alice.query(DataObject.name, DataObject.size).filter(Collection.name == f"{HOME}/many")
    rows = list(q)
    assert len(rows) == 1200 and len({r[DataObject.name] for r in rows}) == 1200
    assert server.stats.requests[702] - before == 3  # pages of 500, 500, 200
    # all() reads one page and closes the statement; limit(n) only sets the page size.
    assert len(q.all()) == 500
    assert len(q.limit(7).all()) == 7
    assert len(list(q.limit(100))) == 1200


def test_exactly_full_page_then_no_rows(alice: iRODSSession, server: SandboxIrods) -> None:
    for i in range(10):
        server.seed_object(f"{HOME}/ten/f{i}", b"x", owner="alice")
    q = alice.query(DataObject.name).filter(Collection.name == f"{HOME}/ten").limit(5)
    assert len(list(q)) == 10  # 5, 5, then -808000 on the still-open statement


def test_operators(alice: iRODSSession, server: SandboxIrods) -> None:
    for i, size in enumerate([10, 20, 30, 40]):
        server.seed_object(f"{HOME}/ops/f{i}.jpg", b"x" * size, owner="alice")
    server.seed_object(f"{HOME}/ops/other.txt", b"", owner="alice")

    def base() -> Any:  # PRC's filter() shares the criteria list between clones: start afresh
        return alice.query(DataObject.name).filter(Collection.name == f"{HOME}/ops")

    assert names(base().filter(Like(DataObject.name, "f%.jpg"))) == [f"f{i}.jpg" for i in range(4)]
    assert names(base().filter(NotLike(DataObject.name, "f%"))) == ["other.txt"]
    assert names(base().filter(In(DataObject.name, ["f1.jpg", "f3.jpg"]))) == ["f1.jpg", "f3.jpg"]
    assert names(base().filter(DataObject.size > 15, DataObject.size <= 30)) == ["f1.jpg", "f2.jpg"]
    assert names(base().filter(Between(DataObject.size, [20, 30]))) == ["f1.jpg", "f2.jpg"]
    assert names(base().filter(DataObject.name != "other.txt", DataObject.size < 20)) == ["f0.jpg"]
    assert names(base().filter(DataObject.size >= 40)) == ["f3.jpg"]
    desc = (
        alice.query(DataObject.name, DataObject.size)
        .filter(Collection.name == f"{HOME}/ops")
        .order_by(DataObject.size, order="desc")
    )
    assert [r[DataObject.name] for r in desc][:2] == ["f3.jpg", "f2.jpg"]
    ci = alice.query(DataObject.name, case_sensitive=False).filter(DataObject.name == "F0.jpg")
    assert names(ci) == ["f0.jpg"]
    count = alice.query(DataObject.id).filter(Collection.name == f"{HOME}/ops").count(DataObject.id)
    assert count.one()[DataObject.id] == 5


def test_subtree_query_and_replicas(alice: iRODSSession, server: SandboxIrods) -> None:
    server.seed_object(f"{HOME}/t/a.jpg", b"a", owner="alice")
    server.seed_object(f"{HOME}/t/sub/b.jpg", b"b", owner="alice")
    server.seed_object(f"{HOME}/tx/c.jpg", b"c", owner="alice")
    server.add_replica(f"{HOME}/t/a.jpg")

    def q() -> Any:
        cols = (Collection.name, DataObject.name, DataObject.replica_number, DataObject.checksum)
        return alice.query(*cols)

    rows = list(q().filter(Like(Collection.name, f"{HOME}/t/%")))
    rows += list(q().filter(Collection.name == f"{HOME}/t"))
    assert sorted((r[DataObject.name], r[DataObject.replica_number]) for r in rows) == [
        ("a.jpg", 0),
        ("a.jpg", 1),
        ("b.jpg", 0),
    ]


def test_unicode_and_space_names(alice: iRODSSession, tmp_path: object) -> None:
    coll = alice.collections.create(f"{HOME}/Herbier été 2026")
    assert alice.collections.exists(coll.path)
    import pathlib

    src = pathlib.Path(str(tmp_path)) / "x.jpg"
    src.write_bytes(b"data")
    target = f"{coll.path}/Ünïcödé name & <x> 'q'.jpg"
    alice.data_objects.put(str(src), target, num_threads=1, forceFlag=True)
    obj = alice.data_objects.get(target)
    assert obj.name == "Ünïcödé name & <x> 'q'.jpg" and obj.size == 4
    assert [o.name for o in alice.collections.get(coll.path).data_objects] == [obj.name]


def test_metadata_query(alice: iRODSSession, server: SandboxIrods) -> None:
    server.seed_object(f"{HOME}/m/a.jpg", b"a", owner="alice")
    server.seed_object(f"{HOME}/m/b.jpg", b"b", owner="alice")
    obj = alice.data_objects.get(f"{HOME}/m/b.jpg")
    obj.metadata.add("cyverse_link:catalog", "ASU0001")
    q = alice.query(DataObject.name, DataObjectMeta.value).filter(
        DataObjectMeta.name == "cyverse_link:catalog"
    )
    assert [(r[DataObject.name], r[DataObjectMeta.value]) for r in q] == [("b.jpg", "ASU0001")]


def test_acl_filtering_for_non_admins(connect: SessionFactory, server: SandboxIrods) -> None:
    server.seed_object(f"{HOME}/private/a.jpg", b"a", owner="alice")
    bob = connect("bob")
    q = bob.query(DataObject.name).filter(Collection.name == f"{HOME}/private")
    assert list(q) == []
    with pytest.raises(CollectionDoesNotExist):
        bob.collections.get(f"{HOME}/private")
    rods = connect("rods", password="rods")
    assert len(list(rods.query(DataObject.name).filter(Collection.name == f"{HOME}/private"))) == 1


def test_continuation_is_per_connection(connect: SessionFactory, server: SandboxIrods) -> None:
    """A foreign continueInx gets -808000 (CAT_NO_ROWS_FOUND): iteration just ends."""
    for i in range(6):
        server.seed_object(f"{HOME}/c/f{i}", b"x", owner="alice")
    one = connect("alice")
    other = connect("alice")
    q = one.query(DataObject.name).filter(Collection.name == f"{HOME}/c").limit(2)
    first = q.execute()
    assert first.continue_index > 0
    foreign = other.query(DataObject.name).filter(Collection.name == f"{HOME}/c").limit(2)
    assert len(foreign.continue_index(first.continue_index).execute()) == 0
    assert len(q.continue_index(first.continue_index).execute()) == 2

"""Issue 13 item 6: which objects of a collection ``sync`` superseded (``stem.v<md5_8>.ext``
beside ``stem.ext``; the newest of such a family is current)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cyverse_link.admin.collection_index import CollectionIndex
from cyverse_link.core.models import RemoteObject
from cyverse_link.core.naming import versioned_path

BASE = "/iplant/home/shared/p/box/ASU0000001.jpg"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def md5(n: int) -> str:
    return hashlib.md5(b"%d" % n).hexdigest()


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=6, unique=True), st.booleans())
def test_only_the_newest_of_a_family_is_current(ages: list[int], with_plain: bool) -> None:
    objects = [
        RemoteObject(versioned_path(BASE, md5(i)), 10, md5(i), T0 + timedelta(seconds=age))
        for i, age in enumerate(ages)
    ]
    if with_plain:
        objects.append(RemoteObject(BASE, 10, md5(99), T0 - timedelta(days=1)))
    index = CollectionIndex().add(objects)
    newest = max(objects, key=lambda o: o.modified or T0).path
    for obj in objects:
        expected = None if obj.path == newest else newest
        assert index.superseded_by(obj.path) == expected


def test_a_name_that_only_looks_versioned_is_no_version() -> None:
    # the tag is not the object's own MD5 prefix: someone's file, not sync's
    fake = RemoteObject(BASE.replace(".jpg", ".vdeadbeef.jpg"), 10, md5(1), T0)
    plain = RemoteObject(BASE, 10, md5(2), T0 - timedelta(days=1))
    index = CollectionIndex().add([fake, plain])
    assert index.superseded_by(plain.path) is None and index.superseded_by(fake.path) is None

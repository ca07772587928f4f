"""Registration against the sandbox as it follows the real server (issue 14): names BisQue's
value filter would cut, names it rewrites, documents shared with us, the Content-Type of every
body, and a large rendition that never upscales. Live sandbox only (fault seeding)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest
from PIL import Image

from cyverse_link.core.urls import bisque_irods_value, irods_value_forms
from cyverse_link.publish.bisque import BISQUE_RETRY, BisqueClient, BisqueProvider
from cyverse_link.publish.bisque_xml import query_pattern
from cyverse_link.sandbox.bisque_server import BisqueSandbox

IRODS_HOST = "data.iplantcollaborative.org"
USERS = {"alice": "alice-reg-pw", "bob": "bob-reg-pw"}
FOLDER = "/iplant/home/shared/cyverse_link_test/"
HOSTILE = [
    "ASU0000110 scale=2.jpg",
    "ASU0000111 #1 é.jpg",
    "ASU0000112 <dorsal>.jpg",
    "ASU0000113 a>=b.tif",
    "ASU0000114 'q'=\"x\" #2 <3>.jpg",
]


@pytest.fixture
def sb() -> Iterator[BisqueSandbox]:
    with BisqueSandbox(USERS) as server:
        yield server


def client(sb: BisqueSandbox, user: str = "alice") -> BisqueClient:
    no_wait = replace(BISQUE_RETRY, sleep=lambda s: None)
    return BisqueClient(sb.url, (user, USERS[user]), retry=no_wait)


def inserts(sb: BisqueSandbox) -> int:
    return sum(r.path == "/blob_service/paths/insert" for r in sb.requests)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_name_is_registered_once_across_a_lost_ledger(sb: BisqueSandbox, name: str) -> None:
    """The ledger is the only other memory: a second client (a fresh ledger) must find the
    first registration through BisQue's value filter, which cuts at '=', '<', '>'."""
    original = FOLDER + name
    first = BisqueProvider(client(sb), IRODS_HOST).urls_for(original, {})
    second = BisqueProvider(client(sb), IRODS_HOST).urls_for(original, {})
    assert second == first
    assert inserts(sb) == 1 and len(sb.resources) == 1
    (res,) = sb.resources.values()
    assert res.name == name  # BisQue's own name for it is the file's name, '#' and all
    assert res.permission == "published"


@pytest.mark.parametrize(("name", "cut"), [("ASU0000115 x=1.jpg", "="), ("A <x>.jpg", "<")])
def test_legacy_raw_value_is_found(sb: BisqueSandbox, name: str, cut: str) -> None:
    """Registrations made before 2022 hold the raw path, '=', '<' and '>' included."""
    value = bisque_irods_value(FOLDER + name, IRODS_HOST)
    raw = irods_value_forms(value)[1]
    legacy = sb.add_resource(raw, "alice", permission="published")
    # a decoy holding exactly what BisQue's filter cuts the raw value to
    sb.add_resource(raw.split(cut)[0], "alice", permission="published", name="decoy.jpg")
    found, created = client(sb).register(value, name)
    assert not created and found.uniq == legacy.uniq and inserts(sb) == 0


def test_query_pattern() -> None:
    assert query_pattern("irods://h/a%20b.jpg") == "irods://h/a%20b.jpg"
    assert query_pattern("irods://h/a=b<c>d|e.jpg") == "irods://h/a*b*c*d*e.jpg"
    assert query_pattern("irods://h/'a\\\".jpg") == "irods://h/*a**.jpg"


def test_private_document_shared_with_us_is_not_reused(sb: BisqueSandbox) -> None:
    """wpublic=1 lists bob's private registration shared with alice; publishing it would be
    refused (403), so alice registers and publishes her own."""
    value = bisque_irods_value(FOLDER + "ASU0000116.jpg", IRODS_HOST)
    theirs = sb.add_resource(value, "bob")
    sb.share(theirs.uniq, "alice", "read")
    urls = BisqueProvider(client(sb), IRODS_HOST).urls_for(FOLDER + "ASU0000116.jpg", {})
    assert theirs.uniq not in urls.url
    mine = [r for r in sb.resources.values() if r.owner == "alice"]
    assert len(mine) == 1 and mine[0].uniq in urls.url and mine[0].permission == "published"
    assert theirs.permission == "private"
    assert not [r for r in sb.requests if r.status == 403]


def test_someone_elses_published_document_is_reused_untouched(sb: BisqueSandbox) -> None:
    value = bisque_irods_value(FOLDER + "ASU0000117.jpg", IRODS_HOST)
    theirs = sb.add_resource(value, "bob", permission="published")
    urls = BisqueProvider(client(sb), IRODS_HOST).urls_for(
        FOLDER + "ASU0000117.jpg", {}, tags={"catalogNumber": "ASU0000117"}
    )
    assert theirs.uniq in urls.url and inserts(sb) == 0
    assert not [r for r in sb.requests if r.method == "POST"]  # not ours: no tags, no publish


def test_every_body_is_sent_as_xml(sb: BisqueSandbox) -> None:
    """paths/insert needs text/xml or application/xml (blobsrv.py ~253-256) and data_service
    parses by Content-Type (formats.py ~155-187): every body the client sends says XML."""
    value = bisque_irods_value(FOLDER + "prov/ASU0000118.tif", IRODS_HOST)
    sb.add_resource(value, "alice")  # private: the provider publishes and tags it
    provider = BisqueProvider(client(sb), IRODS_HOST)
    provider.urls_for(FOLDER + "prov/ASU0000118.tif", {}, tags={"catalogNumber": "ASU0000118"})
    provider.urls_for(FOLDER + "ASU0000119.jpg", {}, tags={"catalogNumber": "ASU0000119"})
    bodies = [r for r in sb.requests if r.body]
    assert {r.method for r in bodies} == {"POST"} and len(bodies) == 3
    for r in bodies:
        assert r.content_type.split(";")[0] in ("text/xml", "application/xml"), r
        assert r.status == 200
    assert all(r.accept == "text/xml" for r in sb.requests)


def test_large_rendition_never_upscales(sb: BisqueSandbox) -> None:
    value = bisque_irods_value(FOLDER + "ASU0000120.tif", IRODS_HOST)
    sb.add_resource(value, "alice", permission="published", size=(1600, 1200))
    bq = client(sb)
    urls = BisqueProvider(bq, IRODS_HOST).urls_for(FOLDER + "ASU0000120.tif", {})
    assert urls.original_url is not None
    large = bq.fetch(urls.original_url)
    assert Image.open(io.BytesIO(large.content)).size == (1600, 1200)
    web = bq.fetch(urls.url)
    assert Image.open(io.BytesIO(web.content)).size == (1250, 938)


def test_a_value_without_a_usable_last_segment_is_a_clear_error(sb: BisqueSandbox) -> None:
    from cyverse_link.core.errors import PublishError

    with pytest.raises(PublishError, match="cannot register"):
        client(sb).register(f"irods://{IRODS_HOST}{FOLDER}raw#name.jpg", "raw#name.jpg")
    assert inserts(sb) == 0

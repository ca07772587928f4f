"""The sandbox follows the real BisQue server's source (UCSB-VRL/bisqueUCSB 8ba481c, issue 14),
checked with raw requests. Each test names the behaviour and the file it comes from."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from cyverse_link.sandbox.bisque_server import SERVER_HEADER, BisqueSandbox

ALICE, BOB = ("alice", "pw-a"), ("bob", "pw-b")
STORE = "irods://data.iplantcollaborative.org/iplant/home/shared/p/"
XML = {"Accept": "text/xml", "Content-Type": "text/xml"}


@pytest.fixture
def sb() -> Iterator[BisqueSandbox]:
    with BisqueSandbox(dict([ALICE, BOB])) as server:
        yield server


def get(sb: BisqueSandbox, where: str, auth: tuple[str, str] | None = ALICE, **kw: str):  # type: ignore[no-untyped-def]
    return requests.get(f"{sb.url}{where}", params=kw, headers=XML, auth=auth, timeout=30)


def names(resp: requests.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return sorted(e.get("name", "") for e in ET.fromstring(resp.content))


def test_value_filter_is_cut_at_equals_and_angle_brackets(sb: BisqueSandbox) -> None:
    """resource_query.py ~845-881: quotes stripped, value cut at the first '=', '<' or '>'."""
    sb.add_resource(f"{STORE}k.jpg", "alice")
    sb.add_resource(f"{STORE}k.jpg=2.jpg", "alice")
    assert names(get(sb, "/data_service/image", value=f"{STORE}k.jpg=2.jpg")) == ["k.jpg"]
    assert names(get(sb, "/data_service/image", value=f"{STORE}k.jpg<2.jpg")) == ["k.jpg"]
    assert names(get(sb, "/data_service/image", value=f'"{STORE}k.jpg"')) == ["k.jpg"]
    # '*' makes a LIKE, where the '%' of an encoded value is a wildcard as well
    assert names(get(sb, "/data_service/image", value=f"{STORE}k.jpg*2.jpg")) == ["k.jpg=2.jpg"]
    assert get(sb, "/data_service/image", value="=").status_code == 500  # ATTR_EXPR: no match
    # paths/list goes through the same filter (blobsrv.py ~157-163)
    assert names(get(sb, "/blob_service/paths/list", path=f"{STORE}k.jpg=2.jpg")) == ["k.jpg"]
    assert get(sb, "/blob_service/paths/list", auth=None, path=STORE).status_code == 401


def test_insert_rewrites_the_name(sb: BisqueSandbox) -> None:
    """mount_service.py ~604, 629-630; blob_drivers.py ~120-129: the stored name is the
    decoded last segment of the value, plus the sent name's '#' sub-path."""
    value = f"{STORE}ASU0000101%20%231%20%C3%A9.jpg"
    for sent, stored in [
        ("ASU0000101 #1 é.jpg", "ASU0000101 #1 é.jpg#1 é.jpg"),
        ("ASU0000101%20%231%20%C3%A9.jpg", "ASU0000101 #1 é.jpg"),
        ("whatever.jpg", "ASU0000101 #1 é.jpg"),
    ]:
        resp = requests.post(
            f"{sb.url}/blob_service/paths/insert",
            data=f'<resource name="{sent}" value="{value}"/>'.encode(),
            headers=XML,
            auth=ALICE,
            timeout=30,
        )
        el = ET.fromstring(resp.content)
        assert el.get("name") == stored
        tags = sb.resources[el.get("resource_uniq", "")].tags
        assert ("filename", stored, None) in tags


def test_insert_and_data_service_content_types(sb: BisqueSandbox) -> None:
    """paths/insert reads only text/xml and application/xml bodies (blobsrv.py ~248-261);
    otherwise the value is the (absent) ?path= -> 400; none at all -> 500. data_service:
    formats.py ~155-187, resource.py ~779-790."""
    body = f'<resource name="x.jpg" value="{STORE}x.jpg"/>'.encode()
    url = f"{sb.url}/blob_service/paths/insert"

    def post(target: str, ctype: str | None, data: bytes = body) -> int:
        headers = {"Accept": "text/xml", "Content-Type": ctype or ""}
        return requests.post(target, data=data, headers=headers, auth=ALICE, timeout=30).status_code

    assert post(url, "text/xml; charset=utf-8") == 200
    assert post(url, "application/xml") == 200
    assert post(url, "application/json") == 400
    assert post(url, None) == 500
    uniq = next(iter(sb.resources))
    doc = f"{sb.url}/data_service/{uniq}"
    tag = b'<tag name="a" value="1"/>'
    assert post(doc, "application/json", tag) == 500  # XML read by json.load
    assert post(doc, "text/plain", tag) == 415
    assert post(doc, None, tag) == 500
    assert post(doc, "application/xml", tag) == 200


def test_tag_post_answers_the_new_tag_and_tag_collection(sb: BisqueSandbox) -> None:
    """append (bisquik_resource.py ~399-411) answers with what it created; /tag lists tags."""
    res = sb.add_resource(f"{STORE}t.jpg", "alice")
    doc = f"{sb.url}/data_service/{res.uniq}"
    body = '<request><tag name="a" value="1"/><tag name="b" value="2"/></request>'
    el = ET.fromstring(requests.post(doc, data=body, headers=XML, auth=ALICE, timeout=30).content)
    assert el.tag == "tag" and el.get("name") == "b" and "/tag/" in el.get("uri", "")
    tags = ET.fromstring(get(sb, f"/data_service/{res.uniq}/tag").content)
    assert tags.tag == "resource" and {t.get("name") for t in tags} >= {"filename", "a", "b"}
    assert all(t.tag == "tag" for t in tags)


def test_count_view_is_typed(sb: BisqueSandbox) -> None:
    """bisquik_resource.py ~259-270: the count tag has type="number"."""
    sb.add_resource(f"{STORE}c.jpg", "alice")
    (tag,) = ET.fromstring(get(sb, "/data_service/image", view="count").content)
    assert tag.attrib == {"name": "count", "type": "number", "value": "1"}


def test_missing_uniq_is_refused_never_not_found(sb: BisqueSandbox) -> None:
    """check_access (bisquik_resource.py ~181-187): 403 logged in, 401 anonymous."""
    missing = "/data_service/00-AAAAAAAAAAAAAAAAAAAAAA"
    assert get(sb, missing).status_code == 403
    assert get(sb, missing, auth=None).status_code == 401
    assert get(sb, "/data_service/not-a-uniq").status_code == 404  # resource.py ~745-750


def test_anonymous_image_refusal_is_a_login_redirect(sb: BisqueSandbox) -> None:
    """image_service/controllers/service.py ~232-242 (401), challenge_decider.py ~25-63 and
    who.ini.default ~135-142: a browser-class request is redirected to the login form."""
    priv = sb.add_resource(f"{STORE}priv.jpg", "alice")
    for uniq in (priv.uniq, "00-AAAAAAAAAAAAAAAAAAAAAA"):
        url = f"{sb.url}/image_service/image/{uniq}/resize:1250/format:jpeg"
        final = requests.get(url, headers={"Accept": "image/*"}, timeout=30)
        assert [h.status_code for h in final.history] == [302]
        assert "/auth_service/login?came_from=" in final.history[0].headers["Location"]
        assert final.status_code == 200 and final.headers["Content-Type"].startswith("text/html")
        assert requests.get(url, headers=XML, timeout=30).status_code == 401
        assert requests.get(url, headers=XML, auth=BOB, timeout=30).status_code == 403


def test_blob_service_refusals_and_content_type(sb: BisqueSandbox) -> None:
    """blobsrv.py ~340-372: 403 for missing or denied (anonymous too), guess_mime ~299-308."""
    jpg = sb.add_resource(f"{STORE}b.jpg", "alice", permission="published")
    tif = sb.add_resource(f"{STORE}b.tif", "alice", permission="published")
    other = sb.add_resource(f"{STORE}b.bin", "alice", permission="published")
    priv = sb.add_resource(f"{STORE}p.jpg", "alice")
    blob = f"{sb.url}/blob_service"
    assert requests.get(f"{blob}/{jpg.uniq}", timeout=30).headers["Content-Type"] == "image/jpg"
    assert requests.get(f"{blob}/{tif.uniq}", timeout=30).headers["Content-Type"] == "image/tif"
    assert (
        requests.get(f"{blob}/{other.uniq}", timeout=30).headers["Content-Type"]
        == "application/octet-stream"
    )
    for uniq in (priv.uniq, "00-AAAAAAAAAAAAAAAAAAAAAA"):
        anon = requests.get(f"{blob}/{uniq}", timeout=30, allow_redirects=False)
        assert anon.status_code == 403
    assert requests.get(f"{blob}/{priv.uniq}", auth=BOB, timeout=30).status_code == 403
    assert requests.get(f"{blob}/nope", timeout=30).status_code == 404


def test_wpublic_returns_documents_shared_with_the_user(sb: BisqueSandbox) -> None:
    """resource_query.py ~347-383: wpublic=1 (and 0) add documents shared with the caller."""
    res = sb.add_resource(f"{STORE}s.jpg", "bob")  # private, bob's
    assert names(get(sb, "/data_service/image", wpublic="1")) == []
    sb.share(res.uniq, "alice", "read")
    assert names(get(sb, "/data_service/image", wpublic="1")) == ["s.jpg"]
    assert names(get(sb, "/data_service/image", wpublic="0")) == ["s.jpg"]
    assert names(get(sb, "/data_service/image")) == []  # own only
    publish = f'<resource uri="{sb.url}/data_service/{res.uniq}" permission="published"/>'
    doc = f"{sb.url}/data_service/{res.uniq}"
    assert requests.post(doc, data=publish, headers=XML, auth=ALICE, timeout=30).status_code == 403
    sb.share(res.uniq, "alice", "edit")
    assert requests.post(doc, data=publish, headers=XML, auth=ALICE, timeout=30).status_code == 200


def test_services_list(sb: BisqueSandbox) -> None:
    """bqcore/bq/core/controllers/root.py ~124-134; service URLs end in '/'."""
    resp = requests.get(f"{sb.url}/services", headers=XML, timeout=30)
    assert resp.headers["Server"] == SERVER_HEADER
    found = {t.get("type"): t.get("value") for t in ET.fromstring(resp.content)}
    assert found["data_service"] == f"{sb.url}/data_service/"
    assert {"auth_service", "blob_service", "image_service"} <= set(found)


@pytest.mark.parametrize(
    ("ops", "size"),
    [
        ("resize:4000/format:jpeg", (4000, 3000)),  # plain resize upscales a narrow master
        ("resize:4000,4000,BL,MX/format:jpeg", (1600, 1200)),  # MX leaves it alone
        ("resize:1250/format:jpeg", (1250, 938)),
        ("thumbnail:200,200", (200, 150)),
        ("thumbnail:4000,4000", (1600, 1200)),  # thumbnails never upscale
    ],
)
def test_resize_follows_resize_py(sb: BisqueSandbox, ops: str, size: tuple[int, int]) -> None:
    """image_service/controllers/operations/resize.py ~36-128, thumbnail.py ~37-134."""
    res = sb.add_resource(f"{STORE}m.jpg", "alice", permission="published", size=(1600, 1200))
    resp = requests.get(f"{sb.url}/image_service/image/{res.uniq}/{ops}", timeout=30)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(resp.content)).size == size

"""The BisQue sandbox imitates the facts sheet (bisque-api.md), checked with raw requests;
``test_bisque_sandbox_source.py`` checks the behaviours read in the real server's source."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests

from cyverse_link.sandbox.bisque_server import BisqueSandbox

ALICE, BOB = ("alice", "pw-a"), ("bob", "pw-b")
STORE = "irods://data.iplantcollaborative.org/iplant/home/shared/p/"
XML = {"Accept": "text/xml", "Content-Type": "text/xml"}


@pytest.fixture
def sb() -> Iterator[BisqueSandbox]:
    with BisqueSandbox(dict([ALICE, BOB])) as server:
        yield server


def insert(sb: BisqueSandbox, body: str, auth: tuple[str, str] = ALICE) -> requests.Response:
    return requests.post(
        f"{sb.url}/blob_service/paths/insert", data=body, headers=XML, auth=auth, timeout=30
    )


def reg(sb: BisqueSandbox, name: str, perm: str = "published", auth=ALICE) -> ET.Element:  # type: ignore[no-untyped-def]
    resp = insert(sb, f'<resource name="{name}" value="{STORE}{name}" permission="{perm}"/>', auth)
    assert resp.status_code == 200, resp.text
    return ET.fromstring(resp.content)


def test_session_shapes_and_silent_anonymous(sb: BisqueSandbox) -> None:
    url = f"{sb.url}/auth_service/session"
    anon = requests.get(url, headers=XML, auth=("alice", "wrong"), timeout=30)
    assert anon.status_code == 200 and anon.text == f'<session uri="{url}" />'
    ok = ET.fromstring(requests.get(url, headers=XML, auth=ALICE, timeout=30).content)
    tags = {t.get("name"): t.get("value") for t in ok.iter("tag")}
    assert tags["user"] == sb.user_uri("alice") and tags["expires"] == "2100-01-01T00:00:00Z"
    assert {"group", "timeout", "length"} <= set(tags)


def test_insert_shape(sb: BisqueSandbox) -> None:
    resp = insert(sb, f'<resource name="a b.jpg" value="{STORE}a%20b.jpg"/>')
    assert not resp.text.startswith("<?xml")
    el = ET.fromstring(resp.content)
    assert el.tag == "image" and list(el.attrib) == sorted(el.attrib)
    assert re.fullmatch(r"00-[A-Za-z0-9]{22}", el.get("resource_uniq", ""))
    assert el.get("permission") == "private" and el.get("name") == "a b.jpg"
    full = ET.fromstring(
        requests.get(
            f"{sb.url}/data_service/{el.get('resource_uniq')}?view=full",
            headers=XML,
            auth=ALICE,
            timeout=30,
        ).content
    )
    tags = {t.get("name"): t for t in full.iter("tag")}
    assert tags["filename"].get("value") == "a b.jpg"
    assert tags["upload_datetime"].get("type") == "datetime"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", tags["upload_datetime"].get("value", "")
    )
    assert insert(sb, '<file name="x.bin" value="' + STORE + 'x.bin"/>').text.startswith("<file ")


def test_insert_traps(sb: BisqueSandbox) -> None:
    good = f'<resource name="x.jpg" value="{STORE}x.jpg"/>'
    no_ctype = requests.post(
        f"{sb.url}/blob_service/paths/insert",
        data=good.encode(),
        auth=ALICE,
        timeout=30,
        headers={"Accept": "text/xml", "Content-Type": ""},
    )
    assert no_ctype.status_code == 500
    assert insert(sb, f'<resource name="/x.jpg" value="{STORE}x.jpg"/>').status_code == 500
    outside = '<resource name="x.jpg" value="irods://h/iplant/home/bob/x.jpg"/>'
    assert insert(sb, outside).status_code == 400
    assert "not a valid store" in insert(sb, outside).text
    assert insert(sb, good).status_code == insert(sb, good).status_code == 200
    assert len(sb.resources) == 2  # no de-duplication
    assert insert(sb, good, auth=("alice", "wrong")).status_code == 401  # anonymous write


def test_challenge_decider(sb: BisqueSandbox) -> None:
    el = reg(sb, "priv.jpg", "private")
    url = f"{sb.url}/data_service/{el.get('resource_uniq')}"
    assert requests.get(url, headers={"Accept": "text/xml"}, timeout=30).status_code == 401
    final = requests.get(url, timeout=30)  # requests' default Accept: */*
    assert final.status_code == 200 and final.headers["Content-Type"].startswith("text/html")
    assert final.history[0].status_code == 302
    assert "/auth_service/login?came_from=" in final.history[0].headers["Location"]
    post = requests.post(
        url, data="<tag/>", headers={"Content-Type": "application/xml"}, timeout=30
    )
    assert post.status_code == 401 and post.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(url, headers=XML, auth=BOB, timeout=30).status_code == 403


def test_listing_wpublic_and_value_syntax(sb: BisqueSandbox) -> None:
    reg(sb, "a1.jpg", "private")
    reg(sb, "b1.jpg", "published", auth=BOB)
    listing = f"{sb.url}/data_service/image"

    def names(params: dict[str, str], auth: tuple[str, str] | None = ALICE) -> list[str]:
        resp = requests.get(listing, params=params, headers=XML, auth=auth, timeout=30)
        return sorted(e.get("name", "") for e in ET.fromstring(resp.content))

    assert names({}) == ["a1.jpg"]  # own only without wpublic
    assert names({"wpublic": "1"}) == ["a1.jpg", "b1.jpg"]
    assert names({"wpublic": "1"}, auth=None) == ["b1.jpg"]  # anonymous: public only
    assert names({"value": f"{STORE}a1.jpg|{STORE}b1.jpg", "wpublic": "1"}) == ["a1.jpg", "b1.jpg"]
    assert names({"value": "*1.jpg", "wpublic": "1"}) == ["a1.jpg", "b1.jpg"]
    empty = requests.get(listing, params={"value": "nothing"}, headers=XML, auth=ALICE, timeout=30)
    assert empty.text == '<resource uri="/data_service/image?value=nothing" />'


def test_publish_put_and_invalid_permission(sb: BisqueSandbox) -> None:
    el = reg(sb, "c.jpg", "private")
    uniq, uri = el.get("resource_uniq"), el.get("uri")
    doc = f"{sb.url}/data_service/{uniq}"
    body = '<request><tag name="catalogNumber" value="X1"/><tag name="collid" value="7"/></request>'
    assert requests.post(doc, data=body, headers=XML, auth=ALICE, timeout=30).status_code == 200
    assert requests.post(doc, data=body, headers=XML, auth=BOB, timeout=30).status_code == 403
    pub = requests.post(
        doc,
        data=f'<resource uri="{uri}" permission="published"/>',
        headers=XML,
        auth=ALICE,
        timeout=30,
    )
    assert ET.fromstring(pub.content).get("permission") == "published"
    res = sb.resources[str(uniq)]
    assert {"catalogNumber", "collid", "filename"} <= {t[0] for t in res.tags}
    requests.put(
        doc,
        data=f'<image uri="{uri}" permission="published"/>',
        headers=XML,
        auth=ALICE,
        timeout=30,
    )
    assert res.tags == []  # PUT replaced the document: every tag not resent is gone
    requests.post(
        doc,
        data=f'<resource uri="{uri}" permission="public"/>',
        headers=XML,
        auth=ALICE,
        timeout=30,
    )
    assert res.permission is None  # 'public' is not a value: it nulls (hides) the resource


def test_images_for_published_and_private(sb: BisqueSandbox) -> None:
    pub = reg(sb, "p.jpg").get("resource_uniq")
    priv = reg(sb, "q.jpg", "private").get("resource_uniq")
    img = f"{sb.url}/image_service/image"
    ok = requests.get(f"{img}/{pub}/thumbnail:200,200", timeout=30)
    assert ok.status_code == 200 and ok.content[:2] == b"\xff\xd8"
    assert (
        requests.get(f"{img}/{priv}/resize:1250/format:jpeg", headers=XML, timeout=30).status_code
        == 401
    )
    assert requests.get(f"{img}/{priv}", headers=XML, auth=BOB, timeout=30).status_code == 403
    assert requests.get(f"{img}/{priv}", headers=XML, auth=ALICE, timeout=30).status_code == 200
    gone = requests.get(f"{img}/00-nope", timeout=30)  # 401 -> login redirect, never 404
    assert gone.history[0].status_code == 302 and gone.headers["Content-Type"].startswith("text/")
    assert requests.get(f"{sb.url}/blob_service/00-nope", timeout=30).status_code == 403
    blob = requests.get(f"{sb.url}/blob_service/{pub}", timeout=30)
    assert blob.headers["Content-Disposition"].startswith("attachment")


def test_fault_switches(sb: BisqueSandbox) -> None:
    pub = reg(sb, "r.jpg").get("resource_uniq")
    sb.fail_next(1, retry_after=2)
    first = requests.get(f"{sb.url}/auth_service/session", timeout=30)
    assert first.status_code == 503 and first.headers["Retry-After"] == "2"
    assert requests.get(f"{sb.url}/auth_service/session", timeout=30).status_code == 200
    sb.render_next(1, retry_after=4)
    url = f"{sb.url}/image_service/image/{pub}/thumbnail:200,200"
    hop = requests.get(url, allow_redirects=False, timeout=30)
    assert hop.status_code == 307 and hop.headers["Retry-After"] == "4"
    assert hop.headers["Location"] == f"{url}?timeout=15"
    assert (
        requests.get(
            f"{sb.url}/image_service/image/{pub}", allow_redirects=False, timeout=30
        ).status_code
        == 200
    )  # the bare URL is not a derivative
    assert [r.status for r in sb.requests[-4:]] == [503, 200, 307, 200]
    assert all("pw-a" not in repr(r) for r in sb.requests)

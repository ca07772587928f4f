"""The official BisQue client (PyPI ``bqapi-ucsb`` 1.0.7) drives the sandbox: the sandbox's
check that it is a BisQue a real client can talk to, not one shaped after cyverse_link.

Where bqapi and the sandbox disagree, the real server's source (UCSB-VRL/bisqueUCSB 8ba481c)
decides; each such place is commented below.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from cyverse_link.sandbox.bisque_server import BisqueSandbox

# PyPI bqapi-ucsb, in the test extra: CI must run this module, so a missing package fails here
# instead of skipping. Its import calls the deprecated logging.warn (no pytables), which the
# suite's "warnings are errors" rule would turn into a collection error.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import bqapi
logging.getLogger("bqapi").setLevel(logging.CRITICAL)  # it logs every HTTP error with a trace

USER, PASSWORD = "alice", "alice-bqapi-pw"
STORE = "irods://data.iplantcollaborative.org/iplant/home/shared/p/"


@pytest.fixture
def sb() -> Iterator[BisqueSandbox]:
    with BisqueSandbox({USER: PASSWORD, "bob": "bob-bqapi-pw"}) as server:
        yield server


@pytest.fixture
def session(sb: BisqueSandbox) -> Iterator[Any]:
    bq = bqapi.BQSession().init_local(USER, PASSWORD, bisque_root=sb.url, create_mex=False)
    assert bq is not None, "init_local found no logged-in session"
    yield bq
    bq.close()


def test_init_local_reads_services_and_checks_the_session(sb: BisqueSandbox) -> None:
    bq = bqapi.BQSession().init_local(USER, PASSWORD, bisque_root=sb.url, create_mex=False)
    assert bq is not None
    assert bq.service_map["data_service"] == f"{sb.url}/data_service/"
    assert bq.service_map["blob_service"] == f"{sb.url}/blob_service/"
    # bqapi's _check_session: logged in iff the session has a tag named "user"
    wrong = bqapi.BQSession().init_local(USER, "wrong", bisque_root=sb.url, create_mex=False)
    assert wrong is None


def test_path_link_registers_with_the_server_chosen_name(session: Any, sb: BisqueSandbox) -> None:
    value = f"{STORE}ASU0000110%20scale%3D2%20%231.jpg"
    blob = session.service("blob_service")
    resp = blob.path_link(value)
    assert resp.status_code == 200, resp.text
    el = session.factory.string2etree(resp.content)
    assert el.tag == "image" and el.get("value") == value
    # bqapi sends the encoded basename; the server stores it percent-decoded (mount_service.py
    # ~629-630), which is the name cyverse_link now expects too
    assert el.get("name") == "ASU0000110 scale=2 #1.jpg"
    (logged,) = [r for r in sb.requests if r.path == "/blob_service/paths/insert"]
    assert logged.content_type == "application/xml"


def test_fetchxml_postxml_load_and_query(session: Any, sb: BisqueSandbox) -> None:
    res = sb.add_resource(f"{STORE}q.jpg", USER)
    uri = f"{sb.url}/data_service/{res.uniq}"
    doc = session.fetchxml(uri, view="full")
    assert doc.get("resource_uniq") == res.uniq
    assert {t.get("name") for t in doc.findall("tag")} >= {"filename", "upload_datetime"}
    tag = session.postxml(uri, '<tag name="catalogNumber" value="ASU0000111"/>')
    # append answers with the created tag (bisquik_resource.py ~399-411), not the image
    assert tag.tag == "tag" and tag.get("value") == "ASU0000111"
    image = session.load(uri)
    assert image is not None and image.resource_uniq == res.uniq and image.name == "q.jpg"
    found = session.query("image", value=f"{STORE}q.jpg")
    assert [r.resource_uniq for r in found] == [res.uniq]
    (count,) = session.fetchxml(f"{sb.url}/data_service/image", view="count")
    assert count.get("type") == "number" and count.get("value") == "1"
    tags = session.fetchxml(f"{uri}/tag")
    assert "catalogNumber" in {t.get("name") for t in tags}


def test_query_value_is_cut_like_on_the_real_server(session: Any, sb: BisqueSandbox) -> None:
    """bqapi does not escape query values; the server cuts them at '=' (resource_query.py
    ~845-881), so the official client finds the shorter value's document."""
    short = sb.add_resource(f"{STORE}a.jpg", USER)
    sb.add_resource(f"{STORE}a.jpg=b.jpg", USER)
    found = session.query("image", value=f"{STORE}a.jpg=b.jpg")
    assert [r.resource_uniq for r in found] == [short.uniq]


def test_fetchblob_and_refusals(session: Any, sb: BisqueSandbox) -> None:
    pub = sb.add_resource(f"{STORE}b.jpg", USER, permission="published")
    data = session.fetchblob(f"{sb.url}/blob_service/{pub.uniq}")
    assert data[:2] == b"\xff\xd8"
    # a missing blob is 403, not 404 (blobsrv.py ~349); bqapi raises BQCommError on it
    with pytest.raises(bqapi.BQCommError) as info:
        session.fetchblob(f"{sb.url}/blob_service/00-AAAAAAAAAAAAAAAAAAAAAA")
    assert info.value.response.status_code == 403
    # load() swallows errors (a known bqapi bug): a missing document is None
    assert session.load(f"{sb.url}/data_service/00-AAAAAAAAAAAAAAAAAAAAAA") is None


def test_shared_private_document_is_listed_but_not_publishable(
    session: Any, sb: BisqueSandbox
) -> None:
    theirs = sb.add_resource(f"{STORE}s.jpg", "bob")
    sb.share(theirs.uniq, USER, "read")
    found = session.query("image", value=f"{STORE}s.jpg", wpublic="1")
    assert [r.resource_uniq for r in found] == [theirs.uniq]
    uri = f"{sb.url}/data_service/{theirs.uniq}"
    with pytest.raises(bqapi.BQCommError) as info:
        session.postxml(uri, f'<resource uri="{uri}" permission="published"/>')
    assert info.value.response.status_code == 403

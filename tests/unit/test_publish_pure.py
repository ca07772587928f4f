"""The dav-anon provider and the pure BisQue XML helpers (no I/O)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from cyverse_link.core.errors import PublishError
from cyverse_link.core.naming import Rendition, derivative_path
from cyverse_link.publish import bisque_xml as bx
from cyverse_link.publish.davanon import DavAnonProvider

BASE = "https://data.cyverse.org/dav-anon"
COLL = "/iplant/home/shared/proj"
MD5 = "0123456789abcdef0123456789abcdef"


def derivs(original: str, *kinds: Rendition) -> dict[Rendition, str]:
    return {k: derivative_path(original, MD5, k) for k in kinds}


def test_davanon_jpeg_original() -> None:
    original = f"{COLL}/ASU 1.jpg"
    urls = DavAnonProvider(BASE).urls_for(
        original, derivs(original, Rendition.WEB, Rendition.THUMB)
    )
    assert urls.url == f"{BASE}/iplant/projects/proj/_derivatives/ASU%201.01234567.web.jpg"
    assert (
        urls.thumbnail_url == f"{BASE}/iplant/projects/proj/_derivatives/ASU%201.01234567.thumb.jpg"
    )
    assert urls.original_url == f"{BASE}/iplant/projects/proj/ASU%201.jpg"
    assert urls.archive_url is None and urls.format == "image/jpeg"


def test_davanon_jpeg_without_derivatives_uses_the_original() -> None:
    urls = DavAnonProvider(BASE).urls_for("/iplant/home/jdoe/x.JPG", {})
    assert urls.url == urls.original_url == f"{BASE}/iplant/home/jdoe/x.JPG"
    assert urls.thumbnail_url is None and urls.format == "image/jpeg"


def test_davanon_tiff_master_is_the_archive() -> None:
    original = f"{COLL}/ASU2.tif"
    kinds = (Rendition.WEB, Rendition.THUMB, Rendition.LARGE)
    urls = DavAnonProvider(BASE).urls_for(original, derivs(original, *kinds))
    assert urls.url.endswith("ASU2.01234567.web.jpg")
    assert urls.original_url and urls.original_url.endswith("ASU2.01234567.large.jpg")
    assert urls.archive_url == f"{BASE}/iplant/projects/proj/ASU2.tif"
    assert urls.format == "image/jpeg"


def test_davanon_png_without_large_uses_web_as_original() -> None:
    original = f"{COLL}/ASU3.png"
    urls = DavAnonProvider(BASE).urls_for(original, derivs(original, Rendition.WEB))
    assert urls.original_url == urls.url and urls.archive_url and urls.archive_url.endswith(".png")


def test_davanon_png_without_any_jpeg_declares_its_type() -> None:
    urls = DavAnonProvider(BASE).urls_for(f"{COLL}/ASU4.png", {})
    assert urls.format == "image/png" and urls.archive_url is None


def test_davanon_outside_home_is_a_publish_error() -> None:
    with pytest.raises(PublishError, match="dav-anon"):
        DavAnonProvider(BASE).urls_for("/iplant/trash/x.jpg", {})


# -- BisQue XML ----------------------------------------------------------------------------


def test_parse_resource_and_listing() -> None:
    one = (
        '<image created="2026-01-02T03:04:05" name="a b.jpg" owner="https://b/data_service/00-U"'
        ' permission="published" resource_uniq="00-Abc" ts="2026-01-02T03:04:05.123456"'
        ' uri="https://b/data_service/00-Abc" value="irods://h/iplant/home/u/a%20b.jpg"/>'
    )
    res = bx.parse_resource(one)
    assert (res.kind, res.uniq, res.name, res.published) == ("image", "00-Abc", "a b.jpg", True)
    listing = bx.parse_listing(f'<resource uri="/data_service/image?value=x">{one}{one}</resource>')
    assert [r.uniq for r in listing] == ["00-Abc", "00-Abc"]
    assert bx.parse_listing('<resource uri="/data_service/image?value=x"/>') == []
    old = bx.parse_resource('<file name="x" uri="http://b/data_service/4711"/>')  # 2013 data
    assert old.uniq == "4711" and not old.published


def test_parse_session() -> None:
    assert bx.parse_session('<session uri="https://b/auth_service/session"/>') is None
    logged = (
        '<session uri="https://b/auth_service/session">'
        '<tag name="user" value="https://b/data_service/00-U"/>'
        '<tag name="expires" value="2100-01-01T00:00:00Z"/></session>'
    )
    assert bx.parse_session(logged) == "https://b/data_service/00-U"
    with pytest.raises(bx.BisqueXmlError):
        bx.parse_session("<html><body>login</body></html>")
    with pytest.raises(bx.BisqueXmlError):
        bx.parse_session("<!DOCTYPE html><html><p>unclosed")


def test_parse_tags() -> None:
    xml = (
        '<image uri="u" resource_uniq="00-A">'
        '<tag name="a" value="1"/><tag name="a" value="2"/></image>'
    )
    assert bx.parse_tags(xml) == {"a": ["1", "2"]}


def test_bodies() -> None:
    body = bx.insert_body('a&b "c".jpg', "irods://h/p/a%26b.jpg", tags={"catalogNumber": "X1"})
    res = bx.parse_tags(body)
    assert res == {"catalogNumber": ["X1"]}
    root = ET.fromstring(body)  # escaped properly, whatever quote style the writer picks
    assert root.get("name") == 'a&b "c".jpg' and root.get("permission") == "published"
    with pytest.raises(ValueError):
        bx.insert_body("/iplant/home/x.jpg", "irods://h/x.jpg")
    assert bx.permission_body("https://b/data_service/00-A") == (
        '<resource permission="published" uri="https://b/data_service/00-A"></resource>'
    )
    with pytest.raises(ValueError):
        bx.permission_body("u", "public")  # would null the permission and hide the image
    tags = bx.tags_body({"catalogNumber": "X1", "collid": "7"})
    assert tags.startswith("<request>") and bx.parse_tags(tags) == {
        "catalogNumber": ["X1"],
        "collid": ["7"],
    }


@pytest.mark.parametrize(
    ("name", "kinds", "served"),
    [
        ("ASU1.jpg", (Rendition.WEB, Rendition.THUMB), "master"),
        ("ASU2.tif", (Rendition.WEB, Rendition.THUMB, Rendition.LARGE), Rendition.LARGE),
        ("ASU3.png", (Rendition.WEB,), Rendition.WEB),
        ("ASU4.png", (), "master"),
    ],
)
def test_davanon_original_md5_is_of_the_file_at_original_url(
    name: str, kinds: tuple[Rendition, ...], served: object
) -> None:
    """Issue 12.5: hashValue describes the file at originalUrl (Symbiota's loader hashes that
    file, ImageLocalProcessor.php ~650), so a TIFF's is its large JPEG's."""
    original = f"{COLL}/{name}"
    paths = derivs(original, *kinds)
    md5s = {original: "m" * 32, **{p: k.value * 4 for k, p in paths.items()}}
    urls = DavAnonProvider(BASE).urls_for(original, paths, md5s=md5s)
    want = md5s[original] if served == "master" else md5s[paths[served]]  # type: ignore[index]
    assert urls.original_md5 == want
    assert DavAnonProvider(BASE).urls_for(original, paths).original_md5 is None  # unknown

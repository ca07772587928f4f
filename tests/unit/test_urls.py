"""Pure URL builders and parsers: dav-anon, BisQue irods:// values, display URLs."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from cyverse_link.core.urls import (
    basename,
    bisque_image_urls,
    bisque_irods_path,
    bisque_irods_value,
    davanon_url,
    irods_value_forms,
    is_jpeg_name,
    mild_encode,
    parse_bisque_url,
)

BASE = "https://data.cyverse.org/dav-anon"


@pytest.mark.parametrize(
    ("path", "url"),
    [
        (
            "/iplant/home/shared/myproject/ASU/ASU0012345.jpg",
            f"{BASE}/iplant/projects/myproject/ASU/ASU0012345.jpg",
        ),
        ("/iplant/home/jdoe/imgs/ASU0012345.jpg", f"{BASE}/iplant/home/jdoe/imgs/ASU0012345.jpg"),
        (
            "/iplant/home/shared/my project/ASU 001 #2.jpg",
            f"{BASE}/iplant/projects/my%20project/ASU%20001%20%232.jpg",
        ),
        (
            "/iplant/home/jdoe/100% sure?/a+b&c=d;e.jpg",
            f"{BASE}/iplant/home/jdoe/100%25%20sure%3F/a%2Bb%26c%3Dd%3Be.jpg",
        ),
        (
            "/iplant/home/shared/herbário/Ærø ñ 植物.jpg",
            f"{BASE}/iplant/projects/herb%C3%A1rio/%C3%86r%C3%B8%20%C3%B1%20%E6%A4%8D%E7%89%A9.jpg",
        ),
        ("/iplant/home/jdoe/a~b_c-d.e.jpg", f"{BASE}/iplant/home/jdoe/a~b_c-d.e.jpg"),
    ],
)
def test_davanon_url(path: str, url: str) -> None:
    assert davanon_url(path, BASE) == url
    assert davanon_url(path, BASE + "/") == url  # trailing slash on the base is harmless


@pytest.mark.parametrize("name", ["a b.jpg", "é#?%&+.jpg", "x/y", "100%.tif", "日本.png"])
def test_davanon_url_round_trips_each_segment(name: str) -> None:
    url = davanon_url(f"/iplant/home/jdoe/{name.replace('/', '_')}", BASE)
    tail = urlsplit(url).path.rsplit("/", 1)[1]
    assert unquote(tail) == name.replace("/", "_")
    assert urlsplit(url).query == "" and urlsplit(url).fragment == ""


def test_davanon_other_zone_uses_the_zone_name() -> None:
    url = davanon_url("/ucsb/home/shared/p/x.jpg", "https://dav.example.org/dav-anon", "ucsb")
    assert url == "https://dav.example.org/dav-anon/ucsb/projects/p/x.jpg"


@pytest.mark.parametrize(
    "path",
    [
        "iplant/home/jdoe/x.jpg",  # relative
        "/otherzone/home/jdoe/x.jpg",  # wrong zone
        "/iplant/trash/home/jdoe/x.jpg",
        "/iplant/home/shared",  # a collection, not an object
        "/iplant/home/jdoe",
        "/iplant/home/jdoe//x.jpg",
        "/iplant/home/jdoe/../x.jpg",
    ],
)
def test_davanon_url_rejects(path: str) -> None:
    with pytest.raises(ValueError):
        davanon_url(path, BASE)


def test_mild_encode_matches_gridsite_urlencode_m_with_space_as_20() -> None:
    assert mild_encode("A-z_0.9=@") == "A-z_0.9=@"
    assert mild_encode("a b+c~d#e%f?g&h") == "a%20b%2Bc%7Ed%23e%25f%3Fg%26h"
    assert mild_encode("é") == "%C3%A9"


def test_bisque_irods_value_forms() -> None:
    path = "/iplant/home/shared/proj/ASU 1 #2|x*.jpg"
    enc = bisque_irods_value(path, "data.iplantcollaborative.org")
    raw = bisque_irods_value(path, "data.iplantcollaborative.org", encoded=False)
    host = "irods://data.iplantcollaborative.org"
    assert enc == f"{host}/iplant/home/shared/proj/ASU%201%20%232%7Cx%2A.jpg"
    assert raw == f"{host}{path}"
    assert irods_value_forms(enc) == (enc, raw)
    assert irods_value_forms(raw) == (enc, raw)
    assert bisque_irods_path(enc) == path == bisque_irods_path(raw)
    plain = bisque_irods_value("/iplant/home/a/b.jpg", "h")
    assert irods_value_forms(plain) == (plain,)
    with pytest.raises(ValueError):
        irods_value_forms("https://h/iplant/x")


def test_bisque_image_urls() -> None:
    u = bisque_image_urls("https://bisque.example.org/", "00-ABCdef123")
    root = "https://bisque.example.org/image_service/image/00-ABCdef123"
    assert u.thumbnail == f"{root}/thumbnail:200,200"
    assert u.web == f"{root}/resize:1250/format:jpeg"
    assert u.large == f"{root}/resize:4000,4000,BL,MX/format:jpeg"
    assert u.archive == root
    with pytest.raises(ValueError):
        bisque_image_urls("https://b", "../etc")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://bisque.cyverse.org/image_service/image/00-kGG8AmvbtwHvx6EBTzzV3Z/thumbnail:200,200",
            ("bisque.cyverse.org", "00-kGG8AmvbtwHvx6EBTzzV3Z"),
        ),
        (
            "http://Bisque.CyVerse.org/image_service/00-abcDEF?resize=1250&format=jpeg",
            ("bisque.cyverse.org", "00-abcDEF"),
        ),
        ("https://b.org:8443/images/00-Q1w2E3", ("b.org:8443", "00-Q1w2E3")),
        ("https://b.org/blob_service/00-Q1w2E3?noattach", ("b.org", "00-Q1w2E3")),
        ("https://b.org/data_service/image/00-Q1w2E3", ("b.org", "00-Q1w2E3")),
        ("https://b.org/bisque/data_service/00-Q1w2E3", ("b.org", "00-Q1w2E3")),
        (
            "https://b.org/client_service/view?resource=https://b.org/data_service/00-Q1w2E3",
            ("b.org", "00-Q1w2E3"),
        ),
        (
            "https://b.org/client_service/view?resource=/data_service/00-Q1w2E3",
            ("b.org", "00-Q1w2E3"),
        ),
        (
            "https://b.org/image_service/image/AbCdEf0123456789xyZ/",
            ("b.org", "AbCdEf0123456789xyZ"),
        ),
        ("https://b.org/data_service/image?value=x", None),
        ("https://b.org/image_service/", None),
        ("https://data.cyverse.org/dav-anon/iplant/projects/p/x.jpg", None),
        ("irods://data.iplantcollaborative.org/iplant/home/x.jpg", None),
        ("not a url", None),
        ("", None),
    ],
)
def test_parse_bisque_url(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_bisque_url(url) == expected


def test_small_helpers() -> None:
    assert is_jpeg_name("/a/B.JPG") and is_jpeg_name("x.jpeg") and not is_jpeg_name("x.tif")
    assert basename("/iplant/home/u/a b.jpg") == "a b.jpg"
    with pytest.raises(ValueError):
        basename("/")

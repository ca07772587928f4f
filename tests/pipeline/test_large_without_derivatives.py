"""Issue 13 item 9: with ``derivatives.enabled: false`` a 9.5 MB JPEG (or a huge-pixel PNG)
became the web ``url`` with no thumbnail and no warning. Over ``source.max_web_bytes`` (8 MiB,
the web-size line) or Pillow's pixel limit, a web copy and thumbnail are made anyway, and the
run says so."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from cyverse_link.core.events import EventKind

from .test_pipeline import World, image, make_settings


def big_jpeg(min_bytes: int) -> bytes:
    side = 1800
    while True:
        buf = io.BytesIO()
        noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        noise.save(buf, "JPEG", quality=100)
        if buf.tell() >= min_bytes:
            return buf.getvalue()
        side += 400


def test_a_9_5_mb_jpeg_gets_a_web_copy_and_a_warning(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    data = big_jpeg(int(9.5 * 1024 * 1024))
    (drop / "ASU0000001.jpg").write_bytes(data)
    (drop / "ASU0000002.jpg").write_bytes(image((2, 2, 2)))  # small: stays as it is
    w = World(make_settings(tmp_path, derivatives__enabled=False))
    w.portal.specimens.update({"ASU0000002": [102]})
    w.run()
    big, small = w.ledger()["ASU0000001.jpg"], w.ledger()["ASU0000002.jpg"]
    assert big.urls is not None and small.urls is not None
    assert big.urls.thumbnail_url and "_derivatives/" in big.urls.url
    assert "_derivatives/" not in small.urls.url and not small.urls.thumbnail_url
    notes = [e for e in w.events if e.kind is EventKind.INFO and e.rel_path == "ASU0000001.jpg"]
    assert notes and "too large" in (notes[0].message or "")
    web = next(p for p in w.objects() if p.endswith(".web.jpg"))
    assert w.store.size(web) < 8 * 1024 * 1024 if hasattr(w.store, "size") else True


def test_a_huge_pixel_png_gets_a_web_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's limit scaled down so that a small PNG stands for a 900-Mpx one.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150_000)
    drop = tmp_path / "in"
    drop.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (700, 400), (5, 5, 5)).save(buf, "PNG")
    (drop / "ASU0000001.png").write_bytes(buf.getvalue())
    w = World(make_settings(tmp_path, derivatives__enabled=False,
                            source__include=["*.png"]))  # fmt: skip
    w.run()
    rec = w.ledger()["ASU0000001.png"]
    assert rec.urls is not None and rec.urls.thumbnail_url
    assert "_derivatives/" in rec.urls.url


def test_an_image_past_pillows_hard_limit_gets_a_web_copy_too_not_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pillow refused to decode past twice its limit; libvips streams the master through the
    # resize (derivatives.py), so even that image gets a web copy instead of being the url.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150_000)  # 2x = the hard limit: 300,000
    drop = tmp_path / "in"
    drop.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (700, 500), (5, 5, 5)).save(buf, "PNG")
    (drop / "ASU0000001.png").write_bytes(buf.getvalue())
    w = World(make_settings(tmp_path, derivatives__enabled=False,
                            source__include=["*.png"]))  # fmt: skip
    report = w.run()
    rec = w.ledger()["ASU0000001.png"]
    assert report.counts.failed == 0 and rec.urls is not None and rec.urls.thumbnail_url
    assert "_derivatives/" in rec.urls.url

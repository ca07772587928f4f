"""Derivatives from generated images: sizes, orientation, modes, colour profiles, bad files."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from cyverse_link.config.settings import DerivativeSettings
from cyverse_link.core.errors import ImageError
from cyverse_link.core.naming import Rendition
from cyverse_link.dropfolder.derivatives import make_derivatives

SETTINGS = DerivativeSettings(web_width=400, thumbnail_width=50, large_width=800, jpeg_quality=80)


def _save(img: Image.Image, path: Path, fmt: str, **kw: object) -> Path:
    img.save(path, fmt, **kw)
    return path


def test_jpeg_gets_web_and_thumb_long_edge_and_md5(tmp_path: Path) -> None:
    src = _save(Image.new("RGB", (1000, 600), (200, 30, 30)), tmp_path / "A1.jpg", "JPEG")
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    assert d.is_jpeg and d.source_mime == "image/jpeg"
    assert set(d.files) == {Rendition.WEB, Rendition.THUMB}
    web, thumb = d.files[Rendition.WEB], d.files[Rendition.THUMB]
    assert (web.width, web.height) == (400, 240)
    assert max(thumb.width, thumb.height) == 50
    assert web.md5 == hashlib.md5(web.path.read_bytes()).hexdigest()
    with Image.open(web.path) as out:
        assert out.format == "JPEG" and out.mode == "RGB" and out.size == (400, 240)


def test_small_image_is_never_upscaled(tmp_path: Path) -> None:
    src = _save(Image.new("RGB", (120, 80)), tmp_path / "small.jpg", "JPEG")
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    assert (d.files[Rendition.WEB].width, d.files[Rendition.WEB].height) == (120, 80)
    assert d.files[Rendition.THUMB].width == 50


def test_exif_orientation_really_rotates(tmp_path: Path) -> None:
    img = Image.new("RGB", (600, 300), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 100, 300))  # red band on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    src = _save(img, tmp_path / "rot.jpg", "JPEG", exif=exif.tobytes(), quality=95)
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    web = d.files[Rendition.WEB]
    assert (web.width, web.height) == (200, 400)  # portrait now
    with Image.open(web.path) as out:
        assert out.getexif().get(0x0112) in (None, 1)  # no orientation left to apply twice
        r, g, b = out.convert("RGB").getpixel((100, 10))  # left band is now on top
        assert r > 200 and g < 60 and b < 60


def test_tiff_gets_large_and_16bit_grey_keeps_contrast(tmp_path: Path) -> None:
    row = (b"\x00\x00" * 600) + (60000).to_bytes(2, "little") * 600  # right half near-white
    img = Image.frombytes("I;16", (1200, 900), row * 900)
    src = _save(img, tmp_path / "deep.tif", "TIFF")
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    assert not d.is_jpeg and d.source_mime == "image/tiff"
    assert set(d.files) == {Rendition.WEB, Rendition.THUMB, Rendition.LARGE}
    assert d.files[Rendition.LARGE].width == 800
    with Image.open(d.files[Rendition.WEB].path) as out:
        assert out.mode == "RGB"
        left, right = out.getpixel((10, 10)), out.getpixel((390, 10))
        assert left[0] < 20 and right[0] > 200  # scaled, not clipped to white everywhere


@pytest.mark.parametrize(
    ("mode", "fmt", "ext", "colour"),
    [
        ("RGBA", "PNG", "png", (0, 0, 255, 0)),  # fully transparent → white
        ("LA", "PNG", "png", (0, 0)),
        ("P", "PNG", "png", 3),
        ("CMYK", "TIFF", "tif", (0, 255, 255, 0)),  # red in CMYK
        ("CMYK", "JPEG", "jpg", (0, 255, 255, 0)),
        ("L", "JPEG", "jpg", 128),
        ("1", "TIFF", "tif", 1),
    ],
)
def test_modes_become_rgb(tmp_path: Path, mode: str, fmt: str, ext: str, colour: object) -> None:
    src = _save(Image.new(mode, (300, 200), colour), tmp_path / f"m.{ext}", fmt)  # type: ignore[arg-type]
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    with Image.open(d.files[Rendition.WEB].path) as out:
        assert out.mode == "RGB" and out.size == (300, 200)
        px = out.getpixel((150, 100))
    if mode in ("RGBA", "LA"):
        assert px == pytest.approx((255, 255, 255), abs=3)
    if mode == "CMYK":
        assert px[0] > 200 and px[1] < 60


def swapped_primaries_profile() -> bytes:
    """sRGB with its red and blue primaries exchanged: an RGB space unlike sRGB, so a
    conversion (not a plain copy of the numbers) is visible in the output."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    where = {bytes(data[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, b = where[b"rXYZ"], where[b"bXYZ"]
    data[r + 4 : r + 12], data[b + 4 : b + 12] = data[b + 4 : b + 12], data[r + 4 : r + 12]
    data[84:100] = bytes(16)  # the profile ID no longer matches: leave it unset
    return bytes(data)


def test_icc_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    src = _save(Image.new("RGB", (100, 100), (255, 0, 0)), tmp_path / "p.png", "PNG",
                icc_profile=swapped_primaries_profile())  # fmt: skip
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    with Image.open(d.files[Rendition.WEB].path) as out:
        r, g, b = out.getpixel((50, 50))
        assert "icc_profile" not in out.info  # plain sRGB now
    assert b > 200 and r < 40 and g < 40  # "red" in that space is blue in sRGB


def test_srgb_tagged_image_keeps_its_colours(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = _save(Image.new("RGB", (100, 100), (10, 200, 30)), tmp_path / "p.png", "PNG",
                icc_profile=srgb)  # fmt: skip
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    with Image.open(d.files[Rendition.WEB].path) as out:
        assert out.getpixel((50, 50)) == pytest.approx((10, 200, 30), abs=6)


def test_broken_icc_profile_is_ignored(tmp_path: Path) -> None:
    src = _save(
        Image.new("RGB", (100, 100), (1, 2, 3)),
        tmp_path / "b.png",
        "PNG",
        icc_profile=b"not a profile",
    )
    d = make_derivatives(src, tmp_path / "out", SETTINGS)
    assert d.files[Rendition.WEB].width == 100


@pytest.mark.parametrize("content", [b"", b"\xff\xd8\xff\xe0 definitely not a jpeg", None])
def test_unreadable_image_is_a_clear_error(tmp_path: Path, content: bytes | None) -> None:
    src = tmp_path / "ASU0000001.jpg"
    if content is None:  # truncated: a real JPEG cut in half
        buf = io.BytesIO()
        Image.effect_noise((400, 400), 50).convert("RGB").save(buf, "JPEG")
        content = buf.getvalue()[: len(buf.getvalue()) // 2]
    src.write_bytes(content)
    with pytest.raises(ImageError, match=r"ASU0000001\.jpg: cannot read the image"):
        make_derivatives(src, tmp_path / "out", SETTINGS)

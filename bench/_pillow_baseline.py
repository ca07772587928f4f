"""Today's derivative path (Pillow, full-size decode), frozen as the baseline of
``bench_derivatives.py`` and of the test that compares the new engine's output with it.

This is ``cyverse_link/derivatives.py`` as it was before libvips replaced it (commit 03c321f),
reduced to the function the comparison needs. It is not used by the product.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import cast

from PIL import Image, ImageCms, ImageOps

_SRGB = ImageCms.createProfile("sRGB")
_WHITE = (255, 255, 255)


def pillow_derivatives(
    source: Path, widths: dict[str, int], quality: int
) -> dict[str, tuple[bytes, tuple[int, int]]]:
    """{rendition name: (JPEG bytes, size)}, largest first, each made from the previous one."""
    with Image.open(source) as img:
        if img.format == "JPEG":
            biggest = max(widths.values())
            img.draft("RGB", (biggest, biggest))
        img.load()
        base = _to_srgb_rgb(ImageOps.exif_transpose(img) or img)
    out: dict[str, tuple[bytes, tuple[int, int]]] = {}
    current = base
    for name, width in sorted(widths.items(), key=lambda kv: -kv[1]):
        current = _fit(current, width)
        buf = io.BytesIO()
        current.save(buf, "JPEG", quality=quality, optimize=True)
        out[name] = (buf.getvalue(), current.size)
    return out


def _fit(img: Image.Image, long_edge: int) -> Image.Image:
    """A copy whose long edge is at most ``long_edge`` (never upscaled)."""
    out = img.copy()
    if max(out.size) > long_edge:
        out.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out


def _to_srgb_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB in sRGB, from whatever mode and colour profile the original has."""
    icc = img.info.get("icc_profile")
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        img = _scale_to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    if img.mode == "1":
        img = img.convert("L")
    if icc and img.mode in ("RGB", "CMYK", "L"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, src, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError):  # a broken profile: plain conversion
            pass
    return img if img.mode == "RGB" else img.convert("RGB")


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit grey → 8-bit L by scaling the actual value range (convert() clips)."""
    wide = img.convert("F") if img.mode == "F" else img.convert("I")
    lo, hi = cast(tuple[float, float], wide.getextrema())
    top = 65535.0 if img.mode.startswith("I;16") else float(hi or 1)
    bottom = 0.0 if img.mode.startswith("I;16") else float(lo)
    span = (top - bottom) or 1.0
    scaled = wide.point(lambda v: (v - bottom) * (255.0 / span))
    return scaled.convert("L")

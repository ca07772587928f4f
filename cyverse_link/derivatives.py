"""Web, thumbnail and large JPEG derivatives of one original (Pillow).

Symbiota shows ``url`` (web) and ``thumbnailUrl``; dav-anon serves bytes as they are and
Varnish caches only files up to 10 MiB, so every image gets small sRGB JPEGs beside it. TIFF
and PNG masters additionally get a ``large`` JPEG (they stay only as ``archiveUrl``).

Every derivative has the EXIF orientation applied (and no EXIF left to rotate it twice), is
converted to sRGB when the original carries an ICC profile, and is plain 8-bit RGB whatever
the original's mode (RGBA, LA, P, CMYK, 16-bit grey). Images are never upscaled.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from cyverse_link.config import DerivativeSettings
from cyverse_link.errors import ImageError
from cyverse_link.naming import NAME_MAX, Rendition, bounded_stem

log = logging.getLogger(__name__)

_SRGB = ImageCms.createProfile("sRGB")
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class DerivedFile:
    rendition: Rendition
    path: Path  # local temporary file
    md5: str
    size: int
    width: int
    height: int


@dataclass(frozen=True)
class Derivatives:
    """The derivatives of one original, and what was learnt about the original itself."""

    files: dict[Rendition, DerivedFile]
    source_format: str  # Pillow's name: JPEG, TIFF, PNG, ...
    source_mime: str  # e.g. image/tiff
    width: int  # after orientation
    height: int

    @property
    def is_jpeg(self) -> bool:
        return self.source_format == "JPEG"


def make_derivatives(
    source: Path, out_dir: Path, settings: DerivativeSettings, *, stem: str | None = None
) -> Derivatives:
    """Write the derivatives of ``source`` into ``out_dir`` as ``<stem>.<rendition>.jpg``.

    Raises ``ImageError`` (with the file name and what to do) when the image cannot be read.
    """
    name = source.name
    stem = stem or bounded_stem(source.stem, NAME_MAX - len(".large.jpg"))
    try:
        # Past MAX_IMAGE_PIXELS but under twice it: flagged TOO_LARGE by the scan and made
        # smaller here on purpose; Pillow's warning would only be noise on stderr.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            fmt = img.format or "unknown"
            mime = Image.MIME.get(fmt, "application/octet-stream")
            widths = _widths(settings, is_jpeg=fmt == "JPEG")
            if fmt == "JPEG":
                # DCT scaling: decode big JPEGs at a fraction of the size, never below what the
                # largest rendition needs (a square box covers either orientation).
                biggest = max(widths.values())
                img.draft("RGB", (biggest, biggest))
            img.load()
            base = _to_srgb_rgb(ImageOps.exif_transpose(img) or img, name)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{name}: too many pixels to process safely ({exc}); reduce the image size"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            f"{name}: cannot read the image ({exc}); check the file or export it again"
        ) from exc

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[Rendition, DerivedFile] = {}
    current = base
    # Largest first, each from the previous one: cheaper than resizing the full image thrice.
    for rendition, width in sorted(widths.items(), key=lambda kv: -kv[1]):
        current = _fit(current, width)
        files[rendition] = _write_jpeg(
            current, out_dir / f"{stem}.{rendition.value}.jpg", rendition, settings.jpeg_quality
        )
    return Derivatives(files, fmt, mime, base.width, base.height)


def _widths(settings: DerivativeSettings, *, is_jpeg: bool) -> dict[Rendition, int]:
    widths = {Rendition.WEB: settings.web_width, Rendition.THUMB: settings.thumbnail_width}
    if not is_jpeg:
        widths[Rendition.LARGE] = settings.large_width
    return widths


def _fit(img: Image.Image, long_edge: int) -> Image.Image:
    """A copy whose long edge is at most ``long_edge`` (never upscaled)."""
    out = img.copy()
    if max(out.size) > long_edge:
        out.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out


def _to_srgb_rgb(img: Image.Image, name: str) -> Image.Image:
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
        except (ImageCms.PyCMSError, OSError) as exc:  # a broken profile: plain conversion
            log.warning("%s: ignoring unusable colour profile (%s)", name, exc)
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


def _write_jpeg(img: Image.Image, path: Path, rendition: Rendition, quality: int) -> DerivedFile:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    data = buf.getvalue()
    path.write_bytes(data)
    return DerivedFile(
        rendition=rendition,
        path=path,
        md5=hashlib.md5(data).hexdigest(),
        size=len(data),
        width=img.width,
        height=img.height,
    )

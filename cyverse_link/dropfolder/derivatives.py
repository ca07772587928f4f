"""Web, thumbnail and large JPEG derivatives of one original (libvips, through pyvips).

Symbiota shows ``url`` (web) and ``thumbnailUrl``; dav-anon serves bytes as they are and
Varnish caches only files up to 10 MiB, so every image gets small sRGB JPEGs beside it. TIFF
and PNG masters additionally get a ``large`` JPEG (they stay only as ``archiveUrl``).

Every derivative has the EXIF orientation applied (and no metadata left to rotate it twice), is
converted to sRGB when the original carries an ICC profile, and is plain 8-bit RGB whatever
the original's mode (alpha, palette, CMYK, 16-bit grey). Images are never upscaled.

Why libvips: herbarium masters are 50-100 Mpx. libvips streams the master through the first
(largest) resize (JPEGs shrink on load, like Pillow's ``draft``), so a worker never holds the
full-resolution image: its largest buffer is the first rendition (``large_width``² × 3 bytes,
about 30 MB at 3200 px), whatever the master's size. ``bench/bench_derivatives.py`` measures
time and peak memory against the Pillow path this replaced (README, Performance).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import pyvips

from cyverse_link.config.settings import DerivativeSettings
from cyverse_link.core.errors import ImageError
from cyverse_link.core.naming import NAME_MAX, Rendition, bounded_stem

# libvips' operation cache would keep decoded masters alive between files: off.
pyvips.cache_set_max(0)

# Loader → the format names the rest of the code (and Pillow) use.
_FORMATS = {
    "jpegload": ("JPEG", "image/jpeg"),
    "tiffload": ("TIFF", "image/tiff"),
    "pngload": ("PNG", "image/png"),
    "webpload": ("WEBP", "image/webp"),
    "gifload": ("GIF", "image/gif"),
}
_WHITE = [255.0, 255.0, 255.0]


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
    source_format: str  # JPEG, TIFF, PNG, ...
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
        header = pyvips.Image.new_from_file(str(source), access="sequential")
        loader = str(header.get("vips-loader")).removesuffix("_source")
        fmt, mime = _FORMATS.get(loader, (loader.removesuffix("load").upper(), ""))
        width, height = _upright_size(header)
        widths = _widths(settings, is_jpeg=fmt == "JPEG")
        out_dir.mkdir(parents=True, exist_ok=True)
        files: dict[Rendition, DerivedFile] = {}
        current: pyvips.Image | None = None
        size = (width, height)
        # Largest first, each from the previous one: the master is read once, streamed.
        for rendition, long_edge in sorted(widths.items(), key=lambda kv: -kv[1]):
            size = fit_size(size, long_edge)
            if current is None:
                current = _first_rendition(source, size, managed=_needs_colour_management(header))
            else:
                current = current.thumbnail_image(size[0], height=size[1], size="force")
            current = current.copy_memory()  # computed once; the next rendition starts here
            files[rendition] = _write_jpeg(
                current, out_dir / f"{stem}.{rendition.value}.jpg", rendition, settings
            )
    except pyvips.Error as exc:
        raise ImageError(
            f"{name}: cannot read the image ({_first_line(exc)}); check the file or export it again"
        ) from exc
    return Derivatives(files, fmt, mime or f"image/{fmt.lower()}", width, height)


def fit_size(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """The size whose long edge is at most ``long_edge``, never larger than ``size``.

    The same rounding as Pillow's ``Image.thumbnail`` (the engine before libvips), so that
    derivative sizes did not change with the engine: the side that is not the long edge is the
    floor or ceiling of the exact value, whichever keeps the aspect ratio closer.
    """
    w, h = size
    if w <= long_edge and h <= long_edge:
        return size
    aspect = w / h
    if aspect >= 1:
        y = min(
            (math.floor(long_edge / aspect), math.ceil(long_edge / aspect)),
            key=lambda n: 0 if n == 0 else abs(aspect - long_edge / n),
        )
        return long_edge, max(y, 1)
    x = min(
        (math.floor(long_edge * aspect), math.ceil(long_edge * aspect)),
        key=lambda n: abs(aspect - n / long_edge),
    )
    return max(x, 1), long_edge


def _widths(settings: DerivativeSettings, *, is_jpeg: bool) -> dict[Rendition, int]:
    widths = {Rendition.WEB: settings.web_width, Rendition.THUMB: settings.thumbnail_width}
    if not is_jpeg:
        widths[Rendition.LARGE] = settings.large_width
    return widths


def _upright_size(header: pyvips.Image) -> tuple[int, int]:
    """Width and height as displayed: EXIF orientations 5-8 swap the sides."""
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    if orientation in (5, 6, 7, 8):
        return header.height, header.width
    return header.width, header.height


def _needs_colour_management(header: pyvips.Image) -> bool:
    """An embedded profile, or CMYK (converted through libvips' built-in CMYK profile). Without
    either the numbers are sRGB already: a transform would cost more than the resize."""
    return bool(header.get_typeof("icc-profile-data")) or header.interpretation == "cmyk"


def _first_rendition(source: Path, size: tuple[int, int], *, managed: bool) -> pyvips.Image:
    """The largest rendition, straight from the file: shrink-on-load for JPEG, a streamed
    read for TIFF/PNG; rotated upright (EXIF); converted to sRGB at the reduced size when
    ``managed`` (a broken profile is ignored)."""
    # Perceptual: Pillow's ImageCms default, the engine before libvips.
    colour = {"output_profile": "srgb", "intent": "perceptual"} if managed else {}
    img = pyvips.Image.thumbnail(
        str(source), size[0], height=size[1], size="force", fail_on="error", **colour
    )
    return _to_rgb8(img)


def _to_rgb8(img: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB with three bands: alpha flattened on white, deep images scaled, grey spread."""
    if img.hasalpha():
        img = img.flatten(background=_WHITE if img.bands > 2 else [255.0])
    if img.format in ("ushort", "short") or img.interpretation in ("grey16", "rgb16"):
        img = (img / 257).cast("uchar")  # 16-bit: the full range, like a 16-to-8-bit export
    elif img.format not in ("uchar", "char"):
        lo, hi = img.min(), img.max()  # 32-bit / float: scale the values actually there
        img = ((img - lo) * (255.0 / ((hi - lo) or 1.0))).cast("uchar")
    if img.bands == 1:
        img = img.bandjoin([img, img])
    return img.copy(interpretation="srgb")


def _write_jpeg(
    img: pyvips.Image, path: Path, rendition: Rendition, settings: DerivativeSettings
) -> DerivedFile:
    # No metadata at all: orientation is applied, colours are sRGB (no profile needed).
    data = img.jpegsave_buffer(Q=settings.jpeg_quality, optimize_coding=True, keep="none")
    path.write_bytes(data)
    return DerivedFile(
        rendition=rendition,
        path=path,
        md5=hashlib.md5(data).hexdigest(),
        size=len(data),
        width=img.width,
        height=img.height,
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1].strip() if text else type(exc).__name__

"""What is really inside a file: magic bytes, extension agreement, and cheap integrity checks.

``sniff_mime`` looks at the first bytes only. ``check_image`` uses Pillow, choosing per format a
check that is cheap on 100 MB masters yet really catches truncation:

* JPEG: the end-of-image marker ``FF D9`` must sit in the file's last 16 KiB (the caller passes
  that tail, collected while hashing). Entropy-coded data can never contain ``FF D9``, and an
  EXIF thumbnail's own marker lies in the first 64 KiB, so a cut-off file fails this test;
  small files (≤ ``FULL_DECODE_BYTES``) are also fully decoded.
* PNG: ``verify()`` walks every chunk and its CRC up to ``IEND``.
* TIFF: every strip/tile (offset + byte count) of the first image must lie inside the file.
* Anything Pillow knows, when small: a full ``load()``.
"""

from __future__ import annotations

import functools
import io
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cyverse_link.core.models import Problem

FULL_DECODE_BYTES = 2 * 1024 * 1024
TAIL_BYTES = 16 * 1024

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"II+\x00", 0, "image/tiff"),  # BigTIFF
    (b"MM\x00+", 0, "image/tiff"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "image/jp2"),
    (b"\xff\x4f\xff\x51", 0, "image/jp2"),
    (b"%PDF", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
)
_FTYP = {b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heif", b"avif": "image/avif"}

# Extension → content types it may hold. Camera raw formats are TIFF containers.
_TIFF_LIKE = frozenset({"image/tiff"})
EXTENSION_MIME: dict[str, frozenset[str]] = {
    ".jpg": frozenset({"image/jpeg"}),
    ".jpeg": frozenset({"image/jpeg"}),
    ".jpe": frozenset({"image/jpeg"}),
    ".png": frozenset({"image/png"}),
    ".tif": _TIFF_LIKE,
    ".tiff": _TIFF_LIKE,
    ".dng": _TIFF_LIKE,
    ".nef": _TIFF_LIKE,
    ".cr2": _TIFF_LIKE,
    ".arw": _TIFF_LIKE,
    ".gif": frozenset({"image/gif"}),
    ".bmp": frozenset({"image/bmp"}),
    ".webp": frozenset({"image/webp"}),
    ".jp2": frozenset({"image/jp2"}),
    ".j2k": frozenset({"image/jp2"}),
    ".heic": frozenset({"image/heic", "image/heif"}),
    ".avif": frozenset({"image/avif"}),
}


def sniff_mime(head: bytes) -> str | None:
    """Content type from the first bytes; ``text/plain`` for text; None when unknown."""
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _FTYP:
        return _FTYP[head[8:12]]
    if _looks_like_text(head):
        return "text/plain"
    return None


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if not sample or b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a multibyte char cut at the sample's end is fine
            return False
    return True


def extension_problem(name: str, mime: str | None) -> str | None:
    """A reason when the extension promises another image type than the content holds."""
    dot = name.rfind(".")
    expected = EXTENSION_MIME.get(name[dot:].lower()) if dot > 0 else None
    if expected is None or mime is None or mime in expected or not mime.startswith("image/"):
        return None
    return f"named {name[dot:]} but contains {mime}"


HEAD_BYTES = 4096
"""What ``link`` and ``relink`` read of an object they did not upload: every signature above."""


def remote_problem(size: int | None, head: bytes) -> str | None:
    """Why an object in the data store whose first bytes are ``head`` must not become a media
    row (as ``sync`` refuses such a file before uploading it), or None."""
    if size == 0 or not head:
        return "empty object (0 bytes): not an image"
    mime = sniff_mime(head)
    if mime is None or not mime.startswith("image/"):
        kind = "text" if mime == "text/plain" else (mime or "unrecognised content")
        return f"not an image: {kind}"
    return None


def check_image(
    path: Path, mime: str, size: int, tail: bytes, data: bytes | None = None
) -> tuple[tuple[Problem, ...], str | None, str | None]:
    """(problems, detail, corrected mime) for a file whose content sniffed as ``mime``.

    ``data`` is the whole content when the caller kept it (small files): Pillow then reads
    from memory instead of the disk. Never raises for bad content: a broken image is
    ``Problem.CORRUPT`` with a reason.
    """

    def source() -> Path | io.BytesIO:
        return io.BytesIO(data) if data is not None else path

    if mime == "image/jpeg" and b"\xff\xd9" not in tail[-TAIL_BYTES:]:
        return (Problem.CORRUPT,), "JPEG end-of-image marker missing: file is truncated", mime
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": image may be fine
            with Image.open(source()) as im:
                if mime == "image/png":
                    im.verify()
                elif mime == "image/tiff":
                    reason = _tiff_data_outside(im, size)
                    if reason:
                        return (Problem.CORRUPT,), reason, mime
            if size <= FULL_DECODE_BYTES:
                with Image.open(source()) as im:
                    im.load()
        bomb = next((w for w in caught if w.category is Image.DecompressionBombWarning), None)
        if bomb is not None:  # over Pillow's MAX_IMAGE_PIXELS: no browser should get it whole
            return (Problem.TOO_LARGE,), f"very large image ({bomb.message})", mime
    except Image.DecompressionBombError as exc:
        # Valid header, just enormous: the derivative step decides what to do with it.
        return (Problem.TOO_LARGE,), f"very large image ({exc})", mime
    except UnidentifiedImageError:
        if mime in _pillow_mimes():
            return (Problem.CORRUPT,), f"{mime} header is damaged: cannot be opened", mime
        return (), f"{mime} not checked (no decoder installed)", mime
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's "broken" signals
        if "not available" in str(exc):  # e.g. "decoder jpeg2k not available"
            return (), f"{mime} not checked ({exc})", mime
        return (Problem.CORRUPT,), f"cannot decode {mime}: {exc}", mime
    return (), None, mime


@functools.cache
def _pillow_mimes() -> frozenset[str]:
    Image.init()
    return frozenset(Image.MIME.values())


def _tiff_data_outside(im: Image.Image, size: int) -> str | None:
    tags = getattr(im, "tag_v2", None)
    if tags is None:
        return None
    for off_tag, cnt_tag in ((273, 279), (324, 325)):  # strips, tiles
        offsets, counts = tags.get(off_tag), tags.get(cnt_tag)
        if offsets is None or counts is None:
            continue
        if isinstance(offsets, int):
            offsets, counts = (offsets,), (counts,)
        end = max((o + c for o, c in zip(offsets, counts, strict=False)), default=0)
        if end > size:
            return f"TIFF image data ends at byte {end} but the file has {size}: truncated"
    return None

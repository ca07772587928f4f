"""Helpers that write real image files (Pillow) for scan/plan tests."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    im = Image.new("RGB", size, (seed % 256, 120, 200))
    # some structure so the compressed data is not trivially tiny
    for x in range(0, size[0], 7):
        for y in range(0, size[1], 5):
            im.putpixel((x, y), ((x * 13 + seed) % 256, (y * 7) % 256, (x * y) % 256))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def noise_jpeg(width: int, height: int) -> bytes:
    im = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_mixed_folder(root: Path) -> dict[str, str]:
    """A drop folder with good and bad files; returns rel_path → what it is."""
    jpeg = image_bytes("JPEG")
    files: dict[str, tuple[bytes, str]] = {
        "ASU0000001.jpg": (jpeg, "good jpeg"),
        "ASU0000001_b.JPG": (image_bytes("JPEG", seed=3), "good jpeg, upper-case extension"),
        "ASU0000002.png": (image_bytes("PNG"), "good png"),
        "ASU0000003.tif": (image_bytes("TIFF"), "good tiff"),
        "nested/deeper/ASU0000004_dorsal.jpeg": (image_bytes("JPEG", seed=9), "good nested"),
        "ünïcode/ASU0000005 (1).jpg": (image_bytes("JPEG", seed=5), "good, unicode folder"),
        "ASU0000006.jpg": (b"", "empty"),
        "ASU0000007.jpg": (jpeg[: len(jpeg) // 2], "truncated jpeg"),
        "ASU0000008.jpg": (b"this is not an image\n", "text named .jpg"),
        "ASU0000009.jpg": (image_bytes("PNG", seed=1), "png named .jpg"),
        "IMG_4711.jpg": (image_bytes("JPEG", seed=2), "no catalog number"),
        ".hidden.jpg": (jpeg, "hidden"),
        "ASU0000010.jpg.part": (jpeg, "partial download"),
        "notes.txt": (b"hello", "not included"),
        "_derivatives/ASU0000001.abcdef12.web.jpg": (jpeg, "derivative"),
    }
    for rel, (data, _) in files.items():
        write(root / rel, data)
    return {rel: what for rel, (_, what) in files.items()}

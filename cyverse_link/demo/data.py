"""Sample specimen images for ``demo`` (and tests): good ones, a suffix view, a TIFF master,
and the bad cases a real drop folder has (empty, corrupt, no catalog number, no record)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

CATALOG_PATTERN = r"(?P<catalog>DEMO\d{6})(?:[_-](?P<suffix>\w+))?"


@dataclass(frozen=True)
class Sample:
    name: str  # relative path in the drop folder
    catalog: str | None
    expect: str  # linked | unmatched | failed
    why: str = ""


SPECIMENS = {  # catalog number → scientific name (sample occurrences in the demo portal)
    "DEMO000101": "Opuntia engelmannii",
    "DEMO000102": "Carnegiea gigantea",
    "DEMO000103": "Larrea tridentata",
    "DEMO000104": "Parkinsonia microphylla",
}

SAMPLES = (
    Sample("DEMO000101.jpg", "DEMO000101", "linked"),
    Sample("DEMO000101_2.jpg", "DEMO000101", "linked", "a second view (suffix _2)"),
    Sample("DEMO000102.jpg", "DEMO000102", "linked"),
    Sample("tray-2/DEMO000103.tif", "DEMO000103", "linked", "a TIFF master in a subfolder"),
    Sample("tray-2/DEMO000104.png", "DEMO000104", "linked", "a PNG"),
    Sample("DEMO000999.jpg", "DEMO000999", "unmatched", "no specimen record with that number"),
    Sample("DEMO000105.jpg", "DEMO000105", "failed", "empty file"),
    Sample("DEMO000106.jpg", "DEMO000106", "failed", "corrupt: a JPEG cut short"),
    Sample("field-notes.jpg", None, "failed", "no catalog number in the name"),
)


def specimen_image(label: str, colour: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
    """A herbarium-sheet-like picture: a pale sheet, a coloured 'plant', a label box."""
    img = Image.new("RGB", size, (238, 232, 214))
    d = ImageDraw.Draw(img)
    w, h = size
    d.ellipse((w * 0.25, h * 0.15, w * 0.75, h * 0.7), fill=colour)
    d.line((w * 0.5, h * 0.7, w * 0.5, h * 0.9), fill=(60, 90, 40), width=max(2, w // 80))
    d.rectangle((w * 0.6, h * 0.82, w * 0.95, h * 0.96), outline=(0, 0, 0), width=2)
    d.text((w * 0.62, h * 0.85), label, fill=(0, 0, 0))
    return img


def write_samples(folder: Path, size: tuple[int, int] = (900, 1200)) -> list[Sample]:
    """Write every ``SAMPLES`` file under ``folder``; returns the list."""
    colours = [(120, 160, 60), (90, 140, 80), (150, 120, 50), (70, 110, 90), (160, 90, 90)]
    for i, s in enumerate(SAMPLES):
        path = folder / s.name
        path.parent.mkdir(parents=True, exist_ok=True)
        img = specimen_image(s.catalog or "notes", colours[i % len(colours)], size)
        suffix = path.suffix.lower()
        if s.why == "empty file":
            path.write_bytes(b"")
        elif s.why.startswith("corrupt"):
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=90)
            path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
        elif suffix in (".tif", ".tiff"):
            img.save(path, "TIFF", compression="tiff_lzw")
        elif suffix == ".png":
            img.save(path, "PNG")
        else:
            img.save(path, "JPEG", quality=90)
    return list(SAMPLES)

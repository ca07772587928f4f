"""libvips derivatives against the Pillow path they replaced (bench/_pillow_baseline.py): same
sizes, same orientation, colours within a small tolerance; and a worker's memory stays far
below one full-resolution master."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image, ImageChops, ImageStat

from cyverse_link.config.settings import DerivativeSettings
from cyverse_link.core.naming import Rendition
from cyverse_link.demo.data import write_samples
from cyverse_link.dropfolder.derivatives import fit_size, make_derivatives

BENCH = Path(__file__).resolve().parents[2] / "bench"
SETTINGS = DerivativeSettings(web_width=700, thumbnail_width=90, large_width=1500, jpeg_quality=85)


def _baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_pillow_baseline", BENCH / "_pillow_baseline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _profile_unlike_srgb() -> bytes:
    from test_derivatives import swapped_primaries_profile

    return swapped_primaries_profile()


def _scene(size: tuple[int, int]) -> Image.Image:
    """Gradients and blocks of colour: something whose orientation and colours can be seen."""
    w, h = size
    ramp = Image.linear_gradient("L")
    img = Image.merge(
        "RGB",
        (
            ramp.resize(size),
            ramp.rotate(90).resize(size),
            Image.new("L", size, 90),
        ),
    )
    img.paste((250, 20, 20), (0, 0, w // 5, h // 3))  # a red block in the top-left corner
    img.paste((20, 20, 250), (w - w // 4, h - h // 4, w, h))  # a blue one bottom-right
    return img


def _samples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    demo = folder / "demo"  # the demo's own specimen images (the readable ones)
    paths = [demo / s.name for s in write_samples(demo) if s.expect != "failed"]
    scene = _scene((2401, 1603))  # odd sizes: JPEG shrink-on-load rounds
    exif = Image.Exif()
    exif[0x0112] = 6
    scene.save(folder / "rot6.jpg", "JPEG", quality=92, exif=exif.tobytes())
    exif[0x0112] = 3
    scene.save(folder / "rot3.jpg", "JPEG", quality=92, exif=exif.tobytes())
    profile = _profile_unlike_srgb()
    scene.save(folder / "icc.tif", "TIFF", compression="tiff_lzw", icc_profile=profile)
    scene.convert("RGBA").save(folder / "alpha.png", "PNG")
    scene.resize((1603, 2401)).save(folder / "portrait.tif", "TIFF")
    scene.convert("CMYK").save(folder / "cmyk.jpg", "JPEG", quality=92)
    scene.convert("L").save(folder / "grey.png", "PNG")
    return paths + sorted(p for p in folder.iterdir() if p.is_file())


def test_libvips_derivatives_match_the_pillow_path(tmp_path: Path) -> None:
    baseline = _baseline()
    compared = 0
    for source in _samples(tmp_path / "in"):
        new = make_derivatives(source, tmp_path / "out" / source.stem, SETTINGS)
        widths = {r.value: w for r, w in ((Rendition.WEB, 700), (Rendition.THUMB, 90))}
        if not new.is_jpeg:
            widths[Rendition.LARGE.value] = 1500
        old = baseline.pillow_derivatives(source, widths, SETTINGS.jpeg_quality)
        assert {r.value for r in new.files} == set(old), source.name
        for rendition, made in new.files.items():
            old_bytes, old_size = old[rendition.value]
            assert (made.width, made.height) == old_size, (source.name, rendition)
            with Image.open(made.path) as a, Image.open(io.BytesIO(old_bytes)) as b:
                assert a.mode == b.mode == "RGB"
                assert not a.info.get("icc_profile") and not a.getexif()
                diff = ImageStat.Stat(ImageChops.difference(a, b)).mean
                # Same picture the same way up: a rotated or recoloured output differs by tens.
                # A CMYK master without a profile is the one deliberate change: libvips reads it
                # through a standard CMYK profile as image editors do, where Pillow subtracted
                # ink (pure M+Y ink: (232, 31, 42) instead of (255, 0, 0)).
                limit = 40 if source.name == "cmyk.jpg" else 6
                assert max(diff) < limit, (source.name, rendition, diff)
                compared += 1
    assert compared >= 30


@pytest.mark.parametrize(
    ("size", "edge", "expected"),
    [((2401, 1603), 700, (700, 467)), ((1603, 2401), 700, (467, 700)), ((500, 500), 90, (90, 90)),
     ((120, 80), 400, (120, 80)), ((10000, 3), 200, (200, 1))],
)  # fmt: skip
def test_fit_size_rounds_like_pillow(
    size: tuple[int, int], edge: int, expected: tuple[int, int]
) -> None:
    assert fit_size(size, edge) == expected
    img = Image.new("L", size)
    img.thumbnail((edge, edge))
    assert img.size == expected


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cyverse_link.config.settings import DerivativeSettings
    from cyverse_link.dropfolder.derivatives import make_derivatives

    def rss(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    before = rss("VmRSS:")
    make_derivatives(Path(sys.argv[1]), Path(sys.argv[2]), DerivativeSettings())
    print(rss("VmHWM:") - before)
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_worker_never_holds_the_full_resolution_master(tmp_path: Path) -> None:
    import pyvips

    # 4000 x 14000 = 56 Mpx uncompressed: 168 MB of RGB once decoded (written streaming). The
    # streamed resize holds a band of rows (about 40 MB here, whatever the height), the Pillow
    # path held the whole master and a copy (more than twice the decoded size).
    master = tmp_path / "master.tif"
    grain = pyvips.Image.gaussnoise(4000, 14000, mean=128, sigma=40)
    grain.bandjoin([grain, grain]).cast("uchar").tiffsave(str(master))
    decoded = 4000 * 14000 * 3
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(master), str(tmp_path / "out")],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        master.unlink()
    grown = int(done.stdout.strip())
    assert grown < decoded / 2, f"derivatives grew the process by {grown / 2**20:.0f} MiB"

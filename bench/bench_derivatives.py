"""Benchmark: derivatives of real-size masters, libvips (today's engine) vs the Pillow path it
replaced (full-size decode; frozen in ``_pillow_baseline.py``).

Three masters are generated once and cached in the temp folder: a 60-Mpx uncompressed TIFF, a
60-Mpx LZW TIFF with an embedded (non-sRGB) ICC profile, and a 24-Mpx JPEG with EXIF
orientation 6. Each engine makes the same renditions with the default settings (TIFF: large
3200, web 1400, thumbnail 200; JPEG: web and thumbnail) in a fresh child process, so that the
child's own peak resident set (VmHWM) is the peak memory of that one job, interpreter and
imports included ("job MiB" is the part above the imported modules). Time is the best of N
runs (the engines alternate), memory the smallest peak; CPU seconds (all threads) are printed
too, steadier than wall time on a loaded machine. Goals (issue 16): time <= 0.4x, peak memory
<= 0.3x of the Pillow path. A last pair of runs makes the LZW TIFF's derivatives in 4 worker
threads at once (the default ``irods.threads``): the peak a sync holds.

    python bench/bench_derivatives.py          # 5 runs each (about 3 minutes)
    python bench/bench_derivatives.py --quick  # 1 run each
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "cyverse-link-bench-derivatives"
MASTERS = {
    "tiff_raw": "master-60mpx-raw.tif",
    "tiff_lzw_icc": "master-60mpx-lzw-icc.tif",
    "jpeg_exif": "master-24mpx-exif6.jpg",
}
WORKERS = 4
ENGINES = ("pillow", "vips")


def _profile_unlike_srgb() -> bytes:
    """sRGB with red and blue primaries exchanged, so a colour conversion has real work."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    where = {bytes(data[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, b = where[b"rXYZ"], where[b"bXYZ"]
    data[r + 4 : r + 12], data[b + 4 : b + 12] = data[b + 4 : b + 12], data[r + 4 : r + 12]
    data[84:100] = bytes(16)
    return bytes(data)


def _scene(width: int, height: int):  # type: ignore[no-untyped-def]
    """A photo-like RGB image: smooth gradients with fine-grained texture."""
    from PIL import Image

    ramp = Image.linear_gradient("L")
    red = ramp.resize((width, height), Image.Resampling.BILINEAR)
    green = ramp.rotate(90).resize((width, height), Image.Resampling.BILINEAR)
    grain = Image.effect_noise((width // 8, height // 8), 40).resize((width, height))
    return Image.merge("RGB", (red, green, grain))


def ensure_masters() -> dict[str, Path]:
    from PIL import Image

    CACHE.mkdir(exist_ok=True)
    paths = {key: CACHE / name for key, name in MASTERS.items()}
    if not all(p.exists() for p in paths.values()):
        print(f"generating the masters once (cached in {CACHE})...", flush=True)
        big = _scene(9504, 6336)  # 60.2 Mpx
        big.save(paths["tiff_raw"], "TIFF")
        big.save(paths["tiff_lzw_icc"], "TIFF", compression="tiff_lzw",
                 icc_profile=_profile_unlike_srgb())  # fmt: skip
        del big
        photo = _scene(6000, 4000)  # 24 Mpx, stored sideways: EXIF says rotate 90° to display
        exif = Image.Exif()
        exif[0x0112] = 6
        photo.save(paths["jpeg_exif"], "JPEG", quality=92, exif=exif.tobytes())
    return paths


def child(engine: str, master: Path, workers: int) -> None:
    """One job in this process; prints {"seconds", "peak_mib"} as JSON."""
    from cyverse_link.config.settings import DerivativeSettings

    settings = DerivativeSettings()
    if engine == "pillow":
        sys.path.insert(0, str(HERE))
        from _pillow_baseline import pillow_derivatives

        jpeg = master.suffix.lower() in (".jpg", ".jpeg")
        widths = {"web": settings.web_width, "thumb": settings.thumbnail_width}
        if not jpeg:
            widths["large"] = settings.large_width

        def job(i: int) -> None:
            pillow_derivatives(master, widths, settings.jpeg_quality)
    else:
        from cyverse_link.dropfolder.derivatives import make_derivatives

        def job(i: int) -> None:
            with tempfile.TemporaryDirectory() as out:
                make_derivatives(master, Path(out), settings)

    imported = _status_kib("VmRSS:") / 1024
    start, cpu_start = time.perf_counter(), _cpu()
    if workers == 1:
        job(0)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(job, range(workers)))
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu_start
    peak = _status_kib("VmHWM:") / 1024
    job = peak - imported
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mib": peak, "job_mib": job}))


def _cpu() -> float:
    """CPU seconds of this process, all threads (libvips works in several)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status_kib(field: str) -> int:
    """VmHWM (peak resident set) or VmRSS of this process, from Linux's /proc. Not
    ``ru_maxrss``: Linux carries that across exec from the parent, so a child would report
    at least the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(engine: str, master: Path, workers: int = 1) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, str(master), str(workers)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(master: Path, runs: int, workers: int = 1) -> dict[str, dict[str, float]]:
    """{engine: best seconds, best CPU seconds, smallest peak}; the engines alternate, so a
    burst of load on a shared machine hits both."""
    best: dict[str, dict[str, float]] = {}
    for _ in range(runs):
        for engine in ENGINES:
            result = run_child(engine, master, workers)
            mine = best.setdefault(engine, dict(result))
            for key, value in result.items():
                mine[key] = min(mine[key], value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "MASTER", "WORKERS"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return
    runs = 1 if args.quick else 5
    masters = ensure_masters()
    print(f"{'master':<14} {'engine':<7} {'best s':>7} {'CPU s':>7} {'peak MiB':>9} {'job MiB':>8}")
    for key, path in masters.items():
        best = measure(path, runs)
        for engine in ENGINES:
            b = best[engine]
            print(f"{key:<14} {engine:<7} {b['seconds']:7.2f} {b['cpu']:7.2f} "
                  f"{b['peak_mib']:9.1f} {b['job_mib']:8.1f}")  # fmt: skip
        old, new = best["pillow"], best["vips"]
        print(f"cpu ratio {key} {new['cpu'] / old['cpu']:.2f}")
        print(f"RATIO derivatives_time_{key} {new['seconds'] / old['seconds']:.2f}")
        print(f"RATIO derivatives_memory_{key} {new['peak_mib'] / old['peak_mib']:.2f}")
    best = measure(masters["tiff_lzw_icc"], 1, WORKERS)
    old, new = best["pillow"], best["vips"]
    print(f"{WORKERS} workers at once on tiff_lzw_icc: "
          f"pillow {old['seconds']:.2f} s, {old['peak_mib']:.1f} MiB; "
          f"vips {new['seconds']:.2f} s, {new['peak_mib']:.1f} MiB")  # fmt: skip
    print(f"RATIO derivatives_memory_{WORKERS}_workers {new['peak_mib'] / old['peak_mib']:.2f}")


if __name__ == "__main__":
    main()

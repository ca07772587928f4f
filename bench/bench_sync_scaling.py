"""Benchmark 2: ``sync`` with 4 workers vs 1 worker against a slow link.

The sandbox iRODS server (in a child process) waits 20 ms before every reply
(``faults.reply_delay = 0.02``), like a Data Store a continent away. ``sync`` of N small JPEGs
(default 300; derivatives off, CSV mode) runs once with ``irods.threads: 1`` and once with
``irods.threads: 4``, each against a fresh server. Target: speed-up >= 2.5x. Also prints the
round trips per file (requests counted by the server, logins included) and the peak number of
concurrent connections (CyVerse refuses the 11th).

    python bench/bench_sync_scaling.py          # 300 files (about 1.5 minutes)
    python bench/bench_sync_scaling.py --quick  # 80 files
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rig import make_images, sandbox, sync_settings, timed_sync

DELAY = 0.02


def run(work: Path, n: int, threads: int) -> tuple[float, float, dict[str, int]]:
    for leftover in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (work / leftover).unlink(missing_ok=True)
    shutil.rmtree(work / "out", ignore_errors=True)
    with sandbox(reply_delay=DELAY) as server:
        settings = sync_settings(work, server, f"{server.shared}/ASU", threads=threads)
        wall, _cpu, counts = timed_sync(settings, server)
        stats = server.ask("stats")
    assert counts["uploaded"] == n and counts["failed"] == 0, counts
    return wall, stats["requests"] / n, {"peak_connections": stats["peak_connections"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="80 files")
    ap.add_argument("--files", type=int, default=None)
    args = ap.parse_args()
    n = args.files or (80 if args.quick else 300)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        work = Path(tmp)
        make_images(work / "incoming", n)
        print(f"bench_sync_scaling: sync of {n} JPEGs, server reply delay {DELAY * 1e3:.0f} ms")
        one_s, one_rt, one = run(work, n, threads=1)
        print(f"  1 worker:  {one_s:.2f} s ({one_s / n * 1e3:.0f} ms/file, {one_rt:.1f} "
              f"round trips/file, peak {one['peak_connections']} connections)")  # fmt: skip
        four_s, four_rt, four = run(work, n, threads=4)
        print(f"  4 workers: {four_s:.2f} s ({four_s / n * 1e3:.0f} ms/file, {four_rt:.1f} "
              f"round trips/file, peak {four['peak_connections']} connections)")  # fmt: skip
        speedup = one_s / four_s
        print(f"  speed-up:  {speedup:.2f}x (target >= 2.5x; ideal 4x)")
        print(f"RATIO sync_4_workers_vs_1 {speedup:.2f}")


if __name__ == "__main__":
    main()

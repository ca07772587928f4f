"""Benchmark: one large master (default 200 MiB) uploaded with python-irodsclient's parallel put
vs a single stream, through ``IrodsStore.put`` (the product's verified upload).

The sandbox iRODS server (4.3.1, in a child process) waits 20 ms before every reply
(``faults.reply_delay = 0.02``), like a Data Store a continent away. ``irods.threads: 4``; the
single-stream side is ``IrodsStore(parallel_streams=1)`` (the default), the parallel side
``parallel_streams=4``, which borrows up to 3 extra connections from the run's budget (PRC caps
its streams at the CPU count, ``irods/parallel.py`` ``io_main``). Both verify the MD5 at the
final close. Each round gets a fresh server; the sides alternate ``--repeat`` times and the
medians count (a shared machine). Goal: ratio >= 2. The file lives in a temporary directory
outside the repository and is removed at the end.

    python bench/bench_large_put.py            # 200 MiB, 3 rounds
    python bench/bench_large_put.py --quick    # 64 MiB, 2 rounds
    python bench/bench_large_put.py --assume-cpus 4   # as on a 4-CPU client (4 streams)

``--assume-cpus`` makes this process report that many CPUs to python-irodsclient and to the
store's budget, to see what a client with more cores than this machine would get (the server
still shares this machine's CPUs).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rig import USER, Server, sandbox

from cyverse_link.config.settings import IrodsSettings
from cyverse_link.datastore.irods import IrodsStore

DELAY = 0.02
FD_INFO = "20000"


def make_file(path: Path, mib: int) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as fh:
        for _ in range(mib):
            block = os.urandom(1 << 20)
            digest.update(block)
            fh.write(block)
    return digest.hexdigest()


def one_put(local: Path, md5: str, streams: int) -> tuple[float, int, int]:
    """Seconds for one verified put, the streams the server saw, peak connections."""
    server: Server
    with sandbox(reply_delay=DELAY) as server:
        settings = IrodsSettings(
            host=server.host, port=server.port, zone="iplant", user=USER,
            collection=f"{server.shared}/ASU", threads=4, connection_timeout=120, retries=0,
        )  # fmt: skip
        with IrodsStore(settings, server.password, parallel_streams=streams) as store:
            store.ensure_collection(settings.collection)
            t0 = time.perf_counter()
            got = store.put(local, f"{settings.collection}/{local.name}", md5)
            seconds = time.perf_counter() - t0
        assert got.checksum == md5
        stats = server.ask("stats")
    used = stats["peak_connections"] if stats["by_api"].get(FD_INFO) else 1
    return seconds, used, stats["peak_connections"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="64 MiB, 2 rounds")
    ap.add_argument("--mib", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--assume-cpus", type=int, default=None)
    args = ap.parse_args()
    if args.assume_cpus:
        import multiprocessing

        cpus = args.assume_cpus
        multiprocessing.cpu_count = lambda: cpus  # PRC's stream cap (irods/parallel.py)
        os.cpu_count = lambda: cpus  # the store's budget (irods_budget.py)
    mib = args.mib or (64 if args.quick else 200)
    rounds = args.repeat or (2 if args.quick else 3)
    single: list[float] = []
    parallel: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-large-put-") as tmp:
        local = Path(tmp) / "master.tif"
        md5 = make_file(local, mib)
        print(f"bench_large_put: one {mib} MiB file, server reply delay {DELAY * 1e3:.0f} ms, "
              f"irods.threads 4, {os.cpu_count()} CPUs")  # fmt: skip
        for r in range(rounds):
            s, _, s_peak = one_put(local, md5, streams=1)
            p, used, p_peak = one_put(local, md5, streams=4)
            single.append(s)
            parallel.append(p)
            print(f"  round {r + 1}: single stream {s:.2f} s (peak {s_peak} connection); "
                  f"parallel {p:.2f} s ({used} streams, peak {p_peak} connections)")  # fmt: skip
    s_med, p_med = statistics.median(single), statistics.median(parallel)
    ratio = s_med / p_med
    print(f"  single stream: {s_med:.2f} s median ({mib / s_med:.0f} MiB/s)")
    print(f"  parallel:      {p_med:.2f} s median ({mib / p_med:.0f} MiB/s)")
    print(f"  speed-up:      {ratio:.2f}x (goal >= 2x)")
    print(f"RATIO large_put_parallel_vs_single {ratio:.2f}")


if __name__ == "__main__":
    main()

"""api mode's mapping throughput vs a bare loop of ``requests.Session`` POSTs (issue 12 §6).

Starts the real Symbiota 3.4.14 portal and REST API (``shared/symbiota/portal``, as the tests
do; PHP and MariaDB needed), seeds 2,000 occurrences in collection 7, then times

* ours: ``SymbiotaApiPortal.match`` + ``SymbiotaApiPortal.write`` for 2,000 images (matching
  through the occurrence search, the existing-row look-up, one POST per image, the ledger's
  ``api_media`` rows), from catalog numbers to rows in the portal, and
* bare: one ``requests.Session`` and a plain loop of ``POST /media`` with the same JSON bodies
  (occids known in advance), nothing else.

Both start from an empty ``media`` table, alternating, ``REPEATS`` times. The ratio is the
median of the paired ratios (bare time / ours time of adjacent runs, which share the machine's
load). The last line is ``RATIO api_mapping <value>``; the goal is ≥ 0.8.
Usage: ``python bench/bench_api_mapping.py [N]`` (default 2000).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from cyverse_link.core.models import Match, MediaLink, MediaUrls
from cyverse_link.portal.api import SymbiotaApiPortal
from cyverse_link.portal.api_client import SymbiotaApi
from cyverse_link.portal.api_rows import post_body, tracked_values
from cyverse_link.portal.base import MatchRules

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
COLLID = 7
BASE = "https://data.cyverse.org/dav-anon/iplant/projects/bench/ASU-PLANTS"


def find_portal_script() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "symbiota" / "portal"
        if candidate.exists():
            return candidate
    sys.exit("shared/symbiota/portal not found (the real Symbiota fixture)")


def links_for(n: int) -> list[MediaLink]:
    return [
        MediaLink(
            catalog=f"ASU{i:07d}",
            source_identifier=f"irods:/iplant/home/shared/bench/ASU-PLANTS/ASU{i:07d}.jpg",
            urls=MediaUrls(
                url=f"{BASE}/_derivatives/ASU{i:07d}.web.jpg",
                thumbnail_url=f"{BASE}/_derivatives/ASU{i:07d}.thumb.jpg",
                original_url=f"{BASE}/ASU{i:07d}.jpg",
            ),
            md5=uuid.uuid4().hex,
            sort_occurrence=1,
            file_name=f"ASU{i:07d}.jpg",
        )
        for i in range(n)
    ]


def main(n: int) -> None:
    script = find_portal_script()
    name = f"cl_bench_api_{uuid.uuid4().hex[:8]}"
    up = subprocess.run(
        [str(script), "up", name, "--collection", "7:ASU:PLANTS"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if up.returncode:
        sys.exit(f"portal up failed: {up.stderr[-400:]}")
    info = json.loads(up.stdout)
    engine = sa.create_engine(info["db_url"])
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO omoccurrences (collid, catalogNumber) VALUES (:c, :n)"),
                [{"c": COLLID, "n": f"ASU{i:07d}"} for i in range(n)],
            )
        links = links_for(n)
        ratios: list[float] = []
        bare = ours = float("inf")
        for i in range(REPEATS):
            # ours: from catalog numbers to rows, with a fresh ledger (a first run)
            with tempfile.TemporaryDirectory() as tmp:
                api = SymbiotaApi(info["api_url"], token=info["api_token"])
                state = f"sqlite:///{tmp}/state.sqlite"
                portal = SymbiotaApiPortal(api, MatchRules(COLLID), state_url=state)
                t0 = time.perf_counter()
                matches = portal.match([lk.catalog for lk in links])
                result = portal.write([(lk, matches[lk.catalog]) for lk in links])
                ours_i = time.perf_counter() - t0
                sent = dict(api.requests_sent)
                portal.close()
            assert result.inserted == n and not result.errors, list(result.errors.items())[:3]
            bodies = bodies_for(links, matches, info["api_token"])
            wipe(engine)

            # bare: the same bodies, one session, a plain loop
            session = requests.Session()
            t0 = time.perf_counter()
            for body in bodies:
                resp = session.post(f"{info['api_url']}/media", json=body, timeout=60)
                assert resp.status_code == 201, resp.text[:200]
            bare_i = time.perf_counter() - t0
            session.close()
            wipe(engine)

            ours, bare = min(ours, ours_i), min(bare, bare_i)
            ratios.append(bare_i / ours_i)
            print(f"  run {i + 1}: bare {bare_i:.2f} s, ours {ours_i:.2f} s, ours sent {sent}")
        print(f"images                 {n}")
        print(f"bare POST loop         {bare:8.2f} s  {n / bare:8.0f} rows/s")
        print(f"ours match+write       {ours:8.2f} s  {n / ours:8.0f} rows/s")
        print(f"paired ratios          {' '.join(f'{r:.2f}' for r in ratios)}")
        print(f"RATIO api_mapping {statistics.median(ratios):.3f}")
    finally:
        engine.dispose()
        subprocess.run([str(script), "down", name], capture_output=True, timeout=120)


def bodies_for(links: list[MediaLink], matches: dict[str, Match], token: str) -> list[Any]:
    out = []
    for lk in links:
        m = matches[lk.catalog]
        assert m.occid is not None
        body = post_body(lk, tracked_values(lk, m.occid, m.tid), "ASU PLANTS")
        out.append({**body, "apiToken": token})
    return out


def wipe(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM media"))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

"""SIGTERM in the middle of ``cyverse-link sync`` (a real CLI process against a sandbox iRODS
server in another process): the resumed run must end in exactly the state an uninterrupted run
reaches -- same ledger, same objects and checksums in iRODS, same Symbiota rows -- with nothing
lost, nothing duplicated and nothing unverified counted as done."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from reliability_rig import Rig, assert_consistent, make_rig

N = 40
pytestmark = pytest.mark.slow


def cli(rig: Rig, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **rig.env}
    return subprocess.Popen(
        [sys.executable, "-m", "cyverse_link", "-c", str(rig.config_path), "--no-progress",
         *args],
        cwd=rig.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def uploaded_so_far(rig: Rig) -> int:
    path = rig.root / "state" / "ledger.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT count(*) FROM files WHERE stage >= 3").fetchone()
    except sqlite3.Error:
        return 0  # tables not created yet
    return int(row[0])


def state(rig: Rig) -> dict[str, Any]:
    """Everything a run leaves behind, without ids and timestamps."""
    recs = assert_consistent(rig, complete=True)
    ledger = {
        rel: (r.stage, r.status, r.md5, r.irods_path, r.urls, r.occid, r.catalog, r.suffix,
              r.error)
        for rel, r in recs.items()
    }  # fmt: skip
    engine = sa.create_engine(rig.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT occid, url, thumbnailUrl, originalUrl, sourceIdentifier, hashValue, "
                    "sortOccurrence, format FROM media ORDER BY sourceIdentifier"
                )
            ).all()
    finally:
        engine.dispose()
    objects = rig.srv.listing(rig.collection)
    return {"ledger": ledger, "media": [tuple(r) for r in rows], "irods": objects}


def test_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    ref = make_rig(tmp_path / "ref", n=N, threads=2, out_of_process=True)
    cut = make_rig(tmp_path / "cut", n=N, threads=2, out_of_process=True)
    try:
        done = cli(ref, "sync")
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, (out, err)

        proc = cli(cut, "sync")
        deadline = time.monotonic() + 60
        while uploaded_so_far(cut) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode != 0
        assert "Traceback" not in err, err
        partial = uploaded_so_far(cut)
        assert 5 <= partial < N, partial
        # Mid-way, the invariants already hold for what was recorded.
        assert_consistent(cut, complete=False, all_seen=False)

        again = cli(cut, "sync")
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, (out, err)
        assert state(cut) == state(ref)
    finally:
        ref.srv.stop()
        cut.srv.stop()


def test_sigterm_finishes_the_files_in_progress_and_the_run_record(tmp_path: Path) -> None:
    """SIGTERM winds the run down: no new file starts, the report is finished (no ``.part``
    left), the run record has its end and counts, exit code 1 with a message saying how to
    go on. A second run finishes the rest."""
    cut = make_rig(tmp_path / "cut", n=N, threads=2, out_of_process=True)
    try:
        proc = cli(cut, "sync")
        deadline = time.monotonic() + 60
        while uploaded_so_far(cut) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, (out, err)
        assert "Traceback" not in err, err
        assert "interrupted" in err and "sync" in err, err
        reports = list((cut.root / "reports").iterdir())
        assert [p.suffix for p in reports] == [".json"], reports  # finished, not ``.part``
        report = json.loads(reports[0].read_text())
        assert report["counts"]["extra"]["interrupted"] == 1
        assert report["counts"]["registered"] < N
        with sqlite3.connect(cut.root / "state" / "ledger.sqlite") as conn:
            finished, counts = conn.execute("SELECT finished, counts FROM runs").fetchone()
        assert finished is not None and json.loads(counts)["registered"] < N
        assert_consistent(cut, complete=False, all_seen=False)
        again = cli(cut, "sync")
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, (out, err)
        assert_consistent(cut, complete=True)
    finally:
        cut.srv.stop()

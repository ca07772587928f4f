from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cyverse_link.core.errors import CyverseLinkError
from cyverse_link.core.models import Counts, MediaUrls, Problem, Stage, Status
from cyverse_link.run.report import COUNT_NAMES, ReportEntry, ReportWriter, load_report

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_streams_entries_and_finishes(tmp_path: Path) -> None:
    w = ReportWriter(tmp_path / "reports", "sync", dry_run=False, started=T0)
    assert w.path == tmp_path / "reports" / "sync-20260102T030405Z.json"
    w.add(
        ReportEntry(
            "a.jpg",
            Stage.MAPPED,
            Status.DONE,
            catalog="ASU1",
            occid=9,
            urls=MediaUrls("https://x/a.jpg"),
        )
    )
    w.add(
        ReportEntry(
            "ü.jpg",
            Stage.DISCOVERED,
            Status.SKIPPED,
            problems=(Problem.EMPTY,),
            detail="file is empty (0 bytes)",
        )
    )
    part = w.path.with_name(w.path.name + ".part")
    w._fh.flush()
    assert part.exists() and not w.path.exists()
    assert '"rel_path": "a.jpg"' in part.read_text()  # already on disk, not held in memory
    report = w.finish(Counts(discovered=2, mapped=1, failed=1, extra={"bad": 1}))
    assert report.path == w.path and w.path.exists() and not part.exists()
    data = load_report(w.path)
    assert data["format"] == "cyverse-link-report/1"
    assert data["command"] == "sync" and data["dry_run"] is False
    assert data["counts"]["discovered"] == 2 and data["counts"]["extra"] == {"bad": 1}
    a, u = data["entries"]
    assert a["stage"] == "mapped" and a["urls"]["url"] == "https://x/a.jpg" and a["occid"] == 9
    assert u["rel_path"] == "ü.jpg" and u["problems"] == ["empty"]
    assert u["detail"] == "file is empty (0 bytes)"
    assert report.exit_code == 1
    rows = report.summary_rows()
    assert [n for n, _ in rows[: len(COUNT_NAMES)]] == list(COUNT_NAMES)
    assert rows[-1] == ("bad", 1)
    assert json.loads(json.dumps(report.to_dict()))["report"] == str(w.path)


def test_empty_report_is_valid_json(tmp_path: Path) -> None:
    with ReportWriter(tmp_path, "plan", dry_run=True) as w:
        report = w.finish(Counts())
    assert load_report(report.path)["entries"] == []  # type: ignore[arg-type]
    assert report.exit_code == 0


def test_same_second_gets_a_new_name(tmp_path: Path) -> None:
    a = ReportWriter(tmp_path, "plan", dry_run=True, started=T0)
    b = ReportWriter(tmp_path, "plan", dry_run=True, started=T0)
    assert a.path != b.path and b.path.name == "plan-20260102T030405Z-2.json"
    a.finish(Counts())
    b.finish(Counts())


def test_interrupted_run_leaves_part_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ReportWriter(tmp_path, "sync", dry_run=False) as w:
        w.add(ReportEntry("a.jpg", Stage.UPLOADED, Status.DONE))
        raise RuntimeError("killed")
    assert [p.suffix for p in tmp_path.iterdir()] == [".part"]


def test_unwritable_report_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CyverseLinkError, match=r"state\.report_dir"):
        ReportWriter(blocker / "reports", "plan", dry_run=True)

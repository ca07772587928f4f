"""Issue 13 item 18: ``plan`` and ``sync`` name the same stage and the same reason for a file
that cannot go through (bad content, no catalog number)."""

from __future__ import annotations

from pathlib import Path

from cyverse_link.run.report import load_report
from cyverse_link.sync.plan import run_plan

from .test_pipeline import World, drop, make_settings  # noqa: F401 (drop is a fixture)


def test_plan_and_sync_report_refused_files_alike(tmp_path: Path, drop: Path) -> None:  # noqa: F811
    settings = make_settings(tmp_path)
    planned = load_report(run_plan(settings).path)  # type: ignore[arg-type]
    synced = load_report(World(settings).run().path)  # type: ignore[arg-type]

    def refused(report: dict[str, object]) -> dict[str, tuple[str, str]]:
        return {
            e["rel_path"]: (e["stage"], e["error"])
            for e in report["entries"]  # type: ignore[attr-defined]
            if e["action"] in ("bad", "unidentified")
        }

    plan_view, sync_view = refused(planned), refused(synced)
    assert set(plan_view) == {"ASU0000004.jpg", "ASU0000005.jpg", "label-scan.jpg"}
    assert plan_view == sync_view
    stage, error = plan_view["label-scan.jpg"]
    assert stage == "identified"
    assert settings.identifiers.pattern in error  # names the pattern, as sync always did
    assert plan_view["ASU0000004.jpg"][0] == "discovered"

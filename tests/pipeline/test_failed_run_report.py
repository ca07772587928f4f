"""Issue 13 item 13: a run that ends with exit 3 (iRODS or the portal away mid-run) left
``reports/….json.part``, no report path, and ``status`` said "unfinished" forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.core.errors import ServiceUnavailable
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.report import load_report

from .test_pipeline import World, drop, make_settings

__all__ = ["drop"]  # the drop-folder fixture


def _down(catalogs: Any) -> Any:
    raise ServiceUnavailable("portal database unreachable")


def test_portal_down_mid_run_finishes_the_report_and_records_the_failure(
    tmp_path: Path, drop: Path
) -> None:
    w = World(make_settings(tmp_path))
    w.portal.match = _down  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable) as err:
        w.run()
    assert err.value.exit_code == 3
    reports = [p for p in (tmp_path / "reports").iterdir() if ".json" in p.name]
    assert [p.suffix for p in reports] == [".json"]  # no .part left
    assert str(reports[0]) in str(err.value)  # the message says where the report is
    data = load_report(reports[0])
    assert "portal database unreachable" in data["error"]
    assert data["counts"]["registered"] >= 1 and data["entries"]
    with Ledger(w.settings.state.db_url) as led:
        last = led.last_run("sync")
    assert last is not None and last.finished is not None
    assert last.report_path == str(reports[0])
    assert last.error is not None and "portal database unreachable" in last.error


def test_status_shows_the_failed_run_with_its_reason(tmp_path: Path, drop: Path) -> None:
    s = make_settings(tmp_path)
    w = World(s)
    w.portal.match = _down  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        w.run()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"collection: {{collid: 7, code: ASU}}\nsource: {{path: in}}\n"
        f"irods: {{user: me, collection: /iplant/home/p}}\n"
        f"symbiota: {{mode: csv}}\n"
        f"state: {{db_url: '{s.state.db_url}', report_dir: reports}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["-c", str(config), "status"])
    assert "unfinished" not in result.output
    assert "failed: portal database unreachable" in result.output

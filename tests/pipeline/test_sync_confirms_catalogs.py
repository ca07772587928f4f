"""``sync`` ends by confirming the catalog numbers it recorded under the identifier rules, so
the next ``plan`` reuses them without parsing names (until the rules change)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyverse_link.config.settings import IdentifierSettings, ReplaceRule, Settings
from cyverse_link.core.identifiers import IdentifierParser
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.report import load_report
from cyverse_link.sync.plan import run_plan

from .test_pipeline import World, drop, make_settings

__all__ = ["drop"]  # the fixture, imported for the tests below


def test_sync_confirms_and_plan_reuses(
    tmp_path: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_settings(tmp_path)
    World(s).run()
    parser = IdentifierParser(s.identifiers)
    with Ledger(s.state.db_url) as led:
        rows = [r for b in led.iter_join_rows(catalog_rules=parser.fingerprint) for r in b]
        confirmed = {r[0]: r[7] for r in rows if r[7] is not None}
        assert led.confirm_catalogs(parser.fingerprint, parser) == 0  # nothing left to check
    assert confirmed["ASU0000001.jpg"] == "ASU0000001"
    assert confirmed["box1/ASU0000002.tif"] == "ASU0000002"
    calls: list[str] = []
    original = IdentifierParser.__call__

    def spy(self: IdentifierParser, name: str) -> tuple[str, str | None] | None:
        calls.append(name)
        return original(self, name)

    monkeypatch.setattr(IdentifierParser, "__call__", spy)
    entries = load_report(run_plan(s).path)["entries"]  # type: ignore[arg-type]
    unchanged = {e["rel_path"]: e["catalog"] for e in entries if e["action"] == "unchanged"}
    assert unchanged["ASU0000001.jpg"] == "ASU0000001" and len(unchanged) >= 2
    assert not set(unchanged) & set(calls)  # reused, not parsed
    rules = IdentifierSettings(pattern=s.identifiers.pattern, replace=(ReplaceRule("0+", "-"),))
    calls.clear()
    entries = load_report(run_plan(Settings(**{**vars(s), "identifiers": rules})).path)["entries"]  # type: ignore[index]
    again = {e["rel_path"]: e["catalog"] for e in entries if e["action"] == "unchanged"}
    assert again["ASU0000001.jpg"] == "ASU-1"  # a changed rule applies without a re-sync
    assert set(unchanged) <= set(calls)

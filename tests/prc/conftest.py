"""Prints the per-module passed/failed counts of python-irodsclient's suite (test_prc_suite)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from prc_runner import DESELECTED
    from test_prc_suite import RESULTS, WALL, WORKERS

    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("python-irodsclient suite against the sandbox")
    total = 0.0
    for config, r in RESULTS:
        tr.write_line(
            f"{config:<14} {r.module:<18} passed {r.count('passed'):>3}  failed "
            f"{r.count('failed'):>3}  skipped {r.count('skipped'):>3}  ({r.seconds:.0f} s)"
        )
        total += r.seconds
        if r.durations:
            slowest = max(r.durations, key=lambda t: r.durations[t])
            tr.write_line(f"      slowest: {slowest} {r.durations[slowest]:.0f} s")
    tr.write_line(
        f"wall time {sum(WALL):.0f} s; sum of module times {total:.0f} s "
        f"(modules run {WORKERS} at a time)"
    )
    for (module, word), (configs, reason) in DESELECTED.items():
        tr.write_line(f"deselected in {module} ({', '.join(configs)}): '{word}': {reason}")

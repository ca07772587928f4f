"""Issue 13 item 19: what ``demo`` prints is true and fits an 80-column terminal: no path of a
folder it already removed, the second run accounts for every file, "registered" is said in
words that fit the URL provider, and the linked-specimens table fits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.demo.data import SAMPLES


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # rich and textwrap take the terminal's width from it


def test_default_demo_fits_80_columns_and_names_no_removed_path(narrow: None) -> None:
    result = CliRunner().invoke(cli, ["--no-progress", "demo"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    widest = max(out.splitlines(), key=len)
    assert len(widest) <= 80, widest
    for path in re.findall(r"(?:^|\s)(/\S+)", out):  # every local path printed exists
        if not path.startswith(("/iplant", "/dav-anon")) and "://" not in path:
            assert Path(path.rstrip(",.;:)")).exists(), path
    assert "report:" not in out and "removed now" in out
    # the second run accounts for all nine files: 5 linked + 1 without a record + 3 bad
    second = " ".join(out[out.index("second run:") :].split("linked specimens")[0].split())
    assert "5 already linked" in second and "1 still without a specimen record" in second
    assert "3 still bad" in second
    assert len(SAMPLES) == 5 + 1 + 3
    # dav-anon URLs are made, not "registered" anywhere
    assert "registered" not in out
    assert re.search(r"^  URLs +6  dav-anon web addresses made", out, re.M)
    assert "DEMO000104" in out and "not linked:" in out and "field-notes.jpg" in out


def test_kept_demo_prints_the_reports_and_bisque_words(narrow: None, tmp_path: Path) -> None:
    work = tmp_path / "demo"
    args = ["--no-progress", "demo", "--workdir", str(work), "--provider", "bisque"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert max(len(line) for line in out.splitlines() if str(work) not in line) <= 80, out
    reports = re.findall(r"^  report: (\S+\.json)$", out, re.M)
    assert len(reports) == 2 and all((work / p).is_file() for p in reports), out
    assert (work / re.findall(r"^  config: (\S+)$", out, re.M)[0]).is_file()
    assert re.search(r"^  URLs +6  registered with BisQue", out, re.M)

"""Issue 13 item 18: ``plan`` says which files will not go through and why (bounded, "+N
more"), explains its counts, and shows no count that is always 0 for a plan."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imaging import image_bytes

from cyverse_link.cli import cli

PATTERN = r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"
JPEG = image_bytes("JPEG", size=(40, 30))


def make_config(root: Path) -> Path:
    (root / "in").mkdir(exist_ok=True)
    cfg = root / "c.yaml"
    cfg.write_text(
        "collection: {collid: 7}\nsymbiota: {mode: csv}\nsource: {path: in}\n"
        f"identifiers: {{pattern: '{PATTERN}'}}\n"
    )
    return cfg


def plan(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(cfg), "plan", *args])


def test_plan_lists_refused_files_with_reasons_bounded(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    for i in range(25):
        (tmp_path / "in" / f"label-{i:02}.jpg").write_bytes(JPEG)
    (tmp_path / "in" / "ASU0000001.jpg").write_bytes(b"")
    result = plan(cfg)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "will not be synced (26):" in out
    assert "  ASU0000001.jpg: bad: file is empty (0 bytes)" in out
    why = f"no catalog number in the file name (identifiers.pattern '{PATTERN}' does not match)"
    assert f"  label-00.jpg: unidentified: {why}" in out
    assert "  +6 more (all are in the report)" in out
    assert sum(ln.startswith("  label-") for ln in out.splitlines()) == 19
    every = plan(cfg, "-v").stdout  # -v lists them all
    assert sum(ln.startswith("  label-") for ln in every.splitlines()) == 25
    assert "more (all are in the report)" not in every


def test_plan_counts_are_explained_and_none_is_always_zero(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    (tmp_path / "in" / "ASU0000001.jpg").write_bytes(JPEG)
    lines = plan(cfg).stdout.splitlines()
    assert lines[0].startswith("plan: 1 files in ")
    names = [ln.split()[0] for ln in lines[1:] if ln.startswith("  ")]
    assert names == ["new", "changed", "resume", "unchanged", "bad", "unidentified", "flagged"]
    for ln in lines[1:8]:
        assert len(ln.split(None, 2)) == 3, ln  # name, count, what it means
    for always_zero in ("uploaded", "published", "registered", "mapped"):
        assert always_zero not in names


def test_plan_explains_flagged_files(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    text = cfg.read_text().replace("source: {path: in}", "source: {path: in, max_web_bytes: 10}")
    cfg.write_text(text)
    (tmp_path / "in" / "ASU0000001.jpg").write_bytes(JPEG)
    out = plan(cfg).stdout
    assert "flagged (1):" in out
    assert f"  ASU0000001.jpg: {len(JPEG)} bytes is over source.max_web_bytes (10)" in out


NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
    min_size=1,
    max_size=30,
).filter(lambda n: n not in (".", "..") and not n.startswith(".") and len(n.encode()) < 200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_no_file_name_can_forge_a_line_of_the_plan(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = make_config(root)
        target = root / "in" / f"{name}.jpg"
        try:
            target.write_bytes(b"not an image")
        except OSError:
            return  # a name this file system refuses
        result = plan(cfg)
        assert result.exit_code == 1, result.output
        listed = [ln for ln in result.stdout.splitlines() if ln.startswith("  ") and ": " in ln]
        refused = [ln for ln in listed if ": bad: " in ln or ": unidentified: " in ln]
        assert len(refused) == 1, result.stdout
        assert "\x1b" not in result.stdout and "\r" not in result.stdout


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_sync_dry_run_prints_the_same_counts(tmp_path: Path, extra: list[str]) -> None:
    cfg = make_config(tmp_path)
    (tmp_path / "in" / "ASU0000001.jpg").write_bytes(JPEG)
    out = plan(cfg).stdout if not extra else None
    if extra:
        result = CliRunner().invoke(cli, ["-c", str(cfg), "sync", *extra])
        assert result.exit_code == 0, result.output
        out = result.stdout
    assert out is not None and out.startswith("plan: 1 files")

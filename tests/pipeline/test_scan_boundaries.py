"""Issue 13 items 8 and 15: a symbolic link inside the drop folder to a folder outside it got
its images uploaded, published and linked; hidden and ``_derivatives`` folders were left out
without a line in the report."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyverse_link.config.settings import SourceSettings
from cyverse_link.dropfolder.scan import HIDDEN_LISTED, scan
from cyverse_link.run.report import load_report
from cyverse_link.sync.plan import run_plan

from .test_pipeline import World, image, make_settings


def _skipped(report_path: Path | None) -> dict[str, str]:
    assert report_path is not None
    entries = load_report(report_path)["entries"]
    return {e["rel_path"]: e["error"] for e in entries if e["action"] == "skipped"}


def test_link_to_a_folder_outside_is_not_followed_and_is_reported(tmp_path: Path) -> None:
    drop, private = tmp_path / "in", tmp_path / "private"
    drop.mkdir()
    private.mkdir()
    (private / "ASU0000009.jpg").write_bytes(image((9, 9, 9)))
    (private / "ASU0000008.jpg").write_bytes(image((8, 8, 8)))
    (drop / "ASU0000001.jpg").write_bytes(image((1, 1, 1)))
    (drop / "elsewhere").symlink_to(private, target_is_directory=True)
    (drop / "ASU0000008.jpg").symlink_to(private / "ASU0000008.jpg")
    w = World(make_settings(tmp_path))
    w.portal.specimens.update({"ASU0000009": [109], "ASU0000008": [108]})
    report = w.run()
    assert set(w.ledger()) == {"ASU0000001.jpg"}
    assert all("ASU0000009" not in p and "ASU0000008" not in p for p in w.objects())
    skipped = _skipped(report.path)
    assert "outside source.path" in skipped["elsewhere"]
    assert "outside source.path" in skipped["ASU0000008.jpg"]
    assert report.counts.extra["skipped"] == 2

    # The switch lets a collection manager include them on purpose.
    w2 = World(make_settings(tmp_path / "2", source__follow_links_outside=True,
                             source__path=str(drop)))  # fmt: skip
    w2.portal.specimens.update({"ASU0000009": [109], "ASU0000008": [108]})
    w2.run()
    assert set(w2.ledger()) == {
        "ASU0000001.jpg", "ASU0000008.jpg", "elsewhere/ASU0000008.jpg", "elsewhere/ASU0000009.jpg"
    }  # fmt: skip


def test_hidden_and_derivative_folders_get_a_bounded_line_each(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    for folder in (".thumbs", "_Derivatives", "box"):
        (drop / folder).mkdir(parents=True)
        (drop / folder / "ASU0000001.jpg").write_bytes(image((1, 1, 1)))
    for n in range(HIDDEN_LISTED + 5):
        (drop / "box" / f"._ASU{n:07d}.jpg").write_bytes(b"resource fork")
    s = make_settings(tmp_path)
    report = run_plan(s)
    skipped = _skipped(report.path)
    assert "hidden folder" in skipped[".thumbs"]
    assert "_derivatives folder" in skipped["_Derivatives"]
    hidden = [k for k, v in skipped.items() if v.startswith("hidden file")]
    assert len(hidden) == HIDDEN_LISTED
    assert skipped["."] == "5 more hidden files (names starting with a dot) not listed"
    assert report.counts.discovered == 1  # box/ASU0000001.jpg only


_segment = st.sampled_from(["..", ".", "a", "b", "in", "out"])


@given(st.lists(_segment, min_size=1, max_size=5))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_link_is_followed_exactly_when_its_target_is_inside(
    tmp_path: Path, parts: list[str]
) -> None:
    root = tmp_path / "w"
    drop = root / "in"
    for d in (drop / "a" / "b", root / "out" / "a" / "b", drop / "in"):
        d.mkdir(parents=True, exist_ok=True)
    for d in (drop, drop / "a", drop / "a" / "b", root / "out", drop / "in"):
        (d / "ASU0000001.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 10)
    link = drop / "a" / "link"
    if link.is_symlink():
        link.unlink()
    target = os.path.join(*parts)
    link.symlink_to(target, target_is_directory=True)
    skips: dict[str, str] = {}
    found = {f.rel_path for f in scan(SourceSettings(path=drop), on_skip=skips.__setitem__)}
    real = link.resolve()
    if not real.is_dir():
        return  # a dangling link or one to a file: nothing below it either way
    inside = real == drop.resolve() or real.is_relative_to(drop.resolve())
    below = {p for p in found if p.startswith("a/link/")}
    if inside:
        assert "a/link" not in skips or "outside" not in skips["a/link"]
    else:
        assert below == set() and "outside source.path" in skips["a/link"]

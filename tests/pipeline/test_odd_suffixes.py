"""Issue 13 item 1: any suffix, however odd its digits, fails at most its own file."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cyverse_link.core.models import Stage, Status
from cyverse_link.sync.mapping import sort_occurrence

from .test_pipeline import World, image, make_settings


@given(st.text(min_size=0, max_size=12))
@settings(max_examples=300, deadline=None)
def test_sort_occurrence_takes_any_suffix(suffix: str) -> None:
    value = sort_occurrence(suffix)
    assert isinstance(value, int) and value >= 1


@given(st.text(alphabet=st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_digit_like_suffixes_that_int_refuses_sort_as_named_views(suffix: str) -> None:
    value = sort_occurrence(suffix)
    assert value == (max(1, int(suffix)) if suffix.isdecimal() else 50)


def test_ethiopic_digit_suffix_does_not_stop_the_sync(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    (drop / "ASU0000001.jpg").write_bytes(image((200, 0, 0)))
    (drop / "ASU0000002_፩.jpg").write_bytes(image((0, 200, 0)))
    (drop / "ASU0000002_2.jpg").write_bytes(image((0, 0, 200)))
    w = World(make_settings(tmp_path))
    report = w.run()
    ledger = w.ledger()
    assert {k: (v.stage, v.status) for k, v in ledger.items()} == {
        k: (Stage.MAPPED, Status.DONE) for k in ledger
    }
    assert report.counts.mapped == 3
    assert report.path is not None and report.path.suffix == ".json"


def test_a_bad_row_in_a_batch_fails_only_its_file(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    for n in (1, 2):
        (drop / f"ASU000000{n}.jpg").write_bytes(image((n, 0, 0)))
    w = World(make_settings(tmp_path))
    real_write = w.portal.write

    def write(links, **kw):  # type: ignore[no-untyped-def]
        if any(link.catalog == "ASU0000002" for link, _ in links):
            raise ValueError("a library surprise for this one row")
        return real_write(links, **kw)

    w.portal.write = write  # type: ignore[method-assign]
    report = w.run()
    ledger = w.ledger()
    assert (ledger["ASU0000001.jpg"].stage, ledger["ASU0000001.jpg"].status) == (
        Stage.MAPPED,
        Status.DONE,
    )
    assert ledger["ASU0000002.jpg"].status is Status.FAILED
    assert "ValueError" in (ledger["ASU0000002.jpg"].error or "")
    assert report.counts.failed == 1

"""A run's collaborators are built once (``run.context.open_run``): the identifier rules are
compiled once and the mapping CSV is read once per run, whatever the number of files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cyverse_link.config.settings import Settings
from cyverse_link.core.identifiers import IdentifierParser
from cyverse_link.sync.plan import run_plan

from .test_pipeline import World, drop, make_settings

__all__ = ["drop"]  # the fixture, imported for the tests below


class Built:
    def __init__(self) -> None:
        self.parsers = 0
        self.csv_reads = 0


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Built]:
    """Counts ``IdentifierParser`` instances and reads of ``map.csv``."""
    seen = Built()
    init = IdentifierParser.__init__
    read_text = Path.read_text

    def counting_init(self: IdentifierParser, *args: object, **kwargs: object) -> None:
        seen.parsers += 1
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    def counting_read(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "map.csv":
            seen.csv_reads += 1
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(IdentifierParser, "__init__", counting_init)
    monkeypatch.setattr(Path, "read_text", counting_read)
    yield seen


def with_mapping(tmp_path: Path) -> Settings:
    csv = tmp_path / "map.csv"
    csv.write_text("filename,catalogNumber\nlabel-scan.jpg,ASU0000001\n", encoding="utf-8")
    return make_settings(tmp_path, identifiers__mapping_csv=str(csv))


def test_sync_builds_the_parser_and_reads_the_mapping_once(
    tmp_path: Path, drop: Path, built: Built
) -> None:
    world = World(with_mapping(tmp_path))
    report = world.run()
    assert report.counts.discovered == 8
    assert (built.parsers, built.csv_reads) == (1, 1)
    # the mapping applied: the file without a catalog number in its name got one
    assert world.ledger()["label-scan.jpg"].catalog == "ASU0000001"


def test_plan_builds_the_parser_and_reads_the_mapping_once(
    tmp_path: Path, drop: Path, built: Built
) -> None:
    report = run_plan(with_mapping(tmp_path))
    assert report.counts.discovered == 8
    assert (built.parsers, built.csv_reads) == (1, 1)


def test_a_second_sync_builds_them_once_again(tmp_path: Path, drop: Path, built: Built) -> None:
    world = World(with_mapping(tmp_path))
    world.run()
    world.run()
    assert (built.parsers, built.csv_reads) == (2, 2)

"""``link`` and ``relink`` on the run context (``run.context``): the identifier parser is built
once per run, not once per object, and ``link`` reads the mapping CSV once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_support import PATTERN, SHARED, Irods, Symbiota, make_settings
from test_link import seed_collection
from test_relink import LEGACY, seed

from cyverse_link.admin.link import run_link
from cyverse_link.admin.relink import run_relink
from cyverse_link.core.identifiers import IdentifierParser
from cyverse_link.publish.davanon import DavAnonProvider
from cyverse_link.run.report import load_report


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    seen = {"parsers": 0, "csv_reads": 0}
    init = IdentifierParser.__init__
    read_text = Path.read_text

    def counting_init(self: IdentifierParser, *args: object, **kwargs: object) -> None:
        seen["parsers"] += 1
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    def counting_read(self: Path, *args: object, **kwargs: object) -> str:
        seen["csv_reads"] += self.name == "map.csv"
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(IdentifierParser, "__init__", counting_init)
    monkeypatch.setattr(Path, "read_text", counting_read)
    yield seen


def test_link_builds_the_parser_and_reads_the_mapping_once(
    tmp_path: Path, irods: Irods, symbiota: Symbiota, counted: dict[str, int]
) -> None:
    seed_collection(irods)
    csv = tmp_path / "map.csv"
    csv.write_text("filename,catalogNumber\nnotes.jpg,ASU0001234\n", encoding="utf-8")
    settings = make_settings(tmp_path, irods, symbiota.url,
                             identifiers={"mapping_csv": str(csv)})  # fmt: skip
    provider = DavAnonProvider(settings.urls.davanon_base)
    report = run_link(settings, SHARED, store=irods.store, portal=symbiota.db(),
                      provider=provider)  # fmt: skip
    assert report.counts.discovered == 5 and report.counts.extra["unidentified"] == 0
    assert counted == {"parsers": 1, "csv_reads": 1}


def test_relink_builds_the_parser_once(
    tmp_path: Path, irods: Irods, symbiota: Symbiota, counted: dict[str, int]
) -> None:
    seed(irods, symbiota)
    settings = make_settings(tmp_path, irods, symbiota.url,
                             relink={"search_collections": [LEGACY]})  # fmt: skip
    report = run_relink(settings, store=irods.store, portal=symbiota.db())
    assert report.counts.discovered == 6 and report.counts.mapped == 3
    assert counted["parsers"] == 1


def test_link_names_the_pattern_as_written_in_yaml(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    """The "no catalog number" line shows the pattern with its backslashes doubled (its repr),
    as a YAML double-quoted string or Python source writes it."""
    seed_collection(irods)
    settings = make_settings(tmp_path, irods, symbiota.url)
    provider = DavAnonProvider(settings.urls.davanon_base)
    report = run_link(settings, SHARED, store=irods.store, portal=symbiota.db(),
                      provider=provider)  # fmt: skip
    entries = load_report(report.path)["entries"]
    (noid,) = [e for e in entries if e["action"] == "unidentified"]  # type: ignore[union-attr]
    assert "\\\\d{7}" in noid["error"]
    assert noid["error"] == (
        f"no catalog number in the name (identifiers.pattern {PATTERN!r} does not match)"
    )

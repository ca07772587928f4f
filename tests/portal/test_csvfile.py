"""The import CSV written in ``symbiota.mode: csv`` and its two companion files."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from php_csv import read_with_php
from symbiota_helpers import link

from cyverse_link.core.models import Match, MatchStatus, MediaUrls, Written
from cyverse_link.portal.csvfile import COLUMNS, SUPERSEDED_COLUMNS, CsvPortal


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_import(path: Path) -> list[dict[str, str]]:
    """As Symbiota's import reads it (PHP fgetcsv), header lower-cased as the page maps it."""
    header, *rows = read_with_php(path)
    assert header == list(COLUMNS)
    return [dict(zip(header, row, strict=True)) for row in rows]


class Reader:
    """A stand-in for the portal's read-only API: fixed matches and a collection name."""

    def __init__(self, matches: dict[str, Match], name: str = "ASU Vascular Plants") -> None:
        self.matches, self.name, self.asked = matches, name, 0
        self.closed = False

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        self.asked += 1
        return {c: self.matches.get(c, Match(c, MatchStatus.UNMATCHED)) for c in catalogs}

    def collection_name(self) -> str:
        return self.name

    def close(self) -> None:
        self.closed = True


def test_without_read_access_rows_carry_the_catalog_number_and_say_not_checked(
    tmp_path: Path,
) -> None:
    portal = CsvPortal(tmp_path / "out", collid=7, code="ASU-PLANTS")
    assert portal.schema().table == "csv" and not portal.checked
    tricky = link('ASU1, "quoted"\\"', "Ñandú café,\nline.jpg", archive_url="https://x/a.tif")
    plain = replace(link("ASU2", "ASU2_3.jpg"), sort_occurrence=3)
    found = portal.match([tricky.catalog, plain.catalog, plain.catalog])
    assert list(found) == [tricky.catalog, plain.catalog]
    assert all(m.status is MatchStatus.NOT_CHECKED and m.occid is None for m in found.values())
    result = portal.write([(tricky, found[tricky.catalog]), (plain, found[plain.catalog])])
    assert result.path is not None and result.path.parent == tmp_path / "out"
    assert result.path.name.startswith("ASU-PLANTS_media_") and result.path.suffix == ".csv"
    assert result.inserted == 2 and not result.superseded
    assert result.written == {tricky.source_identifier: 0, plain.source_identifier: 0}
    rows = read_import(result.path)
    assert rows[0]["catalogNumber"] == tricky.catalog  # quotes, comma and backslash, exactly
    assert rows[0]["sourceIdentifier"] == tricky.source_identifier  # newline and all
    assert rows[0]["archiveUrl"] == "https://x/a.tif"
    assert rows[1] == {
        "occid": "",
        "catalogNumber": "ASU2",
        "originalUrl": plain.urls.original_url,
        "url": plain.urls.url,
        "thumbnailUrl": plain.urls.thumbnail_url,
        "archiveUrl": "",
        "sourceIdentifier": plain.source_identifier,
        "format": "image/jpeg",
        "hashFunction": "MD5",
        "hashValue": plain.md5,
        "mediaMD5": plain.md5,
        "sortOccurrence": "3",
        "owner": "",  # the collection's name is not known without read access
    }
    assert not result.path.read_bytes().startswith(b"\xef\xbb\xbf")  # no BOM: PHP reads it


def test_with_read_access_rows_carry_the_occid_only_and_others_are_not_written(
    tmp_path: Path,
) -> None:
    reader = Reader(
        {
            "ASU1": Match("ASU1", MatchStatus.MATCHED, (41,), 9),
            "DUP": Match("DUP", MatchStatus.AMBIGUOUS, (5, 6)),
        }
    )
    portal = CsvPortal(tmp_path, collid=7, code="X", reader=reader)
    assert portal.checked
    found = portal.match(["ASU1", "DUP", "NONE"])
    links = [(link(c), found[c]) for c in ("ASU1", "DUP", "NONE")]
    result = portal.write(links)
    assert list(result.written) == [links[0][0].source_identifier]
    assert result.written[links[0][0].source_identifier] == 41
    assert set(result.errors) == {links[1][0].source_identifier, links[2][0].source_identifier}
    assert result.path is not None
    (row,) = read_import(result.path)
    # catalogNumber left empty: the import ORs every identifier it is given (getOccurrencePK)
    assert row["occid"] == "41" and row["catalogNumber"] == ""
    assert row["owner"] == "ASU Vascular Plants" and row["sortOccurrence"] == "5"
    portal.close()
    assert reader.closed


def test_one_set_of_files_per_run_appended_across_writes(tmp_path: Path) -> None:
    first = CsvPortal(tmp_path, collid=7, code="ASU PLANTS/x")
    a, b = link("A1"), link("B2")
    not_checked = MatchStatus.NOT_CHECKED
    p1 = first.write([(a, Match("A1", not_checked))]).path
    p2 = first.write([(b, Match("B2", not_checked))]).path
    assert p1 == p2 and p1 is not None
    assert "/" not in p1.name[: -len(".csv")] and p1.name.startswith("ASU_PLANTS_x_media_")
    assert [r["catalogNumber"] for r in read_import(p1)] == ["A1", "B2"]
    second = CsvPortal(tmp_path, collid=7, code="ASU PLANTS/x").write(
        [(a, Match("A1", not_checked))]
    )
    assert second.path is not None and second.path != p1


def test_original_url_falls_back_to_url(tmp_path: Path) -> None:
    lk = link("A1", original_url=None)
    portal = CsvPortal(tmp_path, collid=7, code="X")
    path = portal.write([(lk, Match("A1", MatchStatus.NOT_CHECKED))]).path
    assert path is not None
    assert read_import(path)[0]["originalUrl"] == lk.urls.url


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    portal = CsvPortal(tmp_path / "out", collid=7, code="X")
    links = [
        (link("A1"), Match("A1", MatchStatus.NOT_CHECKED)),
        (link("A2"), Match("A2", MatchStatus.UNMATCHED)),
    ]
    dry = portal.write(links, dry_run=True)
    assert dry.inserted == 1 and dry.path is None
    assert "unmatched" in dry.errors[links[1][0].source_identifier]
    assert not (tmp_path / "out").exists() and portal.output_files() == {}


def test_unmatched_companion_csv(tmp_path: Path) -> None:
    portal = CsvPortal(tmp_path, collid=7, code="X")
    portal.record_unmapped("a/A2.jpg", "A2", MatchStatus.UNMATCHED, (), "irods:/z/a/A2.jpg")
    portal.record_unmapped("=cmd|' /C calc'!A0.jpg", "D", MatchStatus.AMBIGUOUS, (4, 5), "")
    path = portal.output_files()["unmatched"]
    assert path.name.startswith("X_unmatched_") and path.name[-20:] == f"{portal.stamp}.csv"
    rows = read(path)
    assert [(r["file"], r["status"], r["occids"]) for r in rows] == [
        ("a/A2.jpg", "unmatched", ""),
        ("'=cmd|' /C calc'!A0.jpg", "ambiguous", "4 5"),  # a spreadsheet shows it as text
    ]
    assert "images not linked" in portal.output_lines()[0]
    checked = CsvPortal(tmp_path / "c", collid=7, code="X", reader=Reader({}))
    checked.record_unmapped("A9.jpg", "A9", MatchStatus.UNMATCHED, (), "", "unmatched: none")
    (row,) = read(checked.output_files()["unmatched"])
    assert row["reason"].startswith("unmatched: none; not found through the Symbiota API")


def test_changed_image_is_written_and_its_old_row_listed_as_superseded(tmp_path: Path) -> None:
    portal = CsvPortal(
        tmp_path, collid=7, code="X", reader=Reader({"A1": Match("A1", MatchStatus.MATCHED, (3,))})
    )
    old_urls = MediaUrls("https://d/web/old.jpg", "https://d/tn/old.jpg", "https://d/old.jpg")
    new = replace(
        link("A1", "A1.v0123abcd.jpg"),
        previous_source_identifier="irods:/iplant/home/shared/demo/A1.jpg",
        written=Written(old_urls, 1, 3),
    )
    result = portal.write([(new, portal.match(["A1"])["A1"])])
    assert result.written == {new.source_identifier: 3}
    assert "cannot update" in result.superseded[new.source_identifier]
    files = portal.output_files()
    assert set(files) == {"media", "superseded"}
    (row,) = read(files["superseded"])
    assert list(row) == list(SUPERSEDED_COLUMNS)
    assert row["occid"] == "3" and row["catalogNumber"] == "A1"
    assert row["oldSourceIdentifier"] == "irods:/iplant/home/shared/demo/A1.jpg"
    assert row["oldOriginalUrl"] == "https://d/old.jpg" and row["oldUrl"] == old_urls.url
    assert row["newSourceIdentifier"] == new.source_identifier
    assert row["newOriginalUrl"] == new.urls.original_url
    # the same path again (a resumed run) is not a change
    same = replace(new, previous_source_identifier=new.source_identifier)
    assert not portal.write([(same, Match("A1", MatchStatus.MATCHED, (3,)))]).superseded

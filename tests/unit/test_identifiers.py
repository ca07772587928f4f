from __future__ import annotations

from pathlib import Path

import pytest

from cyverse_link.config.settings import IdentifierSettings, ReplaceRule
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.identifiers import (
    load_mapping_csv,
    normalize_catalog,
    parse_identifier,
    split_copy_marker,
    stem_of,
    suffix_rank,
    suffix_sort_key,
)
from cyverse_link.core.models import Identifier

ASU = IdentifierSettings(pattern=r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?")
GENERIC = IdentifierSettings()  # [A-Z]+\d+ with optional suffix


@pytest.mark.parametrize(
    ("name", "catalog", "suffix"),
    [
        ("ASU0001234.jpg", "ASU0001234", None),
        ("ASU0001234.JPG", "ASU0001234", None),
        ("ASU0001234.Jpeg", "ASU0001234", None),
        ("asu0001234.jpg", "asu0001234", None),  # searched case-insensitively, kept as written
        ("ASU0001234_a.jpg", "ASU0001234", "a"),
        ("ASU0001234-2.tif", "ASU0001234", "2"),
        ("ASU0001234_dorsal.TIFF", "ASU0001234", "dorsal"),
        ("ASU0001234_10.png", "ASU0001234", "10"),
        ("ASU0001234 (1).jpg", "ASU0001234", "1"),  # browser copy marker → suffix
        ("ASU0001234(2).jpg", "ASU0001234", "2"),
        ("ASU0001234_b (1).jpg", "ASU0001234", "b"),  # real suffix wins over the copy number
        ("ASU0001234 - Copy.jpg", "ASU0001234", "1"),
        ("ASU0001234 - Copy (3).jpg", "ASU0001234", "3"),
        ("ASU0001234 copy 2.jpg", "ASU0001234", "2"),
        ("  ASU0001234 .jpg", "ASU0001234", None),  # spaces around the stem
        ("Herbarium ASU0001234 sheet.jpg", "ASU0001234", None),  # searched, not anchored
        ("IMG_ASU0001234.jpg", "ASU0001234", None),  # prefix
        ("2024/batch 3/ASU0001234_a.jpg", "ASU0001234", "a"),  # a relative path
        ("ＡＳＵ０００１２３４.jpg", "ASU0001234", None),  # full-width → NFKC
        ("ASU0001234_détail.jpg", "ASU0001234", "détail"),  # unicode suffix
        ("ASU0001234_de\u0301tail.jpg", "ASU0001234", "détail"),  # NFD (macOS) → composed
        ("ASU0001234.v1.jpg", "ASU0001234", None),  # only the last extension goes
        ("ASU0001234", "ASU0001234", None),  # no extension at all
    ],
)
def test_parse_real_world_names(name: str, catalog: str, suffix: str | None) -> None:
    assert parse_identifier(name, ASU) == Identifier(catalog, suffix)


@pytest.mark.parametrize(
    "name",
    [
        "IMG_4711.jpg",  # camera default name: digits but no ASU number
        "ASU123.jpg",  # too few digits for \d{7}
        "label.jpg",
        "scan (1).jpg",
        ".jpg",
        "",
        "ASU_0001234.jpg",  # separator inside the number: the pattern does not allow it
    ],
)
def test_names_without_a_catalog_number(name: str) -> None:
    assert parse_identifier(name, ASU) is None


def test_generic_default_pattern() -> None:
    assert parse_identifier(
        "WIS-L-0012345.jpg", IdentifierSettings(pattern=r"^(?P<catalog>WIS-L-\d{7})\D*")
    ) == Identifier("WIS-L-0012345")
    assert parse_identifier("NY01234567_1.jpg", GENERIC) == Identifier("NY01234567", "1")


def test_replace_rules_apply_in_order_to_catalog_only() -> None:
    rules = IdentifierSettings(
        pattern=r"(?P<catalog>\d{6,})(?:_(?P<suffix>\w+))?",
        replace=(ReplaceRule(r"^", "ASU"), ReplaceRule(r"^ASU0+", "ASU-")),
    )
    assert parse_identifier("000123_a.jpg", rules) == Identifier("ASU-123", "a")


def test_replace_can_use_groups() -> None:
    rules = IdentifierSettings(
        pattern=r"(?P<catalog>[A-Z]+ ?\d+)",
        replace=(ReplaceRule(r"^([A-Z]+) (\d+)$", r"\1-\2"),),
    )
    assert parse_identifier("UTEP 12345.jpg", rules) == Identifier("UTEP-12345")


def test_mapping_overrides_pattern_by_name_or_stem_case_insensitively(tmp_path: Path) -> None:
    csv_path = tmp_path / "map.csv"
    csv_path.write_text(
        "\ufefffilename,catalogNumber\n"
        "IMG_4711.JPG,ASU0000001\n"
        "label_back,ASU0000002\n"
        "ASU0001234_a.jpg,ASU0009999\n",
        encoding="utf-8",
    )
    mapping = load_mapping_csv(csv_path)
    assert parse_identifier("img_4711.jpg", ASU, mapping) == Identifier("ASU0000001")
    assert parse_identifier("sub/Label_Back.tif", ASU, mapping) == Identifier("ASU0000002")
    # the mapping wins; the suffix still comes from the pattern
    assert parse_identifier("ASU0001234_a.jpg", ASU, mapping) == Identifier("ASU0009999", "a")
    # not in the mapping → the pattern
    assert parse_identifier("ASU0005555.jpg", ASU, mapping) == Identifier("ASU0005555")
    assert parse_identifier("other.jpg", ASU, mapping) is None


def test_mapping_csv_semicolons_and_other_header_names(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("File;Catalog\na.jpg;X1\n\nb.jpg;X2\n", encoding="utf-8")
    assert load_mapping_csv(p) == {"a.jpg": "X1", "b.jpg": "X2"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("a,b\nx.jpg,1\n", "needs a header row"),
        ("filename,catalogNumber\nx.jpg,\n", "line 2: empty catalog number"),
        ("filename,catalogNumber\n,X1\n", "line 2: empty file name"),
        ("filename,catalogNumber\nx.jpg,A\nX.JPG,B\n", "line 3: 'X.JPG' is mapped to both"),
        ("filename,catalogNumber\nx.jpg\n", "line 2: expected 2 columns"),
    ],
)
def test_mapping_csv_errors_name_the_key_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    p = tmp_path / "m.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"identifiers\.mapping_csv") as info:
        load_mapping_csv(p)
    assert message in str(info.value)


def test_mapping_csv_missing_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_mapping_csv(tmp_path / "nope.csv")
    p = tmp_path / "latin1.csv"
    p.write_bytes("filename,catalogNumber\nd\xe9tail.jpg,X\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_mapping_csv(p)


def test_duplicate_identical_rows_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("filename,catalogNumber\nx.jpg,A\nx.jpg,A\n", encoding="utf-8")
    assert load_mapping_csv(p) == {"x.jpg": "A"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ASU0001234", "ASU1234"),
        ("0001234", "1234"),
        ("ASU-000123", "ASU-123"),
        ("0000", "0"),
        ("ASU-0000", "ASU-0"),
        ("ASU1234", "ASU1234"),
        ("1234", "1234"),
        ("ASU-00012-0005", "ASU-12-0005"),  # only the first digit run
        ("ABC", "ABC"),
        (" 00042 ", "42"),
        ("", ""),
    ],
)
def test_normalize_catalog(value: str, expected: str) -> None:
    assert normalize_catalog(value) == expected
    assert normalize_catalog(normalize_catalog(value)) == expected  # idempotent


def test_suffix_sort_key_order() -> None:
    given = ["dorsal", "10", None, "b", "2", "A", "1", "ventral", "02"]
    ordered = sorted(given, key=suffix_sort_key)
    assert ordered == [None, "1", "02", "2", "10", "A", "b", "dorsal", "ventral"]


def test_suffix_rank_gives_sort_occurrence() -> None:
    assert suffix_rank(["b", None, "a", "a"]) == {None: 1, "a": 2, "b": 3}


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("x (1)", ("x", "1")),
        ("x (1) (2)", ("x", "2")),
        ("x - Copy", ("x", "1")),
        ("x copy", ("x", "1")),
        ("x", ("x", None)),
        ("(1)", ("(1)", None)),  # nothing would be left: keep the name
        ("xcopy", ("xcopy", None)),
    ],
)
def test_split_copy_marker(stem: str, expected: tuple[str, str | None]) -> None:
    assert split_copy_marker(stem) == expected


def test_stem_of_hidden_like_and_paths() -> None:
    assert stem_of("a/b/c.d.jpg") == "c.d"
    assert stem_of("a\\b\\c.jpg") == "c"
    assert stem_of(".profile") == ".profile"

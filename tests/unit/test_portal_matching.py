"""Pure catalog-number helpers of the Symbiota matcher."""

from __future__ import annotations

import pytest

from cyverse_link.core.identifiers import normalize_catalog
from cyverse_link.core.models import MatchStatus
from cyverse_link.portal.matching import (
    Candidate,
    catalog_variants,
    resolve,
    split_other_numbers,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ASU0001234", "ASU1234"),
        ("0001234", "1234"),
        ("1234", "1234"),
        ("000", "0"),
        ("ASU-0012-003", "ASU-12-003"),
        ("ABC", "ABC"),
        ("", ""),
    ],
)
def test_normalize_catalog(value: str, expected: str) -> None:
    assert normalize_catalog(value) == expected


def test_variants_cover_both_directions() -> None:
    v = catalog_variants("ASU0001234", True)
    assert v[:2] == ["ASU0001234", "ASU1234"]
    assert "ASU01234" in v and "ASU000001234" in v and "ASU000000001234" in v
    assert "ASU0000000001234" not in v  # 13 digits: beyond MAX_PADDED_DIGITS
    assert catalog_variants("ASU0001234", False) == ["ASU0001234"]
    assert catalog_variants("ABC", True) == ["ABC"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("A1; B2|C3 , D4", ["A1", "B2", "C3", "D4"]),
        ("barcode: 0123", ["barcode: 0123", "0123"]),
        (None, []),
        (" ; ", []),
    ],
)
def test_split_other_numbers(text: str | None, tokens: list[str]) -> None:
    assert split_other_numbers(text) == tokens


def test_resolve_first_level_wins_and_distinct_occids_count() -> None:
    cands = [
        Candidate("catalogNumber", 1, "ASU01", 9),
        Candidate("catalogNumber", 1, "ASU01", 9),  # the same occid twice is one match
        Candidate("otherCatalogNumbers", 2, "ASU1", None),
    ]
    both = ["catalogNumber", "otherCatalogNumbers"]
    m = resolve("ASU1", cands, both, True)
    assert (m.status, m.occids, m.tid) == (MatchStatus.MATCHED, (1,), 9)
    m = resolve("ASU1", cands, both, False)  # zeros matter now: the exact other number wins
    assert (m.status, m.occids) == (MatchStatus.MATCHED, (2,))
    cands.append(Candidate("catalogNumber", 3, "ASU001", None))
    m = resolve("ASU1", cands, both, True)
    assert (m.status, m.occids) == (MatchStatus.AMBIGUOUS, (1, 3))
    assert resolve("ASU2", cands, both, True).status is MatchStatus.UNMATCHED

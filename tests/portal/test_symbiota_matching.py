"""Matching rules on a real database (MariaDB and SQLite, both schema flavours)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from symbiota_helpers import OTHER_COLLID, Portal

from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import Match, MatchStatus

M, U, A = MatchStatus.MATCHED, MatchStatus.UNMATCHED, MatchStatus.AMBIGUOUS


@pytest.fixture
def portal(readonly_portal: Portal) -> Portal:
    """Matching only reads: one seeded database per backend × flavour for this module."""
    return readonly_portal


def one(p: Portal, catalog: str, **kwargs: Any) -> Match:
    return p.db(**kwargs).match([catalog])[catalog]


RULES = [
    ("ASU0001234", "padded"),  # exact
    ("asu0001234", "padded"),  # case-insensitive, like the portal's collation
    ("ASU1234", "padded"),  # file without zeros finds the padded record
    ("ASU01234", "padded"),
    ("0005678", "bare"),  # file with zeros finds the bare record
    ("ASU777", "other"),  # otherCatalogNumbers, ';' separator
    ("ASU888", "other"),  # '|' separator
    ("ASU999", "other"),  # ',' separator (with spaces)
    ("X-1", "other"),  # first token
    ("ASU0777", "other"),  # zeros in otherCatalogNumbers too
    ("ASU555", "tagged"),  # "barcode: ASU555"
    ("ID-9000", "ident"),  # omoccuridentifiers
    ("id-9000", "ident"),
    ("Z01", "z01"),  # exact wins over the zero-stripped level
    ("PRI1", "pri_cat"),  # catalogNumber wins over otherCatalogNumbers
]


def test_match_rules(portal: Portal) -> None:
    found = portal.db().match([c for c, _ in RULES])
    for catalog, label in RULES:
        assert found[catalog] == Match(catalog, M, (portal.occ[label],), found[catalog].tid)
    # one at a time gives the same answers as a batch
    for catalog, label in RULES[:3]:
        assert one(portal, catalog).occids == (portal.occ[label],)


def test_tid_comes_from_tid_interpreted(portal: Portal) -> None:
    assert one(portal, "ASU1234").tid == portal.tid
    assert one(portal, "5678").tid is None


def test_tokens_match_whole_values_only(portal: Portal) -> None:
    near = ["ASU77", "ASU7", "SU777", "ASU7777", "ASU1", "BARCODE", "ID-900", "ASU12345"]
    found = portal.db().match(near)
    assert {c: m.status for c, m in found.items()} == dict.fromkeys(near, U)


def test_ambiguous(portal: Portal) -> None:
    m = one(portal, "DUP1")
    assert m.status is A
    assert m.occids == tuple(sorted((portal.occ["dup1"], portal.occ["dup2"])))
    assert m.occid is None
    z = one(portal, "Z1")  # Z01 and Z001 both equal Z1 without zeros
    assert z.status is A
    assert set(z.occids) == {portal.occ["z01"], portal.occ["z001"]}


def test_other_collections_never_match(portal: Portal) -> None:
    for catalog in ("ASU4242", "ASU4343", "ASU4444"):
        assert one(portal, catalog).status is U
    other = portal.db(collid=OTHER_COLLID)
    found = other.match(["ASU4242", "ASU4343", "ASU4444", "ASU1234"])
    assert [found[c].status for c in ("ASU4242", "ASU4343", "ASU4444", "ASU1234")] == [M, M, M, U]


def test_match_on_limits_the_sources(portal: Portal) -> None:
    assert one(portal, "ASU777", match_on=["catalogNumber"]).status is U
    assert one(portal, "ID-9000", match_on=["catalogNumber"]).status is U
    assert one(portal, "ID-9000", match_on=["omoccuridentifiers"]).status is M
    assert one(portal, "ASU0001234", match_on=["otherCatalogNumbers"]).status is U


OTHER_RULE = ["catalogNumber", "otherCatalogNumbers"]


def test_other_numbers_cover_omoccuridentifiers_as_symbiota_does(portal: Portal) -> None:
    """Symbiota's own rule (classes/OccurrenceImport.php, getOccurrencePK ~379):
    ``o.otherCatalogNumbers = v OR omoccuridentifiers.identifierValue = v``, one level."""
    assert one(portal, "ID-9000", match_on=OTHER_RULE).occids == (portal.occ["ident"],)
    assert one(portal, "id-09000", match_on=OTHER_RULE).occids == (portal.occ["ident"],)
    same = one(portal, "SAME5", match_on=OTHER_RULE)  # the field on one, identifiers on another
    assert same.status is A
    assert set(same.occids) == {portal.occ["same_field"], portal.occ["same_ident"]}
    assert one(portal, "BOTH6", match_on=OTHER_RULE).occids == (portal.occ["both"],)
    assert one(portal, "ID-9000", match_on=["otherCatalogNumbers"]).status is M
    assert one(portal, "PRI1", match_on=OTHER_RULE).occids == (portal.occ["pri_cat"],)


def test_strip_leading_zeros_off(portal: Portal) -> None:
    assert one(portal, "ASU1234", strip_leading_zeros=False).status is U
    assert one(portal, "ASU0001234", strip_leading_zeros=False).status is M
    assert one(portal, "Z1", strip_leading_zeros=False).status is U


def test_hostile_catalog_is_just_a_string(portal: Portal) -> None:
    hostile = ["1' OR '1'='1", "x%", "_", "ASU%", "'; DROP TABLE omoccurrences; --"]
    found = portal.db().match(hostile)
    assert all(found[h].status is U for h in hostile)
    assert portal.scalar("SELECT COUNT(*) FROM omoccurrences") == len(portal.occ)


def test_one_query_per_batch(portal: Portal) -> None:
    """catalogNumber for the batch, then one UNION for what it left unmatched."""
    catalogs = ["ASU1234", "5678", "ASU777", "ID-9000", "NOPE1", "NOPE2", "DUP1"]
    db = portal.db(batch_size=3)
    db.schema()  # detection queries are not counted
    selects: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "(SELECT")):
            selects.append(statement)

    sa.event.listen(db._engine, "before_cursor_execute", count)
    found = db.match(catalogs * 2)  # repeats are looked up once
    assert len(found) == len(catalogs)
    assert len(selects) <= 2 * 3  # 3 batches, at most 2 queries each
    assert found["ASU777"].occids == (portal.occ["other"],)
    assert found["ID-9000"].occids == (portal.occ["ident"],)
    assert found["DUP1"].status is A
    assert found["NOPE1"].status is U


def test_unknown_match_source_is_a_config_error(portal: Portal) -> None:
    with pytest.raises(ConfigError, match="match_on"):
        portal.db(match_on=["catalogNumbers"])

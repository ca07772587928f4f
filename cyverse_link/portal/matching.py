"""Catalog number → occurrence matching within one collection.

Levels, tried in this order for each catalog number (only the sources in ``match_on``):

1. ``catalogNumber`` exact, then with leading zeros ignored (both ways: file ``0001234`` finds
   ``1234`` and file ``1234`` finds ``0001234``);
2. ``otherCatalogNumbers``: the free text is split on ``;``, ``|`` and ``,``; a token (or the
   value part of a ``name: value`` token) must equal the number — ``ASU1`` never matches
   ``ASU12``; exact first, then ignoring leading zeros;
3. ``omoccuridentifiers.identifierValue``, exact then ignoring leading zeros.

The first level that finds anything decides: one occurrence → MATCHED, several → AMBIGUOUS.
Comparison is case-insensitive, like MariaDB's default collation. Queries are per batch: one
for ``catalogNumber`` and, only for the numbers it did not match, one more (a UNION) for the
fallback sources. Every value is a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cyverse_link.models import Match, MatchStatus
from cyverse_link.portal.schema import SymbiotaSchema

SOURCES = ("catalogNumber", "otherCatalogNumbers", "omoccuridentifiers")
MAX_PADDED_DIGITS = 12  # zero-padded variants of 1234 are tried up to 000000001234
_FIRST_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"[;|,]")
_LIKE_ESCAPE = "/"


def _normalize_catalog(value: str) -> str:
    """Strip the leading zeros of the first digit run: ``ASU0001234``→``ASU1234``,
    ``0001234``→``1234``, ``000``→``0``. (Private: ``cyverse_link.identifiers`` will own the
    public one.)"""
    m = _FIRST_DIGITS.search(value)
    if not m:
        return value
    digits = m.group().lstrip("0") or "0"
    return value[: m.start()] + digits + value[m.end() :]


def _key(value: str) -> str:
    return value.strip().casefold()


def _norm_key(value: str) -> str:
    return _normalize_catalog(value.strip()).casefold()


def catalog_variants(catalog: str, strip_leading_zeros: bool) -> list[str]:
    """Values to look up with ``IN``: the number itself and, when zeros are ignored, its
    stripped form and its zero-padded forms up to ``MAX_PADDED_DIGITS`` digits."""
    catalog = catalog.strip()
    out = [catalog]
    if not strip_leading_zeros:
        return out
    norm = _normalize_catalog(catalog)
    out.append(norm)
    m = _FIRST_DIGITS.search(norm)
    if m:
        digits = m.group()
        for width in range(len(digits) + 1, MAX_PADDED_DIGITS + 1):
            out.append(norm[: m.start()] + digits.zfill(width) + norm[m.end() :])
    return list(dict.fromkeys(v for v in out if len(v) <= 255))


def split_other_numbers(text: str | None) -> list[str]:
    """Tokens of an ``otherCatalogNumbers`` value; ``name: value`` tokens yield both forms."""
    if not text:
        return []
    out: list[str] = []
    for token in _SEPARATORS.split(text):
        token = token.strip()
        if not token:
            continue
        out.append(token)
        if ":" in token:
            value = token.rsplit(":", 1)[1].strip()
            if value:
                out.append(value)
    return out


def _like_pattern(catalog: str, strip_leading_zeros: bool) -> str:
    """A LIKE pattern that every token-equal value contains (precise filtering is in Python)."""

    def esc(s: str) -> str:
        for ch in (_LIKE_ESCAPE, "%", "_"):
            s = s.replace(ch, _LIKE_ESCAPE + ch)
        return s

    catalog = catalog.strip()
    if not strip_leading_zeros:
        return f"%{esc(catalog)}%"
    norm = _normalize_catalog(catalog)
    m = _FIRST_DIGITS.search(norm)
    if not m:
        return f"%{esc(norm)}%"
    return f"%{esc(norm[: m.start()])}%{esc(norm[m.start() :])}%"


@dataclass(frozen=True)
class Candidate:
    source: str  # one of SOURCES
    occid: int
    value: str | None
    tid: int | None


def resolve(
    catalog: str,
    candidates: Iterable[Candidate],
    match_on: Sequence[str],
    strip_leading_zeros: bool,
) -> Match:
    """Pure: the Match of one catalog number given the rows a batch query returned."""
    cands = list(candidates)
    exact, norm = _key(catalog), _norm_key(catalog)
    for source in SOURCES:
        if source not in match_on:
            continue
        modes = [False, True] if strip_leading_zeros else [False]
        for normalized in modes:
            want = norm if normalized else exact
            keyf = _norm_key if normalized else _key
            hits: dict[int, int | None] = {}
            for c in cands:
                if c.source != source or c.value is None:
                    continue
                values = split_other_numbers(c.value) if source == SOURCES[1] else [c.value]
                if any(keyf(v) == want for v in values):
                    hits.setdefault(c.occid, c.tid)
            if len(hits) == 1:
                (occid, tid), *_ = hits.items()
                return Match(catalog, MatchStatus.MATCHED, (occid,), tid)
            if hits:
                return Match(catalog, MatchStatus.AMBIGUOUS, tuple(sorted(hits)))
    return Match(catalog, MatchStatus.UNMATCHED)


def query_candidates(
    conn: sa.Connection,
    schema: SymbiotaSchema,
    collid: int,
    catalogs: Sequence[str],
    sources: Sequence[str],
    strip_leading_zeros: bool,
) -> list[Candidate]:
    """One query (a UNION ALL over ``sources``) for a batch of catalog numbers."""
    occ = schema.occurrences
    variants = sorted({v for c in catalogs for v in catalog_variants(c, strip_leading_zeros)})
    selects: list[sa.Select[Any]] = []
    in_coll = occ.col("collid") == collid
    if "catalogNumber" in sources:
        selects.append(
            sa.select(
                sa.literal("catalogNumber").label("source"),
                occ.col("occid").label("occid"),
                occ.col("catalogNumber").label("value"),
                occ.col("tidInterpreted").label("tid"),
            ).where(in_coll, occ.col("catalogNumber").in_(variants))
        )
    if "otherCatalogNumbers" in sources:
        other = occ.col("otherCatalogNumbers")
        patterns = sorted({_like_pattern(c, strip_leading_zeros) for c in catalogs})
        selects.append(
            sa.select(
                sa.literal("otherCatalogNumbers").label("source"),
                occ.col("occid").label("occid"),
                other.label("value"),
                occ.col("tidInterpreted").label("tid"),
            ).where(in_coll, sa.or_(*(other.like(p, escape=_LIKE_ESCAPE) for p in patterns)))
        )
    if "omoccuridentifiers" in sources and schema.identifiers is not None:
        ident = schema.identifiers
        selects.append(
            sa.select(
                sa.literal("omoccuridentifiers").label("source"),
                occ.col("occid").label("occid"),
                ident.col("identifierValue").label("value"),
                occ.col("tidInterpreted").label("tid"),
            )
            .select_from(ident.table.join(occ.table, ident.col("occid") == occ.col("occid")))
            .where(in_coll, ident.col("identifierValue").in_(variants))
        )
    if not selects:
        return []
    stmt = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    return [
        Candidate(str(r.source), int(r.occid), r.value, None if r.tid is None else int(r.tid))
        for r in conn.execute(stmt)
    ]


def match_batch(
    conn: sa.Connection,
    schema: SymbiotaSchema,
    collid: int,
    catalogs: Sequence[str],
    match_on: Sequence[str],
    strip_leading_zeros: bool,
) -> dict[str, Match]:
    """Match one batch: ``catalogNumber`` first, then the fallbacks for the rest only."""
    out: dict[str, Match] = {}
    todo = list(catalogs)
    first = [s for s in match_on if s == "catalogNumber"]
    fallbacks = [s for s in match_on if s != "catalogNumber"]
    for sources in (first, fallbacks):
        if not sources or not todo:
            continue
        cands = query_candidates(conn, schema, collid, todo, sources, strip_leading_zeros)
        left = []
        for catalog in todo:
            m = resolve(catalog, cands, sources, strip_leading_zeros)
            if m.status is MatchStatus.UNMATCHED:
                left.append(catalog)
            else:
                out[catalog] = m
        todo = left
    for catalog in todo:
        out[catalog] = Match(catalog, MatchStatus.UNMATCHED)
    return out

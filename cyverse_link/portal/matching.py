"""Catalog number → occurrence matching within one collection.

Levels, tried in this order for each catalog number (only the sources in ``match_on``):

1. ``catalogNumber`` exact, then with leading zeros ignored (both ways: file ``0001234`` finds
   ``1234`` and file ``1234`` finds ``0001234``);
2. ``otherCatalogNumbers``: Symbiota's "other catalog numbers" are the field OR
   ``omoccuridentifiers.identifierValue``, one level, as its own import does
   (classes/OccurrenceImport.php ``getOccurrencePK`` ~379: ``o.otherCatalogNumbers = v OR
   i.identifierValue = v``; the table is used where it exists). The free-text field is split
   on ``;``, ``|`` and ``,``; a token (or the value part of a ``name: value`` token) must equal
   the number — ``ASU1`` never matches ``ASU12``; exact first, then ignoring leading zeros;
3. ``omoccuridentifiers`` alone (``match_on`` without ``otherCatalogNumbers``), exact then
   ignoring leading zeros.

The first level that finds anything decides: one occurrence → MATCHED, several → AMBIGUOUS
(a number in one record's field and another record's identifiers is ambiguous).
Comparison is case-insensitive, like MariaDB's default collation. At most two queries per
batch (see ``match_batch``), never one per file; every value is a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from cyverse_link.core.identifiers import normalize_catalog
from cyverse_link.core.models import Match, MatchStatus
from cyverse_link.portal.schema import SymbiotaSchema

SOURCES = ("catalogNumber", "otherCatalogNumbers", "omoccuridentifiers")
MAX_PADDED_DIGITS = 12  # zero-padded variants of 1234 are tried up to 000000001234
_FIRST_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"[;|,]")
_LIKE_ESCAPE = "/"


def _key(value: str) -> str:
    return value.strip().casefold()


def _norm_key(value: str) -> str:
    return normalize_catalog(value.strip()).casefold()


def catalog_variants(catalog: str, strip_leading_zeros: bool, padded: bool = True) -> list[str]:
    """Values to look up with ``IN``: the number itself and, when zeros are ignored, its
    stripped form and (``padded``) its zero-padded forms up to ``MAX_PADDED_DIGITS`` digits."""
    catalog = catalog.strip()
    out = [catalog]
    if not strip_leading_zeros:
        return out
    norm = normalize_catalog(catalog)
    out.append(norm)
    m = _FIRST_DIGITS.search(norm) if padded else None
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
    norm = normalize_catalog(catalog)
    m = _FIRST_DIGITS.search(norm)
    if not m:
        return f"%{esc(norm)}%"
    return f"%{esc(norm[: m.start()])}%{esc(norm[m.start() :])}%"


class Candidate(NamedTuple):  # a NamedTuple: built once per returned row, so cheap matters
    source: str  # one of SOURCES
    occid: int
    value: str | None
    tid: int | None


Index = dict[tuple[str, bool], dict[str, dict[int, int | None]]]


def index_candidates(candidates: Iterable[Candidate], strip_leading_zeros: bool) -> Index:
    """(source, zeros ignored?) → comparison key → {occid: tid}, so that resolving a batch is
    linear in its size."""
    index: Index = {}
    modes = (False, True) if strip_leading_zeros else (False,)
    for c in candidates:
        if c.value is None:
            continue
        values = split_other_numbers(c.value) if c.source == SOURCES[1] else [c.value]
        for normalized in modes:
            keyf = _norm_key if normalized else _key
            bucket = index.setdefault((c.source, normalized), {})
            for v in values:
                bucket.setdefault(keyf(v), {}).setdefault(c.occid, c.tid)
    return index


def resolve_indexed(
    catalog: str, index: Index, match_on: Sequence[str], strip_leading_zeros: bool
) -> Match:
    modes = (False, True) if strip_leading_zeros else (False,)
    for source in SOURCES:
        if source not in match_on:
            continue
        # the other-numbers level also covers omoccuridentifiers (module docstring)
        covered = (source, SOURCES[2]) if source == SOURCES[1] else (source,)
        for normalized in modes:
            key = _norm_key(catalog) if normalized else _key(catalog)
            hits: dict[int, int | None] = {}
            for each in covered:
                hits.update(index.get((each, normalized), {}).get(key, {}))
            if not hits:
                continue
            if len(hits) == 1:
                (occid, tid), *_ = hits.items()
                return Match(catalog, MatchStatus.MATCHED, (occid,), tid)
            return Match(catalog, MatchStatus.AMBIGUOUS, tuple(sorted(hits)))
    return Match(catalog, MatchStatus.UNMATCHED)


def resolve(
    catalog: str,
    candidates: Iterable[Candidate],
    match_on: Sequence[str],
    strip_leading_zeros: bool,
) -> Match:
    """Pure: the Match of one catalog number given the rows a batch query returned."""
    index = index_candidates(candidates, strip_leading_zeros)
    return resolve_indexed(catalog, index, match_on, strip_leading_zeros)


def query_candidates(
    conn: sa.Connection,
    schema: SymbiotaSchema,
    collid: int,
    catalogs: Sequence[str],
    sources: Sequence[str],
    strip_leading_zeros: bool,
    padded: bool = True,
) -> list[Candidate]:
    """One query (a UNION ALL over ``sources``) for a batch of catalog numbers; ``padded=False``
    leaves the zero-padded variants out (a cheap first pass)."""
    occ = schema.occurrences
    variants = sorted(
        {v for c in catalogs for v in catalog_variants(c, strip_leading_zeros, padded)}
    )
    in_coll = occ.col("collid") == collid

    def candidates(source: str, value: Any) -> sa.Select[Any]:
        """(source, occid, value, tid) rows: the shape every source's SELECT shares."""
        return sa.select(
            sa.literal(source).label("source"),
            occ.col("occid").label("occid"),
            value.label("value"),
            occ.col("tidInterpreted").label("tid"),
        )

    selects: list[sa.Select[Any]] = []
    if "catalogNumber" in sources:
        catalog_number = occ.col("catalogNumber")
        selects.append(
            candidates("catalogNumber", catalog_number).where(in_coll, catalog_number.in_(variants))
        )
    if "otherCatalogNumbers" in sources:
        other = occ.col("otherCatalogNumbers")
        patterns = sorted({_like_pattern(c, strip_leading_zeros) for c in catalogs})
        selects.append(
            candidates("otherCatalogNumbers", other).where(
                in_coll, sa.or_(*(other.like(p, escape=_LIKE_ESCAPE) for p in patterns))
            )
        )
    wants_identifiers = "omoccuridentifiers" in sources or "otherCatalogNumbers" in sources
    if wants_identifiers and schema.identifiers is not None:
        ident = schema.identifiers
        value = ident.col("identifierValue")
        selects.append(
            candidates("omoccuridentifiers", value)
            .select_from(ident.table.join(occ.table, ident.col("occid") == occ.col("occid")))
            .where(in_coll, value.in_(variants))
        )
    if not selects:
        return []
    stmt = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    # the drivers already return ints for the unsigned int columns
    return [Candidate._make(r) for r in conn.execute(stmt)]


def match_batch(
    conn: sa.Connection,
    schema: SymbiotaSchema,
    collid: int,
    catalogs: Sequence[str],
    match_on: Sequence[str],
    strip_leading_zeros: bool,
) -> dict[str, Match]:
    """Match one batch in at most two queries.

    1. ``catalogNumber IN (number, number without zeros)``: settles every number that has an
       exact catalogNumber hit (the usual case, so usually the only query);
    2. for the rest, one UNION: zero-padded catalogNumber variants, otherCatalogNumbers and
       omoccuridentifiers (as enabled); each number is then resolved level by level."""
    out: dict[str, Match] = {}
    first: list[Candidate] = []
    todo = list(dict.fromkeys(catalogs))
    if "catalogNumber" in match_on:
        first = query_candidates(
            conn, schema, collid, todo, ["catalogNumber"], strip_leading_zeros, padded=False
        )
        index = index_candidates(first, False)
        left = []
        for catalog in todo:
            m = resolve_indexed(catalog, index, ["catalogNumber"], False)
            if m.status is MatchStatus.UNMATCHED:
                left.append(catalog)
            else:
                out[catalog] = m
        todo = left
    if todo and (strip_leading_zeros or any(s != "catalogNumber" for s in match_on)):
        second = query_candidates(conn, schema, collid, todo, match_on, strip_leading_zeros)
        index = index_candidates(first + second, strip_leading_zeros)
        for catalog in todo:
            out[catalog] = resolve_indexed(catalog, index, match_on, strip_leading_zeros)
    for catalog in todo:
        out.setdefault(catalog, Match(catalog, MatchStatus.UNMATCHED))
    return out

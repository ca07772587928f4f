"""Catalog number → occurrence matching through Symbiota's REST API (read-only, no token).

The same rules as db mode (``matching.py``): only the configured collection (``collid``);
levels tried in order, the first that finds anything decides (one occurrence → MATCHED,
several → AMBIGUOUS); within a level, the exact value first, then with leading zeros ignored.
The API's filters are exact ``where``s, so:

* **leading zeros**: each variant (``catalog_variants``: stripped and zero-padded up to
  ``MAX_PADDED_DIGITS`` digits) is asked for separately, then compared as db mode does;
* **other numbers**: only ``omoccuridentifiers`` can be searched (``additionalIdentifier=``).
  The API has no filter on the free-text ``omoccurrences.otherCatalogNumbers`` field and hides
  it from its answers (``Occurrence::$hidden``), so a number held only there is not found;
* **locality-protected records** (``recordSecurity`` ≠ 0) are never returned by the API, with
  or without a token: they come out UNMATCHED (``UNMATCHED_NOTE`` says so).

Two strategies, chosen per call by request count: one small query per number (and variant),
run with bounded concurrency; or, when the collection has fewer pages than there are numbers to
look up, one paged scan of the whole collection (300 records a page, each with its
identifiers), resolved locally with db mode's own index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import Match, MatchStatus
from cyverse_link.portal.api_client import MAX_OCCURRENCE_PAGE, SymbiotaApi
from cyverse_link.portal.base import MatchRules
from cyverse_link.portal.matching import (
    SOURCES,
    Candidate,
    catalog_variants,
    index_candidates,
    resolve_indexed,
)

log = logging.getLogger(__name__)

UNMATCHED_NOTE = (
    "not found through the Symbiota API; records with locality protection (recordSecurity) "
    "are invisible to the API, and numbers held only in the otherCatalogNumbers field cannot "
    "be searched there"
)
CATALOG = "catalogNumber"
IDENTIFIERS = "omoccuridentifiers"


def api_levels(match_on: Sequence[str]) -> list[str]:
    """The sources the API can search, in db mode's level order. ``otherCatalogNumbers``
    stands for Symbiota's other-numbers rule (the field OR ``omoccuridentifiers``); only its
    ``omoccuridentifiers`` half is searchable."""
    unknown = [s for s in match_on if s not in SOURCES]
    if unknown or not match_on:
        raise ConfigError(
            f"identifiers.match_on: unknown source(s) {unknown or '(empty)'}; "
            f"use some of {', '.join(SOURCES)}"
        )
    levels = []
    if CATALOG in match_on:
        levels.append(CATALOG)
    if SOURCES[1] in match_on or IDENTIFIERS in match_on:
        levels.append(IDENTIFIERS)
    return levels


def candidates_of(row: dict[str, Any], levels: Sequence[str]) -> list[Candidate]:
    """The ``Candidate`` rows (as db mode's query returns them) of one API occurrence."""
    occid = int(row["occid"])
    tid = row.get("tidInterpreted")
    tid = int(tid) if tid is not None else None
    out: list[Candidate] = []
    if CATALOG in levels and row.get(CATALOG) is not None:
        out.append(Candidate(CATALOG, occid, str(row[CATALOG]), tid))
    if IDENTIFIERS in levels:
        for ident in row.get("identifier") or ():
            if isinstance(ident, dict) and ident.get("identifierValue") is not None:
                out.append(Candidate(IDENTIFIERS, occid, str(ident["identifierValue"]), tid))
    return out


class ApiMatcher:
    """Read-only matching through the API; usable without a token."""

    def __init__(
        self,
        api: SymbiotaApi,
        rules: MatchRules,
        *,
        concurrency: int = 4,
        strategy: str = "auto",
    ) -> None:
        if strategy not in ("auto", "query", "scan"):
            raise ValueError(f"strategy must be auto, query or scan, not {strategy!r}")
        self.strategy = strategy
        self.api = api
        self.rules = rules
        self.collid = int(rules.collid)
        self.levels = api_levels(rules.match_on)
        self.strip_leading_zeros = rules.strip_leading_zeros
        self.concurrency = max(1, concurrency)
        if SOURCES[1] in rules.match_on:
            log.info(
                "api mode: other numbers are searched in omoccuridentifiers only; the API "
                "cannot search the otherCatalogNumbers field"
            )

    # -- strategies --------------------------------------------------------------------------

    def _query(self, level: str, value: str) -> list[Candidate]:
        key = CATALOG if level == CATALOG else "additionalIdentifier"
        rows = self.api.occurrences({"collid": self.collid, key: value})
        return [c for r in rows for c in candidates_of(r, [level]) if c.source == level]

    def _match_one(self, catalog: str) -> Match:
        """Level by level, exact then zero variants, asking only what is still needed."""
        for level in self.levels:
            found = self._query(level, catalog)
            m = resolve_indexed(catalog, index_candidates(found, False), [level], False)
            if m.status is not MatchStatus.UNMATCHED:
                return m
            if not self.strip_leading_zeros:
                continue
            for variant in catalog_variants(catalog, True)[1:]:
                if variant.casefold() == catalog.strip().casefold():
                    continue
                found += self._query(level, variant)
            m = resolve_indexed(catalog, index_candidates(found, True), [level], True)
            if m.status is not MatchStatus.UNMATCHED:
                return m
        return Match(catalog, MatchStatus.UNMATCHED)

    def _scan(self, first: list[dict[str, Any]], count: int) -> list[Candidate]:
        """Every record of the collection (``first`` is page 0), as candidates."""
        rows = list(first)
        offsets = range(len(first), count, MAX_OCCURRENCE_PAGE)

        def page(offset: int) -> list[dict[str, Any]]:
            return self.api.occurrence_page({"collid": self.collid}, offset=offset)[1]

        with ThreadPoolExecutor(self.concurrency) as pool:
            for part in pool.map(page, offsets):
                rows.extend(part)
        return [c for r in rows for c in candidates_of(r, self.levels)]

    # -- entry point -------------------------------------------------------------------------

    def match(self, catalogs: Iterable[str]) -> dict[str, Match]:
        """Every distinct catalog number → its ``Match`` (see the module doc)."""
        todo = list(dict.fromkeys(catalogs))
        if not todo:
            return {}
        count, first = self.api.occurrence_page({"collid": self.collid})
        pages = -(-count // MAX_OCCURRENCE_PAGE)
        scan = pages <= len(todo) * len(self.levels)
        if self.strategy == "scan" or (self.strategy == "auto" and scan):
            candidates = self._scan(first, count)
            index = index_candidates(candidates, self.strip_leading_zeros)
            return {
                c: resolve_indexed(c, index, self._sources(), self.strip_leading_zeros)
                for c in todo
            }
        with ThreadPoolExecutor(self.concurrency) as pool:
            return dict(zip(todo, pool.map(self._match_one, todo), strict=True))

    def _sources(self) -> list[str]:
        return list(self.levels)

    def close(self) -> None:
        self.api.close()

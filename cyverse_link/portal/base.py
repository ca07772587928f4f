"""The ``Portal`` protocol: where links end up (a Symbiota database or an import CSV)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cyverse_link.core.models import Match, MediaLink

DEFAULT_SORT_OCCURRENCE = 5  # the media column's default in Symbiota

# The media row's fields the tool writes on insert and on update (and compares to decide
# "unchanged"), and those it writes on insert only. db mode writes them all (writer.py); api
# mode all that its API takes (api_rows.py).
MEDIA_FIELDS = (
    "url",
    "thumbnailUrl",
    "originalUrl",
    "archiveUrl",
    "format",
    "mediaType",
    "hashFunction",
    "hashValue",
    "mediaMD5",
    "occid",
    "tid",
    "sortOccurrence",
)
MEDIA_INSERT_ONLY = ("sourceIdentifier", "recordID", "imageType", "owner")


def sort_occurrence_value(sort: int | None) -> int:
    """The ``sortOccurrence`` every route writes: the suffix's rank, else Symbiota's default."""
    return DEFAULT_SORT_OCCURRENCE if sort is None else sort


@dataclass(frozen=True)
class MatchRules:
    """Which occurrence records an image may link to, and how catalog numbers are compared:
    records of collection ``collid`` only, looked up in the ``match_on`` sources (in order),
    with leading zeros ignored when ``strip_leading_zeros`` (identifiers.*)."""

    collid: int
    match_on: tuple[str, ...] = ("catalogNumber", "otherCatalogNumbers")
    strip_leading_zeros: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "match_on", tuple(self.match_on))  # a list from the config


@dataclass(frozen=True)
class SchemaInfo:
    version: str | None  # schemaversion.versionnumber, None for CSV or when absent
    table: str  # "media", "images" or "csv"


@dataclass
class WriteResult:
    """Per source identifier: ``occid`` written, or the error that stopped it."""

    written: dict[str, int] = field(default_factory=dict)  # sourceIdentifier → occid
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skeletal_created: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # sourceIdentifier → message
    # CSV mode: written, but a row for the earlier content stays in the portal (the import
    # only inserts); sourceIdentifier → what the manager should do
    superseded: dict[str, str] = field(default_factory=dict)
    # sourceIdentifier → what the report should say about a written link: a row the tool did
    # not write already links it, or fields a curator changed were kept (curator_rules.py)
    notes: dict[str, str] = field(default_factory=dict)
    path: Path | None = None  # CSV mode: the file written (None for a database)


class Portal(Protocol):
    def schema(self) -> SchemaInfo:
        """Detected schema. Raises ServiceUnavailable, PortalError."""
        ...

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        """Look catalog numbers up within the configured collection, in batches (one query
        per batch, never per file). Every input gets a ``Match``."""
        ...

    def write(
        self, links: Sequence[tuple[MediaLink, Match]], *, dry_run: bool = False
    ) -> WriteResult:
        """Insert or update (by sourceIdentifier) one row per link; batched, transactional
        per batch; a failing batch is rolled back and reported per link."""
        ...

    def close(self) -> None: ...

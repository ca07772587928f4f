"""Small frozen value types shared by every layer. No third-party imports here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Stage(enum.IntEnum):
    """How far a file got through the pipeline; ordered, so ``stage >= Stage.UPLOADED`` works."""

    DISCOVERED = 0
    IDENTIFIED = 1
    DERIVED = 2
    UPLOADED = 3  # verified: catalog checksum == local MD5
    PUBLISHED = 4
    REGISTERED = 5  # web URLs known (dav-anon built or BisQue registered)
    MAPPED = 6  # Symbiota row written / CSV row emitted


class Status(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Problem(enum.StrEnum):
    """Why a local file cannot (or should not as-is) go through the pipeline."""

    EMPTY = "empty"
    CORRUPT = "corrupt"
    NOT_IMAGE = "not_image"
    WRONG_EXTENSION = "wrong_extension"
    TOO_LARGE = "too_large"  # a flag, not fatal: needs a web derivative
    NO_CATALOG_NUMBER = "no_catalog_number"
    UNREADABLE = "unreadable"  # permission denied, I/O error
    BAD_NAME = "bad_name"  # a control character in the path: iRODS could not give it back


FATAL_PROBLEMS = frozenset(
    {
        Problem.EMPTY,
        Problem.CORRUPT,
        Problem.NOT_IMAGE,
        Problem.NO_CATALOG_NUMBER,
        Problem.UNREADABLE,
        Problem.BAD_NAME,
    }
)


class MatchStatus(enum.StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    AMBIGUOUS = "ambiguous"
    # CSV mode without read access to the portal: the row goes to the import file, and the
    # portal's import decides (exact catalogNumber, every match); nothing was looked up.
    NOT_CHECKED = "not_checked"


class UrlProvider(enum.StrEnum):
    DAVANON = "davanon"
    BISQUE = "bisque"


class PortalMode(enum.StrEnum):
    DB = "db"
    CSV = "csv"
    API = "api"  # Symbiota's REST API v2 (no database account needed)


@dataclass(frozen=True)
class Identifier:
    """A catalog number parsed from a file name; ``suffix`` orders images of one specimen."""

    catalog: str
    suffix: str | None = None


@dataclass(frozen=True)
class LocalFile:
    """One file found in the drop folder."""

    rel_path: str  # POSIX, relative to source.path
    size: int
    mtime_ns: int
    md5: str | None = None  # None when not (re-)hashed because the ledger says unchanged
    mime: str | None = None  # sniffed from content, e.g. "image/jpeg"
    problems: tuple[Problem, ...] = ()
    detail: str | None = None  # human-readable reason for problems

    @property
    def fatal(self) -> bool:
        return any(p in FATAL_PROBLEMS for p in self.problems)


@dataclass(frozen=True)
class RemoteObject:
    """One data object in the data store (replicas folded into one)."""

    path: str
    size: int
    checksum: str | None  # CyVerse: bare MD5 hex; None while not yet computed
    modified: datetime | None = None


@dataclass(frozen=True)
class MediaUrls:
    """The web addresses of one image and its renditions."""

    url: str  # web ("medium") JPEG
    thumbnail_url: str | None = None
    original_url: str | None = None  # large JPEG / original
    archive_url: str | None = None  # non-JPEG master (TIFF, PNG, DNG)
    format: str = "image/jpeg"
    # MD5 of the file at original_url, when known: what Symbiota's hashValue/mediaMD5 describe
    # (its own loader hashes the file at originalUrl, ImageLocalProcessor.php ~650). For a
    # TIFF/PNG master that is the large JPEG; the master's own MD5 stays in AVUs and ledger.
    original_md5: str | None = None


@dataclass(frozen=True)
class Written:
    """What the tool last wrote for a file's media row (from the ledger): compared with the
    row to tell a curator's change from the tool's own (portal/curator_rules.py)."""

    urls: MediaUrls
    sort_occurrence: int | None
    occid: int | None


@dataclass(frozen=True)
class MediaLink:
    """What to write into Symbiota for one image."""

    catalog: str
    source_identifier: str  # "irods:<full iRODS path>"
    urls: MediaUrls
    md5: str | None  # of the file at urls.original_url (hashValue, mediaMD5); None: unknown
    suffix: str | None = None
    sort_occurrence: int | None = None
    file_name: str | None = None
    # Changed content goes to a new iRODS path (new URLs, since aggregators cache by URL);
    # the row written for the old path is then updated in place instead of duplicated.
    previous_source_identifier: str | None = None
    written: Written | None = None  # the tool's last write for this file; None: not on record


@dataclass(frozen=True)
class Match:
    """The outcome of looking one catalog number up in a collection."""

    catalog: str
    status: MatchStatus
    occids: tuple[int, ...] = ()
    tid: int | None = None

    @property
    def occid(self) -> int | None:
        # CSV mode: MATCHED without occids (the portal's import tool does the matching)
        return self.occids[0] if self.status is MatchStatus.MATCHED and self.occids else None


@dataclass
class Counts:
    """The run report's counters (SPEC §4); names are part of the contract."""

    discovered: int = 0
    unchanged: int = 0
    uploaded: int = 0
    published: int = 0
    registered: int = 0
    mapped: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)

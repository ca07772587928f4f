"""``CsvPortal``: a media CSV for Symbiota's Extended Data Import (SPEC §4, mode csv).

The manager uploads ``<code>_media_<stamp>.csv`` at Collection → Import/Update → Extended
Data Import, type "Media Field Map" (``collections/admin/importextended.php``, class
``OccurrenceImport``); every column name is one the page maps by itself. What that import
does, read in classes/OccurrenceImport.php (3.4.14) and relied on here:

* it finds the occurrence with ``o.occid = v OR o.recordID = v``, or ``catalogNumber = v``
  *exactly*, ORs every identifier column it is given (``getOccurrencePK`` ~364) and links the
  row to *every* occurrence found (loop ~136);
* it skips a media field in column 0 (``$record_idx && …`` ~144), so column 0 is ``occid``;
* it always INSERTs (``Media::insert``): nothing is ever updated.

So, with read access (``reader``: the portal's read-only API), matching is done here with db
mode's rules and a row carries only its ``occid`` (``catalogNumber`` left empty, so the import
cannot widen the match); unmatched and ambiguous images get no row and go to
``<code>_unmatched_<stamp>.csv``. Without read access each row carries its ``catalogNumber``
and its match is ``NOT_CHECKED``: the import matches exactly and links every match.
A changed image gets a new row (the import cannot update) and a line in
``<code>_superseded_<stamp>.csv`` naming the old row to remove. The three files share one
stamp per ``CsvPortal`` (one run); values follow ``csvformat``'s rules. A dry run writes none.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cyverse_link.core.errors import PortalError
from cyverse_link.core.models import Match, MatchStatus, MediaLink
from cyverse_link.portal.api_matching import UNMATCHED_NOTE, ApiMatcher
from cyverse_link.portal.base import SchemaInfo, WriteResult, sort_occurrence_value
from cyverse_link.portal.csvformat import (
    Unrepresentable,
    is_formula,
    php_csv_line,
    spreadsheet_safe,
)

# Column names as OccurrenceImport::setTargetFieldArr (~439) lists them; the page lower-cases
# the header and preselects the field of the same name.
COLUMNS = (
    "occid",
    "catalogNumber",
    "originalUrl",
    "url",
    "thumbnailUrl",
    "archiveUrl",
    "sourceIdentifier",
    "format",
    "hashFunction",
    "hashValue",
    "mediaMD5",
    "sortOccurrence",
    "owner",
)
UNMATCHED_COLUMNS = ("file", "catalogNumber", "status", "occids", "sourceIdentifier", "reason")
SUPERSEDED_COLUMNS = (
    "occid",
    "catalogNumber",
    "file",
    "oldSourceIdentifier",
    "oldOriginalUrl",
    "oldUrl",
    "oldThumbnailUrl",
    "newSourceIdentifier",
    "newOriginalUrl",
    "newUrl",
    "newThumbnailUrl",
)
UNMATCHED_BUFFER = 500


class PortalReader(Protocol):
    """Read-only access to the portal (its REST API without a token)."""

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]: ...

    def collection_name(self) -> str: ...

    def close(self) -> None: ...


class ApiReader:
    """``PortalReader`` through the portal's REST API, without a token: db mode's matching
    rules (``ApiMatcher``) and the collection's name (``GET /collection/{collid}``)."""

    def __init__(self, matcher: ApiMatcher) -> None:
        self.matcher = matcher

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        return self.matcher.match(catalogs)

    def collection_name(self) -> str:
        api = self.matcher.api
        url = f"{api.api_url}/collection/{self.matcher.collid}"
        found = api._json(api.request("GET", url), f"GET {url}")
        name = found.get("collectionName") if isinstance(found, dict) else None
        if not isinstance(name, str):
            raise PortalError(
                f"collection {self.matcher.collid} is not in the portal at {api.api_url}; "
                "check collection.collid"
            )
        return name

    def close(self) -> None:
        self.matcher.close()


def _safe_code(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", code).strip("_") or "collection"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _new_path(csv_dir: Path, code: str, kind: str, stamp: str) -> Path:
    base = f"{_safe_code(code)}_{kind}_{stamp}"
    path = csv_dir / f"{base}.csv"
    n = 1
    while path.exists():  # two runs within one second
        n += 1
        path = csv_dir / f"{base}_{n}.csv"
    return path


def csv_row(link: MediaLink, match: Match, owner: str) -> dict[str, str]:
    """One import row, the values db mode writes; ``originalUrl`` (required by the import)
    falls back to ``url``. With an occid the catalogNumber stays empty (see module doc)."""
    u = link.urls
    sort = sort_occurrence_value(link.sort_occurrence)
    occid = match.occid
    return {
        "occid": "" if occid is None else str(occid),
        "catalogNumber": link.catalog if occid is None else "",
        "originalUrl": u.original_url or u.url,
        "url": u.url,
        "thumbnailUrl": u.thumbnail_url or "",
        "archiveUrl": u.archive_url or "",
        "sourceIdentifier": link.source_identifier,
        "format": u.format,
        "hashFunction": "MD5" if link.md5 else "",
        "hashValue": link.md5 or "",
        "mediaMD5": link.md5 or "",
        "sortOccurrence": str(sort),
        "owner": owner,
    }


def import_line(row: dict[str, str]) -> str:
    """The row as the import must read it; raises ``Unrepresentable`` for a value that a
    spreadsheet would run as a formula (escaping it would change what the portal stores or
    matches) or that PHP's reader cannot read back."""
    for name in COLUMNS:
        if is_formula(row[name]):
            raise Unrepresentable(
                f"{name} {row[name][:60]!r} starts with {row[name][:1]!r}: a spreadsheet "
                "would run it as a formula"
            )
    return php_csv_line(row[name] for name in COLUMNS)


class _SideFile:
    """A CSV for people and spreadsheets (RFC 4180, every value formula-safe), created on
    first use and appended to."""

    def __init__(
        self, csv_dir: Path, *, code: str, kind: str, stamp: str, columns: Sequence[str]
    ) -> None:
        self.csv_dir, self.code, self.kind, self.stamp = csv_dir, code, kind, stamp
        self.columns = tuple(columns)
        self.path: Path | None = None

    def append(self, rows: Sequence[Sequence[str]]) -> None:
        if not rows:
            return
        try:
            self.csv_dir.mkdir(parents=True, exist_ok=True)
            new = self.path is None
            if self.path is None:
                self.path = _new_path(self.csv_dir, self.code, self.kind, self.stamp)
            with self.path.open("a", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                if new:
                    writer.writerow(self.columns)
                writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
        except OSError as exc:
            raise PortalError(
                f"cannot write the {self.kind} CSV in {self.csv_dir}: {exc.strerror}; "
                "check symbiota.csv_dir"
            ) from exc


class CsvPortal:
    """Write links to new import CSVs per run (see the module doc)."""

    def __init__(
        self, csv_dir: Path, *, collid: int, code: str, reader: PortalReader | None = None
    ) -> None:
        self.csv_dir = Path(csv_dir)
        self.collid = collid
        self.code = code
        self.reader = reader
        self.stamp = _stamp()
        self.path: Path | None = None  # the import file, set by the first non-dry write
        self._owner: str | None = None
        self.unmatched = _SideFile(
            self.csv_dir, code=code, kind="unmatched", stamp=self.stamp, columns=UNMATCHED_COLUMNS
        )
        self.superseded = _SideFile(
            self.csv_dir,
            code=code,
            kind="superseded",
            stamp=self.stamp,
            columns=SUPERSEDED_COLUMNS,
        )
        self._unmatched_rows: list[tuple[str, ...]] = []

    @property
    def checked(self) -> bool:
        """Matches are looked up (read access), not left to the import."""
        return self.reader is not None

    def schema(self) -> SchemaInfo:
        return SchemaInfo(version=None, table="csv")

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        """Through the reader (db mode's rules) when there is one, else NOT_CHECKED."""
        if self.reader is not None:
            return self.reader.match(catalogs)
        return {c: Match(c, MatchStatus.NOT_CHECKED) for c in dict.fromkeys(catalogs)}

    def owner(self) -> str:
        """``owner`` as db mode writes it (the collection's name), when the portal can be read;
        empty where a spreadsheet would take it for a formula."""
        if self._owner is None:
            name = self.reader.collection_name() if self.reader is not None else ""
            self._owner = "" if is_formula(name) else name
        return self._owner

    def write(
        self, links: Sequence[tuple[MediaLink, Match]], *, dry_run: bool = False
    ) -> WriteResult:
        """Append one row per MATCHED (with occid) or NOT_CHECKED link; others are errors."""
        result = WriteResult()
        lines: list[str] = []
        superseded: list[tuple[str, ...]] = []
        owner = self.owner() if links else ""
        for link, match in links:
            sid = link.source_identifier
            ok = (match.status is MatchStatus.MATCHED and match.occid is not None) or (
                match.status is MatchStatus.NOT_CHECKED
            )
            if not ok:
                result.errors[sid] = f"{sid}: catalog number {link.catalog!r} is {match.status}"
                continue
            try:
                lines.append(import_line(csv_row(link, match, owner)))
            except Unrepresentable as exc:
                hint = "" if self.checked else " or set symbiota.portal_url (rows carry occids)"
                result.errors[sid] = f"not in the import CSV: {exc}; link it by hand{hint}"
                continue
            result.written[sid] = match.occid or 0
            result.inserted += 1
            old = link.previous_source_identifier
            if old and old != sid:
                superseded.append(self._superseded_row(link, match))
                result.superseded[sid] = (
                    "changed image: the import adds a new row and cannot update the old one "
                    f"({old}); remove that row in the portal (listed in the superseded CSV)"
                )
        if dry_run:
            result.path = self.path
            return result
        if lines:
            self._append_import(lines)
        self.superseded.append(superseded)
        result.path = self.path
        return result

    def _superseded_row(self, link: MediaLink, match: Match) -> tuple[str, ...]:
        # the row the import inserted for the old path carries what the tool last wrote
        old, new = (link.written.urls if link.written else None), link.urls
        return (
            "" if match.occid is None else str(match.occid),
            link.catalog,
            link.file_name or "",
            link.previous_source_identifier or "",
            (old.original_url or old.url) if old else "",
            old.url if old else "",
            (old.thumbnail_url or "") if old else "",
            link.source_identifier,
            new.original_url or new.url,
            new.url,
            new.thumbnail_url or "",
        )

    def _append_import(self, lines: list[str]) -> None:
        try:
            self.csv_dir.mkdir(parents=True, exist_ok=True)
            new = self.path is None
            if self.path is None:
                self.path = _new_path(self.csv_dir, self.code, "media", self.stamp)
            with self.path.open("a", newline="", encoding="utf-8") as fh:
                if new:
                    fh.write(php_csv_line(COLUMNS))
                fh.writelines(lines)
        except OSError as exc:
            raise PortalError(
                f"cannot write the mapping CSV in {self.csv_dir}: {exc.strerror}; "
                "check symbiota.csv_dir"
            ) from exc

    def record_unmapped(
        self,
        file: str,
        catalog: str,
        status: MatchStatus,
        occids: Sequence[int],
        source_id: str,
        reason: str = "",
    ) -> None:
        """An image that gets no row (unmatched or ambiguous): a line in the unmatched CSV."""
        if status is MatchStatus.UNMATCHED and self.checked:
            reason = f"{reason}; {UNMATCHED_NOTE}" if reason else UNMATCHED_NOTE
        ids = " ".join(map(str, occids))
        self._unmatched_rows.append((file, catalog, str(status), ids, source_id, reason))
        if len(self._unmatched_rows) >= UNMATCHED_BUFFER:
            self.flush()

    def flush(self) -> None:
        rows, self._unmatched_rows = self._unmatched_rows, []
        self.unmatched.append(rows)

    def output_files(self) -> dict[str, Path]:
        """kind (media, unmatched, superseded) → file written so far by this run."""
        self.flush()
        paths = {"media": self.path, "unmatched": self.unmatched.path}
        paths["superseded"] = self.superseded.path
        return {k: p for k, p in paths.items() if p is not None}

    def output_lines(self) -> list[str]:
        """One line per file written, saying what it is for."""
        what = {
            "media": "import file (Extended Data Import, Media Field Map)",
            "unmatched": "images not linked (unmatched or ambiguous)",
            "superseded": "rows to remove in the portal (changed images)",
        }
        return [f"{what[kind]}: {path}" for kind, path in self.output_files().items()]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self.reader is not None:
                self.reader.close()

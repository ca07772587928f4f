"""``CsvPortal``: a Symbiota URL-mapping CSV for the portal's import tool (SPEC §4, mode csv).

There is no database here, so ``match()`` cannot know occids: every catalog number comes back
``MATCHED`` with no occids, meaning "handed to the portal", whose import tool does the matching
(Extended Data Import links every occurrence with that catalogNumber). ``write()`` appends one
row per image to a file created on first use, ``<code>_media_<UTC timestamp>.csv`` in
``csv_dir``, one file per ``CsvPortal`` (that is, per run); ``WriteResult.path`` names it and
``written`` maps each sourceIdentifier to occid 0 (unknown). A dry run writes nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cyverse_link.errors import PortalError
from cyverse_link.models import Match, MatchStatus, MediaLink
from cyverse_link.portal.base import SchemaInfo, WriteResult

COLUMNS = (
    "catalogNumber",
    "originalUrl",
    "url",
    "thumbnailUrl",
    "archiveUrl",
    "sourceIdentifier",
    "format",
    "hashFunction",
    "hashValue",
)
UNMATCHED_COLUMNS = ("file", "catalogNumber", "status", "occids", "sourceIdentifier")


def _safe_code(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", code).strip("_") or "collection"


def _new_path(csv_dir: Path, code: str, kind: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{_safe_code(code)}_{kind}_{stamp}"
    path = csv_dir / f"{base}.csv"
    n = 1
    while path.exists():  # two runs within one second
        n += 1
        path = csv_dir / f"{base}_{n}.csv"
    return path


def csv_row(link: MediaLink) -> dict[str, str]:
    """One CSV row; ``originalUrl`` (required by the import tool) falls back to ``url``."""
    u = link.urls
    return {
        "catalogNumber": link.catalog,
        "originalUrl": u.original_url or u.url,
        "url": u.url,
        "thumbnailUrl": u.thumbnail_url or "",
        "archiveUrl": u.archive_url or "",
        "sourceIdentifier": link.source_identifier,
        "format": u.format,
        "hashFunction": "MD5",
        "hashValue": link.md5 or "",
    }


class CsvPortal:
    """Write links to a new URL-mapping CSV per run."""

    def __init__(self, csv_dir: Path, collid: int, code: str) -> None:
        self.csv_dir = Path(csv_dir)
        self.collid = collid
        self.code = code
        self.path: Path | None = None  # set by the first non-dry write

    def schema(self) -> SchemaInfo:
        return SchemaInfo(version=None, table="csv")

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        """MATCHED with no occids for every catalog number: the portal's import matches."""
        return {c: Match(c, MatchStatus.MATCHED) for c in dict.fromkeys(catalogs)}

    def write(
        self, links: Sequence[tuple[MediaLink, Match]], *, dry_run: bool = False
    ) -> WriteResult:
        """Append one row per link whose match is not AMBIGUOUS/UNMATCHED (those are errors)."""
        result = WriteResult()
        rows: list[dict[str, str]] = []
        for link, match in links:
            sid = link.source_identifier
            if match.status is not MatchStatus.MATCHED:
                result.errors[sid] = f"{sid}: catalog number {link.catalog!r} is {match.status}"
                continue
            rows.append(csv_row(link))
            result.written[sid] = 0
            result.inserted += 1
        if dry_run or not rows:
            result.path = self.path
            return result
        try:
            self.csv_dir.mkdir(parents=True, exist_ok=True)
            new = self.path is None
            if self.path is None:
                self.path = _new_path(self.csv_dir, self.code, "media")
            with self.path.open("a", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerows(rows)
        except OSError as exc:
            raise PortalError(
                f"cannot write the mapping CSV in {self.csv_dir}: {exc.strerror}; "
                "check symbiota.csv_dir"
            ) from exc
        result.path = self.path
        return result

    def close(self) -> None:
        pass


def write_unmatched_csv(
    csv_dir: Path, code: str, items: Iterable[tuple[str, MediaLink | str, Match]]
) -> Path | None:
    """A companion CSV of the files that were not mapped: ``(file, link or catalog, match)``
    for each; only UNMATCHED/AMBIGUOUS entries are written. Returns the path, None if none."""
    rows = []
    for file, link, match in items:
        if match.status is MatchStatus.MATCHED:
            continue
        catalog = link.catalog if isinstance(link, MediaLink) else link
        sid = link.source_identifier if isinstance(link, MediaLink) else ""
        occids = " ".join(map(str, match.occids))
        values = (file, catalog, str(match.status), occids, sid)
        rows.append(dict(zip(UNMATCHED_COLUMNS, values, strict=True)))
    if not rows:
        return None
    csv_dir.mkdir(parents=True, exist_ok=True)
    path = _new_path(csv_dir, code, "unmatched")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=UNMATCHED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path

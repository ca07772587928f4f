"""Detect a Symbiota database's media schema: ``media`` (3.2+) or ``images`` (3.0–3.1.x).

Tables are reflected, so extra columns are tolerated and column names are looked up
case-insensitively (MySQL column names are; databases upgraded from 1.x differ in case and
order). A missing required column is a ``PortalError`` that names it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cyverse_link.core.errors import PortalError
from cyverse_link.portal.base import SchemaInfo

log = logging.getLogger(__name__)

MEDIA_TABLE_SINCE = (3, 2)

# Logical name → column, for every flavour; the id and creator columns differ (see below).
_MEDIA_REQUIRED = (
    "tid",
    "occid",
    "url",
    "thumbnailUrl",
    "originalUrl",
    "archiveUrl",
    "format",
    "sourceIdentifier",
    "hashFunction",
    "hashValue",
    "recordID",
    "sortOccurrence",
)
_MEDIA_OPTIONAL = ("mediaMD5", "imageType", "owner", "mediaType")
_OCC_REQUIRED = ("occid", "collid", "catalogNumber", "tidInterpreted")
SKELETAL_COLUMNS = ("processingStatus", "dateEntered", "recordID", "recordEnteredBy")


def parse_version(value: str | None) -> tuple[int, ...] | None:
    """``"3.2.1"`` → ``(3, 2, 1)``; ``"3.1.8-beta"`` → ``(3, 1, 8)``; None when unparsable."""
    if not value:
        return None
    parts: list[int] = []
    for piece in value.strip().split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
    return tuple(parts) or None


@dataclass(frozen=True)
class BoundTable:
    """A reflected table plus a case-insensitive view of its columns."""

    table: sa.Table
    cols: dict[str, sa.Column[Any]]  # lower-case logical name → column

    def col(self, name: str) -> sa.Column[Any]:
        return self.cols[name.lower()]

    def has(self, name: str) -> bool:
        return name.lower() in self.cols

    def length(self, name: str) -> int | None:
        """VARCHAR limit of a column, None when unlimited or absent."""
        return self.lengths.get(name.lower())

    @property
    def lengths(self) -> dict[str, int]:
        return _lengths(self.table)


@dataclass(frozen=True)
class SymbiotaSchema:
    info: SchemaInfo
    media: BoundTable
    media_id: str  # "mediaID" or "imgid"
    occurrences: BoundTable
    identifiers: BoundTable | None
    collection_name: str


@functools.cache
def _lengths(table: sa.Table) -> dict[str, int]:
    out = {}
    for c in table.columns:
        length = getattr(c.type, "length", None)
        if isinstance(length, int):
            out[c.name.lower()] = length
    return out


def _bind(table: sa.Table, required: Iterable[str], url_text: str) -> BoundTable:
    cols = {c.name.lower(): c for c in table.columns}
    missing = [name for name in required if name.lower() not in cols]
    if missing:
        raise PortalError(
            f"Symbiota table {table.name!r} at {url_text} lacks column(s) "
            f"{', '.join(missing)}; is the portal's schema fully patched? "
            "Run its pending schema patches, then try again."
        )
    return BoundTable(table, cols)  # type: ignore[arg-type]


def _read_version(conn: sa.Connection, md: sa.MetaData, tables: set[str]) -> str | None:
    if "schemaversion" not in tables:
        return None
    t = sa.Table("schemaversion", md, autoload_with=conn)
    cols = {c.name.lower(): c for c in t.columns}
    if "versionnumber" not in cols:
        return None
    order = [cols["dateapplied"].desc()] if "dateapplied" in cols else []
    if "id" in cols:
        order.append(cols["id"].desc())
    value = conn.execute(sa.select(cols["versionnumber"]).order_by(*order).limit(1)).scalar()
    return None if value is None else str(value)


def detect_schema(
    conn: sa.Connection,
    collid: int,
    *,
    url_text: str,
    need_other: bool,
    need_identifiers: bool,
    need_skeletal: bool,
) -> SymbiotaSchema:
    """Reflect what the pipeline needs; raises ``PortalError`` with what to do next."""
    inspector = sa.inspect(conn)
    tables = {name.lower(): name for name in inspector.get_table_names()}
    md = sa.MetaData()
    version = _read_version(conn, md, set(tables))
    parsed = parse_version(version)
    by_version = None if parsed is None else "media" if parsed >= MEDIA_TABLE_SINCE else "images"
    present = [name for name in ("media", "images") if name in tables]
    if not present:
        raise PortalError(
            f"no 'media' or 'images' table in the database at {url_text}: "
            "is symbiota.db_url pointing at the portal's database?"
        )
    if by_version in present:
        table_name = by_version
    else:  # no usable version, or it disagrees with the tables: trust the tables
        table_name = present[0]
        if by_version is not None:
            log.warning(
                "schemaversion %s suggests table %r, but only %r exists; using %r",
                version,
                by_version,
                table_name,
                table_name,
            )
    media_id = "mediaID" if table_name == "media" else "imgid"
    media_type = ("mediaType",) if table_name == "media" else ()
    media_required = (media_id, *_MEDIA_REQUIRED, *media_type)
    media = _bind(sa.Table(tables[table_name], md, autoload_with=conn), media_required, url_text)
    if "omoccurrences" not in tables:
        raise PortalError(f"no 'omoccurrences' table in the database at {url_text}")
    occ_required = (
        _OCC_REQUIRED
        + (("otherCatalogNumbers",) if need_other else ())
        + (SKELETAL_COLUMNS if need_skeletal else ())
    )
    occurrences = _bind(
        sa.Table(tables["omoccurrences"], md, autoload_with=conn), occ_required, url_text
    )
    identifiers = None
    # otherCatalogNumbers covers omoccuridentifiers where the table exists (matching.py)
    if need_identifiers or (need_other and "omoccuridentifiers" in tables):
        if "omoccuridentifiers" not in tables:
            raise PortalError(
                f"identifiers.match_on lists omoccuridentifiers, but the database at {url_text} "
                "has no such table (Symbiota < 3.0?); remove it from match_on"
            )
        identifiers = _bind(
            sa.Table(tables["omoccuridentifiers"], md, autoload_with=conn),
            ("occid", "identifierValue"),
            url_text,
        )
    if "omcollections" not in tables:
        raise PortalError(f"no 'omcollections' table in the database at {url_text}")
    coll = _bind(
        sa.Table(tables["omcollections"], md, autoload_with=conn),
        ("collID", "collectionName"),
        url_text,
    )
    name = conn.execute(
        sa.select(coll.col("collectionName")).where(coll.col("collID") == collid)
    ).scalar()
    if name is None:
        raise PortalError(
            f"collection {collid} does not exist in the database at {url_text}; "
            "check collection.collid (the portal shows it as collid= in collection URLs)"
        )
    return SymbiotaSchema(
        info=SchemaInfo(version=version, table=table_name),
        media=media,
        media_id=media_id,
        occurrences=occurrences,
        identifiers=identifiers,
        collection_name=str(name),
    )

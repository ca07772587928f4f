"""Find and rewrite existing media rows in place (``relink``): SQL only, bound parameters.

``rows_pointing_at`` pages through the collection's media rows whose URL columns contain one of
the given hosts (keyset paging on the media id, so memory stays flat over millions of rows);
``update_rows`` applies one batch of per-row changes with ``executemany`` UPDATEs keyed by the
media id (``mediaID`` or ``imgid``), never an INSERT or a DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cyverse_link.core.models import MediaUrls
from cyverse_link.portal.schema import SymbiotaSchema

URL_COLUMNS = ("url", "thumbnailUrl", "originalUrl", "archiveUrl")
# What relink may change; anything else in the row (ids, occid, creator, notes...) is kept.
REWRITE_COLUMNS = (
    *URL_COLUMNS,
    "format",
    "mediaType",
    "sourceIdentifier",
    "hashFunction",
    "hashValue",
    "mediaMD5",
)


@dataclass(frozen=True)
class MediaRow:
    """One existing media row with what relink needs to resolve it."""

    media_id: int
    occid: int | None
    catalog: str | None  # omoccurrences.catalogNumber of its occurrence
    urls: MediaUrls  # as stored (``url`` may be NULL in Symbiota; "" here then)
    source_identifier: str | None
    format: str | None

    def url_values(self) -> tuple[str | None, ...]:
        u = self.urls
        return (u.url or None, u.thumbnail_url, u.original_url, u.archive_url)


def rows_pointing_at(
    conn: sa.Connection,
    schema: SymbiotaSchema,
    collid: int,
    hosts: Sequence[str],
    *,
    after_id: int,
    limit: int,
) -> list[MediaRow]:
    """The next ``limit`` rows (by media id > ``after_id``) of collection ``collid`` whose
    ``url``/``thumbnailUrl``/``originalUrl``/``archiveUrl`` contain ``//<host>/`` or
    ``//<host>:`` for a host in ``hosts`` (case-insensitive on MariaDB and SQLite)."""
    m, occ = schema.media, schema.occurrences
    mid = m.col(schema.media_id)
    patterns = [f"%//{h.lower()}{end}%" for h in hosts for end in ("/", ":")]
    any_host = sa.or_(*[sa.func.lower(m.col(c)).like(p) for c in URL_COLUMNS for p in patterns])
    stmt = (
        sa.select(
            mid.label("_id"),
            m.col("occid").label("_occid"),
            occ.col("catalogNumber").label("_catalog"),
            *[m.col(c).label(c) for c in URL_COLUMNS],
            m.col("sourceIdentifier").label("_sid"),
            m.col("format").label("_format"),
        )
        .select_from(m.table.join(occ.table, m.col("occid") == occ.col("occid")))
        .where(occ.col("collid") == collid, mid > after_id, any_host)
        .order_by(mid)
        .limit(limit)
    )
    return [
        MediaRow(
            media_id=int(r._id),
            occid=None if r._occid is None else int(r._occid),
            catalog=r._catalog,
            urls=MediaUrls(
                url=r.url or "",
                thumbnail_url=r.thumbnailUrl,
                original_url=r.originalUrl,
                archive_url=r.archiveUrl,
                format=r._format or "",
            ),
            source_identifier=r._sid,
            format=r._format,
        )
        for r in conn.execute(stmt)
    ]


def rows_with_source_identifiers(
    conn: sa.Connection, schema: SymbiotaSchema, collid: int, sids: Sequence[str]
) -> dict[str, int]:
    """sourceIdentifier → the media id already carrying it in the collection (exact match)."""
    if not sids:
        return {}
    m, occ = schema.media, schema.occurrences
    stmt = (
        sa.select(m.col(schema.media_id), m.col("sourceIdentifier"))
        .select_from(m.table.join(occ.table, m.col("occid") == occ.col("occid")))
        .where(occ.col("collid") == collid, m.col("sourceIdentifier").in_(sorted(set(sids))))
        .order_by(m.col(schema.media_id))
    )
    wanted = set(sids)
    out: dict[str, int] = {}
    for media_id, sid in conn.execute(stmt):
        if sid in wanted:
            out.setdefault(str(sid), int(media_id))
    return out


def update_rows(
    conn: sa.Connection, schema: SymbiotaSchema, changes: Sequence[tuple[int, dict[str, Any]]]
) -> int:
    """Apply ``(media id, {logical column: value})`` changes inside the caller's transaction:
    one ``executemany`` UPDATE per distinct column set. Columns the table lacks (``mediaType``
    and ``mediaMD5`` in old schemas) are dropped. Returns the number of rows changed."""
    m = schema.media
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for media_id, values in changes:
        kept = {k: v for k, v in values.items() if k in REWRITE_COLUMNS and m.has(k)}
        if not kept:
            continue
        names = tuple(sorted(kept))
        groups.setdefault(names, []).append(
            {"_id": media_id, **{f"v_{k}": v for k, v in kept.items()}}
        )
    done = 0
    for names, params in groups.items():
        stmt = (
            sa.update(m.table)
            .where(m.col(schema.media_id) == sa.bindparam("_id"))
            .values({m.col(k).name: sa.bindparam(f"v_{k}") for k in names})
        )
        conn.execute(stmt, params)
        done += len(params)
    return done

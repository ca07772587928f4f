"""Write media rows for one batch of links (SPEC §4), idempotent on ``sourceIdentifier``.

Once per write (``look_up``): the existing rows of the links (by sourceIdentifier, and by URL
for rows the tool did not write) and whether their occurrences still belong to the
collection; rows the tool did not write and fields a curator changed follow
``curator_rules.py``. Then each batch runs in one transaction on a connection the
caller opened: skeletal occurrences if asked (one lookup, one bulk insert, one read-back),
then one bulk INSERT and one bulk UPDATE. Unchanged rows are not rewritten.
In a dry run only the SELECTs run. Values are bound parameters throughout.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cyverse_link.core.errors import AmbiguousMatch, NoMatchingRecord, ValueTooLong
from cyverse_link.core.identifiers import normalize_catalog
from cyverse_link.core.models import Match, MatchStatus, MediaLink
from cyverse_link.portal import curator_rules
from cyverse_link.portal.base import (
    MEDIA_FIELDS,
    MEDIA_INSERT_ONLY,
    WriteResult,
    sort_occurrence_value,
)
from cyverse_link.portal.matching import catalog_variants
from cyverse_link.portal.schema import BoundTable, SymbiotaSchema

SKELETAL_STATUS = "unprocessed"
ENTERED_BY = "cyverse_link"
UPDATE_COLUMNS = MEDIA_FIELDS  # written on insert and on update; compared for "unchanged"
INSERT_ONLY_COLUMNS = MEDIA_INSERT_ONLY
VARIABLE_COLUMNS = (
    "url",
    "thumbnailUrl",
    "originalUrl",
    "archiveUrl",
    "format",
    "hashValue",
    "mediaMD5",
    "sourceIdentifier",
)


@dataclass(frozen=True)
class Job:
    """One link, already validated, with the occid it goes to (None: skeletal to create)."""

    link: MediaLink
    match: Match
    values: dict[str, object]  # logical column → value, without occid/tid/recordID

    @property
    def sid(self) -> str:
        return self.link.source_identifier


@dataclass
class Context:
    schema: SymbiotaSchema
    collid: int
    create_skeletal: bool
    strip_leading_zeros: bool = True  # skeletal records: one per number as matching sees it
    # catalogs whose skeletal record a dry run would create (counted once per write call)
    planned_skeletal: set[str] = field(default_factory=set)
    # computed once: logical → actual name of the media columns we write, and VARCHAR limits
    names: dict[str, str] = field(init=False)
    limits: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        m = self.schema.media
        wanted = (*UPDATE_COLUMNS, *INSERT_ONLY_COLUMNS)
        self.names = {k: m.col(k).name for k in wanted if m.has(k)}
        # constants (mediaType, hashFunction, imageType, owner) fit or fail alike: checked
        # once here through the same path, per link only what varies
        self.limits = {k: n for k in VARIABLE_COLUMNS if (n := m.length(k)) is not None}
        constants = {"mediaType": "image", "hashFunction": "MD5", "imageType": "specimen"}
        constants["owner"] = self.schema.collection_name
        check_lengths(m, {k: v for k, v in constants.items() if k in self.names}, "media")


def media_values(ctx: Context, link: MediaLink) -> dict[str, object]:
    """The media columns of one link (only those the table has), by logical name."""
    u = link.urls
    values: dict[str, object] = {
        "url": u.url,
        "thumbnailUrl": u.thumbnail_url,
        "originalUrl": u.original_url,
        "archiveUrl": u.archive_url,
        "format": u.format,
        "mediaType": "image",
        "hashFunction": "MD5" if link.md5 else None,
        "hashValue": link.md5,
        "mediaMD5": link.md5,
        "sortOccurrence": sort_occurrence_value(link.sort_occurrence),
        "sourceIdentifier": link.source_identifier,
        "imageType": "specimen",
        "owner": ctx.schema.collection_name,
    }
    return {k: v for k, v in values.items() if k in ctx.names}


def check_lengths(
    table: BoundTable, values: dict[str, object], what: str, limits: dict[str, int] | None = None
) -> None:
    """Raise ``ValueTooLong`` before writing: strict MariaDB would reject it, SQLite would
    store it, and neither should be silently truncated."""
    if limits is None:
        limits = {k: n for k in values if (n := table.length(k)) is not None}
    for name, limit in limits.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise ValueTooLong(
                f"{what}: {name} is {len(value)} characters but {table.table.name}.{name} "
                f"holds {limit} ({value[:60]}…); shorten the file or folder names"
            )


def prepare(ctx: Context, link: MediaLink, match: Match) -> Job:
    """Validate one link; raises PortalError subclasses with a per-link message."""
    what = link.file_name or link.source_identifier
    if match.status is MatchStatus.AMBIGUOUS:
        raise AmbiguousMatch(
            f"{what}: catalog number {link.catalog!r} matches occurrences "
            f"{', '.join(map(str, match.occids))}; not mapped (fix the duplicates in the portal)"
        )
    if match.status is MatchStatus.UNMATCHED:
        if not ctx.create_skeletal:
            raise NoMatchingRecord(
                f"{what}: no occurrence with catalog number {link.catalog!r} in collection "
                f"{ctx.collid}; not mapped (set symbiota.create_skeletal: true to create "
                "skeletal records)"
            )
        check_lengths(ctx.schema.occurrences, {"catalogNumber": link.catalog}, what)
    elif not match.occids:
        raise NoMatchingRecord(f"{what}: the match for {link.catalog!r} carries no occid")
    values = media_values(ctx, link)
    check_lengths(ctx.schema.media, values, what, ctx.limits)
    return Job(link, match, values)


def existing_rows(conn: sa.Connection, ctx: Context, sids: Sequence[str]) -> dict[str, Any]:
    """sourceIdentifier → the collection's oldest media row carrying it, for a whole write.

    ``sourceIdentifier`` has no index in Symbiota, so any lookup by it scans; this does it
    once per ``write()`` instead of once per batch: one streamed query over the collection's
    rows whose value starts with the links' common prefix (typically the iRODS collection),
    keeping only the rows asked for (memory grows with the links, not the table). Matching is
    exact and case-sensitive: MariaDB's collation is not, iRODS paths are."""
    if not sids:
        return {}
    m, occ = ctx.schema.media, ctx.schema.occurrences
    cols = [m.col(ctx.schema.media_id).label("_id"), m.col("sourceIdentifier").label("_sid")]
    cols += [m.col(n).label(n) for n in UPDATE_COLUMNS if m.has(n)]
    stmt = (
        sa.select(*cols)
        .select_from(m.table.join(occ.table, m.col("occid") == occ.col("occid")))
        .where(occ.col("collid") == ctx.collid)
        .order_by(m.col(ctx.schema.media_id))
    )
    prefix = os.path.commonprefix(list(sids))  # noqa: RUF071 (character-wise on purpose)
    if prefix:
        escaped = "".join("/" + ch if ch in "/%_" else ch for ch in prefix)
        stmt = stmt.where(m.col("sourceIdentifier").like(escaped + "%", escape="/"))
    wanted = set(sids)
    out: dict[str, Any] = {}
    for row in conn.execute(stmt.execution_options(yield_per=5000)):
        if row._sid in wanted:
            out.setdefault(str(row._sid), row)
    return out


def occurrences_in_collection(
    conn: sa.Connection, ctx: Context, occids: set[int], chunk: int = 5000
) -> set[int]:
    """The given occids that (still) belong to the collection; a Match from another
    collection or for a deleted record must not be written."""
    occ = ctx.schema.occurrences
    ids = sorted(occids)
    found: set[int] = set()
    for i in range(0, len(ids), chunk):
        stmt = sa.select(occ.col("occid")).where(
            occ.col("collid") == ctx.collid, occ.col("occid").in_(ids[i : i + chunk])
        )
        found.update(int(v) for v in conn.execute(stmt).scalars())
    return found


def rows_by_url(conn: sa.Connection, ctx: Context, urls: set[str]) -> dict[str, Any]:
    """URL → the collection's oldest media row not written by the tool (no ``irods:``
    sourceIdentifier) whose url, originalUrl or thumbnailUrl holds it (rule 2 of
    curator_rules.py). One streamed query per write, like ``existing_rows``: rows whose URLs
    start with the links' common prefix (a few bound values however many links), filtered
    here; memory grows with the matching rows, not the table."""
    if not urls:
        return {}
    m, occ = ctx.schema.media, ctx.schema.occurrences
    fields = [n for n in ("url", "originalUrl", "thumbnailUrl") if m.has(n)]
    cols = [m.col(ctx.schema.media_id).label("_id"), m.col("sourceIdentifier").label("_sid")]
    cols += [m.col(n).label(n) for n in (*fields, "occid")]
    sid = m.col("sourceIdentifier")
    stmt = (
        sa.select(*cols)
        .select_from(m.table.join(occ.table, m.col("occid") == occ.col("occid")))
        .where(
            occ.col("collid") == ctx.collid,
            sa.or_(sid.is_(None), sa.not_(sid.like("irods:%"))),
        )
        .order_by(m.col(ctx.schema.media_id))
    )
    prefix = os.path.commonprefix(sorted(urls))  # noqa: RUF071 (character-wise on purpose)
    if prefix:
        escaped = "".join("/" + ch if ch in "/%_" else ch for ch in prefix)
        stmt = stmt.where(sa.or_(*(m.col(n).like(escaped + "%", escape="/") for n in fields)))
    out: dict[str, Any] = {}
    for row in conn.execute(stmt.execution_options(yield_per=5000)):
        for u in curator_rules.row_urls(row._mapping):
            if u in urls:
                out.setdefault(u, row)
    return out


@dataclass(frozen=True)
class Known:
    """What one write looked up before its batches: existing rows and valid occids."""

    existing: dict[str, Any]  # sourceIdentifier → row (see existing_rows)
    present: set[int]  # matched occids that are in the collection
    by_url: dict[str, Any] = field(default_factory=dict)  # URL → a row pointing at it


def look_up(conn: sa.Connection, ctx: Context, jobs: Sequence[Job], verified: set[int]) -> Known:
    """``verified``: occids this portal's own ``match()`` just found in the collection; only
    the others (Matches built elsewhere) are checked here. A record deleted in between still
    fails its foreign key, and the per-link retry reports it."""
    matched = {j.match.occids[0] for j in jobs if j.match.status is MatchStatus.MATCHED}
    # Changed content: the row written for the old iRODS path is found (and moved) by it.
    previous = [p for j in jobs if (p := j.link.previous_source_identifier) and p != j.sid]
    existing = existing_rows(conn, ctx, [j.sid for j in jobs] + previous)
    unknown = [
        j.link
        for j in jobs
        if j.sid not in existing and j.link.previous_source_identifier not in existing
    ]
    urls = {u for lk in unknown for u in curator_rules.url_keys(lk.urls)}
    return Known(
        existing,
        (matched & verified) | occurrences_in_collection(conn, ctx, matched - verified),
        rows_by_url(conn, ctx, urls),
    )


def written_values(link: MediaLink) -> dict[str, object] | None:
    """What the tool last wrote for this link's row, by logical column (curated fields)."""
    w = link.written
    if w is None:
        return None
    return {
        "url": w.urls.url,
        "thumbnailUrl": w.urls.thumbnail_url,
        "originalUrl": w.urls.original_url,
        "archiveUrl": w.urls.archive_url,
        "format": w.urls.format,
        "sortOccurrence": sort_occurrence_value(w.sort_occurrence),
        "occid": w.occid,
    }


def skeletal_key(catalog: str, strip_leading_zeros: bool) -> str:
    """The number a skeletal record stands for, as matching compares it: case folded and,
    with ``strip_leading_zeros``, without the zeros of its first digit run. ``ASU0000099``,
    ``asu0000099`` and ``ASU99`` are one number, so they get one record (issue 13.5)."""
    value = normalize_catalog(catalog) if strip_leading_zeros else catalog.strip()
    return value.casefold()


def _skeletal_occids(
    conn: sa.Connection, ctx: Context, catalogs: set[str], dry_run: bool, result: WriteResult
) -> dict[str, int]:
    """catalog → occid of its (existing or new) skeletal record, one record per normalised
    number (``skeletal_key``). A record found now under any spelling of the number (created
    by an earlier batch or run) is reused, so records are never duplicated; a new one takes
    the first spelling in sorted order (``ASU0000099`` before ``ASU99`` and ``asu0000099``)."""
    if not catalogs:
        return {}
    occ = ctx.schema.occurrences
    strip = ctx.strip_leading_zeros
    groups: dict[str, list[str]] = {}
    for c in sorted(catalogs):
        groups.setdefault(skeletal_key(c, strip), []).append(c)
    variants = sorted({v for c in catalogs for v in catalog_variants(c, strip)})
    by_key: dict[str, int] = {}
    stmt = (
        sa.select(occ.col("occid"), occ.col("catalogNumber"))
        .where(occ.col("collid") == ctx.collid, occ.col("catalogNumber").in_(variants))
        .order_by(occ.col("occid"))
    )
    for occid, value in conn.execute(stmt):
        if value is not None and (key := skeletal_key(str(value), strip)) in groups:
            by_key.setdefault(key, int(occid))
    new_keys = sorted(set(groups) - set(by_key))
    found = {c: by_key[k] for k, members in groups.items() if k in by_key for c in members}
    if dry_run:
        result.skeletal_created += len(set(new_keys) - ctx.planned_skeletal)
        ctx.planned_skeletal.update(new_keys)
        return found
    new = [groups[k][0] for k in new_keys]
    if new:
        now = datetime.now().replace(microsecond=0)
        rows = {c: str(uuid.uuid4()) for c in new}
        conn.execute(
            occ.table.insert(),
            [
                {
                    occ.col("collid").name: ctx.collid,
                    occ.col("catalogNumber").name: c,
                    occ.col("processingStatus").name: SKELETAL_STATUS,
                    occ.col("dateEntered").name: now,
                    occ.col("recordID").name: rid,
                    occ.col("recordEnteredBy").name: ENTERED_BY,
                }
                for c, rid in rows.items()
            ],
        )
        back = sa.select(occ.col("occid"), occ.col("recordID")).where(
            occ.col("collid") == ctx.collid,
            occ.col("catalogNumber").in_(new),
            occ.col("recordID").in_(list(rows.values())),
        )
        by_rid = {str(rid): int(occid) for occid, rid in conn.execute(back)}
        for c, rid in rows.items():
            for member in groups[skeletal_key(c, strip)]:
                found[member] = by_rid[rid]
        result.skeletal_created += len(new)
    return found


def write_batch(
    conn: sa.Connection,
    ctx: Context,
    jobs: Sequence[Job],
    known: Known,
    dry_run: bool,
) -> WriteResult:
    """Plan and (unless ``dry_run``) apply one batch inside the caller's transaction.
    Database errors propagate so that the caller rolls the batch back."""
    result = WriteResult()
    m = ctx.schema.media
    skeletal = _skeletal_occids(
        conn,
        ctx,
        {j.link.catalog for j in jobs if j.match.status is MatchStatus.UNMATCHED},
        dry_run,
        result,
    )
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    names = ctx.names
    for job in jobs:
        if job.match.status is MatchStatus.MATCHED:
            occid: int | None = job.match.occids[0]
            tid = job.match.tid
            if occid not in known.present:
                result.errors[job.sid] = (
                    f"occurrence {occid} (catalog number {job.link.catalog!r}) is not in "
                    f"collection {ctx.collid} any more; run again to re-match"
                )
                continue
        else:
            occid, tid = skeletal.get(job.link.catalog), None
        values = dict(job.values, occid=occid, tid=tid)
        row = known.existing.get(job.sid)
        moved = False  # changed content: the row of the old iRODS path is updated in place
        prev = job.link.previous_source_identifier
        if row is None and prev and prev != job.sid:
            row = known.existing.get(prev)
            moved = row is not None
        what = job.link.file_name or job.sid
        if row is None:
            keys = sorted(curator_rules.url_keys(job.link.urls))
            other = next((known.by_url[u] for u in keys if u in known.by_url), None)
            if other is not None:  # a row the tool did not write links this file already
                result.unchanged += 1
                result.notes[job.sid] = curator_rules.note_existing(what, other._id, other.occid)
                result.written[job.sid] = int(other.occid)
                continue
            if "recordID" in ctx.names:
                values["recordID"] = str(uuid.uuid4())
            inserts.append({names[k]: v for k, v in values.items()})
            result.inserted += 1
        else:
            new = {k: values[k] for k in UPDATE_COLUMNS if k in values}
            if not moved and all(getattr(row, k) == v for k, v in new.items()):
                result.unchanged += 1  # the usual re-run: nothing to compare further
                result.written[job.sid] = occid or 0
                continue
            # changed content whose last write is not on record: the previous path's row is
            # the tool's (the ledger named that path), so it moves with the file
            written = written_values(job.link) or (dict(row._mapping) if moved else None)
            changes, kept = curator_rules.plan_update(row._mapping, new, written)
            if kept:
                result.notes[job.sid] = curator_rules.note_kept(what, row._id, kept)
                if "occid" in kept:
                    occid = int(row.occid)
            if not moved and not changes:
                result.unchanged += 1
            else:
                changes["sourceIdentifier"] = job.sid
                updates.append({"_id": row._id, **{f"v_{k}": v for k, v in changes.items()}})
                result.updated += 1
        result.written[job.sid] = occid or 0
    if dry_run:
        return result
    if inserts:
        conn.execute(m.table.insert(), inserts)
    # rows differ in the fields they change (kept fields are left out): one UPDATE per shape
    shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for u in updates:
        shape = tuple(k for k in (*UPDATE_COLUMNS, "sourceIdentifier") if f"v_{k}" in u)
        shapes.setdefault(shape, []).append(u)
    for shape, rows in shapes.items():
        stmt = (
            sa.update(m.table)
            .where(m.col(ctx.schema.media_id) == sa.bindparam("_id"))
            .values({names[k]: sa.bindparam(f"v_{k}") for k in shape})
        )
        conn.execute(stmt, rows)
    return result

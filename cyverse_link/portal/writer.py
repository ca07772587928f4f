"""Write media rows for one batch of links (SPEC §4), idempotent on ``sourceIdentifier``.

A batch runs in one transaction on a connection the caller opened: look the batch's existing
rows up (one query), check its occurrences still belong to the collection (one query), create
skeletal occurrences if asked (one lookup, one bulk insert, one read-back), then one bulk
INSERT and one bulk UPDATE. Unchanged rows are not rewritten. In a dry run only the SELECTs
run. Values are bound parameters throughout.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cyverse_link.errors import ValueTooLong
from cyverse_link.models import Match, MatchStatus, MediaLink
from cyverse_link.portal.base import WriteResult
from cyverse_link.portal.schema import BoundTable, SymbiotaSchema

SKELETAL_STATUS = "unprocessed"
ENTERED_BY = "cyverse_link"
DEFAULT_SORT_OCCURRENCE = 5  # the column's default in Symbiota
# Written on insert and on update; compared to decide "unchanged".
UPDATE_COLUMNS = (
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
INSERT_ONLY_COLUMNS = ("sourceIdentifier", "recordID", "imageType", "owner")


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
    # catalogs whose skeletal record a dry run would create (counted once per write call)
    planned_skeletal: set[str] = field(default_factory=set)


def media_values(schema: SymbiotaSchema, link: MediaLink) -> dict[str, object]:
    """The media columns of one link (only those the table has)."""
    u = link.urls
    values: dict[str, object] = {
        "url": u.url,
        "thumbnailUrl": u.thumbnail_url,
        "originalUrl": u.original_url,
        "archiveUrl": u.archive_url,
        "format": u.format,
        "mediaType": "image",
        "hashFunction": "MD5",
        "hashValue": link.md5,
        "mediaMD5": link.md5,
        "sortOccurrence": (
            DEFAULT_SORT_OCCURRENCE if link.sort_occurrence is None else link.sort_occurrence
        ),
        "sourceIdentifier": link.source_identifier,
        "imageType": "specimen",
        "owner": schema.collection_name,
    }
    return {k: v for k, v in values.items() if schema.media.has(k)}


def check_lengths(table: BoundTable, values: dict[str, object], what: str) -> None:
    """Raise ``ValueTooLong`` before writing: strict MariaDB would reject it, SQLite would
    store it, and neither should be silently truncated."""
    for name, value in values.items():
        limit = table.length(name)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise ValueTooLong(
                f"{what}: {name} is {len(value)} characters but {table.table.name}.{name} "
                f"holds {limit} ({value[:60]}…); shorten the file or folder names"
            )


def prepare(ctx: Context, link: MediaLink, match: Match) -> Job:
    """Validate one link; raises PortalError subclasses with a per-link message."""
    from cyverse_link.errors import AmbiguousMatch, NoMatchingRecord

    what = f"{link.file_name or link.source_identifier}"
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
    values = media_values(ctx.schema, link)
    check_lengths(ctx.schema.media, values, what)
    return Job(link, match, values)


def _existing_rows(
    conn: sa.Connection, ctx: Context, sids: Sequence[str]
) -> dict[str, sa.Row[Any]]:
    """sourceIdentifier → the collection's oldest media row carrying it (exact, case-sensitive:
    MariaDB's collation is not, iRODS paths are)."""
    m, occ = ctx.schema.media, ctx.schema.occurrences
    cols = [m.col(ctx.schema.media_id).label("_id"), m.col("sourceIdentifier").label("_sid")]
    cols += [m.col(n).label(n) for n in UPDATE_COLUMNS if m.has(n)]
    stmt = (
        sa.select(*cols)
        .select_from(m.table.join(occ.table, m.col("occid") == occ.col("occid")))
        .where(occ.col("collid") == ctx.collid, m.col("sourceIdentifier").in_(sids))
        .order_by(m.col(ctx.schema.media_id))
    )
    wanted = set(sids)
    out: dict[str, sa.Row[Any]] = {}
    for row in conn.execute(stmt):
        if row._sid in wanted:
            out.setdefault(str(row._sid), row)
    return out


def _occurrences_in_collection(conn: sa.Connection, ctx: Context, occids: set[int]) -> set[int]:
    if not occids:
        return set()
    occ = ctx.schema.occurrences
    stmt = sa.select(occ.col("occid")).where(
        occ.col("collid") == ctx.collid, occ.col("occid").in_(sorted(occids))
    )
    return {int(v) for v in conn.execute(stmt).scalars()}


def _skeletal_occids(
    conn: sa.Connection, ctx: Context, catalogs: set[str], dry_run: bool, result: WriteResult
) -> dict[str, int]:
    """catalog → occid of its (existing or new) skeletal record. An exact catalogNumber found
    now (created by an earlier batch or run) is reused, so records are never duplicated."""
    if not catalogs:
        return {}
    occ = ctx.schema.occurrences
    found: dict[str, int] = {}
    stmt = sa.select(occ.col("occid"), occ.col("catalogNumber")).where(
        occ.col("collid") == ctx.collid, occ.col("catalogNumber").in_(sorted(catalogs))
    )
    for occid, value in conn.execute(stmt):
        if value in catalogs:
            found.setdefault(str(value), int(occid))
    new = sorted(catalogs - set(found))
    if dry_run:
        result.skeletal_created += len(set(new) - ctx.planned_skeletal)
        ctx.planned_skeletal.update(new)
        return found
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
            found[c] = by_rid[rid]
        result.skeletal_created += len(new)
    return found


def write_batch(
    conn: sa.Connection, ctx: Context, jobs: Sequence[Job], dry_run: bool
) -> WriteResult:
    """Plan and (unless ``dry_run``) apply one batch inside the caller's transaction.
    Database errors propagate so that the caller rolls the batch back."""
    result = WriteResult()
    m = ctx.schema.media
    matched = {j.match.occids[0] for j in jobs if j.match.status is MatchStatus.MATCHED}
    present = _occurrences_in_collection(conn, ctx, matched)
    skeletal = _skeletal_occids(
        conn,
        ctx,
        {j.link.catalog for j in jobs if j.match.status is MatchStatus.UNMATCHED},
        dry_run,
        result,
    )
    previous = [p for j in jobs if (p := j.link.previous_source_identifier) and p != j.sid]
    existing = _existing_rows(conn, ctx, [j.sid for j in jobs] + previous)
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for job in jobs:
        if job.match.status is MatchStatus.MATCHED:
            occid: int | None = job.match.occids[0]
            tid = job.match.tid
            if occid not in present:
                result.errors[job.sid] = (
                    f"occurrence {occid} (catalog number {job.link.catalog!r}) is not in "
                    f"collection {ctx.collid} any more; run again to re-match"
                )
                continue
        else:
            occid, tid = skeletal.get(job.link.catalog), None
        values = dict(job.values, occid=occid, tid=tid)
        row = existing.get(job.sid)
        moved = False  # changed content: the row of the old iRODS path is updated in place
        prev = job.link.previous_source_identifier
        if row is None and prev and prev != job.sid:
            row = existing.get(prev)
            moved = row is not None
        if row is None:
            if m.has("recordID"):
                values["recordID"] = str(uuid.uuid4())
            inserts.append({m.col(k).name: v for k, v in values.items()})
            result.inserted += 1
        else:
            new = {k: values[k] for k in UPDATE_COLUMNS if k in values}
            if not moved and all(getattr(row, k) == v for k, v in new.items()):
                result.unchanged += 1
            else:
                new["sourceIdentifier"] = job.sid
                updates.append({"_id": row._id, **{f"v_{k}": v for k, v in new.items()}})
                result.updated += 1
        result.written[job.sid] = occid or 0
    if dry_run:
        return result
    if inserts:
        conn.execute(m.table.insert(), inserts)
    if updates:
        names = [k for k in (*UPDATE_COLUMNS, "sourceIdentifier") if f"v_{k}" in updates[0]]
        stmt = (
            sa.update(m.table)
            .where(m.col(ctx.schema.media_id) == sa.bindparam("_id"))
            .values({m.col(k).name: sa.bindparam(f"v_{k}") for k in names})
        )
        conn.execute(stmt, updates)
    return result

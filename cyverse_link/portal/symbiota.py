"""``SymbiotaDb``: the ``Portal`` that writes straight into a Symbiota database (SPEC §4).

Schema detection lives in ``schema.py``, matching in ``matching.py``, the batch writer in
``writer.py``. This module owns the engine, transactions and the batch-failure policy:

* every batch of ``batch_size`` links is one transaction;
* if the database rejects something in it, the batch is rolled back and its links are retried
  one by one, each in its own transaction, so one bad row does not fail its neighbours; a link
  that still fails gets its message in ``WriteResult.errors``;
* a lost connection is not retried per link: it raises ``ServiceUnavailable``.

The password is injected into the URL object and never rendered: the engine does not echo, and
messages use ``url.render_as_string(hide_password=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import ArgumentError, DBAPIError

from cyverse_link.core.errors import (
    AuthenticationFailed,
    ConfigError,
    PortalError,
    ServiceUnavailable,
)
from cyverse_link.core.models import Match, MediaLink
from cyverse_link.portal.base import MatchRules, SchemaInfo, WriteResult
from cyverse_link.portal.grants import missing_privileges
from cyverse_link.portal.matching import SOURCES, match_batch
from cyverse_link.portal.rewrite import (
    MediaRow,
    rows_pointing_at,
    rows_with_source_identifiers,
    update_rows,
)
from cyverse_link.portal.schema import SymbiotaSchema, detect_schema
from cyverse_link.portal.writer import (
    Context,
    Job,
    Known,
    check_lengths,
    look_up,
    prepare,
    write_batch,
)

log = logging.getLogger(__name__)

_ACCESS_DENIED = {1044, 1045, 1698}  # MySQL/MariaDB: no access to db / bad password


def _db_message(exc: BaseException) -> str:
    """The driver's message without SQL or parameters (both may be long; neither secret)."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {orig}".splitlines()[0][:300]


def _enable_sqlite_fks(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class SymbiotaDb:
    """Match and write media rows in one collection of a Symbiota database."""

    def __init__(
        self,
        db_url: str,
        password: str | None,
        *,
        rules: MatchRules,
        create_skeletal: bool = False,
        batch_size: int = 500,
    ) -> None:
        match_on = rules.match_on
        unknown = [s for s in match_on if s not in SOURCES]
        if unknown or not match_on:
            raise ConfigError(
                f"identifiers.match_on: unknown source(s) {unknown or '(empty)'}; "
                f"use some of {', '.join(SOURCES)}"
            )
        if batch_size < 1:
            raise ConfigError("symbiota.batch_size must be at least 1")
        try:
            url = sa.engine.make_url(db_url)
        except ArgumentError as exc:
            raise ConfigError(f"symbiota.db_url is not a database URL: {exc}") from None
        if password is not None:
            url = url.set(password=password)
        self._url = url
        self.url_text = url.render_as_string(hide_password=True)
        self.rules = rules
        self.collid = rules.collid
        self.match_on = rules.match_on
        self.strip_leading_zeros = rules.strip_leading_zeros
        self.create_skeletal = create_skeletal
        self.batch_size = batch_size
        self._engine = sa.create_engine(url, echo=False, pool_pre_ping=True)
        if url.get_backend_name() == "sqlite":
            event.listen(self._engine, "connect", _enable_sqlite_fks)
        self._schema: SymbiotaSchema | None = None
        self._verified: set[int] = set()  # occids our match() found in the collection

    # -- plumbing --------------------------------------------------------------------------

    def _unavailable(self, exc: DBAPIError) -> ServiceUnavailable:
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        cls = AuthenticationFailed if code in _ACCESS_DENIED else ServiceUnavailable
        return cls(
            f"cannot use the Symbiota database at {self.url_text}: {_db_message(exc)}; "
            "check symbiota.db_url, the password (cyverse-link credentials set symbiota) "
            "and that the server is running"
        )

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError):
                raise self._unavailable(exc) from exc
            raise PortalError(f"Symbiota database at {self.url_text}: {_db_message(exc)}") from exc

    def _detected(self, conn: sa.Connection) -> SymbiotaSchema:
        if self._schema is None:
            self._schema = detect_schema(
                conn,
                self.collid,
                url_text=self.url_text,
                need_other="otherCatalogNumbers" in self.match_on,
                need_identifiers="omoccuridentifiers" in self.match_on,
                need_skeletal=self.create_skeletal,
            )
            log.info(
                "Symbiota at %s: schema %s, table %s, collection %s (%s)",
                self.url_text,
                self._schema.info.version,
                self._schema.info.table,
                self.collid,
                self._schema.collection_name,
            )
        return self._schema

    # -- Portal ----------------------------------------------------------------------------

    def schema(self) -> SchemaInfo:
        """Detected schema. Raises ServiceUnavailable, AuthenticationFailed, PortalError."""
        with self._connect() as conn:
            return self._detected(conn).info

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        """Every distinct catalog number → its ``Match``; at most two queries per batch."""
        unique = list(dict.fromkeys(catalogs))
        out: dict[str, Match] = {}
        with self._connect() as conn:
            schema = self._detected(conn)
            for i in range(0, len(unique), self.batch_size):
                batch = unique[i : i + self.batch_size]
                out.update(
                    match_batch(
                        conn,
                        schema,
                        self.collid,
                        batch,
                        self.match_on,
                        self.strip_leading_zeros,
                    )
                )
        self._verified.update(m.occids[0] for m in out.values() if m.occid is not None)
        return out

    def write(
        self, links: Sequence[tuple[MediaLink, Match]], *, dry_run: bool = False
    ) -> WriteResult:
        """Insert or update (by sourceIdentifier) one row per link. Links that cannot be
        written (ambiguous, unmatched without ``create_skeletal``, too long, rejected) are in
        ``errors``; the others in ``written``. ``dry_run`` runs only SELECTs."""
        result = WriteResult()
        with self._connect() as conn:
            ctx = Context(
                self._detected(conn), self.collid, self.create_skeletal, self.strip_leading_zeros
            )
            jobs: list[Job] = []
            seen: set[str] = set()
            for link, match in links:
                sid = link.source_identifier
                if sid in seen:  # the first one wins; errors/written are keyed by sid
                    log.warning("%s given twice in one write; the first link is used", sid)
                    continue
                seen.add(sid)
                try:
                    jobs.append(prepare(ctx, link, match))
                except PortalError as exc:
                    result.errors[sid] = str(exc)
            known = look_up(conn, ctx, jobs, self._verified)
            conn.rollback()  # end the implicit read transaction; batches begin their own
            for i in range(0, len(jobs), self.batch_size):
                batch = jobs[i : i + self.batch_size]
                self._write_with_retry(conn, ctx, batch, known, dry_run, result)
        return result

    def _write_with_retry(
        self,
        conn: sa.Connection,
        ctx: Context,
        jobs: Sequence[Job],
        known: Known,
        dry_run: bool,
        result: WriteResult,
    ) -> None:
        try:
            part = self._transaction(conn, ctx, jobs, known, dry_run)
        except DBAPIError as exc:
            if len(jobs) == 1:
                result.errors[jobs[0].sid] = (
                    f"{jobs[0].sid}: the database refused the row: {_db_message(exc)}"
                )
                return
            log.warning(
                "batch of %d rolled back (%s); retrying its links one by one",
                len(jobs),
                _db_message(exc),
            )
            for job in jobs:
                self._write_with_retry(conn, ctx, [job], known, dry_run, result)
            return
        _merge(result, part)

    def _transaction(
        self,
        conn: sa.Connection,
        ctx: Context,
        jobs: Sequence[Job],
        known: Known,
        dry_run: bool,
    ) -> WriteResult:
        try:
            with conn.begin() as tx:
                part = write_batch(conn, ctx, jobs, known, dry_run)
                if dry_run:
                    tx.rollback()
                return part
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise self._unavailable(exc) from exc
            raise

    # -- relink: existing rows, rewritten in place (portal/rewrite.py) ----------------------

    def media_rows_pointing_at(
        self, hosts: Sequence[str], *, batch_size: int | None = None
    ) -> Iterator[list[MediaRow]]:
        """Batches of the collection's media rows whose URLs point at one of ``hosts``, in
        media id order (keyset paged: one query per batch, flat memory)."""
        after, limit = 0, batch_size or self.batch_size
        while True:
            with self._connect() as conn:
                rows = rows_pointing_at(
                    conn, self._detected(conn), self.collid, hosts, after_id=after, limit=limit
                )
            if not rows:
                return
            yield rows
            after = rows[-1].media_id

    def media_ids_by_source_identifier(self, sids: Sequence[str]) -> dict[str, int]:
        """sourceIdentifier → media id of the collection's row already carrying it."""
        with self._connect() as conn:
            return rows_with_source_identifiers(conn, self._detected(conn), self.collid, sids)

    def missing_privileges(self) -> list[str]:
        """What the account may not do that writing needs (``["INSERT on media"]``), without
        writing anything (``grants.py``). Raises ServiceUnavailable, PortalError."""
        with self._connect() as conn:
            return missing_privileges(conn, self._detected(conn), skeletal=self.create_skeletal)

    def media_table(self) -> tuple[str, str]:
        """(table, id column): ``("media", "mediaID")`` or ``("images", "imgid")``."""
        with self._connect() as conn:
            schema = self._detected(conn)
        return schema.info.table, schema.media_id

    def rewrite_rows(
        self, changes: Sequence[tuple[int, dict[str, Any]]], *, dry_run: bool = False
    ) -> dict[int, str]:
        """Update existing rows by media id (one transaction per batch; a rejected batch is
        retried row by row). Returns media id → error for rows not written; never inserts or
        deletes. ``dry_run`` only validates."""
        errors: dict[int, str] = {}
        with self._connect() as conn:
            schema = self._detected(conn)
            conn.rollback()
            valid: list[tuple[int, dict[str, Any]]] = []
            for media_id, values in changes:
                try:
                    check_lengths(schema.media, values, f"{schema.media_id} {media_id}")
                except PortalError as exc:
                    errors[media_id] = str(exc)
                    continue
                valid.append((media_id, values))
            if dry_run:
                return errors
            for i in range(0, len(valid), self.batch_size):
                self._rewrite_batch(conn, schema, valid[i : i + self.batch_size], errors)
        return errors

    def _rewrite_batch(
        self,
        conn: sa.Connection,
        schema: SymbiotaSchema,
        batch: Sequence[tuple[int, dict[str, Any]]],
        errors: dict[int, str],
    ) -> None:
        try:
            with conn.begin():
                update_rows(conn, schema, batch)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise self._unavailable(exc) from exc
            if len(batch) == 1:
                errors[batch[0][0]] = f"the database refused the update: {_db_message(exc)}"
                return
            for one in batch:
                self._rewrite_batch(conn, schema, [one], errors)

    def close(self) -> None:
        self._engine.dispose()


def _merge(into: WriteResult, part: WriteResult) -> None:
    into.written.update(part.written)
    into.errors.update(part.errors)
    into.notes.update(part.notes)
    into.inserted += part.inserted
    into.updated += part.updated
    into.unchanged += part.unchanged
    into.skeletal_created += part.skeletal_created

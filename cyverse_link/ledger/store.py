"""The local state ledger: one row per drop-folder file, one row per run (SQLAlchemy 2 Core).

SQLite by default; any SQLAlchemy URL works (several hosts may share a MySQL/PostgreSQL ledger).
Every transition is its own committed transaction, so a killed run resumes exactly where it
stopped. Schema changes are registered migration functions recorded in ``schema_version``.

Row semantics: ``stage`` is the step the ``status`` refers to. ``advance(p, Stage.UPLOADED)``
means "upload done"; ``fail(p, Stage.UPLOADED, err)`` means "upload tried and failed" (retry it).

``iter_records()`` yields rows in the code-point order of ``rel_path`` — the order ``scan``
yields files — so callers merge-join both streams in flat memory (see ``plan.RecordCursor``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cyverse_link.core.errors import LedgerError
from cyverse_link.core.models import Counts, Stage, Status
from cyverse_link.ledger.records import (
    _FIELDS,
    MAX_ERROR_CHARS,
    FileRecord,
    RunRecord,
    _decode,
    _encode,
    _now,
)
from cyverse_link.ledger.schema import (
    _MIGRATIONS,
    SCHEMA_VERSION,
    files,
    migration,
    runs,
    schema_version,
)
from cyverse_link.ledger.sql import (
    _mysql_session,
    _ordered,
    _sqlite_pragmas,
    _translate,
    _upsert_row,
)

__all__ = [
    "MAX_ERROR_CHARS",
    "SCHEMA_VERSION",
    "FileRecord",
    "Ledger",
    "RunRecord",
    "migration",
]


class _NoLedger(Exception):
    """No ledger at the URL yet (only raised with ``create=False``)."""


class Ledger:
    """The state ledger at ``db_url``; creates or migrates the schema on open.

    Raises ``LedgerError`` (never a raw SQLAlchemy error) for every database problem; messages
    show the URL without its password.
    """

    def __init__(self, db_url: str, *, yield_per: int = 1000, create: bool = True) -> None:
        self.yield_per = yield_per
        try:
            url = sa.make_url(db_url)
        except sa.exc.ArgumentError as exc:
            raise LedgerError(f"state.db_url: not a database URL ({exc})") from None
        self.safe_url = url.render_as_string(hide_password=True)
        kwargs: dict[str, Any] = {}
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            else:
                kwargs["poolclass"] = sa.pool.StaticPool  # one shared in-memory database
            kwargs["connect_args"] = {"timeout": 30}
        self._engine: Engine = sa.create_engine(url, **kwargs)
        if url.get_backend_name() == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        elif url.get_backend_name() in ("mysql", "mariadb"):
            sa.event.listen(self._engine, "connect", _mysql_session)
        try:
            self._migrate(create)
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def open_existing(cls, db_url: str, *, yield_per: int = 1000) -> Ledger | None:
        """Open a ledger only if one exists (never creates or migrates one): for ``plan`` and
        ``status``, which change nothing. None when there is none yet."""
        url = sa.make_url(db_url) if "://" in db_url else None
        if url is not None and url.get_backend_name() == "sqlite":
            database = url.database or ""
            if not database or database == ":memory:" or not Path(database).is_file():
                return None
        try:
            return cls(db_url, yield_per=yield_per, create=False)
        except _NoLedger:
            return None

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise _translate(exc, what, self.safe_url) from exc

    def _migrate(self, create: bool) -> None:
        with self._errors("opening the ledger"), self._engine.begin() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                if not create:
                    raise _NoLedger
                schema_version.create(conn)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            current = current or 0
            if not create and current < SCHEMA_VERSION:
                if current == 0:
                    raise _NoLedger
                raise LedgerError(
                    f"ledger {self.safe_url} has the older schema version {current}; run "
                    "`cyverse-link sync` once to upgrade it"
                )
            if current > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self.safe_url} has schema version {current}, newer than this "
                    f"cyverse-link understands ({SCHEMA_VERSION}); upgrade cyverse-link"
                )
            for version in sorted(v for v in _MIGRATIONS if v > current):
                _MIGRATIONS[version](conn)
                conn.execute(schema_version.delete())
                conn.execute(schema_version.insert().values(version=version))

    @property
    def schema_version(self) -> int:
        with self._errors("reading the schema version"), self._engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
        return int(value or 0)

    # --- reading ---------------------------------------------------------------------------

    def iter_records(self) -> Iterator[FileRecord]:
        """Every file row ordered by ``rel_path`` (code-point order), streamed in batches."""
        yield from self._stream(sa.select(files).order_by(_ordered(self._engine)))

    def iter_mapped(self) -> Iterator[FileRecord]:
        """Rows that have URLs (for ``verify``), ordered by ``rel_path``."""
        q = sa.select(files).where(files.c.urls.is_not(None)).order_by(_ordered(self._engine))
        yield from self._stream(q)

    def failures(self) -> list[FileRecord]:
        """Rows whose last transition failed, ordered by ``rel_path``."""
        q = sa.select(files).where(files.c.status == Status.FAILED.value)
        return list(self._stream(q.order_by(_ordered(self._engine))))

    def iter_join_rows(
        self, batch: int = 1000, *, catalog_rules: str = ""
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """The lean read behind ``plan``'s merge-join: batches of plain tuples ``(rel_path,
        size, mtime_ns, settled, irods_path, urls, occid, catalog, suffix)`` ordered by
        ``rel_path``, where ``settled`` is true for a finished row with an MD5 and no problems,
        detail or error and ``urls`` is the stored JSON text. ``catalog`` and ``suffix`` are
        the row's only where ``confirm_catalogs`` confirmed them under ``catalog_rules`` (the
        current rules' fingerprint), else None: parse the name then. ``get`` reads a whole row
        when one is needed.

        SQLite rows come straight from the DBAPI cursor (``fetchmany``): SQLAlchemy's per-row
        result processing cost more than the rest of a warm 100k-file plan. Other backends
        stream through SQLAlchemy (server-side cursor) and yield its rows, which index alike.
        """
        c = files.c
        settled = sa.and_(
            c.md5.is_not(None),
            c.stage == int(Stage.MAPPED),
            c.status == Status.DONE.value,
            c.problems == "",
            c.detail.is_(None),
            c.error.is_(None),
        )
        confirmed = c.catalog_rules == catalog_rules
        query = sa.select(
            c.rel_path, c.size, c.mtime_ns, settled, c.irods_path, c.urls, c.occid,
            sa.case((confirmed, c.catalog)), sa.case((confirmed, c.suffix)),
        ).order_by(_ordered(self._engine))  # fmt: skip
        with self._errors("reading the ledger"), self._engine.connect() as conn:
            if self._engine.dialect.name != "sqlite":
                result = conn.execution_options(yield_per=batch).execute(query)
                yield from result.partitions()
                return
            dialect = self._engine.dialect
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None  # a checked-out connection always has one
            cursor = dbapi.cursor()
            try:
                cursor.execute(sql)
                while rows := cursor.fetchmany(batch):
                    yield rows
            except dialect.loaded_dbapi.Error as exc:
                raise sa.exc.DBAPIError.instance(
                    sql, None, exc, dialect.loaded_dbapi.Error
                ) from exc
            finally:
                cursor.close()

    def confirm_catalogs(
        self,
        fingerprint: str,
        parse: Callable[[str], tuple[str, str | None] | None],
        batch: int = 1000,
    ) -> int:
        """Check each row with a catalog number not yet checked under the identifier rules
        ``fingerprint``: mark it confirmed when ``parse(rel_path)`` gives its ``(catalog,
        suffix)``, else as checked-and-different (so it is not re-read every run). ``plan``
        then reuses confirmed catalog numbers instead of parsing names. Called at the end of
        ``sync`` and ``link``; each row is read once per set of rules (writing a row's
        ``catalog`` or ``suffix`` un-confirms it). Returns how many rows were confirmed."""
        c = files.c
        differs = "!" + fingerprint
        page = (
            sa.select(c.rel_path, c.catalog, c.suffix)
            .where(
                c.rel_path > sa.bindparam("after"),
                c.catalog.is_not(None),
                sa.or_(c.catalog_rules.is_(None), c.catalog_rules.not_in([fingerprint, differs])),
            )
            .order_by(_ordered(self._engine))
            .limit(batch)
        )
        # Guarded by the values read: a row rewritten meanwhile is left for the next check.
        mark = (
            files.update()
            .where(
                c.rel_path == sa.bindparam("r"),
                c.catalog == sa.bindparam("c"),
                c.suffix.is_not_distinct_from(sa.bindparam("s")),
            )
            .values(catalog_rules=sa.bindparam("v"))
        )
        confirmed, after = 0, ""
        with self._errors("confirming catalog numbers"):
            while True:
                with self._engine.connect() as conn:
                    rows = conn.execute(page, {"after": after}).all()
                if not rows:
                    return confirmed
                marks = []
                for rel_path, catalog, suffix in rows:
                    ok = parse(rel_path) == (catalog, suffix)
                    confirmed += ok
                    value = fingerprint if ok else differs
                    marks.append({"r": rel_path, "c": catalog, "s": suffix, "v": value})
                with self._engine.begin() as conn:
                    conn.execute(mark, marks)
                after = rows[-1][0]

    def _stream(self, query: sa.Select[Any]) -> Iterator[FileRecord]:
        with self._errors("reading the ledger"), self._engine.connect() as conn:
            result = conn.execution_options(yield_per=self.yield_per).execute(query)
            for row in result:
                yield _decode(row)

    def get(self, rel_path: str) -> FileRecord | None:
        with self._errors("reading the ledger"), self._engine.connect() as conn:
            row = conn.execute(sa.select(files).where(files.c.rel_path == rel_path)).first()
        return _decode(row) if row is not None else None

    def get_many(self, rel_paths: Iterable[str]) -> dict[str, FileRecord]:
        paths = list(dict.fromkeys(rel_paths))
        found: dict[str, FileRecord] = {}
        with self._errors("reading the ledger"), self._engine.connect() as conn:
            for i in range(0, len(paths), 500):
                q = sa.select(files).where(files.c.rel_path.in_(paths[i : i + 500]))
                for row in conn.execute(q):
                    rec = _decode(row)
                    found[rec.rel_path] = rec
        return found

    def summary(self) -> dict[tuple[Stage, Status], int]:
        """Row counts by (stage, status)."""
        q = sa.select(files.c.stage, files.c.status, sa.func.count()).group_by(
            files.c.stage, files.c.status
        )
        with self._errors("reading the ledger"), self._engine.connect() as conn:
            return {(Stage(s), Status(st)): int(n) for s, st, n in conn.execute(q)}

    # --- writing: one committed transaction per call ---------------------------------------

    def advance(
        self, rel_path: str, stage: Stage, status: Status = Status.DONE, **fields: Any
    ) -> None:
        """Record that ``rel_path`` reached ``stage`` with ``status``, plus any column values
        (``size``, ``mtime_ns``, ``md5``, ``mime``, ``catalog``, ``suffix``, ``problems``,
        ``detail``, ``irods_path``, ``urls`` (MediaUrls), ``occid``, ``last_run`` ...).
        Creates the row if needed. Clears ``error``; ``Status.DONE`` resets ``attempts``."""
        values = self._values(fields)
        values.setdefault("error", None)
        if status is Status.DONE:
            values.setdefault("attempts", 0)
        self._upsert(rel_path, stage, status, values, "recording progress")

    def advance_many(self, items: Iterable[tuple[str, Stage, Status, Mapping[str, Any]]]) -> None:
        """Several ``advance`` calls (same semantics, applied in order) in ONE transaction: for
        bulk callers such as ``link``, where a commit per row would dominate the run."""
        rows: list[tuple[str, Stage, Status, dict[str, Any]]] = []
        for rel_path, stage, status, fields in items:
            values = self._values(fields)
            values.setdefault("error", None)
            if status is Status.DONE:
                values.setdefault("attempts", 0)
            if rows and rows[-1][0] == rel_path:
                # Successive steps of one row in one transaction: only the last state is
                # ever visible, so write it once (the fields of all of them, later ones win).
                rows[-1] = (rel_path, stage, status, {**rows[-1][3], **values})
            else:
                rows.append((rel_path, stage, status, values))
        with self._errors("recording progress"), self._engine.begin() as conn:
            for rel_path, stage, status, values in rows:
                _upsert_row(conn, rel_path, stage, status, values, count=False)

    def fail(self, rel_path: str, stage: Stage, error: str, **fields: Any) -> None:
        """Record a failed attempt at ``stage``: status FAILED, ``attempts`` + 1, the error."""
        values = self._values(fields)
        values["error"] = _encode("error", error)
        self._upsert(rel_path, stage, Status.FAILED, values, "recording a failure", count=True)

    def _values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - _FIELDS
        if unknown:
            raise TypeError(f"unknown ledger fields: {', '.join(sorted(unknown))}")
        return {k: _encode(k, v) for k, v in fields.items()}

    def _upsert(
        self,
        rel_path: str,
        stage: Stage,
        status: Status,
        values: dict[str, Any],
        what: str,
        *,
        count: bool = False,
    ) -> None:
        with self._errors(what), self._engine.begin() as conn:
            _upsert_row(conn, rel_path, stage, status, values, count=count)

    def forget(self, rel_path: str) -> None:
        """Drop a row (e.g. the file was removed and should be treated as new if it returns)."""
        with self._errors("removing a row"), self._engine.begin() as conn:
            conn.execute(files.delete().where(files.c.rel_path == rel_path))

    # --- runs -----------------------------------------------------------------------------

    def start_run(self, command: str) -> int:
        with self._errors("starting a run"), self._engine.begin() as conn:
            result = conn.execute(runs.insert().values(command=command, started=_now()))
            key = result.inserted_primary_key
        if key is None:  # pragma: no cover - every supported backend returns the new id
            raise LedgerError("starting a run failed: the database returned no run id")
        return int(key[0])

    def finish_run(
        self,
        run_id: int,
        counts: Counts,
        report_path: Path | str | None,
        *,
        error: str | None = None,
    ) -> None:
        """Close the run's row; ``error``: it stopped early for this reason."""
        data = json.dumps(dataclasses.asdict(counts), sort_keys=True)
        report = str(report_path) if report_path is not None else None
        with self._errors("finishing a run"), self._engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(finished=_now(), counts=data, report_path=report, error=error)
            )

    def last_run(self, command: str | None = None) -> RunRecord | None:
        q = sa.select(runs).order_by(runs.c.id.desc()).limit(1)
        if command is not None:
            q = q.where(runs.c.command == command)
        with self._errors("reading runs"), self._engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        m = row._mapping
        counts = json.loads(m["counts"]) if m["counts"] else None
        return RunRecord(
            m["id"], m["command"], m["started"], m["finished"], counts, m["report_path"],
            m["error"],
        )  # fmt: skip

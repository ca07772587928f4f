"""SQL helpers of the ledger: the prepared upsert, ordering, SQLite pragmas, error text."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cyverse_link.core.errors import LedgerError
from cyverse_link.core.models import Stage, Status
from cyverse_link.ledger.records import _now
from cyverse_link.ledger.schema import files


def _upsert_row(
    conn: Connection,
    rel_path: str,
    stage: Stage,
    status: Status,
    values: dict[str, Any],
    *,
    count: bool,
) -> None:
    values = {**values, "stage": int(stage), "status": status.value, "updated_at": _now()}
    if "catalog" in values or "suffix" in values:
        values["catalog_rules"] = None  # to be checked again (Ledger.confirm_catalogs)
    update = _update_statement(frozenset(values), count)
    done = conn.execute(update, {"_rel_path": rel_path, **values}).rowcount
    if not done:
        row = {"size": 0, "mtime_ns": 0, "problems": "", "attempts": 0, **values}
        if count:
            row["attempts"] = 1
        conn.execute(files.insert(), {"rel_path": rel_path, **row})


@functools.lru_cache(maxsize=128)
def _update_statement(columns: frozenset[str], count: bool) -> sa.Update:
    """One prepared UPDATE per column set: building statements per call cost more than the
    SQLite commit itself."""
    sets: dict[str, Any] = {c: sa.bindparam(c) for c in sorted(columns)}
    if count:
        sets["attempts"] = files.c.attempts + 1
    return files.update().where(files.c.rel_path == sa.bindparam("_rel_path")).values(sets)


def _ordered(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return files.c.rel_path.collate("C")
    return files.c.rel_path  # SQLite: BINARY; MySQL/MariaDB: the column's utf8mb4_bin


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        # WAL: the merge-join reader and the per-transition writer do not block each other.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def _mysql_session(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        # A sort uses only the first max_sort_length bytes of a value (default 1024): longer
        # paths sharing that much would come out of ORDER BY rel_path in any order, and
        # plan's merge-join needs the true order. 4 bytes a character of the widest path.
        cur.execute("SET SESSION max_sort_length = 16384")
    finally:
        cur.close()


def _translate(exc: sa.exc.SQLAlchemyError, what: str, url: str) -> LedgerError:
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    lower = text.lower()
    if "disk is full" in lower or "no space left" in lower or "disk full" in lower:
        return LedgerError(
            f"{what} failed: the disk holding the ledger ({url}) is full; free some space and "
            "run again (finished files are kept and will not be redone)"
        )
    if "readonly" in lower or "read-only" in lower:
        return LedgerError(f"{what} failed: the ledger {url} is read-only ({text})")
    if "unable to open" in lower:
        return LedgerError(
            f"{what} failed: cannot open the ledger {url} ({text}); check state.db_url"
        )
    retryable = isinstance(exc, sa.exc.OperationalError)
    return LedgerError(f"{what} failed on the ledger {url}: {text}", retryable=retryable)

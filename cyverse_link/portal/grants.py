"""Does the Symbiota account hold the privileges writing needs? (``check``)

Asked by trying each statement on no rows: ``INSERT INTO media (url) SELECT url FROM media
WHERE false`` and ``UPDATE media SET url = url WHERE false``. MariaDB/MySQL check a statement's
table privileges before it runs, whatever the row count (error 1142 "INSERT command denied"),
so the probe needs no parsing of ``SHOW GRANTS`` (roles, wildcard databases, column grants) and
writes nothing, even on a MyISAM table where a rollback would not undo a row. Each probe runs in
a transaction that is rolled back all the same.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from cyverse_link.portal.schema import BoundTable, SymbiotaSchema

__all__ = ["missing_privileges"]

log = logging.getLogger(__name__)

# MariaDB/MySQL: table, column and database access denied.
_DENIED = {1142, 1143, 1044}


def missing_privileges(conn: sa.Connection, schema: SymbiotaSchema, *, skeletal: bool) -> list[str]:
    """``["INSERT on media", ...]``: what the account may not do that ``sync`` needs."""
    probes: list[tuple[str, BoundTable, Any]] = [
        ("INSERT", schema.media, _insert_nothing(schema.media, "url")),
        ("UPDATE", schema.media, _update_nothing(schema.media, "url")),
    ]
    if skeletal:
        occ = schema.occurrences
        probes.append(("INSERT", occ, _insert_nothing(occ, "catalogNumber")))
    missing = []
    conn.rollback()  # the schema detection's reads left a transaction open
    for privilege, table, stmt in probes:
        try:
            conn.execute(stmt)
        except DBAPIError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code in _DENIED:
                missing.append(f"{privilege} on {table.table.name}")
            else:  # not a privilege answer: the probe says nothing (the write will tell)
                log.debug("privilege probe %s on %s: %s", privilege, table.table.name, exc.orig)
        finally:
            conn.rollback()
    return missing


def _insert_nothing(table: BoundTable, column: str) -> Any:
    """In strict mode MariaDB refuses an INSERT that leaves out a NOT NULL column without a
    default (1364) even for no rows, so those columns are named too (as the writer does)."""
    cols = [table.col(column)]
    cols += [
        c
        for c in table.table.columns
        if not c.nullable
        and c.server_default is None
        and not (c.primary_key and c.autoincrement is True)
        and c is not cols[0]
    ]
    return sa.insert(table.table).from_select(cols, sa.select(*cols).where(sa.false()))


def _update_nothing(table: BoundTable, column: str) -> Any:
    col = table.col(column)
    return sa.update(table.table).values({col: col}).where(sa.false())

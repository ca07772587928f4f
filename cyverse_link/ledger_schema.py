"""The ledger's tables and its registered schema migrations (used by ``ledger.Ledger``).

Add a change as a new ``@migration(n)`` function; never edit one that has shipped. Each runs once,
in order, inside one transaction, and ``schema_version`` records the last one applied.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from cyverse_link.models import Status

__all__ = [
    "SCHEMA_VERSION",
    "api_media",
    "files",
    "metadata",
    "migration",
    "runs",
    "schema_version",
]

# MySQL/MariaDB: a unique utf8mb4 key may span 3072 bytes → 768 characters; binary collation
# so ORDER BY matches Python's code-point order (utf8mb4 bytes sort like code points).
_REL_PATH = sa.String(1024).with_variant(
    mysql.VARCHAR(768, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
_SOURCE_ID = sa.String(255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

metadata = sa.MetaData()
schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)
files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rel_path", _REL_PATH, nullable=False, unique=True),
    sa.Column("size", sa.BigInteger, nullable=False, default=0),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False, default=0),
    sa.Column("md5", sa.String(32)),
    sa.Column("mime", sa.String(100)),
    sa.Column("catalog", sa.String(255)),
    sa.Column("suffix", sa.String(255)),
    sa.Column("stage", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(16), nullable=False, default=Status.PENDING.value),
    sa.Column("problems", sa.String(255), nullable=False, default=""),
    sa.Column("detail", sa.Text),
    sa.Column("irods_path", sa.Text),
    sa.Column("urls", sa.Text),
    sa.Column("occid", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("last_run", sa.Integer),
    # Where the file's earlier content lives in iRODS (never overwritten): its Symbiota row is
    # found by this path and updated in place when the new content is linked (migration 2).
    sa.Column("previous_irods_path", sa.Text),
    # Fingerprint of the identifier rules under which ``catalog``/``suffix`` were checked to be
    # what the file name parses to (migration 3). Set only by ``Ledger.confirm_catalogs``,
    # cleared by any write of ``catalog``/``suffix``: ``plan`` reuses the row's catalog number
    # instead of re-parsing the name when it equals the current rules' fingerprint.
    sa.Column("catalog_rules", sa.String(32)),
)
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("command", sa.String(50), nullable=False),
    sa.Column("started", sa.DateTime, nullable=False),
    sa.Column("finished", sa.DateTime),
    sa.Column("counts", sa.Text),
    sa.Column("report_path", sa.Text),
)
sa.Index("ix_files_status", files.c.status, files.c.stage)
# api mode: the media row each sourceIdentifier became on a portal, and what this tool last
# wrote into it (JSON), so that an unchanged link sends nothing and a curator's later edit of a
# field is recognised and kept (migration 4). Symbiota's sourceIdentifier holds 150 characters.
api_media = sa.Table(
    "api_media",
    metadata,
    sa.Column("portal", sa.String(255), nullable=False),  # the API root
    sa.Column("source_identifier", _SOURCE_ID, nullable=False),
    sa.Column("media_id", sa.Integer, nullable=False),
    sa.Column("record_id", sa.String(45)),
    sa.Column("occid", sa.Integer),
    sa.Column("written", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("portal", "source_identifier", name="uq_api_media_sid"),
)

_MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def migration(version: int) -> Callable[[Callable[[Connection], None]], Callable[..., None]]:
    """Register a schema migration; versions run once each, in order, in one transaction."""

    def register(fn: Callable[[Connection], None]) -> Callable[[Connection], None]:
        _MIGRATIONS[version] = fn
        return fn

    return register


@migration(1)
def _create_tables(conn: Connection) -> None:
    # Uses today's table objects (with their index). When ``files`` changes, add a migration
    # and give this one a frozen copy of the version-1 definition.
    files.create(conn)
    runs.create(conn)
    # api_media came with migration 4, which creates it when missing


@migration(2)
def _add_previous_irods_path(conn: Connection) -> None:
    columns = {c["name"] for c in sa.inspect(conn).get_columns("files")}
    if "previous_irods_path" not in columns:  # created by version 1 before the column existed
        conn.execute(sa.text("ALTER TABLE files ADD COLUMN previous_irods_path TEXT"))


@migration(3)
def _add_catalog_rules(conn: Connection) -> None:
    columns = {c["name"] for c in sa.inspect(conn).get_columns("files")}
    if "catalog_rules" not in columns:  # NULL everywhere: every row is re-checked once
        conn.execute(sa.text("ALTER TABLE files ADD COLUMN catalog_rules VARCHAR(32)"))


@migration(4)
def _add_api_media(conn: Connection) -> None:
    api_media.create(conn, checkfirst=True)


SCHEMA_VERSION = max(_MIGRATIONS)

"""The ledger's tables and its registered schema migrations (used by ``ledger.store.Ledger``).

Add a change as a new ``@migration(n)`` function; never edit one that has shipped. Each runs once,
in order, inside one transaction, and ``schema_version`` records the last one applied.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from cyverse_link.core.models import Status
from cyverse_link.core.naming import MAX_REL_PATH

__all__ = [
    "MAX_REL_PATH",
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
# Migration 4 widens it there to MAX_REL_PATH characters (uniqueness moves to a hash column).
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
    # Why the run stopped early (a service away, exit 3); NULL when it ran through (migration 6).
    sa.Column("error", sa.Text),
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


@migration(5)
def _long_rel_paths(conn: Connection) -> None:
    """MySQL/MariaDB: ``rel_path`` VARCHAR(768) failed every run holding a longer path ("Data
    too long"). A unique utf8mb4 key cannot span more than 3072 bytes (InnoDB), so the column
    is widened and uniqueness moves to a stored generated SHA-256 of it; a 768-character
    prefix index serves the look-ups by path. PostgreSQL: widened (no other key limit met).
    SQLite does not enforce VARCHAR lengths."""
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        unique = [
            ix["name"]
            for ix in sa.inspect(conn).get_indexes("files")
            if ix.get("unique") and ix["column_names"] == ["rel_path"]
        ] + [
            uc["name"]
            for uc in sa.inspect(conn).get_unique_constraints("files")
            if uc["column_names"] == ["rel_path"]
        ]
        # One statement: the old unique key goes before the column outgrows it (MySQL refuses
        # a key over 3072 bytes; MariaDB would silently turn it into a slow hash key).
        drops = "".join(f"DROP INDEX `{name}`, " for name in dict.fromkeys(unique))
        conn.execute(
            sa.text(
                f"ALTER TABLE files {drops}"
                f"MODIFY rel_path VARCHAR({MAX_REL_PATH}) CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_bin NOT NULL, "
                "ADD COLUMN path_key BINARY(32) AS (UNHEX(SHA2(rel_path, 256))) STORED, "
                "ADD UNIQUE INDEX ux_files_path_key (path_key), "
                "ADD INDEX ix_files_rel_path (rel_path(768))"
            )
        )
    elif dialect == "postgresql":
        conn.execute(
            sa.text(f"ALTER TABLE files ALTER COLUMN rel_path TYPE VARCHAR({MAX_REL_PATH})")
        )


@migration(6)
def _add_run_error(conn: Connection) -> None:
    columns = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    if "error" not in columns:  # created by version 1 before the column existed
        conn.execute(sa.text("ALTER TABLE runs ADD COLUMN error TEXT"))


SCHEMA_VERSION = max(_MIGRATIONS)

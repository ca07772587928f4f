"""Migration 2: a ledger written before ``previous_irods_path`` existed opens and keeps its rows."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from cyverse_link.core.models import Stage, Status
from cyverse_link.ledger.store import Ledger


def test_version_1_ledger_gains_previous_irods_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the version-1 tables, as the first release made them
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO schema_version VALUES (1)"))
        conn.execute(sa.text(
            "CREATE TABLE files (id INTEGER PRIMARY KEY, rel_path VARCHAR(1024) NOT NULL UNIQUE,"
            " size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, md5 VARCHAR(32), mime VARCHAR(100),"
            " catalog VARCHAR(255), suffix VARCHAR(255), stage INTEGER NOT NULL,"
            " status VARCHAR(16) NOT NULL, problems VARCHAR(255) NOT NULL, detail TEXT,"
            " irods_path TEXT, urls TEXT, occid INTEGER, error TEXT, attempts INTEGER NOT NULL,"
            " updated_at DATETIME NOT NULL, last_run INTEGER)"
        ))  # fmt: skip
        conn.execute(sa.text(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, command VARCHAR(50) NOT NULL,"
            " started DATETIME NOT NULL, finished DATETIME, counts TEXT, report_path TEXT)"
        ))  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO files (rel_path, size, mtime_ns, md5, stage, status, problems,"
            " irods_path, attempts, updated_at) VALUES ('a.jpg', 3, 4, 'ab', 6, 'done', '',"
            " '/z/a.jpg', 0, '2026-01-01 00:00:00')"
        ))  # fmt: skip
    engine.dispose()
    with Ledger(url) as led:
        assert led.schema_version >= 2
        rec = led.get("a.jpg")
        assert rec is not None and (rec.stage, rec.status) == (Stage.MAPPED, Status.DONE)
        assert rec.previous_irods_path is None
        led.advance("a.jpg", Stage.IDENTIFIED, Status.DONE, previous_irods_path="/z/a.jpg")
        assert led.get("a.jpg").previous_irods_path == "/z/a.jpg"  # type: ignore[union-attr]

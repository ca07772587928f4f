"""Issue 13 item 2: long relative paths on a MariaDB ledger (the column held 768 characters,
so one 818-character path ended every run with "Data too long for column 'rel_path'")."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyverse_link.core.models import Stage, Status
from cyverse_link.ledger.schema import _MIGRATIONS, MAX_REL_PATH
from cyverse_link.ledger.store import Ledger

pytestmark = pytest.mark.mariadb

FOLDER = "d" * 200
_runs = itertools.count()


def test_818_character_path_is_recorded_and_found(mariadb_url: str) -> None:
    path = "/".join([FOLDER + "1", FOLDER + "2", FOLDER + "3", FOLDER + "4"]) + "/ASU0000001.jpg"
    assert len(path) > 800
    with Ledger(mariadb_url) as led:
        led.advance(path, Stage.IDENTIFIED, catalog="ASU0000001")
        led.advance(path, Stage.MAPPED, occid=7)  # the same row, updated
        rec = led.get(path)
        assert rec is not None and (rec.stage, rec.occid, rec.catalog) == (
            Stage.MAPPED,
            7,
            "ASU0000001",
        )
        assert [r.rel_path for r in led.iter_records()] == [path]


def test_longest_multibyte_path_fits_and_paths_differing_late_stay_apart(
    mariadb_url: str,
) -> None:
    base = "é" * (MAX_REL_PATH - 10)  # 2 bytes a character: far past InnoDB's 3072-byte key
    a, b = base + "/a.jpg", base + "/b.jpg"
    with Ledger(mariadb_url) as led:
        led.advance(b, Stage.IDENTIFIED)
        led.advance(a, Stage.IDENTIFIED)
        led.fail(a, Stage.UPLOADED, "boom")
        assert [r.rel_path for r in led.iter_records()] == [a, b]  # ordered past 1024 bytes
        assert led.get(a).status is Status.FAILED  # type: ignore[union-attr]
        assert led.get(b).status is Status.DONE  # type: ignore[union-attr]
        # the hash key keeps rel_path unique
        with pytest.raises(Exception, match="Duplicate"), led._engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO files (rel_path, stage, status, problems, "
                                 "attempts, updated_at, size, mtime_ns) VALUES (:p, 0, "
                                 "'done', '', 0, NOW(), 0, 0)"), {"p": a})  # fmt: skip


_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=250
)


@given(st.lists(st.lists(_segment, min_size=1, max_size=6), min_size=1, max_size=5))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
def test_any_long_paths_round_trip_in_order(mariadb_url: str, paths: list[list[str]]) -> None:
    prefix = f"run{next(_runs):04d}/"
    rels = sorted({prefix + "/".join(p) for p in paths if len(prefix + "/".join(p)) <= 1500})
    with Ledger(mariadb_url, yield_per=2) as led:
        for rel in reversed(rels):
            led.advance(rel, Stage.IDENTIFIED, catalog="X")
        got = [r.rel_path for r in led.iter_records() if r.rel_path.startswith(prefix)]
        assert got == rels
        assert set(led.get_many(rels)) == set(rels)


def test_version_3_mariadb_ledger_is_migrated_and_keeps_rows(mariadb_url: str) -> None:
    engine = sa.create_engine(mariadb_url)
    with engine.begin() as conn:  # a ledger as the last release made it (migrations 1-3)
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        for version in (1, 2, 3):
            _MIGRATIONS[version](conn)
        conn.execute(sa.text("INSERT INTO schema_version VALUES (3)"))
        conn.execute(sa.text(
            "INSERT INTO files (rel_path, size, mtime_ns, stage, status, problems, attempts,"
            " updated_at) VALUES ('short.jpg', 3, 4, 6, 'done', '', 0, NOW())"
        ))  # fmt: skip
    engine.dispose()
    with Ledger(mariadb_url) as led:
        assert led.schema_version >= 4
        long = FOLDER + "/" + FOLDER + "/" + FOLDER + "/" + FOLDER + "/x.jpg"
        led.advance("short.jpg", Stage.MAPPED, occid=5)  # updated in place, not duplicated
        led.advance(long, Stage.IDENTIFIED)
        assert [r.rel_path for r in led.iter_records()] == [long, "short.jpg"]
        assert led.get("short.jpg").occid == 5  # type: ignore[union-attr]

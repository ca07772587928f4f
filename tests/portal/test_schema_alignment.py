"""Our own Symbiota DDL (cyverse_link/sandbox/symbiota_schema.py, used by the offline demo and the
fast tests) stays in line with the real one: every column it declares for the tables we use
exists in a database made by Symbiota's own schema files, with a compatible type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from symbiota_real import RealPortal

from cyverse_link.sandbox.symbiota_schema import Flavour, build_metadata


def kind(t: sa.types.TypeEngine[Any]) -> tuple[str, int | None]:
    """(family, VARCHAR length): what must agree between the two schemas."""
    if isinstance(t, sa.String) and not isinstance(t, sa.Text):
        return "varchar", t.length
    if isinstance(t, sa.Text):
        return "text", None
    if isinstance(t, sa.Integer):  # INT, SMALLINT, TINYINT: same family in MariaDB
        return "integer", None
    if isinstance(t, sa.TIMESTAMP):
        return "timestamp", None
    if isinstance(t, sa.DateTime):
        return "datetime", None
    return type(t).__name__.lower(), None


def differences(ours: sa.Table, real: sa.Table) -> list[str]:
    cols = {c.name.lower(): c for c in real.columns}
    out = []
    for col in ours.columns:
        have = cols.get(col.name.lower())
        if have is None:
            out.append(f"{ours.name}.{col.name}: not in the real schema")
            continue
        # our variants (SQLite NOCASE, unsigned) are for the dialect; compare the MariaDB type
        mine = col.type.dialect_impl(sa.dialects.mysql.dialect())  # type: ignore[attr-defined]
        if kind(mine) != kind(have.type):
            out.append(f"{ours.name}.{col.name}: ours {kind(mine)}, real {kind(have.type)}")
        if col.nullable != have.nullable and not col.primary_key:
            out.append(f"{ours.name}.{col.name}: nullable {col.nullable}, real {have.nullable}")
        if col.primary_key != have.primary_key:
            out.append(f"{ours.name}.{col.name}: primary key differs")
    return out


@pytest.mark.mariadb
@pytest.mark.parametrize("flavour", ["media", "images"])
def test_demo_schema_columns_exist_in_the_real_schema(
    real_symbiota_dbs: Callable[[str], RealPortal], flavour: Flavour
) -> None:
    real = real_symbiota_dbs(flavour)
    engine = sa.create_engine(real.db_url)
    try:
        md = sa.MetaData()
        ours = build_metadata(flavour)
        with engine.connect() as conn:
            problems = []
            for table in ours.sorted_tables:  # users and taxa are stubs: few columns
                problems += differences(table, sa.Table(table.name, md, autoload_with=conn))
    finally:
        engine.dispose()
    assert not problems, "\n".join(problems)


def test_kind_tells_the_families_apart() -> None:
    assert kind(sa.String(32)) != kind(sa.String(45))
    assert kind(sa.Text()) != kind(sa.String(255))
    assert kind(sa.TIMESTAMP()) != kind(sa.DateTime())

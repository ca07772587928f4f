"""A seeded Symbiota database per test: backend (MariaDB, SQLite) × flavour (media, images)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from symbiota_helpers import Portal, seed

from cyverse_link.sandbox.symbiota_schema import Flavour, create_symbiota_schema

BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
FLAVOURS: list[Flavour] = ["media", "images"]


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    return str(request.getfixturevalue("mariadb_url"))


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def portal(backend_url: str, flavour: Flavour) -> Iterator[Portal]:
    engine = sa.create_engine(backend_url)
    create_symbiota_schema(engine, flavour)
    p = Portal(backend_url, flavour, engine)
    seed(p)
    yield p
    for db in p.opened:
        db.close()
    engine.dispose()

"""A seeded Symbiota database per test: backend (MariaDB, SQLite) × flavour (media, images)."""

from __future__ import annotations

import uuid
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


READONLY = [pytest.param(("sqlite", f), id=f"sqlite-{f}") for f in FLAVOURS] + [
    pytest.param(("mariadb", f), id=f"mariadb-{f}", marks=pytest.mark.mariadb) for f in FLAVOURS
]


@pytest.fixture(scope="module", params=READONLY)
def readonly_portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    """One seeded database per module, backend and flavour, for tests that only read it."""
    backend, flavour = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sym') / 'symbiota.sqlite'}"
        drop = None
    else:
        server = str(request.getfixturevalue("mariadb_server"))
        name = f"cl_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        url, drop = f"{server}/{name}?charset=utf8mb4", name
    engine = sa.create_engine(url)
    create_symbiota_schema(engine, flavour)
    p = Portal(url, flavour, engine)
    seed(p)
    try:
        yield p
    finally:
        for db in p.opened:
            db.close()
        engine.dispose()
        if drop:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{drop}`"))
            admin.dispose()

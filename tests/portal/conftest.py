"""Seeded Symbiota databases: backend × flavour (media, images).

Backends: ``sqlite`` and ``mariadb`` hold our own DDL (cyverse_link/sandbox/symbiota_schema.py,
which the offline demo needs); ``real`` is a database made by the real Symbiota 3.4.14 fixture
from Symbiota's own schema files (schema 3.4 → ``media``, 3.1 → ``images``). Real portals are
shared for the session (tests/conftest.py ``real_symbiota_dbs``) and cleared before each use.
Tests that alter the schema itself take ``ddl_portal`` (our DDL only: a shared real database must
keep its schema).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import symbiota_real
from symbiota_helpers import Portal, seed
from symbiota_real import RealPortal

from cyverse_link.sandbox.symbiota_schema import Flavour, create_symbiota_schema

BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
FLAVOURS: list[Flavour] = ["media", "images"]
ALL = [
    *(pytest.param(("sqlite", f), id=f"sqlite-{f}") for f in FLAVOURS),
    *(pytest.param(("mariadb", f), id=f"mariadb-{f}", marks=pytest.mark.mariadb) for f in FLAVOURS),
    *(pytest.param(("real", f), id=f"real-{f}", marks=pytest.mark.mariadb) for f in FLAVOURS),
]
OWN_DDL = ALL[:4]


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    return str(request.getfixturevalue("mariadb_url"))


def _real(request: pytest.FixtureRequest, flavour: Flavour) -> Portal:
    get: Callable[[str], RealPortal] = request.getfixturevalue("real_symbiota_dbs")
    real = get(flavour)
    symbiota_real.clear_rows(real.db_url)
    p = Portal(real.db_url, flavour, sa.create_engine(real.db_url), real=True)
    seed(p)
    return p


def _own(url: str, flavour: Flavour) -> Portal:
    engine = sa.create_engine(url)
    create_symbiota_schema(engine, flavour)
    p = Portal(url, flavour, engine)
    seed(p)
    return p


def _close(p: Portal) -> None:
    for db in p.opened:
        db.close()
    if p.real:
        symbiota_real.clear_rows(p.url)
    p.engine.dispose()


def _make(request: pytest.FixtureRequest, tmp_path: Path) -> Portal:
    backend, flavour = request.param
    if backend == "real":
        return _real(request, flavour)
    if backend == "sqlite":
        return _own(f"sqlite:///{tmp_path / 'symbiota.sqlite'}", flavour)
    return _own(str(request.getfixturevalue("mariadb_url")), flavour)


@pytest.fixture(params=ALL)
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    """A freshly seeded database for one test (a real one is shared and cleared)."""
    p = _make(request, tmp_path)
    yield p
    _close(p)


@pytest.fixture(params=OWN_DDL)
def ddl_portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    """Our own DDL only: for tests that drop or add columns and tables."""
    p = _make(request, tmp_path)
    yield p
    _close(p)


@pytest.fixture(scope="module", params=ALL)
def readonly_portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    """One seeded database per module, backend and flavour, for tests that only read it."""
    backend, flavour = request.param
    if backend == "real":
        p = _real(request, flavour)
        yield p
        _close(p)
        return
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
    p = _own(url, flavour)
    try:
        yield p
    finally:
        _close(p)
        if drop:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{drop}`"))
            admin.dispose()

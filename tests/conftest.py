"""Shared fixtures: a clean environment, an in-memory keyring, and MariaDB databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import keyring
import pytest
import symbiota_real
from hypothesis import settings as hypothesis_settings
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from symbiota_real import RealPortal

# CI replays the same examples every run: a property test may find a new case on a developer's
# machine, never turn a green build red by chance.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

MARIADB_URL = os.environ.get("CYVERSE_LINK_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


class MemoryKeyring(KeyringBackend):
    """Keeps secrets in a dict, so tests never touch the developer's keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CYVERSE_LINK_*, IRODS_* or PYTHON_IRODSCLIENT_* setting leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("CYVERSE_LINK_", "IRODS_", "PYTHON_IRODSCLIENT_")) and name not in (
            "CYVERSE_LINK_REQUIRE_MARIADB",
            "CYVERSE_LINK_TEST_MARIADB",
        ):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def _mariadb_available() -> str | None:
    """None if MariaDB answers, else the reason it does not."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(MARIADB_URL, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error means: not available
        return f"MariaDB not reachable at {MARIADB_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    """The server URL (no database); skips outside CI when MariaDB is down, fails in CI."""
    reason = _mariadb_available()
    if reason:
        if os.environ.get("CYVERSE_LINK_REQUIRE_MARIADB") == "1":
            pytest.fail(f"{reason} (mandatory in CI)")
        pytest.skip(reason)
    return MARIADB_URL


@pytest.fixture
def mariadb_url(mariadb_server: str) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"cl_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(mariadb_server)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield f"{mariadb_server}/{name}?charset=utf8mb4"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        engine.dispose()


@pytest.fixture(scope="session")
def real_symbiota_factory() -> Iterator[Callable[..., RealPortal]]:
    """Starts real Symbiota portals on demand (`factory(schema="3.4", collections=(...))`),
    each with its own database; all are stopped at the end of the session. Skips where PHP or
    ../shared/symbiota is missing; fails instead in CI (CYVERSE_LINK_REQUIRE_SYMBIOTA=1)."""
    reason = symbiota_real.unavailable()
    if reason:
        if symbiota_real.required():
            pytest.fail(f"{reason} (mandatory in CI)")
        pytest.skip(reason)
    started: list[RealPortal] = []

    def factory(
        schema: str = "3.4", collections: tuple[str, ...] = ("7:ASU:PLANTS",)
    ) -> RealPortal:
        portal = symbiota_real.portal_up(schema, collections)
        started.append(portal)
        return portal

    yield factory
    for portal in started:
        symbiota_real.portal_down(portal)


@pytest.fixture(scope="session")
def real_symbiota(real_symbiota_factory: Callable[..., RealPortal]) -> RealPortal:
    """One real Symbiota 3.4.14 portal (schema 3.4, collection 7 ASU:PLANTS) for the session."""
    return real_symbiota_factory()


# Shared real portals: "media" is schema 3.4 (pages and API run on it), "images" is 3.1 (schema
# tests only). Collections 7 ASU:PLANTS and 8 NY:VP. Started on first use, once per session; tests
# clear rows (symbiota_real.clear_rows) instead of starting their own (a start costs 7-50 s).
REAL_COLLECTIONS = ("7:ASU:PLANTS", "8:NY:VP")


@pytest.fixture(scope="session")
def real_symbiota_dbs(
    real_symbiota_factory: Callable[..., RealPortal],
) -> Callable[[str], RealPortal]:
    started: dict[str, RealPortal] = {}

    def get(flavour: str) -> RealPortal:
        if flavour not in started:
            schema = {"media": "3.4", "images": "3.1"}[flavour]
            started[flavour] = real_symbiota_factory(schema=schema, collections=REAL_COLLECTIONS)
        return started[flavour]

    return get

"""Issue 13 item 12: ``check`` all green meant nothing when every file would then fail. It now
sees a Symbiota account without INSERT/UPDATE, a missing drop folder and a ``..`` in
irods.collection, and it creates no ledger."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result
from symbiota_real import RealPortal

from cyverse_link.cli import cli
from cyverse_link.portal.base import MatchRules
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.sandbox.irods import SandboxIrods

from .test_sync_e2e import PASSWORD, USER, seed_symbiota, write_config


@pytest.fixture
def irods() -> Iterator[SandboxIrods]:
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as srv:
        srv.make_shared_folder("herbarium", USER)
        yield srv


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)


def check(config: Path) -> Result:
    return CliRunner().invoke(cli, ["-c", str(config), "check"])


def line(result: Result, service: str) -> str:
    found = [ln for ln in result.stdout.splitlines() if ln[2:].startswith(service)]
    assert len(found) == 1, result.output
    return found[0]


def edit(config: Path, section: str, **values: object) -> None:
    data = yaml.safe_load(config.read_text())
    data[section].update(values)
    config.write_text(yaml.safe_dump(data))


@pytest.fixture
def limited_user(mariadb_url: str) -> Iterator[tuple[str, str]]:
    """A real MariaDB account that may only SELECT in the portal database: (URL, user)."""
    seed_symbiota(mariadb_url)
    url = sa.make_url(mariadb_url)
    user = f"cl_ro_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(mariadb_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass'"))
        conn.execute(sa.text(f"GRANT SELECT ON `{url.database}`.* TO '{user}'@'%'"))
    try:
        yield url.set(username=user).render_as_string(hide_password=False), user
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        admin.dispose()


@pytest.mark.mariadb
def test_a_symbiota_account_without_insert_is_not_green(
    tmp_path: Path,
    irods: SandboxIrods,
    limited_user: tuple[str, str],
    mariadb_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db_url, user = limited_user
    config = write_config(tmp_path, irods, db_url=db_url)
    edit(config, "symbiota", password="env:RO_PASS")
    monkeypatch.setenv("RO_PASS", "ro-pass")
    result = check(config)
    assert result.exit_code == 1, result.output
    symbiota = line(result, "symbiota")
    assert symbiota.startswith("! ") and "INSERT on media" in symbiota
    assert "UPDATE on media" in symbiota and "ro-pass" not in result.output
    # The probe wrote nothing.
    engine = sa.create_engine(mariadb_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM media")).scalar() == 0
    database = sa.make_url(mariadb_url).database
    with engine.begin() as conn:
        conn.execute(sa.text(f"GRANT INSERT, UPDATE ON `{database}`.media TO '{user}'@'%'"))
    result = check(config)
    assert line(result, "symbiota").startswith("= "), result.output
    assert result.exit_code == 0, result.output
    edit(config, "symbiota", create_skeletal=True)  # skeletal records need INSERT there too
    result = check(config)
    assert "INSERT on omoccurrences" in line(result, "symbiota")
    assert result.exit_code == 1
    engine.dispose()


def test_a_missing_drop_folder_is_a_config_problem(tmp_path: Path, irods: SandboxIrods) -> None:
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    assert check(config).exit_code == 0
    edit(config, "source", path="not-there")
    result = check(config)
    assert result.exit_code == 2, result.output
    assert line(result, "source").startswith("! source    source.path: ")
    assert "not-there does not exist" in line(result, "source")
    plan = CliRunner().invoke(cli, ["-c", str(config), "plan"])
    assert plan.exit_code == 2 and "source.path" in plan.stderr  # plan agrees


def test_check_creates_no_ledger(tmp_path: Path, irods: SandboxIrods) -> None:
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    result = check(config)
    assert result.exit_code == 0, result.output
    assert "not made yet" in line(result, "ledger")
    assert not (tmp_path / "state.sqlite").exists()
    edit(config, "state", db_url="sqlite:///state/ledger.sqlite")
    assert check(config).exit_code == 0
    assert not (tmp_path / "state").exists()


def test_dot_dot_in_the_irods_collection_is_refused(tmp_path: Path, irods: SandboxIrods) -> None:
    config = write_config(tmp_path, irods, mode="csv")
    edit(config, "irods", collection="/iplant/home/shared/herbarium/../herbarium/ASU")
    result = check(config)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: irods.collection: ")


def test_the_probe_on_the_real_symbiota_schema(real_symbiota: RealPortal) -> None:
    """The real 3.4.14 schema (``media``, InnoDB): all granted, and nothing written."""
    engine = sa.create_engine(real_symbiota.db_url)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT COUNT(*) FROM media")).scalar()
    portal = SymbiotaDb(real_symbiota.db_url, None, rules=MatchRules(7), create_skeletal=True)
    try:
        assert portal.missing_privileges() == []
    finally:
        portal.close()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM media")).scalar() == before
    engine.dispose()

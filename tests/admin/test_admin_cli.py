"""``cyverse-link link`` and ``relink`` in-process (CliRunner) against the sandbox iRODS server
and a SQLite Symbiota database: summary, report path, --json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from admin_support import DAV, PASSWORD, PATTERN, SHARED, USER, ZONE, Irods
from click.testing import CliRunner, Result

from cyverse_link.cli import cli
from cyverse_link.sandbox.symbiota_schema import (
    add_collection,
    add_occurrence,
    create_symbiota_schema,
)

BQ = "https://bisque.cyverse.org/image_service/image"


@pytest.fixture
def setup(tmp_path: Path, irods: Irods, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    db = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    engine = sa.create_engine(db)
    create_symbiota_schema(engine, "media")
    with engine.begin() as conn:
        add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=1)
        occ = add_occurrence(conn, 1, "ASU0001234")
        add_occurrence(conn, 1, "ASU0005678")
        conn.execute(
            sa.text(
                "INSERT INTO media (occid, url, thumbnailUrl, sourceIdentifier, sortSequence)"
                " VALUES (:o, :u, :t, :s, 50)"
            ),
            {
                "o": occ,
                "u": f"{BQ}/00-x1/resize:1250/format:jpeg",
                "t": f"{BQ}/00-x1/thumbnail:200,200",
                "s": "00-x1; filename: ASU0001234_old.jpg",
            },
        )
    engine.dispose()
    irods.seed(f"{SHARED}/imgs/ASU0005678.jpg", b"\xff\xd8\xff 5678")
    irods.seed(f"{SHARED}/old/ASU0001234_old.jpg", b"\xff\xd8\xff 1234 old")
    config = tmp_path / "cyverse-link.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "collection": {"collid": 1, "code": "ASU-PLANTS"},
                "identifiers": {"pattern": PATTERN},
                "irods": {
                    "host": irods.settings.host,
                    "port": irods.settings.port,
                    "zone": ZONE,
                    "user": USER,
                    "collection": SHARED,
                },
                "urls": {"davanon_base": DAV},
                "symbiota": {"db_url": db},
                "relink": {"search_collections": [f"{SHARED}/old"]},
            }
        )
    )
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    return config, db


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_link_then_relink_from_the_command_line(setup: tuple[Path, str]) -> None:
    config, db = setup
    result = run("-c", str(config), "link", "--dry-run", f"{SHARED}/imgs")
    assert result.exit_code == 0, result.output
    assert "would_link" in result.output and "report:" in result.output

    result = run("-c", str(config), "--json", "link", f"{SHARED}/imgs")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"]["mapped"] == 1 and Path(data["report"]).is_file()

    result = run("-c", str(config), "relink", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"{BQ}/00-x1/resize:1250/format:jpeg" in result.output  # before
    assert f"{DAV}/{ZONE}/projects/herbarium/old/ASU0001234_old.jpg" in result.output  # after
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM media WHERE url LIKE '%bisque%'")).scalar()
            == 1
        )

    result = run("-c", str(config), "relink")
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        sids = sorted(conn.execute(sa.text("SELECT sourceIdentifier FROM media")).scalars())
    engine.dispose()
    assert sids == [f"irods:{SHARED}/imgs/ASU0005678.jpg", f"irods:{SHARED}/old/ASU0001234_old.jpg"]


def test_bad_collection_and_csv_relink_are_config_errors(setup: tuple[Path, str]) -> None:
    config, _ = setup
    result = run("-c", str(config), "link", "home/alice")
    assert result.exit_code == 2 and "IRODS_COLLECTION" in result.output
    data = yaml.safe_load(config.read_text())
    data["symbiota"] = {"mode": "csv"}
    config.write_text(yaml.safe_dump(data))
    result = run("-c", str(config), "relink")
    assert result.exit_code == 2 and "symbiota.mode" in result.output


def test_unreachable_irods_is_exit_3(setup: tuple[Path, str], irods: Irods) -> None:
    config, _ = setup
    irods.store.close()
    irods.server.stop()
    result = run("-c", str(config), "link", SHARED)
    assert result.exit_code == 3, result.output


def test_a_second_run_on_the_same_config_is_exit_4(setup: tuple[Path, str]) -> None:
    from cyverse_link.run.lock import RunLock, lock_path_for

    config, _ = setup
    with RunLock(lock_path_for(config.resolve())):
        for args in (["link", SHARED], ["relink"]):
            result = run("-c", str(config), *args)
            assert result.exit_code == 4, result.output


@pytest.mark.parametrize("dry_run", [False, True])
def test_link_of_a_missing_collection_is_exit_2_naming_it(
    setup: tuple[Path, str], dry_run: bool
) -> None:
    """Issue 13 item 14: it exited 0 with "0 images". A wrong argument is bad usage (exit 2)."""
    config, _ = setup
    missing = f"{SHARED}/imgs-typo"
    args = ["-c", str(config), "--json", "link", *(["--dry-run"] if dry_run else []), missing]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert missing in error and "does not exist" in error
    assert not (config.parent / "reports").exists() or not any(
        (config.parent / "reports").iterdir()
    )

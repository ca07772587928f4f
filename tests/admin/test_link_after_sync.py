"""``link`` over a collection that ``sync`` filled: every image is recognised (derivatives
included) and nothing is linked twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.demo.data import CATALOG_PATTERN, SPECIMENS, write_samples
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.symbiota_schema import (
    add_collection,
    add_occurrence,
    create_symbiota_schema,
)

USER, PASSWORD = "alice", "alice-pw"
COLL = "/iplant/home/shared/herbarium/ASU"


def test_link_after_sync_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    engine = sa.create_engine(db)
    create_symbiota_schema(engine, "media")
    with engine.begin() as conn:
        add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=7)
        for cat in SPECIMENS:
            add_occurrence(conn, 7, cat)
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as srv:
        srv.make_shared_folder("herbarium", USER)
        config = tmp_path / "cyverse-link.yaml"
        config.write_text(yaml.safe_dump({
            "collection": {"collid": 7, "code": "ASU-PLANTS"},
            "source": {"path": "in"},
            "identifiers": {"pattern": CATALOG_PATTERN},
            "irods": {"host": srv.host, "port": srv.port, "user": USER, "collection": COLL,
                      "threads": 2, "connection_timeout": 30},
            "derivatives": {"web_width": 300, "thumbnail_width": 60, "large_width": 400},
            "symbiota": {"db_url": db},
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        }))  # fmt: skip
        write_samples(tmp_path / "in", size=(300, 400))
        monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
        run = CliRunner().invoke
        synced = run(cli, ["-c", str(config), "--json", "sync"], catch_exceptions=False)
        linked_by_sync = json.loads(synced.stdout)["counts"]["mapped"]
        assert linked_by_sync > 0
        with engine.connect() as conn:
            before = [dict(r) for r in conn.execute(sa.text("SELECT * FROM media")).mappings()]
        result = run(cli, ["-c", str(config), "--json", "link", COLL], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        counts = json.loads(result.stdout)["counts"]
    with engine.connect() as conn:
        after = [dict(r) for r in conn.execute(sa.text("SELECT * FROM media")).mappings()]
    engine.dispose()
    assert counts["mapped"] == linked_by_sync  # the same images, found from the listing alone
    assert counts["extra"]["derivatives"] >= 2 * linked_by_sync  # not linked as images
    assert after == before  # every row already right: nothing inserted, nothing rewritten

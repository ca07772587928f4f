"""Issue 13 items 6 and 7 for ``link``: an object that ``sync`` superseded (changed content moved
the row to ``name.v<md5_8>.jpg``) was linked again as a new row; a 0-byte object and a text file
named ``.jpg`` became media rows."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from PIL import Image

from cyverse_link.cli import cli
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.symbiota_schema import (
    add_collection,
    add_occurrence,
    create_symbiota_schema,
)

USER, PASSWORD = "alice", "alice-pw"
COLL = "/iplant/home/shared/herbarium/ASU"


def jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), color).save(buf, "JPEG")
    return buf.getvalue()


def media(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM media ORDER BY mediaID")).mappings()
        return [dict(r) for r in rows]


def test_link_skips_what_sync_superseded_and_content_that_is_no_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    engine = sa.create_engine(db)
    create_symbiota_schema(engine, "media")
    with engine.begin() as conn:
        add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=7)
        for cat in ("ASU0000001", "ASU0000002", "ASU0000003", "ASU0000004"):
            add_occurrence(conn, 7, cat)
    drop = tmp_path / "in"
    drop.mkdir()
    (drop / "ASU0000001.jpg").write_bytes(jpeg((200, 0, 0)))
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as srv:
        srv.make_shared_folder("herbarium", USER)
        config = tmp_path / "cyverse-link.yaml"
        config.write_text(yaml.safe_dump({
            "collection": {"collid": 7, "code": "ASU-PLANTS"},
            "source": {"path": "in"},
            "identifiers": {"pattern": r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"},
            "irods": {"host": srv.host, "port": srv.port, "user": USER, "collection": COLL,
                      "threads": 1, "connection_timeout": 30},
            "derivatives": {"enabled": False},
            "symbiota": {"db_url": db},
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        }))  # fmt: skip
        monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
        run = CliRunner().invoke
        assert run(cli, ["-c", str(config), "sync"], catch_exceptions=False).exit_code == 0
        time.sleep(1.1)  # iRODS keeps modify times in seconds
        (drop / "ASU0000001.jpg").write_bytes(jpeg((0, 0, 200)))  # the image is redone
        assert run(cli, ["-c", str(config), "sync"], catch_exceptions=False).exit_code == 0
        (row,) = media(engine)
        assert ".v" in str(row["sourceIdentifier"])  # the row moved to the new content
        # Objects someone else put there: empty, text named .jpg, a real image
        srv.seed_object(f"{COLL}/ASU0000002.jpg", b"", owner=USER)
        srv.seed_object(f"{COLL}/ASU0000003.jpg", b"just some notes\n" * 20, owner=USER)
        srv.seed_object(f"{COLL}/ASU0000004.jpg", jpeg((4, 4, 4)), owner=USER)
        result = run(cli, ["-c", str(config), "--json", "link", COLL], catch_exceptions=False)
    after = media(engine)
    engine.dispose()
    counts = json.loads(result.stdout)["counts"]
    assert counts["extra"]["superseded"] == 1 and counts["extra"]["bad"] == 2
    assert [r["sourceIdentifier"] for r in after] == [
        row["sourceIdentifier"],
        f"irods:{COLL}/ASU0000004.jpg",
    ]
    assert after[0] == row  # the moved row is left as sync wrote it
    report = json.loads(Path(json.loads(result.stdout)["report"]).read_text("utf-8"))
    why = {e["rel_path"]: e["error"] for e in report["entries"] if e["status"] == "skipped"}
    assert "superseded" in why[f"irods:{COLL}/ASU0000001.jpg"]
    assert "0 bytes" in why[f"irods:{COLL}/ASU0000002.jpg"]
    assert "not an image: text" in why[f"irods:{COLL}/ASU0000003.jpg"]

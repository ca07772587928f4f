"""End to end into the REAL Symbiota 3.4.14 (tests/symbiota_real.py): ``sync`` in db mode through
the real python-irodsclient to the sandbox iRODS (dav-anon URLs), into a database made by
Symbiota's own schema files; then the portal's own occurrence page shows the linked thumbnails
in ``sortOccurrence`` order."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import symbiota_real
from symbiota_real import RealPortal

from cyverse_link.demo.data import SPECIMENS, specimen_image
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.symbiota_schema import add_occurrence, add_taxon

from .test_sync_e2e import COLLID, LINKED, env, irods, media_rows, sync_cli, write_config

__all__ = ["env", "irods"]  # fixtures shared with test_sync_e2e

# Suffix ranks: plain 1, _2 → 2, _b → 3, _10 → 10. By name _10 comes before _2 and _b, and
# rows are inserted in the order uploads finish: only sortOccurrence gives this page order.
EXTRA_VIEWS = ("DEMO000101_10.jpg", "DEMO000101_b.jpg")
PAGE_ORDER = ("DEMO000101.jpg", "DEMO000101_2.jpg", "DEMO000101_b.jpg", "DEMO000101_10.jpg")


def seed_real(db_url: str) -> dict[str, int]:
    """Occurrences in collection 7 as Symbiota's editor makes them (omoccurrences row with
    collid, catalogNumber, sciname, tidInterpreted, recordID, dateEntered)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            out = {}
            for cat, name in SPECIMENS.items():
                tid = conn.execute(
                    sa.text("SELECT tid FROM taxa WHERE sciName = :n"), {"n": name}
                ).scalar() or add_taxon(conn, name)
                out[cat] = add_occurrence(conn, COLLID, cat, tid=int(tid))
                conn.execute(
                    sa.text("UPDATE omoccurrences SET sciname = :n WHERE occid = :o"),
                    {"n": name, "o": out[cat]},
                )
            return out
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_db_sync_into_the_real_symbiota_page_shows_thumbnails_in_order(
    tmp_path: Path,
    irods: SandboxIrods,
    env: None,
    real_symbiota_dbs: Callable[[str], RealPortal],
) -> None:
    real = real_symbiota_dbs("media")
    symbiota_real.clear_rows(real.db_url)
    try:
        occids = seed_real(real.db_url)
        config = write_config(tmp_path, irods, db_url=real.db_url)
        for i, name in enumerate(EXTRA_VIEWS):
            specimen_image(f"view {i}", (90, 120 + 40 * i, 60), (300, 400)).save(
                tmp_path / "in" / name, "JPEG"
            )
        result = sync_cli(config, "--json")
        assert result.exit_code == 1, result.output  # the demo's bad samples
        counts = json.loads(result.stdout)["counts"]
        assert counts["mapped"] == len(LINKED) + len(EXTRA_VIEWS)

        rows = media_rows(real.db_url, "media")
        assert len(rows) == len(LINKED) + len(EXTRA_VIEWS)
        assert {r["mediaType"] for r in rows} == {"image"}
        occid = occids["DEMO000101"]
        mine = {r["sourceIdentifier"].rsplit("/", 1)[-1]: r for r in rows if r["occid"] == occid}
        assert set(mine) == set(PAGE_ORDER)
        assert [mine[n]["sortOccurrence"] for n in PAGE_ORDER] == [1, 2, 3, 10]

        page = requests.get(
            f"{real.portal_url}/collections/individual/index.php",
            params={"occid": occid},
            timeout=60,
        )
        assert page.status_code == 200
        assert "DEMO000101" in page.text
        positions = [page.text.find(mine[n]["thumbnailUrl"]) for n in PAGE_ORDER]
        assert all(p >= 0 for p in positions), positions
        assert positions == sorted(positions)
        # the TIFF specimen's page shows its JPEG thumbnail, not the TIFF
        tif = requests.get(
            f"{real.portal_url}/collections/individual/index.php",
            params={"occid": occids["DEMO000103"]},
            timeout=60,
        )
        thumbs = re.findall(r'src="([^"]+\.thumb\.jpg)"', tif.text)
        assert thumbs and all("DEMO000103" in t for t in thumbs)
    finally:
        symbiota_real.clear_rows(real.db_url)

"""The real Symbiota fixture itself: database, pages and REST API answer as its README says."""

from __future__ import annotations

import requests
import sqlalchemy as sa
from symbiota_real import RealPortal


def test_real_portal_has_media_table_api_and_pages(real_symbiota: RealPortal) -> None:
    engine = sa.create_engine(real_symbiota.db_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(
                sa.text("SELECT versionnumber FROM schemaversion ORDER BY id DESC LIMIT 1")
            ).scalar_one()
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert version == "3.4"
    assert {"media", "omoccurrences", "omoccuridentifiers", "omcollections"} <= tables

    found = requests.get(
        f"{real_symbiota.api_url}/occurrence",
        params={"collid": 7, "catalogNumber": "NOPE0000001"},
        timeout=30,
    )
    assert found.status_code == 200
    assert found.json()["count"] == 0
    page = requests.get(f"{real_symbiota.portal_url}/index.php", timeout=30)
    assert page.status_code == 200
    assert "Symbiota test portal" in page.text

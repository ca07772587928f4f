"""Seeding the real Symbiota (tests/symbiota_real.py) for the api-mode tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from symbiota_real import RealPortal

from cyverse_link.core.models import MediaLink, MediaUrls


class RealDb:
    """SQL access to a real portal's database (what a curator or another tool would do)."""

    def __init__(self, portal: RealPortal) -> None:
        self.portal = portal
        self.engine = sa.create_engine(portal.db_url)

    def occurrence(self, collid: int, catalog: str | None, **extra: Any) -> int:
        cols = {"collid": collid, "catalogNumber": catalog, **extra}
        names = ", ".join(cols)
        marks = ", ".join(f":{k}" for k in cols)
        with self.engine.begin() as conn:
            res = conn.execute(
                sa.text(f"INSERT INTO omoccurrences ({names}) VALUES ({marks})"), cols
            )
            return int(res.lastrowid)

    def taxon(self, sciname: str) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                sa.text("INSERT INTO taxa (sciname, unitname1, rankid) VALUES (:s, :u, 220)"),
                {"s": sciname, "u": sciname.split()[0]},
            )
            return int(res.lastrowid)

    def fill(self, collid: int, catalogs: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO omoccurrences (collid, catalogNumber) VALUES (:c, :n)"),
                [{"c": collid, "n": n} for n in catalogs],
            )

    def identifier(self, occid: int, value: str, name: str = "barcode") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO omoccuridentifiers (occid, identifierValue, identifierName, "
                    "modifiedUid) VALUES (:o, :v, :n, 1)"
                ),
                {"o": occid, "v": value, "n": name},
            )

    def media(self, where: str = "1=1", **params: Any) -> list[sa.RowMapping]:
        with self.engine.connect() as conn:
            sql = f"SELECT * FROM media WHERE {where} ORDER BY mediaID"
            return list(conn.execute(sa.text(sql), params).mappings())

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def close(self) -> None:
        self.engine.dispose()


def make_link(
    catalog: str,
    name: str,
    *,
    version: str = "",
    md5: str = "0" * 32,
    previous: str | None = None,
    suffix: str | None = None,
) -> MediaLink:
    """A link like the mapping step builds (dav-anon URLs under one iRODS collection)."""
    base = "https://data.cyverse.org/dav-anon/iplant/home/shared/asu/plants"
    stem = name.rsplit(".", 1)[0]
    tag = f".{version}" if version else ""
    return MediaLink(
        catalog=catalog,
        source_identifier=f"irods:/iplant/home/shared/asu/plants/{name}{tag}",
        urls=MediaUrls(
            url=f"{base}/_derivatives/{stem}{tag}.web.jpg",
            thumbnail_url=f"{base}/_derivatives/{stem}{tag}.thumb.jpg",
            original_url=f"{base}/{name}{tag}",
        ),
        md5=md5,
        suffix=suffix,
        sort_occurrence=1 if suffix is None else 2,
        file_name=name,
        previous_source_identifier=previous,
    )

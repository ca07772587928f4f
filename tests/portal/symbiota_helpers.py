"""Helpers for the Symbiota portal tests: a seeded database and MediaLink builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cyverse_link.core.models import MediaLink, MediaUrls
from cyverse_link.portal.base import MatchRules
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.sandbox.symbiota_schema import (
    Flavour,
    add_collection,
    add_occurrence,
    add_taxon,
)

COLLID = 7  # as on the real fixture portals (tests/conftest.py REAL_COLLECTIONS)
OTHER_COLLID = 8


@dataclass
class Portal:
    """The database under test and what was seeded into it."""

    url: str
    flavour: Flavour
    engine: sa.Engine
    occ: dict[str, int] = field(default_factory=dict)  # label → occid
    tid: int = 0
    opened: list[SymbiotaDb] = field(default_factory=list)
    real: bool = False  # a real Symbiota database (its own schema files), shared and cleared

    @property
    def media(self) -> str:
        return self.flavour

    @property
    def media_id(self) -> str:
        return "mediaID" if self.flavour == "media" else "imgid"

    def db(self, **kwargs: Any) -> SymbiotaDb:
        kwargs.setdefault(
            "match_on", ("catalogNumber", "otherCatalogNumbers", "omoccuridentifiers")
        )
        collid = kwargs.pop("collid", COLLID)
        rules = {k: kwargs.pop(k) for k in ("match_on", "strip_leading_zeros") if k in kwargs}
        portal = SymbiotaDb(self.url, None, rules=MatchRules(collid, **rules), **kwargs)
        self.opened.append(portal)
        return portal

    def rows(self, where: str = "1=1") -> list[sa.RowMapping]:
        with self.engine.connect() as conn:
            sql = f"SELECT * FROM {self.media} WHERE {where} ORDER BY {self.media_id}"
            return list(conn.execute(sa.text(sql)).mappings())

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()


def seed(p: Portal) -> None:
    with p.engine.begin() as conn:
        if not p.real:  # the real portals were started with both collections
            add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=COLLID)
            add_collection(conn, institution_code="NY", collection_code="VP", collid=OTHER_COLLID)
        p.tid = taxon(conn, "Quercus alba")
        o = p.occ
        o["padded"] = add_occurrence(conn, COLLID, "ASU0001234", tid=p.tid)
        o["bare"] = add_occurrence(conn, COLLID, "5678")
        o["other"] = add_occurrence(
            conn, COLLID, "A4", other_catalog_numbers="X-1; ASU777|ASU888 , ASU999"
        )
        o["tagged"] = add_occurrence(conn, COLLID, "A5", other_catalog_numbers="barcode: ASU555")
        o["ident"] = add_occurrence(conn, COLLID, "A6", identifiers=[("barcode", "ID-9000")])
        o["dup1"] = add_occurrence(conn, COLLID, "DUP1")
        o["dup2"] = add_occurrence(conn, COLLID, "DUP1")
        o["z01"] = add_occurrence(conn, COLLID, "Z01")
        o["z001"] = add_occurrence(conn, COLLID, "Z001")
        o["pri_cat"] = add_occurrence(conn, COLLID, "PRI1")
        o["pri_other"] = add_occurrence(conn, COLLID, "P2", other_catalog_numbers="PRI1")
        # Symbiota's "other catalog numbers" are the field OR omoccuridentifiers (one level)
        o["same_field"] = add_occurrence(conn, COLLID, "S1", other_catalog_numbers="SAME5")
        o["same_ident"] = add_occurrence(conn, COLLID, "S2", identifiers=[("accession", "SAME5")])
        o["both"] = add_occurrence(
            conn, COLLID, "S3", other_catalog_numbers="BOTH6", identifiers=["BOTH6"]
        )
        o["foreign"] = add_occurrence(
            conn,
            OTHER_COLLID,
            "ASU4242",
            other_catalog_numbers="ASU4343",
            identifiers=["ASU4444"],
        )


def taxon(conn: sa.Connection, sciname: str) -> int:
    """The tid of ``sciname``, added if missing (a shared real portal keeps its taxa)."""
    found = conn.execute(sa.text("SELECT tid FROM taxa WHERE sciName = :n"), {"n": sciname})
    tid = found.scalar()
    return int(tid) if tid is not None else add_taxon(conn, sciname)


def link(catalog: str, name: str | None = None, **urls: Any) -> MediaLink:
    """A MediaLink as the pipeline would build it for ``<catalog>.jpg``."""
    name = name or f"{catalog}.jpg"
    base = "https://data.cyverse.org/dav-anon/iplant/projects/demo"
    return MediaLink(
        catalog=catalog,
        source_identifier=f"irods:/iplant/home/shared/demo/{name}",
        urls=MediaUrls(
            url=urls.get("url", f"{base}/web/{name}"),
            thumbnail_url=urls.get("thumbnail_url", f"{base}/tn/{name}"),
            original_url=urls.get("original_url", f"{base}/{name}"),
            archive_url=urls.get("archive_url"),
        ),
        md5=urls.get("md5", "0123456789abcdef0123456789abcdef"),
        sort_occurrence=urls.get("sort_occurrence"),
        file_name=name,
    )

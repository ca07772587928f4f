"""A minimal Symbiota database for tests and the offline ``demo`` (MariaDB or SQLite).

Written from the Symbiota facts sheet (docs/symbiota-media.md §2 and §4): the media table in
both flavours, ``"media"`` (schema 3.2+, ``mediaID``, ``creator``, ``mediaType``) and
``"images"`` (3.0–3.1.x, ``imgid``, ``photographer``, no ``mediaType``), plus
``omcollections``, ``omoccurrences``, ``omoccuridentifiers``, ``schemaversion`` and the stubs
``taxa`` and ``users``. Column types, limits, nullability and foreign keys are the real ones so
that strict MariaDB rejects what a real portal would reject.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

Flavour = Literal["media", "images"]

DEFAULT_VERSIONS: dict[str, str] = {"media": "3.2.1", "images": "3.1.8"}

# INT(10) UNSIGNED on MariaDB; plain INTEGER on SQLite (so a PK stays a rowid alias).
UInt = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")


def _ci_string(length: int) -> sa.types.TypeEngine[str]:
    """VARCHAR compared case-insensitively on SQLite too, like MariaDB's default collation."""
    return sa.String(length).with_variant(sa.String(length, collation="NOCASE"), "sqlite")


def _now() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def build_metadata(flavour: Flavour) -> sa.MetaData:
    """Table definitions of one flavour (nothing is created)."""
    if flavour not in ("media", "images"):
        raise ValueError(f"flavour must be 'media' or 'images', not {flavour!r}")
    md = sa.MetaData()
    new = flavour == "media"  # 3.2+; "images" is 3.0-3.1.x, where some neighbours differ too
    sa.Table("users", md, sa.Column("uid", UInt, primary_key=True, autoincrement=True))
    sa.Table(
        "taxa",
        md,
        sa.Column("tid", UInt, primary_key=True, autoincrement=True),
        sa.Column("kingdomName", sa.String(45), nullable=not new, server_default=""),
        sa.Column("rankID", sa.SmallInteger, server_default="0"),
        sa.Column("sciName", sa.String(250), nullable=False),
        sa.Column("unitName1", sa.String(50), nullable=False),
        sa.Column("unitName2", sa.String(50)),
    )
    sa.Table(
        "schemaversion",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("versionnumber", sa.String(20), nullable=False, unique=True),
        sa.Column("dateapplied", sa.TIMESTAMP, nullable=False, server_default=_now()),
    )
    sa.Table(
        "omcollections",
        md,
        sa.Column("collID", UInt, primary_key=True, autoincrement=True),
        sa.Column("institutionCode", sa.String(45), nullable=False),
        sa.Column("collectionCode", sa.String(45)),
        sa.Column("collectionName", sa.String(150), nullable=False),
        sa.Column("collType", sa.String(45), nullable=False, server_default="Preserved Specimens"),
        sa.Column("managementType", sa.String(45), server_default="Snapshot"),
        sa.Column("securityKey", sa.String(45)),
        sa.Column("recordID", sa.String(45)),
        sa.UniqueConstraint("institutionCode", "collectionCode", name="Index_inst"),
    )
    sa.Table(
        "omoccurrences",
        md,
        sa.Column("occid", UInt, primary_key=True, autoincrement=True),
        sa.Column(
            "collid",
            UInt,
            sa.ForeignKey("omcollections.collID", ondelete="CASCADE", onupdate="CASCADE"),
            nullable=False,
        ),
        sa.Column("dbpk", sa.String(150)),
        sa.Column("occurrenceID", sa.String(255), unique=True),
        sa.Column("catalogNumber", _ci_string(32), index=True),
        sa.Column("otherCatalogNumbers", _ci_string(255), index=True),
        sa.Column("sciname", sa.String(255)),
        sa.Column("tidInterpreted", UInt, sa.ForeignKey("taxa.tid", onupdate="CASCADE")),
        sa.Column("processingStatus", sa.String(45)),
        sa.Column("recordEnteredBy", sa.String(250)),
        sa.Column("recordID", sa.String(45)),
        sa.Column("dateEntered", sa.DateTime),
        sa.Column("dateLastModified", sa.TIMESTAMP, nullable=False, server_default=_now()),
        sa.UniqueConstraint("collid", "dbpk", name="Index_collid"),
    )
    sa.Table(
        "omoccuridentifiers",
        md,
        sa.Column("idomoccuridentifiers", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "occid",
            UInt,
            sa.ForeignKey("omoccurrences.occid", ondelete="CASCADE", onupdate="CASCADE"),
            nullable=False,
        ),
        sa.Column("identifierValue", _ci_string(75 if new else 45), nullable=False, index=True),
        sa.Column("identifierName", sa.String(45), nullable=False, server_default=""),
        *((sa.Column("format", sa.String(45)),) if new else ()),
        sa.Column("notes", sa.String(250)),
        sa.Column("sortBy", sa.Integer),
        *((sa.Column("recordID", sa.String(45)),) if new else ()),
        sa.Column("modifiedUid", UInt, nullable=False),
        sa.Column("modifiedTimestamp", sa.DateTime),
        sa.Column("initialTimestamp", sa.TIMESTAMP, nullable=False, server_default=_now()),
        sa.UniqueConstraint("occid", "identifierValue", "identifierName", name="UQ_omoccurident"),
    )
    _media_table(md, flavour)
    return md


def _media_table(md: sa.MetaData, flavour: Flavour) -> sa.Table:
    new = flavour == "media"
    pk, creator = ("mediaID", "creator") if new else ("imgid", "photographer")
    cols: list[sa.Column[object]] = [
        sa.Column(pk, UInt, primary_key=True, autoincrement=True),
        sa.Column("tid", UInt, sa.ForeignKey("taxa.tid", onupdate="CASCADE"), index=True),
        sa.Column(
            "occid",
            UInt,
            sa.ForeignKey("omoccurrences.occid", ondelete="RESTRICT", onupdate="CASCADE"),
            index=True,
        ),
        sa.Column("url", sa.String(255)),
        sa.Column("thumbnailUrl", sa.String(255), index=True),
        sa.Column("originalUrl", sa.String(255)),
        sa.Column("archiveUrl", sa.String(255)),
        sa.Column("sourceUrl", sa.String(255)),
        sa.Column("referenceUrl", sa.String(255)),
        sa.Column("imageType", sa.String(50)),
    ]
    if new:
        cols.append(sa.Column("mediaType", sa.String(45), index=True))
    cols += [
        sa.Column("format", sa.String(45)),
        sa.Column("caption", sa.String(100)),
        sa.Column(creator, sa.String(100)),
        sa.Column(
            f"{creator}Uid", UInt, sa.ForeignKey("users.uid", ondelete="SET NULL"), index=True
        ),
        sa.Column("owner", sa.String(250)),
        sa.Column("locality", sa.String(250)),
        sa.Column("anatomy", sa.String(100)),
        sa.Column("copyright", sa.String(255)),
        sa.Column("rights", sa.String(255)),
        sa.Column("accessRights", sa.String(255)),
        sa.Column("notes", sa.String(350)),
        sa.Column("username", sa.String(45)),
        sa.Column("sourceIdentifier", _ci_string(150)),
        sa.Column("hashFunction", sa.String(45)),
        sa.Column("hashValue", sa.String(45)),
        sa.Column("mediaMD5", sa.String(45)),
        sa.Column("pixelYDimension", sa.Integer),
        sa.Column("pixelXDimension", sa.Integer),
        sa.Column("dynamicProperties", sa.Text),
        sa.Column("defaultDisplay", sa.Integer),
        sa.Column("recordID", sa.String(45), index=True),
        sa.Column("sortSequence", UInt, nullable=False, server_default="50"),
        sa.Column("sortOccurrence", sa.Integer, server_default="5"),
        sa.Column("initialTimestamp", sa.TIMESTAMP, nullable=False, server_default=_now()),
    ]
    return sa.Table(flavour, md, *cols)


def create_symbiota_schema(
    engine: sa.Engine, flavour: Flavour = "media", *, version: str | None = None
) -> sa.MetaData:
    """Create the tables of ``flavour`` and record ``version`` (default 3.2.1 / 3.1.8) in
    ``schemaversion``. Returns the metadata, whose tables the seeding helpers take."""
    md = build_metadata(flavour)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            md.tables["schemaversion"].insert(),
            {"versionnumber": version or DEFAULT_VERSIONS[flavour]},
        )
    return md


def add_collection(
    conn: sa.Connection,
    *,
    institution_code: str,
    collection_code: str | None = None,
    name: str | None = None,
    collid: int | None = None,
) -> int:
    """Insert an ``omcollections`` row; returns its collID."""
    t = sa.table(
        "omcollections",
        sa.column("collID"),
        sa.column("institutionCode"),
        sa.column("collectionCode"),
        sa.column("collectionName"),
        sa.column("recordID"),
    )
    values: dict[str, object] = {
        "institutionCode": institution_code,
        "collectionCode": collection_code,
        "collectionName": name or f"{institution_code} {collection_code or ''}".strip(),
        "recordID": str(uuid.uuid4()),
    }
    if collid is not None:
        values["collID"] = collid
    result = conn.execute(t.insert().values(**values))
    return int(collid if collid is not None else result.lastrowid)


def add_taxon(conn: sa.Connection, sciname: str, tid: int | None = None) -> int:
    """Insert a ``taxa`` row with the unit names Symbiota requires (genus, epithet); a
    binomial is rank 220 (species), a single name rank 180 (genus)."""
    t = sa.table(
        "taxa",
        sa.column("tid"),
        sa.column("sciName"),
        sa.column("unitName1"),
        sa.column("unitName2"),
        sa.column("rankID"),
    )
    units = sciname.split()
    values: dict[str, object] = {
        "sciName": sciname,
        "unitName1": units[0] if units else sciname,
        "unitName2": units[1] if len(units) > 1 else None,
        "rankID": 220 if len(units) > 1 else 180,
    }
    if tid is not None:
        values["tid"] = tid
    result = conn.execute(t.insert().values(**values))
    return int(tid if tid is not None else result.lastrowid)


def add_occurrence(
    conn: sa.Connection,
    collid: int,
    catalog_number: str | None = None,
    other_catalog_numbers: str | None = None,
    identifiers: Sequence[str | tuple[str, str]] = (),
    tid: int | None = None,
) -> int:
    """Insert an ``omoccurrences`` row (and its ``omoccuridentifiers`` rows: a value, or a
    ``(name, value)`` pair); returns the occid."""
    occ = sa.table(
        "omoccurrences",
        sa.column("occid"),
        sa.column("collid"),
        sa.column("catalogNumber"),
        sa.column("otherCatalogNumbers"),
        sa.column("tidInterpreted"),
        sa.column("recordID"),
        sa.column("dateEntered"),
    )
    result = conn.execute(
        occ.insert().values(
            collid=collid,
            catalogNumber=catalog_number,
            otherCatalogNumbers=other_catalog_numbers,
            tidInterpreted=tid,
            recordID=str(uuid.uuid4()),
            dateEntered=datetime.now(),
        )
    )
    occid = int(result.lastrowid)
    if identifiers:
        ident = sa.table(
            "omoccuridentifiers",
            sa.column("occid"),
            sa.column("identifierName"),
            sa.column("identifierValue"),
            sa.column("modifiedUid"),
        )
        rows = [
            {
                "occid": occid,
                "identifierName": i[0] if isinstance(i, tuple) else "",
                "identifierValue": i[1] if isinstance(i, tuple) else i,
                "modifiedUid": 0,
            }
            for i in identifiers
        ]
        conn.execute(ident.insert(), rows)
    return occid

"""Support for the ``link`` and ``relink`` tests: the sandbox iRODS server reached through the real
python-irodsclient (``IrodsStore``), and a Symbiota database per backend × schema flavour."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from cyverse_link.config.settings import IrodsSettings, Settings, parse_settings
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.irods import IrodsStore
from cyverse_link.portal.base import MatchRules
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.symbiota_schema import (
    Flavour,
    add_collection,
    add_occurrence,
    add_taxon,
    create_symbiota_schema,
)

ZONE = "iplant"
USER, PASSWORD = "alice", "s3cret-pw-alice"
FOLDER = "herbarium"
SHARED = f"/{ZONE}/home/shared/{FOLDER}"
COLLID = 1
DAV = "https://data.cyverse.org/dav-anon"
PATTERN = r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class Irods:
    server: Any  # SandboxIrods
    store: IrodsStore
    settings: IrodsSettings

    def seed(self, path: str, data: bytes, *, checksum: bool = True) -> str:
        self.server.seed_object(path, data, owner=USER, checksum=checksum)
        return md5(data)

    def genqueries(self) -> int:
        return int(self.server.stats.requests.get(702, 0))  # GEN_QUERY_AN


@pytest.fixture
def irods() -> Iterator[Irods]:
    srv = SandboxIrods(persona="4.3.1", zone=ZONE, users={USER: PASSWORD})
    srv.start()
    srv.make_shared_folder(FOLDER, USER)
    settings = IrodsSettings(host=srv.host, port=srv.port, zone=ZONE, user=USER,
                             collection=SHARED, threads=2, connection_timeout=30,
                             retries=1)  # fmt: skip
    store = IrodsStore(settings, PASSWORD, retry=Backoff(settings.retries, 0))
    try:
        yield Irods(srv, store, settings)
    finally:
        store.close()
        srv.stop()


BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
FLAVOURS: list[Flavour] = ["media", "images"]


@dataclass
class Symbiota:
    url: str
    flavour: Flavour
    engine: sa.Engine
    occ: dict[str, int] = field(default_factory=dict)
    opened: list[SymbiotaDb] = field(default_factory=list)

    @property
    def table(self) -> str:
        return self.flavour

    @property
    def media_id(self) -> str:
        return "mediaID" if self.flavour == "media" else "imgid"

    def db(self, **kwargs: Any) -> SymbiotaDb:
        rules = {k: kwargs.pop(k) for k in ("match_on", "strip_leading_zeros") if k in kwargs}
        portal = SymbiotaDb(self.url, None, rules=MatchRules(COLLID, **rules), **kwargs)
        self.opened.append(portal)
        return portal

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            sql = f"SELECT * FROM {self.table} ORDER BY {self.media_id}"
            return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]

    def insert_media(self, **values: Any) -> int:
        t = sa.Table(self.table, sa.MetaData(), autoload_with=self.engine)
        with self.engine.begin() as conn:
            result = conn.execute(t.insert().values(**values))
            return int(result.inserted_primary_key[0])


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    return str(request.getfixturevalue("mariadb_url"))


@pytest.fixture(params=FLAVOURS)
def symbiota(request: pytest.FixtureRequest, backend_url: str) -> Iterator[Symbiota]:
    engine = sa.create_engine(backend_url)
    create_symbiota_schema(engine, request.param)
    s = Symbiota(backend_url, request.param, engine)
    with engine.begin() as conn:
        add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=COLLID)
        add_collection(conn, institution_code="NY", collection_code="VP", collid=2)
        tid = add_taxon(conn, "Quercus alba")
        for cat in ("ASU0001234", "ASU0005678", "ASU0000042", "ASU0000077"):
            s.occ[cat] = add_occurrence(conn, COLLID, cat, tid=tid)
        s.occ["dup1"] = add_occurrence(conn, COLLID, "ASU0004242")
        s.occ["dup2"] = add_occurrence(conn, COLLID, "ASU0004242")
        s.occ["foreign"] = add_occurrence(conn, 2, "ASU0000099")
    yield s
    for db in s.opened:
        db.close()
    engine.dispose()


def make_settings(tmp_path: Path, irods: Irods | None, db_url: str, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "collection": {"collid": COLLID, "code": "ASU-PLANTS"},
        "source": {"path": str(tmp_path / "incoming")},
        "identifiers": {"pattern": PATTERN},
        "irods": {"zone": ZONE, "user": USER, "collection": SHARED, "password": "env:NOPE"},
        "urls": {"provider": "davanon", "davanon_base": DAV},
        "symbiota": {"mode": "db", "db_url": db_url, "batch_size": 50},
        "state": {"db_url": f"sqlite:///{tmp_path / 'state.sqlite'}",
                  "report_dir": str(tmp_path / "reports")},
    }  # fmt: skip
    if irods is not None:
        data["irods"].update(host=irods.settings.host, port=irods.settings.port)
    for section, values in extra.items():
        data.setdefault(section, {}).update(values)
    return parse_settings(data, base_dir=tmp_path)


def dav(path: str) -> str:
    """The dav-anon URL the tests expect for a path under SHARED."""
    rel = path.removeprefix(SHARED + "/").split("/")
    return f"{DAV}/{ZONE}/projects/{FOLDER}/" + "/".join(quote(s, safe="") for s in rel)

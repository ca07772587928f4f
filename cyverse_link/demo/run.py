"""``demo``: the whole pipeline offline, on the bundled sandbox servers (loopback only).

Starts the sandbox iRODS server (and the BisQue sandbox with ``provider="bisque"``), creates a
SQLite Symbiota database with sample specimens and a drop folder of sample images (some of them
bad on purpose), writes a config, runs ``sync`` twice (the second run has nothing to do) and
returns what was linked. Sandbox passwords are random and reach the pipeline only through the
``CYVERSE_LINK_*_PASSWORD`` overrides, set for the length of the demo and restored after.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml

from cyverse_link.config.settings import Settings, load_settings
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.events import EventHandler
from cyverse_link.core.models import UrlProvider
from cyverse_link.demo.data import CATALOG_PATTERN, SPECIMENS, write_samples
from cyverse_link.run.report import RunReport
from cyverse_link.sandbox.bisque_server import BisqueSandbox
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.symbiota_schema import (
    add_collection,
    add_occurrence,
    add_taxon,
    create_symbiota_schema,
)
from cyverse_link.sync.pipeline import run_sync

DEMO_USER = "demo"
DEMO_FOLDER = "demo-herbarium"
DEMO_COLLID = 7
BISQUE_IRODS_HOST = "data.iplantcollaborative.org"


@dataclass(frozen=True)
class LinkedImage:
    catalog: str
    occid: int
    url: str
    thumbnail_url: str | None
    source: str  # sourceIdentifier (irods:<path>)


@dataclass(frozen=True)
class DemoResult:
    workdir: Path
    config_path: Path
    irods_version: str
    provider: str
    first: RunReport
    second: RunReport
    linked: list[LinkedImage]


def run_demo(
    workdir: Path | None = None,
    *,
    provider: UrlProvider = UrlProvider.DAVANON,
    on_event: EventHandler | None = None,
    threads: int = 2,
) -> DemoResult:
    """Run the demo in ``workdir`` (created if missing; a new temporary folder when None,
    which the caller may delete). Raises only on a broken installation."""
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cyverse-link-demo-"))
    _prepare(work)
    irods_pw, bisque_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    with ExitStack() as stack:
        irods = stack.enter_context(
            SandboxIrods("4.3.1", zone="iplant", users={DEMO_USER: irods_pw})
        )
        shared = irods.make_shared_folder(DEMO_FOLDER, DEMO_USER)
        bisque_url = ""
        if provider is UrlProvider.BISQUE:
            bisque = stack.enter_context(BisqueSandbox({DEMO_USER: bisque_pw}))
            bisque_url = bisque.url
        db_url = f"sqlite:///{work / 'symbiota.sqlite'}"
        seed_portal(db_url)
        write_samples(work / "incoming")
        config_path = write_config(
            work, irods.host, irods.port, f"{shared}/DEMO", provider, bisque_url, threads, db_url
        )
        settings = load_settings(config_path)
        env = {"CYVERSE_LINK_IRODS_PASSWORD": irods_pw, "CYVERSE_LINK_BISQUE_PASSWORD": bisque_pw}
        with _environment(env):
            first = run_sync(settings, on_event=on_event, retry_delay=0.1)
            second = run_sync(settings, on_event=on_event, retry_delay=0.1)
        return DemoResult(
            workdir=work,
            config_path=config_path,
            irods_version=irods.persona,
            provider=provider.value,
            first=first,
            second=second,
            linked=linked_images(settings),
        )


def seed_portal(db_url: str) -> None:
    """A Symbiota 3.2 (``media`` table) database with the demo collection and specimens."""
    engine = sa.create_engine(db_url)
    try:
        create_symbiota_schema(engine, "media")
        with engine.begin() as conn:
            add_collection(
                conn, institution_code="DEMO", collection_code="PLANTS",
                name="Demo Herbarium", collid=DEMO_COLLID,
            )  # fmt: skip
            for catalog, name in SPECIMENS.items():
                add_occurrence(conn, DEMO_COLLID, catalog, tid=add_taxon(conn, name))
    finally:
        engine.dispose()


def write_config(
    work: Path,
    host: str,
    port: int,
    collection: str,
    provider: UrlProvider,
    bisque_url: str,
    threads: int,
    db_url: str,
) -> Path:
    config = {
        "collection": {"collid": DEMO_COLLID, "code": "DEMO-PLANTS"},
        "source": {"path": "./incoming"},
        "identifiers": {"pattern": CATALOG_PATTERN, "match_on": ["catalogNumber"]},
        "irods": {
            "host": host, "port": port, "zone": "iplant", "user": DEMO_USER,
            "password": "keyring", "collection": collection, "public": True,
            "threads": threads, "retries": 2, "connection_timeout": 30,
        },
        "urls": {"provider": provider.value},
        "derivatives": {"web_width": 1000, "thumbnail_width": 160, "large_width": 1600},
        "symbiota": {"mode": "db", "db_url": db_url},
        "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "./reports"},
    }  # fmt: skip
    if provider is UrlProvider.BISQUE:
        config["bisque"] = {
            "url": bisque_url, "user": DEMO_USER, "password": "keyring",
            "irods_host": BISQUE_IRODS_HOST, "timeout": 10, "retries": 1,
        }  # fmt: skip
    path = work / "cyverse-link.yaml"
    header = "# written by `cyverse-link demo`; sandbox servers, passwords come from the env\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def linked_images(settings: Settings) -> list[LinkedImage]:
    """What the portal now shows: catalog number → occid → image URLs."""
    db_url = settings.symbiota.db_url
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT o.catalogNumber, m.occid, m.url, m.thumbnailUrl, m.sourceIdentifier "
                    "FROM media m JOIN omoccurrences o ON o.occid = m.occid "
                    "WHERE o.collid = :c ORDER BY o.catalogNumber, m.sortOccurrence"
                ),
                {"c": settings.collection.collid},
            ).all()
    finally:
        engine.dispose()
    return [LinkedImage(str(r[0]), int(r[1]), str(r[2]), r[3], str(r[4])) for r in rows]


DEMO_FILES = ("incoming", "reports", "out", "symbiota.sqlite", "cyverse-link.yaml")


MARKER = ".cyverse-link-demo"


def _prepare(work: Path) -> None:
    """An empty or earlier demo folder only: the demo never deletes anyone's own files."""
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()) and not (work / MARKER).exists():
        raise ConfigError(
            f"--workdir {work} is not empty and not an earlier demo folder; "
            "give a new or empty folder"
        )
    (work / MARKER).write_text("made by `cyverse-link demo`\n", encoding="utf-8")
    _clean(work)  # a fresh sandbox each time: earlier state would say "already uploaded"


def _clean(work: Path) -> None:
    for name in DEMO_FILES:
        target = work / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for state in work.glob("state.sqlite*"):
        state.unlink()


def remove_workdir(result: DemoResult) -> None:
    shutil.rmtree(result.workdir, ignore_errors=True)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old

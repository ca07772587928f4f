"""End to end under the real servers' checksum rules (both personas): bytes damaged on the way
into the Data Store are never counted as uploaded or linked in Symbiota; they are re-sent, a
file damaged on every attempt fails, and the next run repairs it. The sandbox flips one stored
byte before its close hashes the object, as a network or disk fault would."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyverse_link.config.settings import load_settings
from cyverse_link.core.models import Counts
from cyverse_link.core.naming import Rendition, derivative_path
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.irods import IrodsStore
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sync.pipeline import run_sync

from .test_sync_e2e import (
    LINKED,
    PASSWORD,
    UPLOADED,
    USER,
    md5_of,
    media_rows,
    seed_symbiota,
    write_config,
)

COLL = "/iplant/home/shared/herbarium/ASU"


def md5_of_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def served_md5(irods: SandboxIrods, path: str, local: Path) -> str:
    """The MD5 a row must name: of the file at its originalUrl, i.e. the master for a JPEG and
    its large JPEG for a TIFF/PNG (issue 12); that object was verified like the master."""
    if local.suffix.lower() in (".jpg", ".jpeg"):
        return md5_of(local)
    large = irods.object(derivative_path(path, md5_of(local), Rendition.LARGE))
    assert large.checksum == md5_of_bytes(large.data), large
    return large.checksum


@pytest.fixture(params=["4.3.1", "4.2.8"])
def irods(request: pytest.FixtureRequest) -> Iterator[SandboxIrods]:
    with SandboxIrods(request.param, zone="iplant", users={USER: PASSWORD}) as srv:
        srv.make_shared_folder("herbarium", USER)
        yield srv


def sync(config: Path) -> Counts:
    settings = load_settings(config)
    no_wait = Backoff(settings.irods.retries, 0)  # re-send without waiting
    with IrodsStore(settings.irods, PASSWORD, retry=no_wait) as store:
        return run_sync(settings, store=store, retry_delay=0).counts


def assert_stored_exactly(tmp_path: Path, irods: SandboxIrods, db_url: str) -> None:
    """Every uploaded sample holds the file's bytes and MD5; every linked row names that MD5."""
    for sample in UPLOADED:
        local = tmp_path / "in" / sample.name
        obj = irods.object(f"{COLL}/{sample.name}")
        assert obj.data == local.read_bytes(), sample.name
        assert obj.checksum == md5_of(local)
    rows = {r["sourceIdentifier"]: r for r in media_rows(db_url, "media")}
    assert len(rows) == len(LINKED)
    for sample in LINKED:
        path = f"{COLL}/{sample.name}"
        assert rows[f"irods:{path}"]["mediaMD5"] == served_md5(
            irods, path, tmp_path / "in" / sample.name
        )


def test_every_third_upload_damaged_nothing_damaged_is_linked(
    tmp_path: Path, irods: SandboxIrods, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    irods.faults.damage_every(3)  # originals and derivatives alike, re-sends included
    counts = sync(config)
    irods.faults.damage_every(0)
    assert len(irods.faults.damaged) >= 5  # the fault really hit this run, many times
    # Whatever the threads' interleaving made of the re-sends: every linked row names an
    # original stored intact, and a file that did not arrive intact failed, unlinked.
    rows = {r["sourceIdentifier"]: r for r in media_rows(db_url, "media")}
    assert counts.mapped == len(rows) and counts.failed >= 3
    for source, row in rows.items():
        path = source.removeprefix("irods:")
        local = tmp_path / "in" / path.removeprefix(COLL + "/")
        assert irods.object(path).data == local.read_bytes(), path
        assert row["mediaMD5"] == served_md5(irods, path, local)
    again = sync(config)  # no fault: the failures are repaired, nothing damaged remains
    assert again.failed == 3  # the demo's bad samples only
    assert_stored_exactly(tmp_path, irods, db_url)


def test_original_damaged_on_every_attempt_fails_unlinked_then_a_rerun_repairs_it(
    tmp_path: Path, irods: SandboxIrods, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    db_url = f"sqlite:///{tmp_path / 'symbiota.sqlite'}"
    seed_symbiota(db_url)
    config = write_config(tmp_path, irods, db_url=db_url)
    victim = LINKED[0]
    path = f"{COLL}/{victim.name}"
    attempts = load_settings(config).irods.retries + 1
    irods.faults.damage_upload(path, attempts)
    first = sync(config)
    assert irods.faults.damaged.count(path) == attempts  # sent that many times, all damaged
    assert first.failed == 4 and first.mapped == len(LINKED) - 1
    stored = irods.object(path)
    assert stored.data != (tmp_path / "in" / victim.name).read_bytes()
    assert stored.checksum != md5_of(tmp_path / "in" / victim.name)
    sources = {r["sourceIdentifier"] for r in media_rows(db_url, "media")}
    assert f"irods:{path}" not in sources
    again = sync(config)  # the fault is gone
    assert again.uploaded == 1 and again.mapped == 1
    assert_stored_exactly(tmp_path, irods, db_url)

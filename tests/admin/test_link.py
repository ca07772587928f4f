"""``run_link`` against the sandbox iRODS server (real python-irodsclient) and a Symbiota
database (SQLite and MariaDB, ``media`` and ``images`` flavours)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from admin_support import SHARED, Irods, Symbiota, dav, make_settings, md5

from cyverse_link.admin.link import ledger_key, run_link
from cyverse_link.core.errors import ConfigError, ServiceUnavailable
from cyverse_link.ledger.store import Ledger
from cyverse_link.publish.davanon import DavAnonProvider
from cyverse_link.run.report import load_report
from cyverse_link.sandbox.irods.catalog import Avu

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg original 1234" * 10
TIFF = b"II*\x00" + b"tiff master 5678" * 10


def seed_collection(irods: Irods) -> dict[str, str]:
    """Two linkable images with derivatives, one unmatched, one ambiguous, one without a
    catalog number, a README and a stale derivative. Returns name → path."""
    p = {
        "jpg": f"{SHARED}/2024/ASU0001234.jpg",
        "tif": f"{SHARED}/2024/box 2/ASU0005678_2.tif",
        "unmatched": f"{SHARED}/2024/ASU0009999.jpg",
        "ambiguous": f"{SHARED}/ASU0004242.jpg",
        "noid": f"{SHARED}/notes.jpg",
        "readme": f"{SHARED}/README.txt",
    }
    jpg_md5 = irods.seed(p["jpg"], JPEG)
    tif_md5 = md5(TIFF)
    irods.seed(p["tif"], TIFF, checksum=False)  # CyVerse computes checksums later
    for path in ("unmatched", "ambiguous", "noid"):
        irods.seed(p[path], JPEG + path.encode())
    irods.seed(p["readme"], b"hello")
    d = f"{SHARED}/2024/_derivatives"
    p["jpg.web"] = f"{d}/ASU0001234.{jpg_md5[:8]}.web.jpg"
    p["jpg.thumb"] = f"{d}/ASU0001234.{jpg_md5[:8]}.thumb.jpg"
    p["jpg.stale"] = f"{d}/ASU0001234.deadbeef.web.jpg"
    db = f"{SHARED}/2024/box 2/_derivatives"
    for kind in ("web", "thumb", "large"):
        p[f"tif.{kind}"] = f"{db}/ASU0005678_2.{tif_md5[:8]}.{kind}.jpg"
    for key in ("jpg.web", "jpg.thumb", "jpg.stale", "tif.web", "tif.thumb", "tif.large"):
        irods.seed(p[key], b"\xff\xd8\xff derivative " + key.encode())
    return p


def test_link_writes_rows_and_a_rerun_changes_nothing(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    p = seed_collection(irods)
    settings = make_settings(tmp_path, irods, symbiota.url)
    provider = DavAnonProvider(settings.urls.davanon_base)

    report = run_link(settings, SHARED, store=irods.store, portal=symbiota.db(),
                      provider=provider)  # fmt: skip

    c = report.counts
    assert (c.discovered, c.mapped, c.unmatched, c.ambiguous, c.failed) == (5, 2, 1, 1, 0)
    assert c.extra["unidentified"] == 1 and c.extra["ignored"] == 1
    assert c.extra["derivatives"] == 6 and c.extra["checksummed"] == 1
    rows = {r["sourceIdentifier"]: r for r in symbiota.rows()}
    assert set(rows) == {f"irods:{p['jpg']}", f"irods:{p['tif']}"}
    jpg = rows[f"irods:{p['jpg']}"]
    assert jpg["occid"] == symbiota.occ["ASU0001234"]
    assert jpg["url"] == dav(p["jpg.web"])  # the current web derivative, not the stale one
    assert jpg["thumbnailUrl"] == dav(p["jpg.thumb"])
    assert jpg["originalUrl"] == dav(p["jpg"]) and jpg["archiveUrl"] is None
    assert jpg["hashValue"] == jpg["mediaMD5"] == md5(JPEG) and jpg["hashFunction"] == "MD5"
    tif = rows[f"irods:{p['tif']}"]
    assert tif["url"] == dav(p["tif.web"]) and tif["originalUrl"] == dav(p["tif.large"])
    assert tif["archiveUrl"] == dav(p["tif"]) and "box%202" in tif["archiveUrl"]
    # hashValue describes the file at originalUrl: the large JPEG (issue 12.5)
    large = md5(b"\xff\xd8\xff derivative tif.large")
    assert tif["hashValue"] == tif["mediaMD5"] == large and tif["sortOccurrence"] == 2
    assert tif["format"] == "image/jpeg"
    if symbiota.flavour == "media":
        assert {r["mediaType"] for r in rows.values()} == {"image"}
    # the server computed the missing checksum; the master's MD5 is the ledger's
    assert irods.server.object(p["tif"]).checksum == md5(TIFF)
    with Ledger(settings.state.db_url) as ledger:
        tif_rec = ledger.get(ledger_key(p["tif"]))
        assert tif_rec is not None and tif_rec.md5 == md5(TIFF)
        rec = ledger.get(ledger_key(p["jpg"]))
        assert rec is not None and rec.complete and rec.occid == symbiota.occ["ASU0001234"]
        assert rec.irods_path == p["jpg"] and rec.urls is not None
    data = load_report(report.path)  # type: ignore[arg-type]
    by_path = {e["irods_path"]: e for e in data["entries"]}
    assert by_path[p["unmatched"]]["match"] == "unmatched"
    assert by_path[p["ambiguous"]]["match"] == "ambiguous"
    assert "no catalog number" in by_path[p["noid"]]["error"]

    before = symbiota.rows()
    again = run_link(settings, SHARED, store=irods.store, portal=symbiota.db(),
                     provider=provider)  # fmt: skip
    assert again.counts.unchanged == 2 and again.counts.mapped == 0
    assert again.counts.extra["checksummed"] == 0
    assert symbiota.rows() == before


def test_dry_run_writes_nothing(tmp_path: Path, irods: Irods, symbiota: Symbiota) -> None:
    p = seed_collection(irods)
    settings = make_settings(tmp_path, irods, symbiota.url)
    report = run_link(settings, SHARED, dry_run=True, store=irods.store, portal=symbiota.db(),
                      provider=DavAnonProvider(settings.urls.davanon_base))  # fmt: skip
    c = report.counts
    assert (c.extra["would_link"], c.unmatched, c.ambiguous, c.mapped) == (2, 1, 1, 0)
    assert symbiota.rows() == []
    assert not (tmp_path / "state.sqlite").exists()  # no ledger created
    assert irods.server.object(p["tif"]).checksum is None  # nothing computed either
    entries = load_report(report.path)["entries"]  # type: ignore[arg-type]
    jpg = next(e for e in entries if e["irods_path"] == p["jpg"])
    assert jpg["urls"]["url"] == dav(p["jpg.web"]) and jpg["match"] == "matched"


def test_publish_makes_the_tree_public_in_two_requests(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    p = seed_collection(irods)
    settings = make_settings(tmp_path, irods, symbiota.url)
    acl_before = irods.server.stats.requests.get(707, 0)
    report = run_link(settings, SHARED, publish=True, store=irods.store, portal=symbiota.db(),
                      provider=DavAnonProvider(settings.urls.davanon_base))  # fmt: skip
    assert report.counts.published == 4  # every image that went on to be matched
    assert irods.server.stats.requests.get(707, 0) - acl_before == 2
    assert "anonymous" in irods.server.acl(p["tif"]) and irods.server.inherits(SHARED)


@pytest.mark.parametrize("bad", ["relative/path", "/otherzone/home/x", ""])
def test_collection_must_be_absolute_in_the_zone(tmp_path: Path, bad: str) -> None:
    settings = make_settings(tmp_path, None, "sqlite:///x.sqlite")
    with pytest.raises(ConfigError, match="IRODS_COLLECTION"):
        run_link(settings, bad)


@pytest.mark.slow  # ~8-14 s: the sandbox builds each GenQuery page from the remaining objects
def test_listing_20000_objects_takes_paged_queries_not_round_trips_per_object(
    tmp_path: Path, irods: Irods
) -> None:
    """20,000 objects (seeded into the catalog directly) are listed in ~41 GenQuery pages of
    500 rows; linking them costs no request per object (checksums are in the catalog)."""
    n = 20_000
    cat = irods.server.catalog
    for i in range(n):
        path, data = f"{SHARED}/bulk/d{i % 20:02d}/ASU{i:07d}.jpg", JPEG + b"%d" % i
        irods.server.seed_object(path, data, owner="alice")
        # as sync leaves them: its source MD5 tells link the content was sniffed already
        cat.objs[path].avus.append(Avu(cat.new_id(), "cyverse_link.source_md5", md5(data), ""))
    settings = make_settings(tmp_path, irods, f"sqlite:///{tmp_path / 'sym.sqlite'}",
                             symbiota={"mode": "csv", "batch_size": 500})  # fmt: skip
    from cyverse_link.portal.csvfile import CsvPortal

    irods.store.server_version()  # log in first: count only the run's own requests
    irods.server.stats.reset()
    report = run_link(settings, SHARED, store=irods.store,
                      portal=CsvPortal(settings.symbiota.csv_dir, collid=1, code="ASU"),
                      provider=DavAnonProvider(settings.urls.davanon_base))  # fmt: skip
    stats = irods.server.stats.snapshot()
    assert report.counts.discovered == n and report.counts.extra["not_checked"] == n
    pages = stats.requests.get(702, 0)
    # PRC sends a second, zero-row GenQuery after each page to close the statement; the AVU
    # listing (what sync uploaded) is paged the same way
    assert n // 500 <= pages <= 4 * (n // 500) + 12, stats.requests
    assert stats.total_requests - pages <= 2  # e.g. the is_public check, nothing per object


class _PortalDownAfterMatching:
    """The real portal, except that its database goes away at the first write."""

    def __init__(self, portal: Any) -> None:
        self.portal = portal

    def match(self, catalogs: Any) -> Any:
        return self.portal.match(catalogs)

    def write(self, links: Any, *, dry_run: bool = False) -> Any:
        raise ServiceUnavailable("Symbiota database went away")

    def schema(self) -> Any:
        return self.portal.schema()

    def close(self) -> None:
        self.portal.close()


def test_an_interrupted_run_resumes_without_duplicates(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    p = seed_collection(irods)
    settings = make_settings(tmp_path, irods, symbiota.url)
    provider = DavAnonProvider(settings.urls.davanon_base)
    with pytest.raises(ServiceUnavailable):
        run_link(settings, SHARED, store=irods.store,
                 portal=_PortalDownAfterMatching(symbiota.db()), provider=provider)  # fmt: skip
    assert symbiota.rows() == []
    # The stopped run's report is finished, with the reason (issue 13 item 13), not left .part
    assert not list((tmp_path / "reports").glob("link-*.json.part"))
    (stopped,) = (tmp_path / "reports").glob("link-*.json")
    assert json.loads(stopped.read_text(encoding="utf-8"))["error"]

    report = run_link(settings, SHARED, store=irods.store, portal=symbiota.db(),
                      provider=provider)  # fmt: skip
    assert report.counts.mapped == 2
    again = run_link(settings, SHARED, store=irods.store, portal=symbiota.db(),
                     provider=provider)  # fmt: skip
    assert again.counts.unchanged == 2
    sids = [r["sourceIdentifier"] for r in symbiota.rows()]
    assert sorted(sids) == sorted({f"irods:{p['jpg']}", f"irods:{p['tif']}"})

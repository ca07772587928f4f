"""``run_relink`` on harvester-era rows (both schema flavours, SQLite and MariaDB), resolving
against the sandbox iRODS server (real python-irodsclient) and optionally a BisQue sandbox."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from admin_support import SHARED, Irods, Symbiota, dav, make_settings, md5

from cyverse_link.admin.relink import clues_of, run_relink
from cyverse_link.core.models import MediaUrls
from cyverse_link.ledger.store import Ledger
from cyverse_link.portal.rewrite import MediaRow
from cyverse_link.publish.bisque import BISQUE_RETRY, BisqueClient
from cyverse_link.run.report import load_report
from cyverse_link.sandbox.bisque_server import BisqueSandbox

BQ = "https://bisque.cyverse.org/image_service/image"
LEGACY = f"{SHARED}/legacy"
JPEG = b"\xff\xd8\xff\xe0 legacy jpeg 1234" * 5
TIFF = b"II*\x00 legacy tiff 5678" * 5


def harvester_row(symbiota: Symbiota, occ: str, uniq: str, name: str | None, **kw: Any) -> int:
    """A row as Symbiota's CyVerse harvester (ImageProcessor.php) stored it."""
    base = f"{BQ}/{uniq}"
    values = {
        "occid": symbiota.occ[occ],
        "url": f"{base}/resize:1250/format:jpeg",
        "thumbnailUrl": f"{base}/thumbnail:200,200",
        "originalUrl": f"{base}/resize:4000/format:jpeg",
        "archiveUrl": base,
        "sourceIdentifier": f"{uniq}; filename: {name}" if name else uniq,
        "format": "image/jpeg",
        "owner": "ASU PLANTS",
        "notes": "harvested 2021",
        **kw,
    }
    return symbiota.insert_media(**values)


def seed(irods: Irods, symbiota: Symbiota) -> dict[str, Any]:
    jpg_md5 = irods.seed(f"{LEGACY}/2019/ASU0001234.jpg", JPEG)
    irods.seed(f"{LEGACY}/2019/_derivatives/ASU0001234.{jpg_md5[:8]}.web.jpg", b"\xff\xd8\xff web")
    irods.seed(f"{LEGACY}/2019/_derivatives/ASU0001234.{jpg_md5[:8]}.thumb.jpg", b"\xff\xd8\xff tn")
    irods.seed(f"{LEGACY}/2020/ASU0005678.tif", TIFF, checksum=False)
    irods.seed(f"{LEGACY}/2020/ASU0000042_1.jpg", b"\xff\xd8\xff nevp 42")
    irods.seed(f"{LEGACY}/a/ASU0000077.jpg", b"\xff\xd8\xff a77")
    irods.seed(f"{LEGACY}/b/ASU0000077.jpg", b"\xff\xd8\xff b77")
    ids = {
        "jpg": harvester_row(symbiota, "ASU0001234", "00-aaa111", "ASU0001234.jpg"),
        "tif": harvester_row(symbiota, "ASU0005678", "00-bbb222", "ASU0005678.tif"),
        # NEVP loader: bare id, query-string URL forms, no file name: found by catalog number
        "nevp": harvester_row(
            symbiota,
            "ASU0000042",
            "00-NEVP42",
            None,
            url=f"{BQ}/00-NEVP42?resize=1250&format=jpeg",
            archiveUrl=None,
        ),
        "ambiguous": harvester_row(symbiota, "ASU0000077", "00-ccc333", "ASU0000077.jpg"),
        "missing": harvester_row(symbiota, "dup1", "00-ddd444", "ASU0004242.jpg"),
        "again": harvester_row(symbiota, "ASU0001234", "00-eee555", "ASU0001234.jpg"),
        "other_host": symbiota.insert_media(
            occid=symbiota.occ["ASU0001234"],
            url="https://example.org/x.jpg",
            sourceIdentifier="filename: ASU0001234.jpg",
        ),
        "foreign": harvester_row(symbiota, "foreign", "00-fff666", "ASU0001234.jpg"),
    }
    return {"ids": ids, "jpg_md5": jpg_md5}


def by_id(symbiota: Symbiota) -> dict[int, dict[str, Any]]:
    return {r[symbiota.media_id]: r for r in symbiota.rows()}


def test_relink_rewrites_resolvable_rows_and_leaves_the_rest(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    s = seed(irods, symbiota)
    ids = s["ids"]
    settings = make_settings(tmp_path, irods, symbiota.url,
                             relink={"search_collections": [LEGACY]})  # fmt: skip
    before = by_id(symbiota)

    dry = run_relink(settings, dry_run=True, store=irods.store, portal=symbiota.db())
    assert by_id(symbiota) == before  # a dry run writes nothing
    assert not (tmp_path / "state.sqlite").exists()
    assert irods.server.object(f"{LEGACY}/2020/ASU0005678.tif").checksum is None
    assert dry.counts.extra["would_rewrite"] == 3 and dry.counts.mapped == 0
    entries = {e["rel_path"]: e for e in load_report(dry.path)["entries"]}  # type: ignore[arg-type]
    first = entries[f"relink:{symbiota.table}:{ids['jpg']}"]
    assert first["previous_urls"]["url"].startswith(BQ)
    assert first["urls"]["url"] == dav(f"{LEGACY}/2019/_derivatives/ASU0001234."
                                       f"{s['jpg_md5'][:8]}.web.jpg")  # fmt: skip

    report = run_relink(settings, store=irods.store, portal=symbiota.db())
    c = report.counts
    assert (c.discovered, c.mapped, c.ambiguous, c.unmatched, c.failed) == (6, 3, 1, 1, 0)
    assert c.extra["duplicates"] == 1 and c.extra["checksummed"] == 1
    assert (c.extra["by_name"], c.extra["by_catalog"]) == (2, 1)
    after = by_id(symbiota)
    jpg = after[ids["jpg"]]
    web = f"{LEGACY}/2019/_derivatives/ASU0001234.{s['jpg_md5'][:8]}.web.jpg"
    assert jpg["url"] == dav(web)
    assert jpg["thumbnailUrl"] == dav(web.replace(".web.", ".thumb."))
    assert jpg["originalUrl"] == jpg["archiveUrl"] == dav(f"{LEGACY}/2019/ASU0001234.jpg")
    assert jpg["sourceIdentifier"] == f"irods:{LEGACY}/2019/ASU0001234.jpg"
    assert jpg["hashFunction"] == "MD5" and jpg["hashValue"] == jpg["mediaMD5"] == md5(JPEG)
    assert jpg["occid"] == before[ids["jpg"]]["occid"] and jpg["notes"] == "harvested 2021"
    tif = after[ids["tif"]]
    tif_url = dav(f"{LEGACY}/2020/ASU0005678.tif")
    assert tif["url"] == tif["thumbnailUrl"] == tif["originalUrl"] == tif_url
    assert tif["format"] == "image/tiff" and tif["hashValue"] == md5(TIFF)
    nevp = after[ids["nevp"]]
    assert nevp["url"] == dav(f"{LEGACY}/2020/ASU0000042_1.jpg") and nevp["archiveUrl"] is None
    if symbiota.flavour == "media":
        assert jpg["mediaType"] == "image"
    for untouched in ("ambiguous", "missing", "again", "other_host", "foreign"):
        assert after[ids[untouched]] == before[ids[untouched]], untouched
    assert len(after) == len(before)  # nothing inserted, nothing deleted
    entries = {e["rel_path"]: e for e in load_report(report.path)["entries"]}  # type: ignore[arg-type]
    assert entries[f"relink:{symbiota.table}:{ids['missing']}"]["error"].startswith("not found")
    assert "ambiguous" in entries[f"relink:{symbiota.table}:{ids['ambiguous']}"]["error"]
    assert "duplicate" in entries[f"relink:{symbiota.table}:{ids['again']}"]["error"]
    with Ledger(settings.state.db_url) as ledger:
        rec = ledger.get(f"relink:{symbiota.table}:{ids['jpg']}")
        assert (
            rec is not None and rec.complete and rec.irods_path == f"{LEGACY}/2019/ASU0001234.jpg"
        )

    again = run_relink(settings, store=irods.store, portal=symbiota.db())
    assert again.counts.mapped == 0 and again.counts.discovered == 3  # the unresolved ones
    assert by_id(symbiota) == after


def test_bisque_server_resolves_uniq_and_a_dead_one_is_skipped(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    path = f"{SHARED}/elsewhere/renamed-scan.jpg"  # neither name nor listing would find it
    irods.seed(path, JPEG)
    with BisqueSandbox({"alice": "pw"}) as bq:
        value = (
            f"irods://data.iplantcollaborative.org{path.replace('renamed-scan', 'renamed%2Dscan')}"
        )
        res = bq.add_resource(value, "alice", permission="published")
        row = harvester_row(symbiota, "ASU0001234", res.uniq, "ASU0001234_old.jpg")
        settings = make_settings(tmp_path, irods, symbiota.url, bisque={"url": bq.url})
        client = BisqueClient(bq.url, ("alice", "pw"), retry=replace(BISQUE_RETRY, retries=0))
        report = run_relink(settings, store=irods.store, portal=symbiota.db(), bisque=client)
    assert report.counts.mapped == 1 and report.counts.extra["by_bisque"] == 1
    got = by_id(symbiota)[row]
    assert got["sourceIdentifier"] == f"irods:{path}" and got["originalUrl"] == dav(path)
    assert got["hashValue"] == md5(JPEG)

    # BisQue gone (connection refused): the run carries on from the listings
    row2 = harvester_row(symbiota, "ASU0005678", "00-zzz999", "ASU0005678.jpg")
    irods.seed(f"{SHARED}/x/ASU0005678.jpg", JPEG + b"2")
    dead = BisqueClient(bq.url, ("alice", "pw"), retry=replace(BISQUE_RETRY, retries=0))
    settings = make_settings(tmp_path, irods, symbiota.url,
                             relink={"search_collections": [f"{SHARED}/x"]})  # fmt: skip
    report = run_relink(settings, store=irods.store, portal=symbiota.db(), bisque=dead)
    assert report.counts.mapped == 1 and report.counts.extra["by_name"] == 1
    assert by_id(symbiota)[row2]["sourceIdentifier"] == f"irods:{SHARED}/x/ASU0005678.jpg"


@pytest.mark.parametrize(
    ("sid", "urls", "expected"),
    [
        ("00-abc; filename: IMG 1.JPG", (f"{BQ}/00-abc",), ("00-abc", "IMG 1.JPG")),
        ("filename: a/b.jpg", (f"{BQ}/00-q1",), ("00-q1", "b.jpg")),
        ("00-NEVP9", (f"{BQ}/00-NEVP9?thumbnail=225,225",), ("00-NEVP9", None)),
        (None, ("https://BISQUE.cyverse.org/blob_service/00-Z9",), ("00-Z9", None)),
        (None, ("https://example.org/image_service/image/00-Z9",), (None, None)),
    ],
)
def test_clues_from_source_identifier_and_urls(
    sid: str | None, urls: tuple[str, ...], expected: tuple[str | None, str | None]
) -> None:
    row = MediaRow(1, 2, "C1", MediaUrls(url=urls[0]), sid, None)
    clues = clues_of(row, ["bisque.cyverse.org"])
    assert (clues.uniq, clues.name) == expected and clues.catalog == "C1"


def test_a_url_too_long_for_the_column_fails_that_row_only(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    long_dir = f"{LEGACY}/" + "d" * 120 + "/" + "e" * 100
    irods.seed(f"{long_dir}/ASU0001234.jpg", JPEG)
    irods.seed(f"{LEGACY}/ok/ASU0005678.jpg", JPEG + b"ok")
    bad = harvester_row(symbiota, "ASU0001234", "00-long1", "ASU0001234.jpg")
    good = harvester_row(symbiota, "ASU0005678", "00-ok2", "ASU0005678.jpg")
    settings = make_settings(tmp_path, irods, symbiota.url,
                             relink={"search_collections": [LEGACY]})  # fmt: skip
    before = by_id(symbiota)
    report = run_relink(settings, store=irods.store, portal=symbiota.db())
    assert (report.counts.failed, report.counts.mapped, report.exit_code) == (1, 1, 1)
    after = by_id(symbiota)
    assert after[bad] == before[bad]
    assert after[good]["sourceIdentifier"] == f"irods:{LEGACY}/ok/ASU0005678.jpg"
    entry = next(
        e
        for e in load_report(report.path)["entries"]  # type: ignore[arg-type]
        if e["rel_path"].endswith(f":{bad}")
    )
    assert "characters" in entry["error"] and entry["status"] == "failed"


def add_avu(irods: Irods, path: str, name: str, value: str) -> None:
    from cyverse_link.sandbox.irods.catalog import Avu

    cat = irods.server.catalog
    with cat.lock:
        cat.objs[path].avus.append(Avu(cat.new_id(), name, value, ""))


def test_cyverse_bisque_id_avus_resolve_renamed_files(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    path = f"{LEGACY}/renamed/scan 0001.jpg"  # neither its name nor a catalog number helps
    irods.seed(path, JPEG)
    add_avu(irods, path, "ipc-bisque-id", "00-avu777")
    add_avu(irods, path, "ipc-bisque-uri", "https://bisque.cyverse.org/data_service/00-avu777")
    row = harvester_row(symbiota, "ASU0000042", "00-avu777", "ASU0000042.jpg")
    settings = make_settings(tmp_path, irods, symbiota.url,
                             relink={"search_collections": [LEGACY]})  # fmt: skip
    report = run_relink(settings, store=irods.store, portal=symbiota.db())
    assert report.counts.mapped == 1 and report.counts.extra["by_avu"] == 1
    got = by_id(symbiota)[row]
    assert got["sourceIdentifier"] == f"irods:{path}" and got["url"] == dav(path)


def test_list_avu_pages_by_data_id(irods: Irods) -> None:
    n = 1_100
    for i in range(n):
        path = f"{LEGACY}/p{i % 3}/o{i:05d}.jpg"
        irods.server.seed_object(path, b"x", owner="alice")
        add_avu(irods, path, "ipc-bisque-id", f"00-u{i}")
        if i % 2:
            add_avu(irods, path, "other", "noise")
    irods.store.server_version()
    irods.server.stats.reset()
    found = dict(irods.store.list_avu(LEGACY, "ipc-bisque-id"))
    assert len(found) == n and found[f"{LEGACY}/p1/o00004.jpg"] == "00-u4"
    assert irods.server.stats.requests.get(702, 0) <= 2 * (2 + n // 500 + 1)


def test_relink_checks_content_and_catalog_number_before_rewriting(
    tmp_path: Path, irods: Irods, symbiota: Symbiota
) -> None:
    """Issue 13 item 7: a row was rewritten to a 0-byte object, and a row of one specimen to
    the only object of its file name, found under another specimen's folder."""
    irods.seed(f"{LEGACY}/ASU0000042/IMG_0001.jpg", JPEG)  # another specimen's image
    irods.seed(f"{LEGACY}/2021/ASU0005678.jpg", b"")  # empty
    irods.seed(f"{LEGACY}/2021/ASU0000077.jpg", b"a text file, named .jpg\n" * 5)
    irods.seed(f"{LEGACY}/ASU0001234/IMG_0002.jpg", JPEG + b"2")  # its own folder: fine
    ids = {
        "elsewhere": harvester_row(symbiota, "ASU0001234", "00-aaa111", "IMG_0001.jpg"),
        "empty": harvester_row(symbiota, "ASU0005678", "00-bbb222", "ASU0005678.jpg"),
        "text": harvester_row(symbiota, "ASU0000077", "00-ccc333", "ASU0000077.jpg"),
        "own": harvester_row(symbiota, "ASU0001234", "00-ddd444", "IMG_0002.jpg"),
    }
    settings = make_settings(tmp_path, irods, symbiota.url,
                             relink={"search_collections": [LEGACY]})  # fmt: skip
    before = by_id(symbiota)
    report = run_relink(settings, store=irods.store, portal=symbiota.db())
    after = by_id(symbiota)
    for untouched in ("elsewhere", "empty", "text"):
        assert after[ids[untouched]] == before[ids[untouched]], untouched
    assert after[ids["own"]]["sourceIdentifier"] == f"irods:{LEGACY}/ASU0001234/IMG_0002.jpg"
    entries = {e["rel_path"]: e for e in load_report(report.path)["entries"]}  # type: ignore[arg-type]

    def why(name: str) -> str:
        return str(entries[f"relink:{symbiota.table}:{ids[name]}"]["error"])

    assert "names catalog number 'ASU0000042'" in why("elsewhere")
    assert "0 bytes" in why("empty")
    assert "not an image: text" in why("text")

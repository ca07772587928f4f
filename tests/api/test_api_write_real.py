"""api mode's writer against the real Symbiota 3.4.14 REST API: rows as db mode writes them
(minus mediaType), idempotence counted in requests, PATCH in place, curator edits kept, a
lost ledger, and no duplicate after a POST whose answer was lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import RealDb, make_link
from symbiota_real import RealPortal

from cyverse_link.core.models import MatchStatus
from cyverse_link.core.retry import Backoff
from cyverse_link.portal.api import SymbiotaApiPortal
from cyverse_link.portal.api_client import SymbiotaApi
from cyverse_link.portal.base import MatchRules

COLLID = 7


@pytest.fixture(scope="module")
def db(real_symbiota: RealPortal) -> Iterator[RealDb]:
    d = RealDb(real_symbiota)
    yield d
    d.close()


def open_portal(real: RealPortal, state: Path, **kw: object) -> SymbiotaApiPortal:
    api = SymbiotaApi(real.api_url, token=real.api_token, retry=Backoff(retries=2, base_delay=0.05))
    rules = MatchRules(COLLID)
    return SymbiotaApiPortal(api, rules, state_url=f"sqlite:///{state}", **kw)  # type: ignore[arg-type]


def sync(portal: SymbiotaApiPortal, links: list) -> object:  # type: ignore[type-arg]
    matches = portal.match([lk.catalog for lk in links])
    return portal.write([(lk, matches[lk.catalog]) for lk in links])


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**7:07d}"


def test_write_then_a_second_run_sends_no_write(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path
) -> None:
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    links = [
        make_link(catalog, f"{catalog}.jpg", md5="a" * 32),
        make_link(catalog, f"{catalog}_2.jpg", suffix="2"),
    ]
    first = open_portal(real_symbiota, tmp_path / "state.sqlite")
    try:
        result = sync(first, links)
        assert first.api.requests_sent.get("POST") == 2
    finally:
        first.close()
    assert result.inserted == 2 and not result.errors  # type: ignore[attr-defined]
    rows = db.media("occid = :o", o=occid)
    assert [r["sourceIdentifier"] for r in rows] == [lk.source_identifier for lk in links]
    row = rows[0]
    assert row["originalUrl"] == links[0].urls.original_url
    assert row["url"] == links[0].urls.url
    assert row["thumbnailUrl"] == links[0].urls.thumbnail_url
    assert (row["hashFunction"], row["hashValue"], row["mediaMD5"]) == ("MD5", "a" * 32, "a" * 32)
    assert row["owner"] == "ASU PLANTS"
    assert row["format"] == "image/jpeg"
    assert (rows[0]["sortOccurrence"], rows[1]["sortOccurrence"]) == (1, 2)
    assert row["mediaType"] is None  # not fillable through the API in 3.4.14
    assert row["recordID"]

    second = open_portal(real_symbiota, tmp_path / "state.sqlite")
    try:
        again = sync(second, links)
        sent = dict(second.api.requests_sent)
    finally:
        second.close()
    assert again.unchanged == 2 and again.inserted == again.updated == 0  # type: ignore[attr-defined]
    assert set(sent) == {"GET"}, sent  # matching reads; no POST, PATCH or DELETE
    assert len(db.media("occid = :o", o=occid)) == 2


def test_a_changed_image_is_one_patch_in_place(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path
) -> None:
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    old = make_link(catalog, f"{catalog}.jpg", md5="b" * 32)
    portal = open_portal(real_symbiota, tmp_path / "s.sqlite")
    try:
        sync(portal, [old])
    finally:
        portal.close()
    (before,) = db.media("occid = :o", o=occid)
    new = make_link(
        catalog, f"{catalog}.jpg", version="v2", md5="c" * 32, previous=old.source_identifier
    )
    portal = open_portal(real_symbiota, tmp_path / "s.sqlite")
    try:
        result = sync(portal, [new])
        sent = dict(portal.api.requests_sent)
    finally:
        portal.close()
    assert result.updated == 1  # type: ignore[attr-defined]
    assert sent.get("PATCH") == 1 and "POST" not in sent and "DELETE" not in sent
    (after,) = db.media("occid = :o", o=occid)
    assert after["mediaID"] == before["mediaID"] and after["recordID"] == before["recordID"]
    assert after["sourceIdentifier"] == new.source_identifier
    assert after["originalUrl"] == new.urls.original_url
    assert after["mediaMD5"] == "c" * 32


def test_a_curators_edit_is_kept(real_symbiota: RealPortal, db: RealDb, tmp_path: Path) -> None:
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    old = make_link(catalog, f"{catalog}.jpg")
    portal = open_portal(real_symbiota, tmp_path / "s.sqlite")
    try:
        sync(portal, [old])
    finally:
        portal.close()
    db.execute(
        "UPDATE media SET sortOccurrence = 9, thumbnailUrl = 'https://curated.example/t.jpg' "
        "WHERE occid = :o",
        o=occid,
    )
    new = make_link(
        catalog, f"{catalog}.jpg", version="v2", md5="d" * 32, previous=old.source_identifier
    )
    for _ in range(2):  # and the run after that leaves it alone too
        portal = open_portal(real_symbiota, tmp_path / "s.sqlite")
        try:
            sync(portal, [new])
        finally:
            portal.close()
    (row,) = db.media("occid = :o", o=occid)
    assert row["sortOccurrence"] == 9
    assert row["thumbnailUrl"] == "https://curated.example/t.jpg"
    assert row["originalUrl"] == new.urls.original_url  # the tool's own fields did move
    assert row["mediaMD5"] == "d" * 32


@pytest.mark.parametrize("filler", [0, 2100], ids=["media-listing", "per-occurrence"])
def test_a_lost_ledger_finds_the_rows_and_does_not_duplicate(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path, filler: int
) -> None:
    if filler:  # enough media rows that asking per occurrence is cheaper than listing them all
        db.execute(
            "INSERT INTO media (occid, originalUrl, sourceIdentifier) "
            "SELECT NULL, CONCAT('https://x.example/', seq), 'filler' FROM seq_1_to_2100"
        )
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    ours = make_link(catalog, f"{catalog}.jpg")
    imported = make_link(catalog, f"{catalog}_2.jpg", suffix="2")
    portal = open_portal(real_symbiota, tmp_path / "first.sqlite")
    try:
        sync(portal, [ours])
    finally:
        portal.close()
    # a row for the second image came another way (the manager's CSV import): same URL
    db.execute(
        "INSERT INTO media (occid, originalUrl, url, sourceIdentifier, sortOccurrence) "
        "VALUES (:o, :u, :w, 'filename: x_2.jpg', 2)",
        o=occid,
        u=imported.urls.original_url,
        w=imported.urls.url,
    )
    lost = open_portal(real_symbiota, tmp_path / "new-ledger.sqlite")
    try:
        result = sync(lost, [ours, imported])
        sent = dict(lost.api.requests_sent)
    finally:
        lost.close()
    assert result.unchanged == 2 and result.inserted == 0  # type: ignore[attr-defined]
    assert set(sent) == {"GET"}, sent
    rows = db.media("occid = :o", o=occid)
    assert len(rows) == 2
    # and the ledger now knows them: the next run reads nothing about media
    again = open_portal(real_symbiota, tmp_path / "new-ledger.sqlite")
    try:
        assert sync(again, [ours, imported]).unchanged == 2  # type: ignore[attr-defined]
        assert set(again.api.requests_sent) == {"GET"}
    finally:
        again.close()
    if filler:
        db.execute("DELETE FROM media WHERE sourceIdentifier = 'filler'")


def test_unmatched_and_ambiguous_are_reported_not_written(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path
) -> None:
    dup = unique("DUP")
    db.occurrence(COLLID, dup)
    db.occurrence(COLLID, dup)
    hidden = unique("ASU")
    db.occurrence(COLLID, hidden, recordSecurity=1)
    links = [make_link(dup, f"{dup}.jpg"), make_link(hidden, f"{hidden}.jpg")]
    portal = open_portal(real_symbiota, tmp_path / "s.sqlite")
    try:
        matches = portal.match([lk.catalog for lk in links])
        assert matches[dup].status is MatchStatus.AMBIGUOUS
        result = portal.write([(lk, matches[lk.catalog]) for lk in links])
        assert "POST" not in portal.api.requests_sent
    finally:
        portal.close()
    assert set(result.errors) == {lk.source_identifier for lk in links}
    assert "matches occurrences" in result.errors[links[0].source_identifier]
    assert "recordSecurity" in result.errors[links[1].source_identifier]

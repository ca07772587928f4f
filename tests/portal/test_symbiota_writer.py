"""The media writer on a real database (MariaDB and SQLite, both schema flavours)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import sqlalchemy as sa
from symbiota_helpers import COLLID, OTHER_COLLID, Portal, link

from cyverse_link.config.settings import IdentifierSettings
from cyverse_link.core.identifiers import IdentifierParser
from cyverse_link.core.models import Match, MatchStatus, MediaLink, Written
from cyverse_link.portal.symbiota import SymbiotaDb


def mapped(db: SymbiotaDb, links: list[MediaLink]) -> list[tuple[MediaLink, Match]]:
    found = db.match([lk.catalog for lk in links])
    return [(lk, found[lk.catalog]) for lk in links]


def test_inserts_one_row_per_image(portal: Portal) -> None:
    db = portal.db()
    links = [
        link("ASU1234", "ASU0001234_a.jpg", sort_occurrence=1),
        link("ASU1234", "ASU0001234_b.tif", sort_occurrence=2, archive_url="https://x/b.tif"),
        link("ASU777"),
    ]
    result = db.write(mapped(db, links))
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    assert not result.errors
    assert result.written == {
        links[0].source_identifier: portal.occ["padded"],
        links[1].source_identifier: portal.occ["padded"],
        links[2].source_identifier: portal.occ["other"],
    }
    rows = portal.rows()
    assert len(rows) == 3
    a, b, c = rows
    assert a["sourceIdentifier"] == "irods:/iplant/home/shared/demo/ASU0001234_a.jpg"
    assert a["url"] == links[0].urls.url
    assert a["thumbnailUrl"] == links[0].urls.thumbnail_url
    assert a["originalUrl"] == links[0].urls.original_url
    assert a["archiveUrl"] is None and b["archiveUrl"] == "https://x/b.tif"
    assert (a["format"], a["hashFunction"], a["hashValue"]) == ("image/jpeg", "MD5", links[0].md5)
    assert a["mediaMD5"] == links[0].md5
    assert (a["occid"], a["tid"]) == (portal.occ["padded"], portal.tid)
    assert (c["occid"], c["tid"]) == (portal.occ["other"], None)
    assert (a["sortOccurrence"], b["sortOccurrence"], c["sortOccurrence"]) == (1, 2, 5)
    assert a["imageType"] == "specimen"
    assert a["owner"] == "ASU PLANTS"
    assert uuid.UUID(a["recordID"]).version == 4
    assert len({r["recordID"] for r in rows}) == 3
    if portal.flavour == "media":
        assert {r["mediaType"] for r in rows} == {"image"}
    else:
        assert "mediaType" not in a


def test_rewrite_is_idempotent_and_updates_in_place(portal: Portal) -> None:
    db = portal.db()
    links = [link("ASU1234"), link("5678")]
    db.write(mapped(db, links))
    before = portal.rows()
    again = db.write(mapped(db, links))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    # the ledger's record of the first write lets the tool replace its own values
    last = Written(links[0].urls, None, portal.occ["padded"])
    moved = [
        replace(
            link("ASU1234", url="https://new/web.jpg", thumbnail_url="https://new/tn.jpg"),
            written=last,
        ),
        links[1],
    ]
    result = db.write(mapped(db, moved))
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    after = portal.rows()
    assert len(after) == 2
    assert [r[portal.media_id] for r in after] == [r[portal.media_id] for r in before]
    assert [r["recordID"] for r in after] == [r["recordID"] for r in before]
    assert (after[0]["url"], after[0]["thumbnailUrl"]) == (
        "https://new/web.jpg",
        "https://new/tn.jpg",
    )
    assert after[1] == before[1]


def test_source_identifier_is_case_sensitive(portal: Portal) -> None:
    """MariaDB compares case-insensitively; iRODS paths are not: two rows, not one."""
    db = portal.db()
    db.write(mapped(db, [link("ASU1234", "ASU1234.jpg")]))
    result = db.write(mapped(db, [link("ASU1234", "asu1234.jpg")]))
    assert result.inserted == 1
    assert len(portal.rows()) == 2


def test_value_too_long_is_a_per_link_error(portal: Portal) -> None:
    db = portal.db()
    long_url = "https://data.cyverse.org/" + "x" * 231  # 256 characters
    deep = "d/" * 70 + "ASU777.jpg"  # sourceIdentifier > 150
    links = [link("ASU1234", url=long_url), link("ASU777", deep), link("5678")]
    result = db.write(mapped(db, links))
    assert set(result.errors) == {links[0].source_identifier, links[1].source_identifier}
    assert "url is 256 characters" in result.errors[links[0].source_identifier]
    assert "holds 255" in result.errors[links[0].source_identifier]
    assert "sourceIdentifier" in result.errors[links[1].source_identifier]
    assert result.inserted == 1
    assert [r["occid"] for r in portal.rows()] == [portal.occ["bare"]]


def test_limits_count_characters_not_bytes(portal: Portal) -> None:
    """varchar(150) holds 150 characters in utf8mb4, accented or not."""
    db = portal.db()
    prefix = "irods:/iplant/home/shared/demo/"
    name = "Ñandú_" + "é" * (150 - len(prefix) - len("Ñandú_") - len(".jpg")) + ".jpg"
    lk = link("ASU1234", name)
    assert len(lk.source_identifier) == 150
    result = db.write(mapped(db, [lk]))
    assert not result.errors and result.inserted == 1
    assert portal.rows()[0]["sourceIdentifier"] == lk.source_identifier
    assert db.write(mapped(db, [lk])).unchanged == 1


def test_failing_batch_is_rolled_back_and_retried_per_link(portal: Portal) -> None:
    db = portal.db(batch_size=10)
    existing = link("5678")
    db.write(mapped(db, [existing]))
    _reject_url(portal, "https://bad/reject.jpg")
    new = link("ASU1234")
    # an UPDATE the database refuses (of the tool's own row: the ledger has its last write)
    broken = replace(
        link("5678", url="https://bad/reject.jpg"),
        written=Written(existing.urls, None, portal.occ["bare"]),
    )
    result = db.write(mapped(db, [new, broken]))
    # the batch's INSERT ran first and was rolled back; the retry inserted it again, once
    assert (result.inserted, result.updated, result.unchanged) == (1, 0, 0)
    assert list(result.errors) == [broken.source_identifier]
    assert "refused" in result.errors[broken.source_identifier]
    rows = portal.rows()
    assert len(rows) == 2
    assert rows[0]["url"] == existing.urls.url


def test_record_deleted_after_matching_fails_alone(portal: Portal) -> None:
    """The foreign key catches it (SQLite too: the portal turns foreign keys on)."""
    db = portal.db()
    links = [link("ASU1234"), link("5678")]
    pairs = mapped(db, links)
    with portal.engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM omoccurrences WHERE occid = :o"), {"o": portal.occ["bare"]}
        )
    result = db.write(pairs)
    assert list(result.errors) == [links[1].source_identifier]
    assert "refused" in result.errors[links[1].source_identifier]
    assert result.inserted == 1
    assert [r["occid"] for r in portal.rows()] == [portal.occ["padded"]]


def _reject_url(p: Portal, url: str) -> None:
    with p.engine.begin() as conn:
        if p.engine.dialect.name == "sqlite":
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER reject BEFORE UPDATE ON {p.media} "
                    f"WHEN NEW.url = '{url}' BEGIN SELECT RAISE(ABORT, 'rejected'); END"
                )
            )
        else:
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER reject BEFORE UPDATE ON {p.media} FOR EACH ROW "
                    f"IF NEW.url = '{url}' THEN "
                    "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'rejected'; END IF"
                )
            )


def test_ambiguous_and_unmatched_are_not_written(portal: Portal) -> None:
    db = portal.db()
    links = [link("DUP1"), link("NOPE42"), link("ASU1234")]
    result = db.write(mapped(db, links))
    assert "matches occurrences" in result.errors[links[0].source_identifier]
    assert "create_skeletal" in result.errors[links[1].source_identifier]
    assert result.inserted == 1 and result.skeletal_created == 0
    assert len(portal.rows()) == 1
    assert portal.scalar("SELECT COUNT(*) FROM omoccurrences") == len(portal.occ)


def test_skeletal_records(portal: Portal) -> None:
    db = portal.db(create_skeletal=True, batch_size=1)
    links = [link("NEW1", "NEW1_a.jpg"), link("NEW1", "NEW1_b.jpg"), link("NEW2")]
    result = db.write(mapped(db, links))
    assert not result.errors
    assert (result.inserted, result.skeletal_created) == (3, 2)
    occ = _occurrences(portal, "NEW1")
    assert len(occ) == 1  # one skeletal record for both images, across batches
    rec = occ[0]
    assert rec["collid"] == COLLID and rec["processingStatus"] == "unprocessed"
    assert rec["recordEnteredBy"] == "cyverse_link" and rec["dateEntered"] is not None
    assert uuid.UUID(rec["recordID"]).version == 4
    rows = portal.rows()
    assert [r["occid"] for r in rows[:2]] == [rec["occid"]] * 2
    # a second run matches the skeletal record like any other
    again = db.write(mapped(db, links))
    assert (again.unchanged, again.skeletal_created) == (3, 0)


def _occurrences(p: Portal, catalog: str) -> list[sa.RowMapping]:
    with p.engine.connect() as conn:
        sql = sa.text("SELECT * FROM omoccurrences WHERE catalogNumber = :c")
        return list(conn.execute(sql, {"c": catalog}).mappings())


def test_dry_run_writes_nothing_but_counts_the_same(portal: Portal) -> None:
    db = portal.db(create_skeletal=True)
    db.write(mapped(db, [link("5678")]))
    before = portal.rows()
    links = [
        replace(
            link("5678", url="https://new/w.jpg"),
            written=Written(link("5678").urls, None, portal.occ["bare"]),
        ),
        link("ASU1234"),
        link("NEW9"),
        link("NEW9", "b.jpg"),
    ]
    dry = db.write(mapped(db, links), dry_run=True)
    assert portal.rows() == before
    assert _occurrences(portal, "NEW9") == []
    assert (dry.inserted, dry.updated, dry.skeletal_created) == (3, 1, 1)
    real = db.write(mapped(db, links))
    assert (real.inserted, real.updated, real.skeletal_created) == (3, 1, 1)
    assert set(real.written) == set(dry.written)


def test_hostile_values_are_stored_verbatim(portal: Portal) -> None:
    db = portal.db(create_skeletal=True)
    hostile = "1' OR '1'='1"
    lk = link(hostile, "x'); DROP TABLE omoccurrences; --.jpg")
    result = db.write(mapped(db, [lk]))
    assert not result.errors
    assert [r["catalogNumber"] for r in _occurrences(portal, hostile)] == [hostile]
    assert portal.rows()[0]["sourceIdentifier"] == lk.source_identifier
    assert portal.scalar("SELECT COUNT(*) FROM omoccurrences") == len(portal.occ) + 1


def test_an_occurrence_of_another_collection_is_refused(portal: Portal) -> None:
    db = portal.db()
    stale = Match("ASU4242", MatchStatus.MATCHED, (portal.occ["foreign"],))
    result = db.write([(link("ASU4242"), stale)])
    assert f"not in collection {COLLID}" in next(iter(result.errors.values()))
    assert portal.rows() == []
    other = portal.db(collid=OTHER_COLLID)
    assert other.write(mapped(other, [link("ASU4242")])).inserted == 1


def test_many_batches(portal: Portal) -> None:
    with portal.engine.begin() as conn:
        from cyverse_link.sandbox.symbiota_schema import add_occurrence

        for i in range(25):
            add_occurrence(conn, COLLID, f"BULK{i:04d}")
    db = portal.db(batch_size=7)
    links = [link(f"BULK{i}") for i in range(25)]
    result = db.write(mapped(db, links))
    assert (result.inserted, len(result.errors)) == (25, 0)
    assert len(portal.rows()) == 25


def test_changed_content_updates_the_row_of_the_previous_path(portal: Portal) -> None:
    """New bytes under a new iRODS path: the old path's row is moved, never duplicated."""
    db = portal.db()
    old = link("ASU1234", "ASU1234.jpg")
    db.write(mapped(db, [old]))
    before = portal.rows()
    new = replace(
        link("ASU1234", "ASU1234.vabcdef12.jpg", url="https://new/web.jpg"),
        md5="f" * 32,
        previous_source_identifier=old.source_identifier,
    )
    result = db.write(mapped(db, [new]))
    assert (result.inserted, result.updated) == (0, 1)
    after = portal.rows()
    assert len(after) == 1
    row = after[0]
    assert row[portal.media_id] == before[0][portal.media_id]
    assert row["recordID"] == before[0]["recordID"]
    assert row["sourceIdentifier"] == new.source_identifier
    assert (row["url"], row["hashValue"]) == ("https://new/web.jpg", "f" * 32)
    # writing it again is a no-op; the previous identifier no longer matters
    again = db.write(mapped(db, [new]))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    # no earlier row (e.g. it was never linked): a plain insert
    fresh = replace(link("5678", "X5678.v1.jpg"), previous_source_identifier="irods:/nope")
    assert db.write(mapped(db, [fresh])).inserted == 1


PARSE = IdentifierParser(IdentifierSettings())


def named(*names: str) -> list[MediaLink]:
    """Links for file names, catalog numbers parsed as sync parses them."""
    out = []
    for name in names:
        found = PARSE(name)
        assert found is not None
        out.append(link(found[0], name))
    return out


def test_one_skeletal_record_per_normalised_number(portal: Portal) -> None:
    """Issue 13.5: case, leading zeros and suffixes name one specimen, not three."""
    db = portal.db(create_skeletal=True, batch_size=2)
    links = named("ASU0000099.jpg", "asu0000099_b.jpg", "ASU99_c.jpg")
    dry = db.write(mapped(db, links), dry_run=True)
    assert dry.skeletal_created == 1
    result = db.write(mapped(db, links))
    assert not result.errors
    assert (result.inserted, result.skeletal_created) == (3, 1)
    occids = {r["occid"] for r in portal.rows()}
    assert len(occids) == 1
    created = portal.scalar(
        "SELECT COUNT(*) FROM omoccurrences WHERE processingStatus = 'unprocessed'"
    )
    assert created == 1
    record = _occurrences(portal, "ASU0000099")
    assert [r["occid"] for r in record] == list(occids)  # the first spelling in sorted order
    # a later image of that number maps to the record like any other
    later = named("asu099_d.jpg")
    assert db.match(["asu099"])["asu099"].occids == tuple(occids)
    again = db.write(mapped(db, later))
    assert (again.inserted, again.skeletal_created) == (1, 0)


def test_skeletal_records_keep_zeros_apart_when_they_count(portal: Portal) -> None:
    db = portal.db(create_skeletal=True, strip_leading_zeros=False)
    result = db.write(mapped(db, named("ASU0099.jpg", "asu0099_b.jpg", "ASU99.jpg")))
    assert not result.errors
    assert result.skeletal_created == 2  # case still does not count (the portal's collation)
    assert len({r["occid"] for r in portal.rows()}) == 2


def _curator_row(p: Portal, occid: int, **values: object) -> int:
    """A media row as a curator makes it in the portal's image editor."""
    cols = {"occid": occid, "sortOccurrence": 5, "format": "image/jpeg", **values}
    if p.flavour == "media":
        cols["mediaType"] = "image"
    names = ", ".join(cols)
    params = ", ".join(f":{k}" for k in cols)
    with p.engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {p.media} ({names}) VALUES ({params})"), cols)
    return int(p.scalar(f"SELECT MAX({p.media_id}) FROM {p.media}"))


def test_curator_row_pointing_at_the_file_is_recognised_by_url(portal: Portal) -> None:
    """Issue 13.10: a row without our sourceIdentifier whose URL is the file's: no second row."""
    db = portal.db()
    lk = link("ASU1234")
    for field, value in [
        ("originalUrl", lk.urls.original_url),
        ("url", lk.urls.url),
        ("thumbnailUrl", lk.urls.thumbnail_url),
    ]:
        symbiota_clear_media(portal)
        media_id = _curator_row(portal, portal.occ["bare"], **{field: value}, caption="mine")
        before = portal.rows()
        result = db.write(mapped(db, [lk]))
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1), field
        assert result.written == {lk.source_identifier: portal.occ["bare"]}
        note = result.notes[lk.source_identifier]
        assert f"media row {media_id}" in note and "did not write" in note
        assert portal.rows() == before  # untouched, sourceIdentifier still empty


def symbiota_clear_media(p: Portal) -> None:
    with p.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {p.media}"))


def test_curator_row_with_our_source_identifier_is_not_overwritten(portal: Portal) -> None:
    """Issue 13.10: no record of writing it, and it holds other values: a curator's row."""
    db = portal.db()
    lk = link("ASU1234")
    _curator_row(
        portal,
        portal.occ["padded"],
        sourceIdentifier=lk.source_identifier,
        url="https://portal.example/imglib/ASU1234_web.jpg",
        originalUrl=lk.urls.original_url,
        sortOccurrence=9,
    )
    result = db.write(mapped(db, [lk]))
    assert result.inserted == 0
    (row,) = portal.rows()
    assert row["url"] == "https://portal.example/imglib/ASU1234_web.jpg"
    assert row["sortOccurrence"] == 9
    assert row["originalUrl"] == lk.urls.original_url
    assert row["thumbnailUrl"] is None  # also something the curator set (nothing)
    note = result.notes[lk.source_identifier]
    assert "url" in note and "sortOccurrence" in note and "left as they are" in note
    # the tool's own fields are still the tool's
    assert row["hashValue"] == lk.md5


def test_fields_a_curator_changed_after_the_tool_wrote_are_kept(portal: Portal) -> None:
    db = portal.db()
    first = link("ASU1234")
    db.write(mapped(db, [first]))
    with portal.engine.begin() as conn:  # the curator reorders the image and moves the web URL
        conn.execute(
            sa.text(f"UPDATE {portal.media} SET url = 'https://mine/web.jpg', sortOccurrence = 1")
        )
    written = Written(first.urls, None, portal.occ["padded"])
    second = replace(
        link("ASU1234", url="https://new/web.jpg", thumbnail_url="https://new/tn.jpg"),
        written=written,
    )
    result = db.write(mapped(db, [second]))
    assert result.updated == 1
    (row,) = portal.rows()
    assert (row["url"], row["sortOccurrence"]) == ("https://mine/web.jpg", 1)
    assert row["thumbnailUrl"] == "https://new/tn.jpg"  # unchanged by the curator: the tool's
    assert "url, sortOccurrence" in result.notes[second.source_identifier]
    # a curator who moved the row to another specimen keeps it there
    with portal.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {portal.media} SET occid = :o"), {"o": portal.occ["bare"]})
    third = replace(second, written=Written(second.urls, None, portal.occ["padded"]))
    result = db.write(mapped(db, [third]))
    assert result.written[third.source_identifier] == portal.occ["bare"]
    assert portal.rows()[0]["occid"] == portal.occ["bare"]


def test_skeletal_record_comes_before_the_url_check(portal: Portal) -> None:
    """An unmatched number whose file a curator row already shows: the batch's skeletal records
    are made first (one lookup, one insert), so the record exists, while the file links no
    second media row: the curator's row is reported and left as it is."""
    db = portal.db(create_skeletal=True)
    lk = link("NEW9")
    media_id = _curator_row(portal, portal.occ["bare"], url=lk.urls.url, caption="mine")
    before = portal.rows()
    result = db.write(mapped(db, [lk]))
    assert (result.inserted, result.unchanged, result.skeletal_created) == (0, 1, 1)
    assert len(_occurrences(portal, "NEW9")) == 1
    assert result.written == {lk.source_identifier: portal.occ["bare"]}
    assert f"media row {media_id}" in result.notes[lk.source_identifier]
    assert portal.rows() == before

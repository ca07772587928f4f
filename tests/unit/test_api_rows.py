"""The pure rules of api mode's writer: what to PATCH, what a curator changed, which row is
ours."""

from __future__ import annotations

from cyverse_link.core.models import MediaLink, MediaUrls
from cyverse_link.portal.api_rows import find_ours, plan_patch, post_body, tracked_values

LINK = MediaLink(
    catalog="ASU1",
    source_identifier="irods:/z/a.jpg",
    urls=MediaUrls(url="https://w/a.web.jpg", thumbnail_url="https://w/a.t.jpg",
                   original_url="https://w/a.jpg"),
    md5="f" * 32,
    sort_occurrence=1,
)  # fmt: skip


def test_body_has_db_modes_fields_without_media_type_and_no_nulls() -> None:
    body = post_body(LINK, tracked_values(LINK, 5, None), "ASU PLANTS")
    assert body["occid"] == 5 and "tid" not in body and "archiveUrl" not in body
    assert body["sourceIdentifier"] == "irods:/z/a.jpg" and body["owner"] == "ASU PLANTS"
    assert body["mediaMD5"] == body["hashValue"] == "f" * 32 and body["imageType"] == "specimen"
    assert "mediaType" not in body


def test_patch_only_what_changed_and_keep_what_a_curator_edited() -> None:
    last = tracked_values(LINK, 5, 9)
    current = {**last, "sortOccurrence": "7", "occid": "5", "tid": 9}  # a curator: 1 → 7
    new = {**last, "url": "https://w/b.web.jpg", "sortOccurrence": 2}
    patch, kept = plan_patch(new, last, current)
    assert patch == {"url": "https://w/b.web.jpg"}
    assert kept == ["sortOccurrence"]


def test_without_a_record_nothing_that_differs_is_overwritten() -> None:
    current = {**tracked_values(LINK, 5, None), "thumbnailUrl": "https://curated/t.jpg"}
    patch, kept = plan_patch(tracked_values(LINK, 5, None), None, current)
    assert patch == {} and kept == ["thumbnailUrl"]


def test_our_row_by_source_identifier_first_then_by_url() -> None:
    rows = [
        {"mediaID": 9, "sourceIdentifier": "filename: a.jpg", "originalUrl": "https://w/a.jpg"},
        {"mediaID": 12, "sourceIdentifier": "irods:/z/old.jpg", "originalUrl": "https://w/o.jpg"},
    ]
    assert find_ours(rows, ["irods:/z/a.jpg", "irods:/z/old.jpg"], [])["mediaID"] == 12  # type: ignore[index]
    assert find_ours(rows, ["irods:/z/a.jpg"], ["https://w/a.jpg"])["mediaID"] == 9  # type: ignore[index]
    assert find_ours(rows, ["irods:/z/x.jpg"], ["https://w/x.jpg"]) is None

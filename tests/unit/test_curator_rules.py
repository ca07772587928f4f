"""The pure curator rules (cyverse_link/portal/curator_rules.py)."""

from __future__ import annotations

from cyverse_link.core.models import MediaUrls
from cyverse_link.portal.curator_rules import plan_update, row_urls, url_keys

NEW = {"url": "n/web", "thumbnailUrl": "n/tn", "occid": 5, "tid": 9, "hashValue": "h2"}
WRITTEN = {"url": "o/web", "thumbnailUrl": "o/tn", "occid": 5}


def test_what_the_tool_wrote_is_replaced() -> None:
    row = {"url": "o/web", "thumbnailUrl": "o/tn", "occid": 5, "tid": 9, "hashValue": "h1"}
    changes, kept = plan_update(row, NEW, WRITTEN)
    assert changes == {"url": "n/web", "thumbnailUrl": "n/tn", "hashValue": "h2"}
    assert kept == []


def test_what_a_curator_changed_is_kept() -> None:
    row = {"url": "mine", "thumbnailUrl": "o/tn", "occid": 6, "tid": 1, "hashValue": "h1"}
    changes, kept = plan_update(row, NEW, WRITTEN)
    assert kept == ["url", "occid"]
    assert changes == {"thumbnailUrl": "n/tn", "hashValue": "h2"}  # tid stays with occid


def test_without_a_record_only_matching_fields_count_as_the_tools() -> None:
    row = {"url": "n/web", "thumbnailUrl": None, "occid": "5", "tid": 9, "hashValue": "h2"}
    changes, kept = plan_update(row, NEW, None)
    assert kept == ["thumbnailUrl"] and changes == {}


def test_url_keys() -> None:
    urls = MediaUrls(url="a", thumbnail_url=None, original_url="c", archive_url="d")
    assert url_keys(urls) == {"a", "c"}  # the archive (TIFF) is not what a row displays
    assert row_urls({"url": "a", "originalUrl": "", "thumbnailUrl": "t"}) == {"a", "t"}

"""Pure rules of api mode's writer: the body of one media row, what to PATCH, which existing
row is ours. No I/O here.

The fields are db mode's (``writer.py``) minus ``mediaType``, which the API cannot set (it is
not in ``Media::$fillable`` in 3.4.14, api/app/Models/Media.php), and ``recordID``, which the
API makes itself on POST.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from cyverse_link.core.models import MediaLink
from cyverse_link.portal.base import MEDIA_FIELDS, MEDIA_INSERT_ONLY, sort_occurrence_value

# Written on POST and PATCH; what the ledger keeps and compares (see the module docstring).
TRACKED = tuple(f for f in MEDIA_FIELDS if f != "mediaType")
INSERT_ONLY = tuple(f for f in MEDIA_INSERT_ONLY if f != "recordID")
_INTS = ("occid", "tid", "sortOccurrence")
# Validated as integer|exists by MediaController: a null is refused, so it is left out.
_NOT_NULL = ("occid", "tid")


def tracked_values(link: MediaLink, occid: int, tid: int | None) -> dict[str, Any]:
    """The ``TRACKED`` fields of one link's row."""
    u = link.urls
    return {
        "url": u.url,
        "thumbnailUrl": u.thumbnail_url,
        "originalUrl": u.original_url,
        "archiveUrl": u.archive_url,
        "format": u.format,
        "hashFunction": "MD5",
        "hashValue": link.md5,
        "mediaMD5": link.md5,
        "occid": occid,
        "tid": tid,
        "sortOccurrence": sort_occurrence_value(link.sort_occurrence),
    }


def post_body(link: MediaLink, values: Mapping[str, Any], owner: str | None) -> dict[str, Any]:
    body: dict[str, Any] = dict(values)
    body.update(sourceIdentifier=link.source_identifier, imageType="specimen", owner=owner)
    return {k: v for k, v in body.items() if v is not None}


def normalized(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``TRACKED`` fields of a row as the API returns it (numbers may come as strings)."""
    out: dict[str, Any] = {}
    for k in TRACKED:
        v = row.get(k)
        if k in _INTS and v is not None:
            with contextlib.suppress(TypeError, ValueError):
                v = int(v)
        elif v == "":
            v = None
        out[k] = v
    return out


def plan_patch(
    new: Mapping[str, Any], last: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(fields to PATCH, fields kept because a curator changed them).

    A field is changed when the new value differs from the row's current one and the row still
    holds what this tool last wrote (``last``); a field whose current value differs from
    ``last`` was edited in the portal and is kept. With no ``last`` (the ledger was lost) the
    current row is the baseline, so nothing that differs is overwritten."""
    cur = normalized(current)
    patch: dict[str, Any] = {}
    kept: list[str] = []
    for k in TRACKED:
        want = new.get(k)
        if want == cur.get(k):
            continue
        if last is not None and cur.get(k) == last.get(k):
            if want is None and k in _NOT_NULL:
                kept.append(k)  # cannot be cleared through the API
            else:
                patch[k] = want
        else:
            kept.append(k)
    return patch, kept


def find_ours(
    rows: Iterable[Mapping[str, Any]], sids: Iterable[str], urls: Iterable[str | None]
) -> Mapping[str, Any] | None:
    """The existing row that is this link's: same sourceIdentifier (the first of ``sids`` that
    has one wins), else the same ``originalUrl`` or ``url``; lowest mediaID first."""
    ordered = sorted(rows, key=lambda r: int(r.get("mediaID") or 0))
    for sid in sids:
        for r in ordered:
            if r.get("sourceIdentifier") == sid:
                return r
    wanted = {u for u in urls if u}
    for r in ordered:
        if r.get("originalUrl") in wanted or r.get("url") in wanted:
            return r
    return None

"""Portal rows the tool did not write, and fields a curator changed (issue 13.10).

The same rules hold for every route that writes rows (the database writer in ``writer.py``;
the REST API writer mirrors them). All functions here are pure.

1. **The tool's rows** carry ``sourceIdentifier = "irods:<full iRODS path>"``. Such a row is
   found by that value (or, for changed content, by the previous path's value) and updated in
   place; nothing else makes a row the tool's.

2. **A row found by URL is a curator's row.** When no row carries the link's
   sourceIdentifier but a row of the collection has ``url``, ``originalUrl`` or
   ``thumbnailUrl`` equal to one of the link's URLs (``url_keys``: the same file at its
   dav-anon or BisQue address), the image is already linked: the tool inserts no second row
   and changes nothing in that row (not even its sourceIdentifier). The file is recorded as
   linked to that row's occurrence and the report says so (``note_existing``).

3. **Fields a curator changed are left alone.** The tool knows what it wrote last: the ledger
   keeps, per file, the URLs (with ``format``) and the occid of its last completed write, and
   ``sortOccurrence`` follows from the file name; the pipeline hands these to the writer as
   ``MediaLink.written``. For each field in ``CURATED``, ``plan_update`` compares the row:
   equal to what the tool last wrote → the tool may replace it; different → a curator
   changed it → kept, and reported. With no record of a write (a file new to the ledger, a
   lost ledger, ``link``), what the tool would write now stands in for it: a row that already
   holds it is unchanged, and a field holding anything else is kept. So a curator row that
   happens to carry ``irods:<path>`` is never overwritten, and a lost ledger changes nothing.
   ``tid`` follows ``occid``. Fields outside ``CURATED`` that the tool writes (``mediaType``,
   ``hashFunction``, ``hashValue``, ``mediaMD5``: not editable in Symbiota's image editor)
   are always the tool's. Fields the tool never writes (caption, notes, creator, ...) are
   never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cyverse_link.core.models import MediaUrls

CURATED = ("url", "thumbnailUrl", "originalUrl", "archiveUrl", "format", "sortOccurrence", "occid")


def url_keys(urls: MediaUrls) -> set[str]:
    """The addresses of one file that a row pointing at it would hold."""
    found = {urls.url, urls.thumbnail_url, urls.original_url}
    return {u for u in found if u}


def row_urls(row: Mapping[Any, Any]) -> set[str]:
    """The addresses a portal row points at (``url``, ``originalUrl``, ``thumbnailUrl``)."""
    found = (row.get("url"), row.get("originalUrl"), row.get("thumbnailUrl"))
    return {u for u in found if isinstance(u, str) and u}


def plan_update(
    row: Mapping[Any, Any],
    new: Mapping[Any, Any],
    written: Mapping[Any, Any] | None,
) -> tuple[dict[str, object], list[str]]:
    """(fields to write, curated fields kept because a curator changed them).

    ``row``: the portal row by logical column name; ``new``: what the tool writes now;
    ``written``: what it wrote last (None: no record; ``new`` stands in for it)."""
    baseline = new if written is None else written
    kept = [k for k in CURATED if k in new and k in baseline and not same(row.get(k), baseline[k])]
    changes = {k: v for k, v in new.items() if k not in kept and not same(row.get(k), v)}
    if "occid" in kept:  # the taxon goes with the occurrence the curator chose
        changes.pop("tid", None)
    return changes, kept


def same(a: object, b: object) -> bool:
    """Equal as the portal stores them (numbers may come back as strings from some drivers)."""
    if a == b:
        return True
    return a is not None and b is not None and str(a) == str(b)


def note_kept(what: str, media_id: object, kept: list[str]) -> str:
    return (
        f"{what}: media row {media_id} was changed in the portal ({', '.join(kept)}); "
        "those fields were left as they are"
    )


def note_existing(what: str, media_id: object, occid: object) -> str:
    return (
        f"{what}: already linked by media row {media_id} (occurrence {occid}), which "
        "cyverse-link did not write; no second row was added and that row was left as it is"
    )

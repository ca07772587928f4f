"""Pure rules for ``relink``: what a BisQue-era media row says about its file, and the
dav-anon URLs it gets. No I/O."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cyverse_link.core.models import MediaUrls
from cyverse_link.core.naming import Rendition
from cyverse_link.core.urls import parse_bisque_url
from cyverse_link.portal.rewrite import MediaRow
from cyverse_link.publish.davanon import DavAnonProvider

_HARVESTER_SID = re.compile(r"^([A-Za-z0-9\-]+);\s*filename:\s*(.+)$")  # symbiota-media.md §7
_FILENAME_SID = re.compile(r"^filename:\s*(.+)$")
_BARE_UNIQ = re.compile(r"^(?=.*[0-9A-Z-])[A-Za-z0-9][A-Za-z0-9-]{5,}$")  # NEVP loader


@dataclass(frozen=True)
class Clues:
    """What a BisQue-era row tells about its file."""

    uniq: str | None
    name: str | None
    catalog: str | None


@dataclass(frozen=True)
class Resolution:
    path: str | None
    how: str = ""  # bisque | avu | name | catalog
    error: str | None = None
    ambiguous: bool = False


def _host_ok(host: str, hosts: Sequence[str]) -> bool:
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host in hosts or bare in hosts


def clues_of(row: MediaRow, hosts: Sequence[str]) -> Clues:
    """The BisQue id and file name from the ``sourceIdentifier`` forms Symbiota stored, else
    the id from the first BisQue URL in the row."""
    sid = (row.source_identifier or "").strip()
    uniq = name = None
    if m := _HARVESTER_SID.match(sid):
        uniq, name = m.group(1), m.group(2).strip()
    elif m := _FILENAME_SID.match(sid):
        name = m.group(1).strip()
    elif _BARE_UNIQ.match(sid):
        uniq = sid
    if uniq is None:
        low = [h.lower() for h in hosts]
        for url in row.url_values():
            parsed = parse_bisque_url(url) if url else None
            if parsed is not None and _host_ok(parsed[0], low):
                uniq = parsed[1]
                break
    return Clues(uniq, posixpath.basename(name) if name else None, row.catalog or None)


def relink_urls(
    provider: DavAnonProvider,
    original: str,
    derivatives: dict[Rendition, str],
    *,
    had_archive: bool,
    md5s: Mapping[str, str] | None = None,
) -> MediaUrls:
    """dav-anon URLs for a relinked row: derivatives when present, else the original (also as
    the thumbnail, as the harvester's rows always had one). A row that had an ``archiveUrl``
    keeps one: the original file."""
    urls = provider.urls_for(original, derivatives, md5s=md5s)
    thumb = urls.thumbnail_url or urls.url
    archive = urls.archive_url or (provider.url(original) if had_archive else None)
    return replace(urls, thumbnail_url=thumb, archive_url=archive)

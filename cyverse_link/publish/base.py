"""The ``UrlProvider`` protocol: iRODS paths → public web URLs (dav-anon or BisQue)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cyverse_link.core.models import MediaUrls
from cyverse_link.core.naming import Rendition


class UrlProvider(Protocol):
    def urls_for(
        self,
        original: str,
        derivatives: Mapping[Rendition, str],
        *,
        tags: Mapping[str, str] | None = None,
        md5s: Mapping[str, str] | None = None,
    ) -> MediaUrls:
        """Web URLs for an uploaded, public original (full iRODS path) and its derivative
        objects. BisQue registers (or reuses) the original; dav-anon only builds strings.
        ``md5s`` (iRODS path → MD5 of its bytes) gives ``original_md5``: the MD5 of whichever
        file the ``original_url`` serves, None when that file is not one of ours (a rendition
        the server makes). Raises PublishError, ServiceUnavailable."""
        ...

"""The ``davanon`` URL provider: anonymous WebDAV URLs built from iRODS paths (no I/O).

dav-anon serves bytes only (no renditions), so the web and thumbnail URLs point at the JPEG
derivatives cyverse_link uploads beside each original. Browsers cannot show TIFF, so for a
non-JPEG master the large JPEG derivative is the ``originalUrl`` and the master itself the
``archiveUrl`` (Symbiota's convention). dav-anon forces ``application/octet-stream`` for
``Accept: */*`` clients, so the declared ``format`` matters: it is ``image/jpeg`` whenever the
web URL is a JPEG.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import replace

from cyverse_link.core.errors import PublishError
from cyverse_link.core.models import MediaUrls
from cyverse_link.core.naming import Rendition
from cyverse_link.core.urls import davanon_url, is_jpeg_name


class DavAnonProvider:
    """``UrlProvider`` for ``urls.provider: davanon``. Raises ``PublishError`` for paths that
    dav-anon cannot serve (outside ``/<zone>/home/…``)."""

    def __init__(self, base: str, zone: str = "iplant") -> None:
        self.base = base.rstrip("/")
        self.zone = zone

    def url(self, irods_path: str) -> str:
        try:
            return davanon_url(irods_path, self.base, self.zone)
        except ValueError as exc:
            raise PublishError(f"no dav-anon URL for {irods_path}: {exc}") from exc

    def urls_for(
        self,
        original: str,
        derivatives: Mapping[Rendition, str],
        *,
        tags: Mapping[str, str] | None = None,
        md5s: Mapping[str, str] | None = None,
    ) -> MediaUrls:
        urls = self._urls(original, derivatives)
        # which of our objects originalUrl serves: the master, or its large (else web) JPEG
        served = (
            original
            if urls.archive_url is None
            else derivatives.get(Rendition.LARGE, derivatives.get(Rendition.WEB, original))
        )
        return replace(urls, original_md5=(md5s or {}).get(served))

    def _urls(self, original: str, derivatives: Mapping[Rendition, str]) -> MediaUrls:
        original_url = self.url(original)
        rendered = {kind: self.url(path) for kind, path in derivatives.items()}
        thumb = rendered.get(Rendition.THUMB)
        if is_jpeg_name(original):
            return MediaUrls(
                url=rendered.get(Rendition.WEB, original_url),
                thumbnail_url=thumb,
                original_url=original_url,
                format="image/jpeg",
            )
        web = rendered.get(Rendition.WEB)
        large = rendered.get(Rendition.LARGE, web)
        if web is None:  # no JPEG at all: link the master and declare its real type
            fmt = mimetypes.guess_type(original)[0] or "application/octet-stream"
            return MediaUrls(
                url=original_url, thumbnail_url=thumb, original_url=original_url, format=fmt
            )
        return MediaUrls(
            url=web,
            thumbnail_url=thumb,
            original_url=large,
            archive_url=original_url,
            format="image/jpeg",
        )

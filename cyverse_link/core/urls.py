"""Pure URL builders and parsers: dav-anon URLs, BisQue ``irods://`` values and display URLs.

No third-party imports. Every function here is a decision about strings, so it is unit-tested
directly (``tests/unit/test_urls.py``).

Zones: CyVerse's davrods serves the zone ``iplant`` under ``/dav-anon/iplant/…``: the first
URL segment *is* the zone name (davrods mirrors the iRODS path). For another zone we keep that
rule (``<base>/<zone>/home/<user>/…``, ``<base>/<zone>/projects/<folder>/…``), which is what a
davrods installed from CyVerse's playbooks would serve; a site with a different layout should
set ``urls.davanon_base`` accordingly or use the BisQue provider.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

# GridSite `urlencode -m` ("mild") passes these through; CyVerse's rule turned its "+" into %20.
_MILD_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.=-_@")
_UNIQ_RX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")  # opaque; old data has no "00-" prefix


def quote_segment(segment: str) -> str:
    """Percent-encode one path segment for a URL (``/`` included, RFC 3986 unreserved kept)."""
    return quote(segment, safe="")


def _split_irods_path(irods_path: str) -> list[str]:
    """The segments of an absolute, normalised iRODS path; ValueError otherwise."""
    if not irods_path.startswith("/"):
        raise ValueError(f"not an absolute iRODS path: {irods_path!r}")
    parts = irods_path.split("/")[1:]
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"iRODS path has an empty, '.' or '..' segment: {irods_path!r}")
    return parts


def davanon_url(irods_path: str, base: str, zone: str = "iplant") -> str:
    """Anonymous WebDAV URL of a public data object (SPEC §4).

    ``/<zone>/home/shared/<folder>/<path>`` → ``<base>/<zone>/projects/<folder>/<path>`` (the
    form dav-anon redirects ``home/shared`` to); anything else under ``/<zone>/home/<user>/…``
    → ``<base>/<zone>/home/<user>/…``. Every segment is percent-encoded. Raises ValueError for
    paths outside ``/<zone>/home/<name>/<something>``.
    """
    parts = _split_irods_path(irods_path)
    if len(parts) < 4 or parts[0] != zone or parts[1] != "home":
        raise ValueError(
            f"{irods_path!r} is not a data object under /{zone}/home/<user or shared>/…; "
            "dav-anon only serves home and shared (Community Data) folders"
        )
    tail = ["projects", *parts[3:]] if parts[2] == "shared" else ["home", *parts[2:]]
    return "/".join([base.rstrip("/"), quote_segment(zone), *map(quote_segment, tail)])


def mild_encode(segment: str) -> str:
    """GridSite ``urlencode -m`` of one segment, with a space as ``%20`` (bisque-api.md §8)."""
    return "".join(chr(b) if b in _MILD_SAFE else f"%{b:02X}" for b in segment.encode("utf-8"))


def bisque_irods_value(irods_path: str, irods_host: str, *, encoded: bool = True) -> str:
    """``irods://<irods_host>/<zone>/…`` as BisQue stores it.

    ``encoded=True`` is the form CyVerse has used since 2022 (segments percent-encoded); the raw
    form is what older registrations hold, so lookups try both (``irods_value_forms``).
    """
    parts = _split_irods_path(irods_path)
    path = "/".join(mild_encode(p) for p in parts) if encoded else "/".join(parts)
    return f"irods://{irods_host}/{path}"


def irods_value_forms(value: str) -> tuple[str, ...]:
    """The encoded and the raw form of an ``irods://`` value (deduplicated, encoded first)."""
    host = urlsplit(value).netloc
    raw_path = bisque_irods_path(value)
    raw = f"irods://{host}{raw_path}"
    encoded = bisque_irods_value(raw_path, host)
    return (encoded,) if encoded == raw else (encoded, raw)


def bisque_irods_path(value: str) -> str:
    """The iRODS path inside an ``irods://`` value (host dropped, percent-decoding undone)."""
    parts = urlsplit(value)
    if parts.scheme != "irods" or not parts.netloc:
        raise ValueError(f"not an irods:// value: {value!r}")
    return unquote(value[len("irods://") + len(parts.netloc) :])


@dataclass(frozen=True)
class BisqueImageUrls:
    thumbnail: str
    web: str
    large: str
    archive: str


def bisque_image_urls(root: str, resource_uniq: str) -> BisqueImageUrls:
    """Display URLs from ``<root>/image_service/image/<uniq>`` (bisque-api.md §7)."""
    if not _UNIQ_RX.match(resource_uniq):
        raise ValueError(f"not a BisQue resource_uniq: {resource_uniq!r}")
    image = f"{root.rstrip('/')}/image_service/image/{resource_uniq}"
    return BisqueImageUrls(
        thumbnail=f"{image}/thumbnail:200,200",
        web=f"{image}/resize:1250/format:jpeg",
        # MX: a master smaller than 4000 px stays as it is; a plain resize:4000 would upscale
        # it (image_service/controllers/operations/resize.py ~36-51, ~115-119 in bisqueUCSB)
        large=f"{image}/resize:4000,4000,BL,MX/format:jpeg",
        archive=image,
    )


_SERVICE_PREFIXES = (
    ("image_service", "image"),
    ("image_service",),
    ("images",),  # deprecated, still in old portal rows
    ("blob_service",),
    ("data_service", "image"),
    ("data_service",),
)


def parse_bisque_url(url: str) -> tuple[str, str] | None:
    """``(host, resource_uniq)`` of a BisQue image/blob/data/view URL, else None.

    Accepts the path forms (``…/image_service/image/<uniq>/thumbnail:200,200``), the query forms
    (``…/image_service/<uniq>?thumbnail=…``), ``blob_service/<uniq>``, ``data_service/<uniq>``
    and the landing page ``client_service/view?resource=<root>/data_service/<uniq>``. The host
    is lower-cased and keeps an explicit port; a deployment prefix before the service is allowed.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[-2:] == ["client_service", "view"]:
        resource = parse_qs(parts.query).get("resource", [""])[0]
        inner = parse_bisque_url(resource) if resource.startswith("http") else None
        if inner is None and resource:
            inner = parse_bisque_url(f"{parts.scheme}://{host}/{resource.lstrip('/')}")
        return (host, inner[1]) if inner else None
    for i in range(len(segments)):
        for prefix in _SERVICE_PREFIXES:
            end = i + len(prefix)
            if tuple(segments[i:end]) == prefix and end < len(segments):
                uniq = segments[end]
                if _looks_like_uniq(uniq):
                    return host, uniq
                break
    return None


def _looks_like_uniq(segment: str) -> bool:
    """Opaque ids have a digit, a capital or a dash; type names (``image``, ``paths``) do not."""
    return bool(_UNIQ_RX.match(segment)) and any(
        c.isdigit() or c.isupper() or c == "-" for c in segment
    )


def is_jpeg_name(path: str) -> bool:
    """True for ``.jpg``/``.jpeg`` names (any case): browsers show these as they are."""
    return posixpath.splitext(path)[1].lower() in (".jpg", ".jpeg", ".jpe")


def basename(irods_path: str) -> str:
    """The object name of an iRODS path (never empty, never starting with '/')."""
    name = posixpath.basename(irods_path.rstrip("/"))
    if not name:
        raise ValueError(f"iRODS path has no object name: {irods_path!r}")
    return name

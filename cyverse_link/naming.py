"""Where originals and derivatives live in iRODS. Pure functions, shared by sync and link.

Originals keep the drop folder's relative path. Derivatives sit in a ``_derivatives`` folder
beside their original and carry the first 8 hex digits of the original's MD5, so changed
content always gets new derivative URLs (aggregators cache by URL) and a scan or ``link``
never mistakes a derivative for an original.
"""

from __future__ import annotations

import enum
import posixpath
import re

DERIVATIVE_DIR = "_derivatives"
_DERIVATIVE_RX = re.compile(
    r"^(?P<stem>.+)\.(?P<tag>[0-9a-f]{8})\.(?P<kind>web|thumb|large)\.jpg$", re.IGNORECASE
)


class Rendition(enum.StrEnum):
    WEB = "web"
    THUMB = "thumb"
    LARGE = "large"


def join(*parts: str) -> str:
    """Join iRODS path parts with exactly one slash between them."""
    return posixpath.join(*[p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts)])


def original_path(collection: str, rel_path: str) -> str:
    """``/zone/.../collection`` + drop-folder relative path (POSIX)."""
    return join(collection, rel_path)


def versioned_path(path: str, md5: str) -> str:
    """Path for changed content under a name already taken: ``stem.v<md5_8>.ext``.

    Nothing in iRODS is overwritten with different bytes; the old object stays.
    """
    head, name = posixpath.split(path)
    stem, ext = posixpath.splitext(name)
    return posixpath.join(head, f"{stem}.v{md5[:8]}{ext}")


def derivative_path(original: str, md5: str, rendition: Rendition) -> str:
    head, name = posixpath.split(original)
    stem = posixpath.splitext(name)[0]
    return posixpath.join(head, DERIVATIVE_DIR, f"{stem}.{md5[:8]}.{rendition.value}.jpg")


def is_derivative(path: str) -> bool:
    """True for objects written by ``derivative_path`` (never treated as originals)."""
    head, name = posixpath.split(path)
    return posixpath.basename(head) == DERIVATIVE_DIR and bool(_DERIVATIVE_RX.match(name))


def derivative_of(path: str) -> tuple[str, str, Rendition] | None:
    """For a derivative path: (original's folder + stem, md5 prefix, rendition); else None."""
    head, name = posixpath.split(path)
    m = _DERIVATIVE_RX.match(name)
    if posixpath.basename(head) != DERIVATIVE_DIR or not m:
        return None
    folder = posixpath.dirname(head)
    return posixpath.join(folder, m["stem"]), m["tag"].lower(), Rendition(m["kind"].lower())

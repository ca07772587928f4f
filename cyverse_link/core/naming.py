"""Where originals and derivatives live in iRODS. Pure functions, shared by sync and link.

Originals keep the drop folder's relative path. Derivatives sit in a ``_derivatives`` folder
beside their original and carry the first 8 hex digits of the original's MD5, so changed
content always gets new derivative URLs (aggregators cache by URL) and a scan or ``link``
never mistakes a derivative for an original.
"""

from __future__ import annotations

import enum
import hashlib
import posixpath
import re

DERIVATIVE_DIR = "_derivatives"
NAME_MAX = 255
"""Bytes in one path component. iRODS itself takes longer data names (the whole logical path
may have MAX_NAME_LEN - 1 = 1087 bytes, irods/irods lib/core/include/irods/rodsDef.h ~line 46:
``MAX_PATH_ALLOWED 1024``, ``MAX_NAME_LEN (MAX_PATH_ALLOWED+64)``), but a unixfilesystem
resource writes each object to a vault file of the same name, where the file system's
NAME_MAX (255 bytes on ext4/XFS) applies: names made here stay within it."""
MAX_IRODS_PATH = 1087
"""Bytes of a full logical path that iRODS accepts (``MAX_NAME_LEN`` with its NUL, above)."""
MAX_REL_PATH = 4096
"""Longest drop-folder ``rel_path`` (characters) the tool handles, and the ledger column's width
on every backend: Linux's PATH_MAX (4096 bytes, with its NUL) bounds any path a file can be
opened by, and UTF-8 has at least one byte a character."""
_DERIVATIVE_RX = re.compile(
    r"^(?P<stem>.+)\.(?P<tag>[0-9a-f]{8})\.(?P<kind>web|thumb|large)\.jpg$",
    re.IGNORECASE | re.DOTALL,
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


def bounded_stem(stem: str, room: int) -> str:
    """``stem`` when it has at most ``room`` UTF-8 bytes; else its start cut on a character
    boundary + ``~`` + 8 hex digits of its SHA-1, together ``room`` bytes at most. The same
    stem always gives the same result, so names made from it can be found again."""
    raw = stem.encode("utf-8", "surrogatepass")
    if len(raw) <= room:
        return stem
    tag = "~" + hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:8]
    cut = raw[: max(0, room - len(tag))].decode("utf-8", "ignore")
    return cut + tag


def versioned_path(path: str, md5: str) -> str:
    """Path for changed content under a name already taken: ``stem.v<md5_8>.ext``.

    Nothing in iRODS is overwritten with different bytes; the old object stays. A stem too
    long for ``NAME_MAX`` with the tag is shortened (``bounded_stem``)."""
    head, name = posixpath.split(path)
    stem, ext = posixpath.splitext(name)
    if len(ext.encode()) > 32:  # not a real extension: keep the budget for the stem
        stem, ext = name, ""
    tag = f".v{md5[:8]}{ext}"
    return posixpath.join(head, bounded_stem(stem, NAME_MAX - len(tag.encode())) + tag)


_VERSION_RX = re.compile(r"^(?P<stem>.+)\.v(?P<tag>[0-9a-f]{8})(?P<ext>\.[^.]*)?$", re.DOTALL)


def version_of(path: str, checksum: str | None) -> str | None:
    """The plain path that ``path`` is a newer content of (``versioned_path(plain, checksum)
    == path``: the tag must be the object's own MD5 prefix), or None."""
    head, name = posixpath.split(path)
    m = _VERSION_RX.match(name)
    if m is None or not checksum or not checksum.lower().startswith(m["tag"]):
        return None
    plain = posixpath.join(head, m["stem"] + (m["ext"] or ""))
    return plain if versioned_path(plain, checksum) == path else None


def derivative_stem(original: str) -> str:
    """The original's folder + the stem its derivatives are named by (``derivative_path``)."""
    head, name = posixpath.split(original)
    stem = posixpath.splitext(name)[0]
    return posixpath.join(head, bounded_stem(stem, NAME_MAX - _DERIVATIVE_TAG))


_DERIVATIVE_TAG = len(".12345678.thumb.jpg")  # web/thumb/large: 5 letters at most


def derivative_path(original: str, md5: str, rendition: Rendition) -> str:
    folder, stem = posixpath.split(derivative_stem(original))
    return posixpath.join(folder, DERIVATIVE_DIR, f"{stem}.{md5[:8]}.{rendition.value}.jpg")


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

"""Data and pure helpers of the BisQue sandbox (see ``bisque_server``)."""

from __future__ import annotations

import base64
import posixpath
import re
import secrets
import string
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

SAMPLE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4"
    "UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAMABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwCGiiiuA5z/2Q=="
)
DEFAULT_STORES = (
    "irods://data.iplantcollaborative.org/iplant/home/$user/",
    "irods://data.iplantcollaborative.org/iplant/home/shared/",
)
_IMAGE_EXT = {".jpg", ".jpeg", ".tif", ".tiff", ".png", ".gif", ".bmp", ".dng", ".nef", ".cr2"}
_UNIQ_ALPHABET = string.ascii_letters + string.digits
_XML_TYPES = ("text/xml", "application/xml", "application/json")
_IMAGE_OPS = ("thumbnail", "resize", "format")


def new_uniq() -> str:
    return "00-" + "".join(secrets.choice(_UNIQ_ALPHABET) for _ in range(22))


def _now() -> str:
    return datetime.now().isoformat()  # no zone; no microseconds when they are zero


@dataclass
class Resource:
    uniq: str
    kind: str
    name: str
    value: str
    owner: str  # user name
    permission: str | None = "private"  # None: nulled by an invalid value, hidden
    created: str = field(default_factory=_now)
    ts: str = field(default_factory=_now)
    tags: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, value, type


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    accept: str
    content_type: str
    user: str | None
    body: bytes
    status: int


class _Reply(Exception):
    """Raised inside a handler to answer at once."""

    def __init__(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _kind(name: str) -> str:
    return "image" if posixpath.splitext(name)[1].lower() in _IMAGE_EXT else "file"


def _upload_dt() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def _matches(pattern: str, actual: str) -> bool:
    """BisQue's exact-match filters: '|' separates alternatives, '*' turns on LIKE."""
    for alt in pattern.split("|"):
        if "*" in alt:
            rx = ".*".join(re.escape(part) for part in alt.split("*"))
            if re.fullmatch(rx, actual, re.DOTALL):
                return True
        elif alt == actual:
            return True
    return False


def _xml(el: ET.Element) -> bytes:
    return ET.tostring(el, encoding="unicode").encode("utf-8")


def _permission(value: str | None, default: str | None) -> str | None:
    """Only 'published' and 'private' are valid; anything else nulls (hides) the resource."""
    if value is None:
        return default
    return value if value in ("published", "private") else None

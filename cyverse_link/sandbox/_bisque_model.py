"""Data and pure helpers of the BisQue sandbox (see ``bisque_server``)."""

from __future__ import annotations

import base64
import functools
import io
import posixpath
import re
import secrets
import string
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote, urlsplit

from cyverse_link.sandbox._sql_like import like_regex

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
# The Server header of every answer; cassettes/README.md quotes it (a test checks they agree).
SERVER_HEADER = "BisQueSandbox/0.2 (imitates UCSB-VRL/bisqueUCSB 8ba481c)"
# What GET /services lists (the services cyverse_link and bqapi touch)
SERVICES = (
    "auth_service",
    "blob_service",
    "client_service",
    "data_service",
    "image_service",
    "import",
)
DEFAULT_STORES = (
    "irods://data.iplantcollaborative.org/iplant/home/$user/",
    "irods://data.iplantcollaborative.org/iplant/home/shared/",
)
_IMAGE_EXT = {".jpg", ".jpeg", ".tif", ".tiff", ".png", ".gif", ".bmp", ".dng", ".nef", ".cr2"}
_UNIQ_ALPHABET = string.ascii_letters + string.digits
SAMPLE_SIZE = (16, 12)  # width, height of SAMPLE_JPEG
# paths/insert reads a body only for these (blobsrv.py ~253-256, PathService._check_post_body)
_XML_TYPES = ("text/xml", "application/xml")
# data_service parses bodies by Content-Type (formats.py ~155-163 CONTENT_TYPE_CONVERTERS)
_DS_TYPES = ("text/xml", "application/xml", "application/json", "text/csv", "appication/tree")
_IMAGE_OPS = ("thumbnail", "resize", "format")
# resource_query.py ~881: an attribute filter is an operator prefix, then a value cut at the
# next '>', '<' or '='.
_ATTR_EXPR = re.compile(r"([><=]*)([^><=]+)")


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
    size: tuple[int, int] = SAMPLE_SIZE  # the master's pixels (width, height)
    shared: dict[str, str] = field(default_factory=dict)  # user -> "read" | "edit"


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


def attr_filter(raw: str) -> Callable[[str], bool] | None:
    """BisQue's ``value=``/``name=`` filter (resource_query.py ~845-881, prepare_attributes):
    quotes stripped from both ends, an optional ``>``/``<``/``>=``/``<=`` operator, the value cut
    at the first ``=``, ``<`` or ``>``; then ``*`` makes a LIKE (where ``%`` and ``_`` are
    wildcards too), else ``|`` separates alternatives, else equality. None: the real server
    crashes (``ATTR_EXPR.match`` gives None for an empty value) -> 500."""
    m = _ATTR_EXPR.match(raw.strip("\"'"))
    if m is None:
        return None
    op, val = m.groups()
    if op in (">=", ">", "<=", "<"):
        cmp: dict[str, Callable[[str], bool]] = {
            ">=": lambda a: a >= val,
            ">": lambda a: a > val,
            "<=": lambda a: a <= val,
            "<": lambda a: a < val,
        }
        return cmp[op]
    if "*" in val:
        rx = like_regex(val.replace("*", "%"))
        return lambda a: rx.fullmatch(a) is not None
    alts = val.split("|")
    return lambda a: a in alts


def split_subpath(path: str) -> tuple[str, str]:
    """blob_drivers.py ~120-126: whatever follows the last '#' is a sub-path."""
    spot = path.rfind("#")
    return (path, "") if spot < 0 else (path[:spot], path[spot + 1 :])


def stored_name(sent: str, value: str) -> str:
    """The name ``paths/insert`` stores (mount_service.py ~604, 629-630 ``_save_store``): the
    percent-decoded last segment of ``value`` (``url2localpath``, bq/util/urlpaths.py ~87-93,
    which parses it as a URL first, so a raw '?', '#' or ';' ends it), plus '#' and the sent
    name's sub-path (blob_drivers.py ~128 ``join_subpath``)."""
    _, sub = split_subpath(sent)
    base = posixpath.basename(value)
    name = unquote(posixpath.normpath(urlsplit(base).path.split(";")[0]))
    return f"{name}#{sub}" if sub else name


def blob_mime(filename: str) -> str:
    """blobsrv.py ~299-308 guess_mime: ``image/<ext>`` (e.g. image/jpg) for image files."""
    ext = posixpath.splitext(filename.strip())[1]
    if ext.lower() in _IMAGE_EXT:
        return f"image/{ext[1:].lower()}"
    return "application/octet-stream"


@functools.lru_cache(maxsize=16)
def render_jpeg(size: tuple[int, int]) -> bytes:
    """A JPEG of ``size`` pixels (the sample itself at its own size)."""
    if size == SAMPLE_SIZE:
        return SAMPLE_JPEG
    from PIL import Image  # only when a test asks for another size

    buf = io.BytesIO()
    Image.new("RGB", size, (120, 110, 90)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def _xml(el: ET.Element) -> bytes:
    return ET.tostring(el, encoding="unicode").encode("utf-8")


def _permission(value: str | None, default: str | None) -> str | None:
    """Only 'published' and 'private' are valid; anything else nulls (hides) the resource."""
    if value is None:
        return default
    return value if value in ("published", "private") else None

"""A loopback BisQue sandbox: the REST endpoints cyverse_link (and the official client bqapi)
use, imitating UCSB-VRL/bisqueUCSB at 8ba481c (Jan 2025). Each behaviour in
``_bisque_handler``/``_bisque_model``/``_bisque_ops`` names the real source file (and line) it
follows; ``tests/web/test_bqapi_official.py`` drives the sandbox with the official client.

Imitated: Basic auth that silently falls back to anonymous on bad credentials;
``/auth_service/session``; ``GET /services``; the challenge decider (plain 401 for ``Accept:
text/xml``, 401 + ``WWW-Authenticate`` for XML/JSON requests, else 302 to an HTML login page);
``paths/insert`` with its Content-Type rules, store check, name rewriting (percent-decoded last
segment of the value, '#' sub-paths) and crashes; no de-duplication; ``value=``/``name=``
filters cut at '=', '<', '>' with ``|`` (OR) and ``*`` (LIKE); ``wpublic`` with sharing;
``view=count``; publish and tags via POST (answering the new tag), PUT replacing the document;
``/data_service/<uniq>/tag``; missing well-formed uniqs refused like hidden ones (403/401);
blob_service (403 for missing or denied, ``image/<ext>``); image_service (401 -> login
redirect for anonymous callers, 403 logged in) with resize/thumbnail pixel sizes.
Simplified: one store list for every user, no admin ``?user=``, sharing only through
``share()`` (no ``/auth`` endpoint), no DELETE, JSON bodies not converted, every image is a
plain JPEG of the computed size.

Faults: ``fail_next(n)`` (503s), ``render_next(n, retry_after)`` (307 on derivative URLs),
``delay`` (seconds before each answer). ``requests`` logs every request (no credentials).
"""

from __future__ import annotations

import posixpath
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from http.server import ThreadingHTTPServer
from types import TracebackType

from cyverse_link.sandbox._bisque_handler import _Handler
from cyverse_link.sandbox._bisque_model import (
    DEFAULT_STORES,
    SAMPLE_JPEG,
    SAMPLE_SIZE,
    SERVER_HEADER,
    LoggedRequest,
    Resource,
    _kind,
    _upload_dt,
    new_uniq,
)

__all__ = [
    "DEFAULT_STORES",
    "SAMPLE_JPEG",
    "SERVER_HEADER",
    "BisqueSandbox",
    "LoggedRequest",
    "Resource",
    "new_uniq",
]


class BisqueSandbox:
    """The sandbox server: ``with BisqueSandbox({"alice": "pw"}) as bq: bq.url …``."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        stores: Sequence[str] = DEFAULT_STORES,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.users = dict(users or {"alice": "alice-sandbox-pw"})
        self.user_uniqs = {name: new_uniq() for name in self.users}
        self.stores = tuple(stores)
        self.resources: dict[str, Resource] = {}
        self.requests: list[LoggedRequest] = []
        self.delay = 0.0
        self._fail: tuple[int, int, float | None] = (0, 503, None)  # remaining, status, wait
        self._fail_path = "/"
        self._render = (0, 1)  # remaining 307s, retry-after
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.sandbox = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BisqueSandbox:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    def __enter__(self) -> BisqueSandbox:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- fault switches and helpers for tests -------------------------------------------------

    def fail_next(
        self, n: int, status: int = 503, retry_after: float | None = None, path: str = "/"
    ) -> None:
        """The next ``n`` requests whose path starts with ``path`` answer ``status``."""
        with self._lock:
            self._fail = (n, status, retry_after)
            self._fail_path = path

    def render_next(self, n: int, retry_after: int = 1) -> None:
        """The next ``n`` derivative image requests answer 307 "still rendering"."""
        with self._lock:
            self._render = (n, retry_after)

    def add_resource(
        self,
        value: str,
        owner: str,
        *,
        permission: str = "private",
        name: str | None = None,
        size: tuple[int, int] = SAMPLE_SIZE,
    ) -> Resource:
        """Seed a registration (e.g. a legacy raw-form value, or another user's image)."""
        name = name or posixpath.basename(value)
        res = Resource(new_uniq(), _kind(name), name, value, owner, permission, size=size)
        res.tags += [("filename", name, None), ("upload_datetime", _upload_dt(), "datetime")]
        with self._lock:
            self.resources[res.uniq] = res
        return res

    def share(self, uniq: str, user: str, action: str = "read") -> None:
        """Share a document with ``user`` ("read" or "edit"), as POST /data_service/<uniq>/auth
        would (data_service/controllers/resource_auth.py)."""
        with self._lock:
            self.resources[uniq].shared[user] = action

    def user_uri(self, user: str) -> str:
        return f"{self.url}/data_service/{self.user_uniqs[user]}"

    # -- rendering -----------------------------------------------------------------------------

    def element(self, res: Resource, *, full: bool = False) -> ET.Element:
        attrs = {
            "created": res.created,
            "name": res.name,
            "owner": self.user_uri(res.owner),
            "resource_uniq": res.uniq,
            "ts": res.ts,
            "uri": f"{self.url}/data_service/{res.uniq}",
            "value": res.value,
        }
        if res.permission:
            attrs["permission"] = res.permission
        el = ET.Element(res.kind, dict(sorted(attrs.items())))
        if full:
            for i in range(len(res.tags)):
                el.append(self.tag_element(res, i))
        return el

    def tag_element(self, res: Resource, i: int) -> ET.Element:
        name, value, kind = res.tags[i]
        tag = {"name": name, "uri": f"{self.url}/data_service/{res.uniq}/tag/{i}", "value": value}
        if kind:
            tag["type"] = kind
        return ET.Element("tag", dict(sorted(tag.items())))

    def visible(self, res: Resource, user: str | None, wpublic: str | None) -> bool:
        """data_service/controllers/resource_query.py ~347-383 (PUBLIC_VALS, base_permissions):
        absent/''/private -> own documents; 0/false -> own + shared; 1/true -> own + shared +
        public; anonymous callers see public documents only."""
        if user is None:
            return res.permission == "published"
        sets = {None: "owner", "": "owner", "private": "owner", "0": "owner,shared"}
        sets |= {"false": "owner,shared", "1": "owner,shared,public", "true": "owner,shared,public"}
        views = {v.strip() for v in sets.get(wpublic, wpublic or "owner").split(",")}
        return (
            ("owner" in views and res.owner == user)
            or ("shared" in views and user in res.shared)
            or ("public" in views and res.permission == "published")
        )

    def can_edit(self, res: Resource, user: str) -> bool:
        """RESOURCE_EDIT: the owner, or a share with action 'edit' (resource_query.py ~376)."""
        return res.owner == user or res.shared.get(user) == "edit"

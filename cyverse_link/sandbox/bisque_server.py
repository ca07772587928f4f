"""A loopback BisQue sandbox: the few REST endpoints cyverse_link uses, imitated from the
facts sheet (bisque-api.md) so the client can be tested and its cassettes recorded offline.

Faithful: Basic auth that silently falls back to anonymous on bad credentials;
``/auth_service/session`` shapes; the challenge decider (401 for ``Accept: text/xml``, 401 +
``WWW-Authenticate`` for XML bodies, else 302 to an HTML login page); ``paths/insert`` with the
store check (400), the no-Content-Type and leading-'/' crashes (500), no de-duplication,
``00-`` + 22-character uniqs, ``filename``/``upload_datetime`` tags; attributes sorted, no XML
prolog, listing wrappers (self-closing when empty); ``value=`` with ``|`` (OR) and ``*`` (LIKE);
``wpublic``; publish and tags via POST, PUT replacing the document; image_service/blob_service
answering image bytes for published resources (401 anonymous / 403 logged in otherwise).
Simplified: one store list for every user, no admin ``?user=``, no sharing (``/auth``), no
DELETE, every image is the same small JPEG whatever the operation.

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
    LoggedRequest,
    Resource,
    _kind,
    _upload_dt,
    new_uniq,
)

__all__ = [
    "DEFAULT_STORES",
    "SAMPLE_JPEG",
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
        self, value: str, owner: str, *, permission: str = "private", name: str | None = None
    ) -> Resource:
        """Seed a registration (e.g. a legacy raw-form value, or another user's image)."""
        name = name or posixpath.basename(value)
        res = Resource(new_uniq(), _kind(name), name, value, owner, permission)
        res.tags += [("filename", name, None), ("upload_datetime", _upload_dt(), "datetime")]
        with self._lock:
            self.resources[res.uniq] = res
        return res

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
            for i, (name, value, kind) in enumerate(res.tags):
                tag = {"name": name, "uri": f"{attrs['uri']}/tag/{i}", "value": value}
                if kind:
                    tag["type"] = kind
                ET.SubElement(el, "tag", dict(sorted(tag.items())))
        return el

    def visible(self, res: Resource, user: str | None, wpublic: str | None) -> bool:
        if user is not None and res.owner == user:
            return True
        if user is not None and wpublic != "1":
            return False
        return res.permission == "published"

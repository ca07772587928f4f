"""Shared pieces of the web tests: targets, the image host, cassette scrubbing."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from cyverse_link.sandbox.bisque_server import SAMPLE_JPEG, BisqueSandbox

REPO = Path(__file__).resolve().parents[2]
CASSETTES = REPO / "cassettes"
BISQUE_PORT = 18080  # fixed only while recording; live tests use port 0
IMAGEHOST_PORT = 18081
CANON_BISQUE = f"http://127.0.0.1:{BISQUE_PORT}"
CANON_PREFIX = "irods://data.iplantcollaborative.org/iplant/home/shared/cyverse_link_test/"
SANDBOX_USER = "alice"
SANDBOX_PASSWORD = "alice-Sandbox-pw-4Kq9"  # test_cassette_hygiene greps for these
WRONG_PASSWORD = "wrong-Sandbox-pw-7Zt2"
SCRUBBED = "<scrubbed>"


@dataclass
class BisqueTarget:
    url: str
    user: str
    password: str
    prefix: str
    sandbox: BisqueSandbox | None = None
    real: bool = False
    sleeps: list[float] = field(default_factory=list)

    def fault(self, switch: Callable[[BisqueSandbox], Any]) -> None:
        """Flip a sandbox fault switch (replay: the cassette already holds its effect)."""
        if self.real:
            pytest.skip("fault injection needs the sandbox, not a real BisQue")
        if self.sandbox is not None:
            switch(self.sandbox)


def _real_env() -> dict[str, str] | None:
    names = ("URL", "USER", "PASSWORD", "IRODS_PREFIX")
    values = {n: os.environ.get(f"CYVERSE_LINK_BISQUE_{n}", "") for n in names}
    return values if values["URL"] else None


# The autouse env cleaner in tests/conftest.py runs per test, so read the real target once here.
REAL_TARGET = _real_env()


def _replacements() -> list[tuple[str, str]]:
    pairs = [(SANDBOX_PASSWORD, SCRUBBED), (WRONG_PASSWORD, SCRUBBED)]
    if REAL_TARGET:
        pairs.insert(0, (REAL_TARGET["PASSWORD"], SCRUBBED))
        root = REAL_TARGET["URL"].rstrip("/")
        pairs += [(root, CANON_BISQUE), (quote(root, safe=""), quote(CANON_BISQUE, safe=""))]
        if REAL_TARGET["IRODS_PREFIX"]:
            p = REAL_TARGET["IRODS_PREFIX"]
            pairs += [(p, CANON_PREFIX), (quote_plus(p), quote_plus(CANON_PREFIX))]
    return [(a, b) for a, b in pairs if a]


def _scrub_text(text: str) -> str:
    for old, new in _replacements():
        text = text.replace(old, new)
    return text


def _scrub_bytes(data: Any) -> Any:
    if isinstance(data, bytes):
        return _scrub_text(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )
    if isinstance(data, str):
        return _scrub_text(data)
    return data


def scrub_request(request: Any) -> Any:
    request.uri = _scrub_text(request.uri)
    request.body = _scrub_bytes(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["body"]["string"] = _scrub_bytes(response["body"]["string"])
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "www-authenticate-info"):
            del headers[name]
        else:
            headers[name] = [_scrub_text(v) for v in headers[name]]
    return response


def same_content_type(r1: Any, r2: Any) -> None:
    """A body's Content-Type is part of the contract too: BisQue refuses anything but XML on
    paths/insert (400, or 500 without one) and data_service (415/500), issue 14 point 5."""
    c1, c2 = r1.headers.get("Content-Type"), r2.headers.get("Content-Type")
    assert c1 == c2, f"Content-Type {c1!r} != {c2!r}"


def same_accept(r1: Any, r2: Any) -> None:
    """The Accept header is part of the contract (text/xml for BisQue, image/* for verify)."""
    a1, a2 = r1.headers.get("Accept"), r2.headers.get("Accept")
    assert a1 == a2, f"Accept {a1!r} != {a2!r}"


class _ImageHandler(BaseHTTPRequestHandler):
    """dav-anon-like answers: octet-stream for ``Accept: */*`` (or none), ranges, refusals."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        path = self.path.split("?")[0]
        accept = self.headers.get("Accept", "*/*")
        body, ctype, status, extra = SAMPLE_JPEG, "image/jpeg", 200, {}
        if path == "/missing.jpg":
            body, ctype, status = b"Not Found", "text/plain", 404
        elif path == "/gone.jpg":
            body, ctype, status = b"Gone", "text/plain", 410
        elif path == "/moved.jpg":
            body, ctype, status, extra = b"", "text/plain", 301, {"Location": "/ok.jpg"}
        elif path == "/octet.dng":
            ctype = "application/octet-stream"
        elif path == "/nohead.jpg" and head:
            body, ctype, status = b"Method Not Allowed", "text/plain", 405
        elif path not in ("/ok.jpg", "/nohead.jpg"):
            body, ctype, status = b"Not Found", "text/plain", 404
        if status == 200 and accept in ("", "*/*"):
            ctype = "application/octet-stream"  # what dav-anon does for */*
        rng = self.headers.get("Range", "")
        if status == 200 and rng.startswith("bytes=0-0") and not head:
            extra = {"Content-Range": f"bytes 0-0/{len(body)}"}
            body, status = body[:1], 206
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class ImageHost:
    """A tiny loopback image server for ``verify`` tests."""

    def __init__(self, port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _ImageHandler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> ImageHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._thread.join(5)
        self._httpd.server_close()


CASSETTE_OR_LIVE = [pytest.param("cassette", marks=pytest.mark.vcr), "live"]

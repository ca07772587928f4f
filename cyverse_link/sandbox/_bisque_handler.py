"""HTTP handler of the BisQue sandbox: routing and the imitated endpoints."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import posixpath
import secrets
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from cyverse_link.sandbox._bisque_model import (
    _IMAGE_OPS,
    _XML_TYPES,
    SAMPLE_JPEG,
    LoggedRequest,
    Resource,
    _kind,
    _matches,
    _now,
    _permission,
    _Reply,
    _upload_dt,
    _xml,
    new_uniq,
)

if TYPE_CHECKING:
    from cyverse_link.sandbox.bisque_server import BisqueSandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BisQueSandbox/0.1"

    @property
    def sb(self) -> BisqueSandbox:
        return self.server.sandbox  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.user = self._authenticate()
        self.accept = self.headers.get("Accept", "")
        try:
            if self.sb.delay and self.sb._stopping.wait(self.sb.delay):
                return
            with self.sb._lock:
                remaining, status, retry_after = self.sb._fail
                if remaining > 0 and parts.path.startswith(self.sb._fail_path):
                    self.sb._fail = (remaining - 1, status, retry_after)
                    extra: dict[str, str] = (
                        {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                    )
                    raise _Reply(status, b"Service Unavailable", extra)
            reply = self._route(method, parts.path, parts.query, body)
        except _Reply as r:
            reply = r
        # Log before replying: a client that has its answer may inspect the log at once.
        with self.sb._lock:
            self.sb.requests.append(
                LoggedRequest(
                    method,
                    parts.path,
                    parts.query,
                    self.accept,
                    self.headers.get("Content-Type", ""),
                    self.user,
                    body,
                    reply.status,
                )
            )
        self._send(method, reply)

    def _send(self, method: str, reply: _Reply) -> None:
        headers = reply.headers
        if reply.body and "Content-Type" not in headers:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        try:
            self.send_response(reply.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)
        except OSError:  # the client gave up (timeout test): nothing to answer
            self.close_connection = True

    def _authenticate(self) -> str | None:
        """Basic auth; wrong credentials silently mean anonymous (bisque-api.md §2)."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self.sb.users.get(user)
        ok = expected is not None and secrets.compare_digest(expected, password)
        return user if ok else None

    # -- replies -------------------------------------------------------------------------------

    def _ok_xml(self, el: ET.Element) -> _Reply:
        body = _xml(el)
        ctype = "text/xml" if "text/xml" in self.accept else "application/xml"
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        if self.command == "GET" and self.headers.get("If-None-Match") == etag:
            return _Reply(304, b"", {"ETag": etag})
        return _Reply(200, body, {"Content-Type": f"{ctype}; charset=utf-8", "ETag": etag})

    def _deny(self) -> _Reply:
        """The challenge decider: what an access-denied request gets (bisque-api.md §2)."""
        if self.user is not None:
            return _Reply(403, b"Forbidden")
        if "text/xml" in self.accept:
            return _Reply(401, b"Unauthorized")
        ctype = self.headers.get("Content-Type", "")
        if "xml" in ctype or (self.command == "POST" and "json" in ctype):
            return _Reply(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="BisQue"'})
        came_from = quote(f"{self.sb.url}{self.path}", safe="")
        return _Reply(
            302, b"", {"Location": f"{self.sb.url}/auth_service/login?came_from={came_from}"}
        )

    def _body_xml(self, body: bytes) -> ET.Element:
        ctype = self.headers.get("Content-Type")
        if not ctype:
            raise _Reply(500, b"Internal Server Error")  # BisQue crashes without a Content-Type
        if ctype.split(";")[0].strip().lower() not in _XML_TYPES:
            raise _Reply(415, b"Unsupported Media Type")
        try:
            return ET.fromstring(body)
        except ET.ParseError:
            raise _Reply(400, b"Bad Request: unreadable XML") from None

    def _route(self, method: str, path: str, query: str, body: bytes) -> _Reply:
        seg = [s for s in path.split("/") if s]
        if seg == ["auth_service", "session"]:
            return self._session()
        if seg == ["auth_service", "login"]:
            return _Reply(
                200,
                b"<html><body><form>BisQue login</form></body></html>",
                {"Content-Type": "text/html; charset=utf-8"},
            )
        if seg[:1] == ["data_service"] and len(seg) >= 2:
            if seg[1] in ("image", "file", "resource") and len(seg) == 2 and method == "GET":
                return self._listing(seg[1], path, query, "value")
            return self._document(method, seg[1], body)
        if seg == ["blob_service", "paths", "insert"] and method == "POST":
            return self._insert(body)
        if seg == ["blob_service", "paths", "list"] and method == "GET":
            self.query = {"value": self.query.get("path", ""), "wpublic": "1"}
            return self._listing("resource", path, query, "value")
        if seg[:1] == ["blob_service"] and len(seg) == 2 and method in ("GET", "HEAD"):
            return self._bytes(seg[1], derivative=False, blob=True)
        if seg[:1] == ["image_service"] and len(seg) >= 2 and method in ("GET", "HEAD"):
            rest = seg[2:] if seg[1] == "image" else seg[1:]
            if not rest:
                return _Reply(404, b"Not Found")
            ops = len(rest) > 1 or any(op in self.query for op in _IMAGE_OPS)
            return self._bytes(rest[0], derivative=ops, blob=False)
        if seg[:1] in (["data_service"], ["blob_service"], ["image_service"], ["auth_service"]):
            return _Reply(501, b"Not Implemented")
        return _Reply(404, b"Not Found")

    def _session(self) -> _Reply:
        el = ET.Element("session", {"uri": f"{self.sb.url}/auth_service/session"})
        if self.user is not None:
            for name, value in (
                ("user", self.sb.user_uri(self.user)),
                ("group", ""),
                ("expires", "2100-01-01T00:00:00Z"),
                ("timeout", "0"),
                ("length", "0"),
            ):
                ET.SubElement(el, "tag", {"name": name, "value": value})
        return self._ok_xml(el)

    def _listing(self, kind: str, path: str, query: str, _key: str) -> _Reply:
        q = self.query
        with self.sb._lock:
            hits = [
                r
                for r in self.sb.resources.values()
                if (kind == "resource" or r.kind == kind)
                and self.sb.visible(r, self.user, q.get("wpublic"))
                and ("value" not in q or _matches(q["value"], r.value))
                and ("name" not in q or _matches(q["name"], r.name))
            ]
        offset, limit = int(q.get("offset") or 0), int(q.get("limit") or 1000)
        wrapper = ET.Element("resource", {"uri": f"{path}?{query}" if query else path})
        if q.get("view") == "count":
            ET.SubElement(wrapper, "tag", {"name": "count", "value": str(len(hits))})
        else:
            for res in hits[offset : offset + limit]:
                wrapper.append(self.sb.element(res))
        return self._ok_xml(wrapper)

    def _find(self, uniq: str) -> Resource:
        res = self.sb.resources.get(uniq)
        if res is None:
            raise _Reply(404, b"Not Found")
        return res

    def _document(self, method: str, uniq: str, body: bytes) -> _Reply:
        with self.sb._lock:
            res = self._find(uniq)
            if method == "GET":
                if not self.sb.visible(res, self.user, "1"):
                    return self._deny()
                return self._ok_xml(
                    self.sb.element(res, full=self.query.get("view") in ("full", "deep"))
                )
            if method not in ("POST", "PUT"):
                return _Reply(501, b"Not Implemented")
            if self.user is None or res.owner != self.user:
                return self._deny()
            el = self._body_xml(body)
            if method == "PUT":  # replaces the whole document: unsent tags are gone
                res.tags = []
                res.permission = _permission(el.get("permission"), None)
            new_tags = [el] if el.tag == "tag" else list(el.iter("tag"))
            res.tags += [(t.get("name", ""), t.get("value", ""), t.get("type")) for t in new_tags]
            if el.tag not in ("tag", "request") and "permission" in el.attrib:
                res.permission = _permission(el.get("permission"), res.permission)
            res.ts = _now()
            return self._ok_xml(self.sb.element(res))

    def _insert(self, body: bytes) -> _Reply:
        if self.user is None:
            return self._deny()
        el = self._body_xml(body)
        value = el.get("value") or ""
        name = el.get("name") or posixpath.basename(value)
        if name.startswith("/"):
            return _Reply(500, b"Internal Server Error")  # parsed as a store path: crash
        stores = [s.replace("$user", self.user) for s in self.sb.stores]
        if not value or not any(value.startswith(s) for s in stores):
            return _Reply(400, f"Bad Request: {value} is not a valid store".encode())
        kind = el.tag if el.tag in ("image", "file") else _kind(name)
        res = Resource(
            new_uniq(), kind, name, value, self.user, _permission(el.get("permission"), "private")
        )
        res.tags += [("filename", name, None), ("upload_datetime", _upload_dt(), "datetime")]
        res.tags += [(t.get("name", ""), t.get("value", ""), t.get("type")) for t in el.iter("tag")]
        with self.sb._lock:
            self.sb.resources[res.uniq] = res  # no de-duplication, like BisQue
        return self._ok_xml(self.sb.element(res))

    def _bytes(self, uniq: str, *, derivative: bool, blob: bool) -> _Reply:
        with self.sb._lock:
            res = self.sb.resources.get(uniq)
            if res is None:
                return _Reply(403 if blob else 404, b"Forbidden" if blob else b"Not Found")
            if res.permission != "published" and self.user != res.owner:
                return self._deny()
            remaining, retry_after = self.sb._render
            if derivative and remaining > 0:
                self.sb._render = (remaining - 1, retry_after)
                sep = "&" if "?" in self.path else "?"
                return _Reply(
                    307,
                    b"",
                    {
                        "Retry-After": str(retry_after),
                        "Location": f"{self.sb.url}{self.path}{sep}timeout=15",
                    },
                )
        ctype = (
            "image/jpeg"
            if derivative
            else (mimetypes.guess_type(res.name)[0] or "application/octet-stream")
        )
        headers = {"Content-Type": ctype, "Cache-Control": "max-age=3628800"}
        if blob and "noattach" not in self.query:
            headers["Content-Disposition"] = f'attachment; filename="{quote(res.name)}"'
        return _Reply(200, SAMPLE_JPEG, headers)

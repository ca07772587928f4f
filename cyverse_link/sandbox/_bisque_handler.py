"""HTTP handler of the BisQue sandbox: routing and the imitated endpoints.

Every behaviour names the file of UCSB-VRL/bisqueUCSB (8ba481c) it follows; paths are relative
to ``source/bqserver/bq/`` unless they start with ``bqcore/`` or ``config-defaults/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from cyverse_link.sandbox._bisque_images import blob, image
from cyverse_link.sandbox._bisque_model import (
    _DS_TYPES,
    _XML_TYPES,
    SERVER_HEADER,
    SERVICES,
    LoggedRequest,
    Resource,
    _kind,
    _now,
    _permission,
    _Reply,
    _upload_dt,
    _xml,
    attr_filter,
    new_uniq,
    stored_name,
)

if TYPE_CHECKING:
    from cyverse_link.sandbox.bisque_server import BisqueSandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def sb(self) -> BisqueSandbox:
        return self.server.sandbox  # type: ignore[attr-defined, no-any-return]

    def version_string(self) -> str:
        return SERVER_HEADER  # cassettes say by this header where they were recorded

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
        if reply.status == 401 and self.user is None:
            reply = self._challenge(reply)
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
        """check_access (data_service/controllers/bisquik_resource.py ~181-187, and
        image_service/controllers/service.py ~232-242): 403 logged in, 401 anonymous (then
        ``_challenge``)."""
        return _Reply(403, b"Forbidden") if self.user is not None else _Reply(401, b"Unauthorized")

    def _challenge(self, reply: _Reply) -> _Reply:
        """What repoze.who makes of an anonymous 401 (bqcore/bq/core/lib/challenge_decider.py
        ~25-63 and ~66-74, config-defaults/who.ini.default ~135-142): ``Accept: text/xml``
        keeps the plain 401; requests classified ``xml`` (Content-Type application/xml),
        ``json`` (POST of application/json) or repoze's ``xmlpost`` (POST of text/xml) get the
        basicauth challenge; everything else is a ``browser`` request and friendlyform
        redirects it to the login page (an HTML form, 200)."""
        if "text/xml" in self.accept:
            return reply
        ctype = self.headers.get("Content-Type", "") or ""
        post = self.command == "POST"
        if (
            ctype.startswith("application/xml")
            or (post and ctype.startswith("application/json"))
            or (post and ctype.startswith("text/xml"))
        ):
            return _Reply(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="BisQue"'})
        came_from = quote(f"{self.sb.url}{self.path}", safe="")
        return _Reply(
            302, b"", {"Location": f"{self.sb.url}/auth_service/login?came_from={came_from}"}
        )

    def _body_xml(self, body: bytes) -> ET.Element:
        """data_service bodies (data_service/controllers/resource.py ~779-790, formats.py
        ~151-187): no Content-Type crashes (``None.split``) -> 500; a type not in
        CONTENT_TYPE_CONVERTERS -> 415; XML types are parsed; JSON goes through ``json.load``
        (an XML body sent as JSON crashes -> 500); csv/tree give the method no document -> 500."""
        ctype = self.headers.get("Content-Type")
        if not ctype:
            raise _Reply(500, b"Internal Server Error")
        kind = ctype.split(";")[0].strip()
        if kind not in _DS_TYPES:
            raise _Reply(415, f"Bad media type in post/put:{ctype}".encode())
        if kind == "application/json":
            try:
                json.loads(body)
            except ValueError:
                raise _Reply(500, b"Internal Server Error") from None
            raise _Reply(501, b"JSON bodies are not imitated by the sandbox")
        if kind not in _XML_TYPES:
            raise _Reply(500, b"Internal Server Error")
        try:
            return ET.fromstring(body)
        except ET.ParseError:
            raise _Reply(400, b"Bad Request: unreadable XML") from None

    def _route(self, method: str, path: str, query: str, body: bytes) -> _Reply:
        seg = [s for s in path.split("/") if s]
        if seg == ["services"]:
            return self._services()
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
                return self._listing(seg[1], path, query)
            return self._document(method, seg[1], seg[2:], path, body)
        if seg == ["blob_service", "paths", "insert"] and method == "POST":
            return self._insert(body)
        if seg == ["blob_service", "paths", "list"] and method == "GET":
            return self._paths_list(path, query)
        if seg[:1] == ["blob_service"] and len(seg) == 2 and method in ("GET", "HEAD"):
            return blob(self, seg[1])
        if seg[:1] == ["image_service"] and len(seg) >= 2 and method in ("GET", "HEAD"):
            rest = seg[2:] if seg[1] == "image" else seg[1:]
            if not rest:
                return _Reply(404, b"Not Found")
            return image(self, rest[0], rest[1:])
        if seg[:1] in (["data_service"], ["blob_service"], ["image_service"], ["auth_service"]):
            return _Reply(501, b"Not Implemented")
        return _Reply(404, b"Not Found")

    def _services(self) -> _Reply:
        """``GET /services`` (bqcore/bq/core/controllers/root.py ~124-134): one ``service`` tag
        per service, its URL ending in '/' (bqcore/bq/core/service.py ~224-227)."""
        el = ET.Element("resource")
        for name in SERVICES:
            ET.SubElement(
                el, "tag", {"name": "service", "type": name, "value": f"{self.sb.url}/{name}/"}
            )
        return self._ok_xml(el)

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

    def _listing(self, kind: str, path: str, query: str) -> _Reply:
        """data_service/controllers/bisquik_resource.py ~237-270 (dir) and resource_query.py
        (prepare_attributes ~845-881 for value=/name=, base_permissions ~353-383 for wpublic)."""
        q = self.query
        filters = []
        for attr in ("value", "name"):
            if attr in q:
                match = attr_filter(q[attr])
                if match is None:
                    return _Reply(500, b"Internal Server Error")  # ATTR_EXPR.match(...) is None
                filters.append((attr, match))
        with self.sb._lock:
            hits = [
                r
                for r in self.sb.resources.values()
                if (kind == "resource" or r.kind == kind or (kind == "image|file"))
                and self.sb.visible(r, self.user, q.get("wpublic"))
                and all(match(getattr(r, attr)) for attr, match in filters)
            ]
        offset, limit = int(q.get("offset") or 0), int(q.get("limit") or 1000)
        wrapper = ET.Element("resource", {"uri": f"{path}?{query}" if query else path})
        if q.get("view") == "count":  # bisquik_resource.py ~259-270
            ET.SubElement(
                wrapper, "tag", {"name": "count", "type": "number", "value": str(len(hits))}
            )
        else:
            for res in hits[offset : offset + limit]:
                wrapper.append(self.sb.element(res))
        return self._ok_xml(wrapper)

    def _paths_list(self, path: str, query: str) -> _Reply:
        """blob_service/controllers/blobsrv.py ~157-163: logged-in only; the same value filter
        as data_service (so the same cut at '=', '<', '>'), images and files, wpublic=1."""
        if self.user is None:
            return _Reply(401, b"Unauthorized")
        self.query = {"value": self.query.get("path", ""), "wpublic": "1"}
        return self._listing("image|file", path, query)

    def _find(self, uniq: str) -> Resource:
        """A document, or the refusal the real server gives: a well-formed uniq ('00-…',
        bqcore/bq/util/hash.py ~23-30) that does not exist fails check_access like a hidden
        one (403 / 401, never 404); anything else is not found (data_service/controllers/
        resource.py ~745-750: 401 anonymous, else 404)."""
        res = self.sb.resources.get(uniq)
        if res is not None:
            return res
        if uniq.startswith("00-"):
            raise self._deny()
        raise _Reply(401, b"Unauthorized") if self.user is None else _Reply(404, b"Not Found")

    def _document(self, method: str, uniq: str, rest: list[str], path: str, body: bytes) -> _Reply:
        with self.sb._lock:
            res = self._find(uniq)
            if method in ("GET", "HEAD"):
                if not self.sb.visible(res, self.user, "1"):
                    return self._deny()
                return self._get_document(res, rest, path)
            if method not in ("POST", "PUT"):
                return _Reply(501, b"Not Implemented")
            if self.user is None:  # bisquik_resource.py ~165-167: anonymous edit
                return _Reply(401, b"Unauthorized")
            if not self.sb.can_edit(res, self.user):
                return _Reply(403, b"Forbidden")
            el = self._body_xml(body)
            if method == "PUT":  # replaces the whole document: unsent tags are gone
                res.tags = []
                res.permission = _permission(el.get("permission"), None)
            new_tags = [el] if el.tag == "tag" else [t for t in el if t.tag == "tag"]
            res.tags += [(t.get("name", ""), t.get("value", ""), t.get("type")) for t in new_tags]
            if el.tag not in ("tag", "request") and "permission" in el.attrib:
                res.permission = _permission(el.get("permission"), res.permission)
            res.ts = _now()
            if method == "POST" and el.tag in ("tag", "request") and new_tags:
                # append (bisquik_resource.py ~399-411) answers with what bisquik2db created:
                # the (last) new tag, not the document
                return self._ok_xml(self.sb.tag_element(res, len(res.tags) - 1))
            return self._ok_xml(self.sb.element(res))

    def _get_document(self, res: Resource, rest: list[str], path: str) -> _Reply:
        """``/data_service/<uniq>[/tag[/<n>]]``: the document, its tags (a ``resource``
        wrapper, like any child collection) or one tag."""
        if not rest:
            view = self.query.get("view")
            return self._ok_xml(self.sb.element(res, full=view in ("full", "deep")))
        if rest[0] != "tag" or len(rest) > 2:
            return _Reply(404, b"Not Found")
        if len(rest) == 2:
            if not rest[1].isdigit() or int(rest[1]) >= len(res.tags):
                return _Reply(404, b"Not Found")
            return self._ok_xml(self.sb.tag_element(res, int(rest[1])))
        wrapper = ET.Element("resource", {"uri": path})
        for i in range(len(res.tags)):
            wrapper.append(self.sb.tag_element(res, i))
        return self._ok_xml(wrapper)

    def _insert(self, body: bytes) -> _Reply:
        """``paths/insert`` (blob_service/controllers/blobsrv.py ~165-190, _check_post_body
        ~248-261; mount_service.py ~515-548 valid_store_ref, ~551-630 store_blob/_save_store;
        _create_resource ~427-452)."""
        if self.user is None:  # @require(not_anonymous())
            return _Reply(401, b"Unauthorized")
        ctype = self.headers.get("Content-Type")
        if not ctype:  # content.startswith(...) on None
            return _Reply(500, b"Internal Server Error")
        if ctype.startswith(_XML_TYPES):
            try:
                el = ET.fromstring(body)
            except ET.ParseError:
                return _Reply(400, b"Bad XML syntax in POST")
            value = el.get("value")
        else:  # the body is ignored: the value is the ?path= argument (None: no store)
            value = self.query.get("path")
            el = ET.Element("resource")
        stores = [s.replace("$user", self.user) for s in self.sb.stores]
        store = next((s for s in stores if value and value.startswith(s)), None)
        if value is None or store is None:
            return _Reply(400, f"Bad Request: {value} is not a valid store".encode())
        sent = el.get("name") or value.replace(store, "")  # blobsrv.py ~186-187
        if sent.startswith("/"):  # parsed as a fixed store name: crash (mount_service ~571-576)
            return _Reply(500, b"Internal Server Error")
        name = stored_name(sent, value)
        kind = el.tag if el.tag in ("image", "file") else _kind(name)
        res = Resource(
            new_uniq(), kind, name, value, self.user, _permission(el.get("permission"), "private")
        )
        res.tags += [("filename", name, None), ("upload_datetime", _upload_dt(), "datetime")]
        res.tags += [(t.get("name", ""), t.get("value", ""), t.get("type")) for t in el.iter("tag")]
        with self.sb._lock:
            self.sb.resources[res.uniq] = res  # no de-duplication, like BisQue
        return self._ok_xml(self.sb.element(res))

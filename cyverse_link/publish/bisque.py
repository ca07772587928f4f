"""BisQue client (requests + xmltodict) and the ``bisque`` URL provider (bisque-api.md).

Discipline copied from bqapi: Basic auth, ``Accept: text/xml`` on every call and an XML
Content-Type on every body, so a refused login is a plain 401 and never a 302 to an HTML login
page. Wrong credentials do not give 401 at all (BisQue silently continues as anonymous), so
``login_check`` asks ``/auth_service/session`` and treats an anonymous session as a failure.
BisQue does not de-duplicate: ``register`` looks the value up (both encoded and raw forms, as
LIKE patterns where BisQue's filter syntax would cut them) before ``paths/insert``, and reuses
only its own or published hits. Attributes change through POST only (PUT drops tags).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

import requests

from cyverse_link.config.settings import BisqueSettings
from cyverse_link.core import urls
from cyverse_link.core.errors import (
    AuthenticationFailed,
    ConfigError,
    PublishError,
    ServiceUnavailable,
)
from cyverse_link.core.models import MediaUrls
from cyverse_link.core.naming import Rendition
from cyverse_link.core.retry import Backoff
from cyverse_link.core.urls import is_jpeg_name
from cyverse_link.publish import bisque_xml as bx
from cyverse_link.publish.bisque_xml import BisqueResource

log = logging.getLogger(__name__)

XML = "text/xml"
MAX_RETRY_AFTER = 30.0  # never wait longer than this for one 307/503 Retry-After
BISQUE_RETRY = Backoff(retries=4, base_delay=1.0, max_wait=MAX_RETRY_AFTER)  # 1, 2, 4, 8 s
_RETRY_STATUSES = frozenset({500, 502, 503, 504})


class BisqueRefused(PublishError):
    """BisQue answered a 4xx other than 401; ``status`` says which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BisqueClient:
    """A small, typed BisQue REST client. Raises ``AuthenticationFailed`` (exit 3),
    ``ServiceUnavailable`` (retryable: 5xx, timeouts, refused connections after the retries) and
    ``PublishError`` (BisQue refused the request: bad store, no permission, …)."""

    def __init__(
        self,
        root: str,
        login: tuple[str, str],
        *,
        session: requests.Session | None = None,
        timeout: float = 60,
        retry: Backoff = BISQUE_RETRY,
    ) -> None:
        """``login`` is (bisque.user, its password); ``retry`` also caps a Retry-After."""
        parts = urlsplit(root)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"bisque.url: {root!r} is not an http(s) URL")
        if "@" in parts.netloc:
            raise ConfigError("bisque.url: put the user in bisque.user, not in the URL")
        self.root = root.rstrip("/")
        self.user = login[0]
        self._session = session or requests.Session()
        self._auth = login  # per request: an injected session is left untouched
        self.timeout = timeout
        self.retry = retry
        self.retries = retry.retries
        self._sleep = retry.sleep
        self.max_retry_after = retry.max_wait
        self.user_uri: str | None = None

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: str | None = None,
        accept: str = XML,
        idempotent: bool = True,
    ) -> requests.Response:
        """One call with retries on 5xx, timeouts, refused connections and 307 Retry-After.

        A non-idempotent call (insert, adding tags) is retried only when BisQue surely did not
        act on it (connection not made, 503); after a 500/502/504 or a read timeout the caller
        looks up before trying again (the next run does), so nothing is registered twice."""
        url = path_or_url if "://" in path_or_url else f"{self.root}{path_or_url}"
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = f"{XML}; charset=utf-8"
        what = f"{method} {url.split('?', 1)[0]}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self._session.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    auth=self._auth if self._same_origin(url) else None,
                    data=body.encode("utf-8") if body is not None else None,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.Timeout as exc:
                if last or (not idempotent and not isinstance(exc, requests.ConnectTimeout)):
                    raise ServiceUnavailable(
                        f"BisQue did not answer {what} within {self.timeout:g} s "
                        f"({self.retries + 1} tries); try later or raise bisque.timeout"
                    ) from exc
                self._sleep(self._delay(attempt))
                continue
            except requests.ConnectionError as exc:
                if last:
                    raise ServiceUnavailable(
                        f"cannot connect to BisQue at {self.root} ({type(exc).__name__}); "
                        "check bisque.url and the network"
                    ) from exc
                self._sleep(self._delay(attempt))
                continue
            if resp.status_code == 307 and "Retry-After" in resp.headers and not last:
                # a derivative is still being rendered: wait, then follow Location
                self._sleep(self._retry_after(resp, attempt))
                url, params = urljoin(url, resp.headers.get("Location") or url), None
                continue
            retry = _RETRY_STATUSES if idempotent else {503}
            if resp.status_code in retry and not last:
                self._sleep(self._retry_after(resp, attempt))
                continue
            return self._checked(resp, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _same_origin(self, url: str) -> bool:
        """Credentials go to the configured BisQue only, never to a redirect's other host."""
        a, b = urlsplit(url), urlsplit(self.root)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _delay(self, attempt: int) -> float:
        return float(self.retry.delay(attempt + 1))

    def _retry_after(self, resp: requests.Response, attempt: int) -> float:
        try:
            return min(max(float(resp.headers["Retry-After"]), 0.0), self.max_retry_after)
        except (KeyError, ValueError):
            return self._delay(attempt)

    def _checked(self, resp: requests.Response, what: str) -> requests.Response:
        code = resp.status_code
        ctype = resp.headers.get("Content-Type", "")
        if code == 401 or (code in (301, 302, 303) and "login" in resp.headers.get("Location", "")):
            raise AuthenticationFailed(self._auth_hint())
        if 200 <= code < 300 and ctype.startswith("text/html"):
            raise AuthenticationFailed(self._auth_hint() + " (BisQue answered an HTML page)")
        if code in _RETRY_STATUSES:
            raise ServiceUnavailable(f"BisQue answered {code} to {what}; try again later")
        if code == 307:
            raise ServiceUnavailable(f"BisQue is still rendering {what}; try again later")
        if code == 403:
            raise BisqueRefused(
                f"BisQue refused {what} (403): user {self.user!r} lacks rights", 403
            )
        if code == 404:
            raise BisqueRefused(f"BisQue has no {what} (404)", 404)
        if code >= 300:
            raise BisqueRefused(f"BisQue answered {code} to {what}", code)
        return resp

    def _auth_hint(self) -> str:
        return (
            f"BisQue at {self.root} did not accept user {self.user!r}: check bisque.user and the "
            "password (CyVerse-style CAS sites need a local password set via "
            "/auth_service/setbasicauth)"
        )

    def _xml(self, resp: requests.Response, what: str) -> bytes:
        if not resp.content:
            raise PublishError(f"BisQue sent an empty answer to {what}")
        return resp.content

    # -- API ---------------------------------------------------------------------------------

    def login_check(self) -> str:
        """The logged-in user's URI; ``AuthenticationFailed`` for an anonymous session."""
        resp = self._request("GET", "/auth_service/session")
        try:
            user = bx.parse_session(self._xml(resp, "session"))
        except bx.BisqueXmlError as exc:
            raise AuthenticationFailed(self._auth_hint() + f" (unexpected answer: {exc})") from exc
        if user is None:
            raise AuthenticationFailed(self._auth_hint() + " (the session is anonymous)")
        self.user_uri = user
        return user

    def find_by_value(self, value: str) -> BisqueResource | None:
        """An image registered with exactly this ``irods://`` value (encoded or raw form) that
        this run may reuse: one of ours, or a published one of someone else's.

        BisQue's ``value=`` filter strips quotes, cuts the value at the first ``=``, ``<`` or
        ``>``, reads ``|`` as OR and ``*`` as LIKE (resource_query.py ~845-881), so a form
        holding any of those is sent as a LIKE pattern (``query_pattern``) and every hit is
        compared exactly here. ``wpublic=1`` also returns private documents merely shared with
        us (resource_query.py ~353-383): we cannot publish those (403), so they are skipped and
        the file gets its own registration. Prefers our own published hit.
        """
        forms = urls.irods_value_forms(value) if value.startswith("irods://") else (value,)
        for form in forms:
            resp = self._request(
                "GET",
                "/data_service/image",
                params={"value": bx.query_pattern(form), "wpublic": "1"},
            )
            try:
                hits = [r for r in bx.parse_listing(self._xml(resp, "lookup")) if r.value == form]
            except bx.BisqueXmlError as exc:
                raise PublishError(f"BisQue sent an unreadable listing: {exc}") from exc
            usable = [r for r in hits if self._ours(r) or r.published] if hits else []
            if usable:
                return sorted(usable, key=lambda r: (not self._ours(r), not r.published))[0]
        return None

    def _ours(self, resource: BisqueResource) -> bool:
        if self.user_uri is None:
            self.login_check()
        return resource.owner is None or resource.owner == self.user_uri

    def lookup(self, uniq: str) -> BisqueResource | None:
        """The resource ``uniq`` (its ``value`` is the ``irods://`` URL for files registered
        from iRODS); None when BisQue has no such resource or hides it (403/404)."""
        try:
            resp = self._request("GET", f"/data_service/{uniq}", params={"view": "short"})
        except BisqueRefused as exc:
            if exc.status in (403, 404):
                return None
            raise
        return self._resource(resp, "lookup")

    def register(
        self, irods_value: str, name: str, tags: Mapping[str, str] | None = None
    ) -> tuple[BisqueResource, bool]:
        """(resource, created): reuse a registration of the same value, else ``paths/insert``
        (published, with ``tags``).

        BisQue names the new document itself: the percent-decoded last segment of the value,
        plus anything after a '#' in the sent name as a "sub-path" (mount_service.py ~604,
        629-630), so ``a #1.jpg`` sent as is would be stored as ``a #1.jpg#1.jpg``. We send the
        value's own (encoded, '#'-free) last segment, as bqapi's ``path_link`` does, and the
        stored name is then ``name``."""
        existing = self.find_by_value(irods_value)
        if existing is not None:
            return existing, False
        try:
            body = bx.insert_body(bx.insert_name(irods_value), irods_value, tags=tags)
        except ValueError as exc:
            raise PublishError(f"cannot register {irods_value} with BisQue: {exc}") from exc
        try:
            resp = self._request("POST", "/blob_service/paths/insert", body=body, idempotent=False)
        except BisqueRefused as exc:
            if exc.status == 400:
                raise PublishError(
                    f"BisQue refused to register {irods_value}: it is not under a store mounted "
                    f"for user {self.user!r} (400); ask the BisQue admin which irods:// prefixes "
                    "are mounted"
                ) from exc
            raise
        created = self._resource(resp, "register")
        if created.name != name:
            log.info("BisQue named %s %r (expected %r)", created.uniq, created.name, name)
        return created, True

    def publish(self, uniq: str, uri: str | None = None) -> BisqueResource:
        """Set permission ``published`` with a POST (never PUT: it would drop the tags).
        ``uri`` is the resource's own ``uri`` attribute (opaque; defaults to the usual form)."""
        body = bx.permission_body(uri or f"{self.root}/data_service/{uniq}")
        resp = self._request("POST", f"/data_service/{uniq}", body=body)
        return self._resource(resp, "publish")

    def get_tags(self, uniq: str) -> dict[str, list[str]]:
        resp = self._request("GET", f"/data_service/{uniq}", params={"view": "full"})
        try:
            return bx.parse_tags(self._xml(resp, "tags"))
        except bx.BisqueXmlError as exc:
            raise PublishError(f"BisQue sent unreadable tags for {uniq}: {exc}") from exc

    def add_tags(self, uniq: str, tags: Mapping[str, str]) -> None:
        """Add several tags in one ``request`` wrapper (POST adds; PUT would replace all)."""
        if tags:
            self._request(
                "POST", f"/data_service/{uniq}", body=bx.tags_body(tags), idempotent=False
            )

    def image_urls(self, uniq: str) -> urls.BisqueImageUrls:
        return urls.bisque_image_urls(self.root, uniq)

    def fetch(self, url: str, *, accept: str = "image/*") -> requests.Response:
        """GET a display URL (waits out 307 Retry-After while BisQue renders a derivative)."""
        return self._request("GET", url, accept=accept)

    def _resource(self, resp: requests.Response, what: str) -> BisqueResource:
        try:
            return bx.parse_resource(self._xml(resp, what))
        except bx.BisqueXmlError as exc:
            raise PublishError(f"BisQue sent an unreadable answer to {what}: {exc}") from exc

    def close(self) -> None:
        self._session.close()


class BisqueProvider:
    """``UrlProvider`` for BisQue: register (or reuse), publish and tag the original, then build
    thumbnail/web/large/archive URLs. Derivative objects are not registered: BisQue renders
    its own renditions. ``warm=True`` fetches the web rendition once so BisQue renders it now."""

    def __init__(
        self, client: BisqueClient, irods_host: str, zone: str = "iplant", *, warm: bool = False
    ) -> None:
        self.client = client
        self.irods_host = irods_host
        self.zone = zone
        self.warm = warm

    def close(self) -> None:
        self.client.close()

    def urls_for(
        self,
        original: str,
        derivatives: Mapping[Rendition, str],
        *,
        tags: Mapping[str, str] | None = None,
        md5s: Mapping[str, str] | None = None,
    ) -> MediaUrls:
        if not original.startswith(f"/{self.zone}/"):
            raise PublishError(f"{original} is not in zone {self.zone!r}")
        value = urls.bisque_irods_value(original, self.irods_host)
        tags = dict(tags or {})
        resource, created = self.client.register(value, urls.basename(original), tags)
        if not resource.published:
            resource = self.publish_existing(resource)
        if not created and tags and self._owned(resource):
            have = self.client.get_tags(resource.uniq)
            missing = {k: v for k, v in tags.items() if v not in have.get(k, [])}
            self.client.add_tags(resource.uniq, missing)
        links = self.client.image_urls(resource.uniq)
        if self.warm:
            self.client.fetch(links.web)
        # Same rule as dav-anon: a JPEG original is the originalUrl; for TIFF/PNG masters the
        # large JPEG rendition is, and the untouched original becomes the archiveUrl.
        jpeg = is_jpeg_name(original)
        return MediaUrls(
            url=links.web,
            thumbnail_url=links.thumbnail,
            original_url=links.archive if jpeg else links.large,
            archive_url=None if jpeg else links.archive,
            format="image/jpeg",
            # the archive link serves the original's bytes; the large link is a rendition
            # BisQue makes on request, whose MD5 no one knows
            original_md5=(md5s or {}).get(original) if jpeg else None,
        )

    def publish_existing(self, resource: BisqueResource) -> BisqueResource:
        updated = self.client.publish(resource.uniq, resource.uri or None)
        if not updated.published:
            raise PublishError(
                f"BisQue did not publish {resource.uniq} (permission stays {updated.permission!r})"
            )
        return updated

    def _owned(self, resource: BisqueResource) -> bool:
        return self.client._ours(resource)


def check_bisque(settings: BisqueSettings, password: str) -> str:
    """Login state for ``check``: 'logged in as <user> (<uri>) at <url>'. Raises
    ``ConfigError`` without a URL/user, ``AuthenticationFailed`` / ``ServiceUnavailable``."""
    if not settings.url or not settings.user:
        raise ConfigError("bisque.url and bisque.user are needed for the BisQue provider")
    client = BisqueClient(
        settings.url,
        (settings.user, password),
        timeout=settings.timeout,
        retry=replace(BISQUE_RETRY, retries=min(settings.retries, 1)),
    )
    try:
        uri = client.login_check()
    finally:
        client.close()
    return f"logged in as {settings.user} ({uri}) at {client.root}"

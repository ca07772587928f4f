"""``SymbiotaApi``: a small client for Symbiota's REST API v2 (as in Symbiota 3.4.14).

What it relies on (read in the portal's ``api/`` source):

* ``POST <portal>/webservices/token.php`` (form ``un``, ``pw``) → JSON with ``token``;
* ``GET /occurrence`` filters are exact ``where``s (``collid``, ``catalogNumber``,
  ``additionalIdentifier`` = ``omoccuridentifiers.identifierValue``), always with
  ``recordSecurity = 0``, ``limit`` ≤ 300 and ``offset``; each row carries its ``identifier`` list
  (OccurrenceController.php ``showAllOccurrences``);
* ``GET /occurrence/{occid}?includeMedia=1`` lists the record's media rows
  (``showOneOccurrence``); ``GET /occurrence/{occid}/media`` answers 500 in 3.4.14 (it calls
  ``isEmpty()`` on a model), so it is never used;
* ``POST /media`` (201) and ``PATCH /media/{mediaID}`` (200, in place) read ``apiToken`` with
  ``$request->input()``, which includes a JSON body: the token travels in the body, never in a
  URL (MediaController.php ``insert``/``update``, Controller.php ``authenticate``);
* ``GET /installation/status`` → ``symbiotaVersion``, ``apiVersion``.

Reads need no token. 5xx answers, timeouts and dropped connections are retried with
exponential backoff for reads and PATCH (idempotent); a POST is sent once per call (a retried
POST after a timeout could insert a second row; the caller checks first, see ``api.py``).
No secret reaches a log or an exception: ``redact`` removes ``apiToken=…``, ``token``/``pw``
values from any text before it is used in a message.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from cyverse_link.config.credentials import redactor
from cyverse_link.core.errors import AuthenticationFailed, PortalError, ServiceUnavailable
from cyverse_link.core.retry import Backoff

log = logging.getLogger(__name__)

MAX_OCCURRENCE_PAGE = 300  # OccurrenceController: 'limit' => ['integer', 'max:300']
API_RETRY = Backoff(retries=3, base_delay=0.5)  # 0.5 s, 1 s, 2 s; runs take symbiota.retries
_SECRET_IN_TEXT = re.compile(
    r"((?:apiToken|token|pw|password)[\"']?\s*[=:]\s*[\"']?)([^&\s\"',}]+)", re.IGNORECASE
)


def redact(text: str) -> str:
    """``text`` with every ``apiToken=…``/``token: …``/``pw=…`` value replaced by ``***``."""
    return _SECRET_IN_TEXT.sub(r"\1***", text)


def _short(resp: requests.Response) -> str:
    body = resp.text.strip().replace("\n", " ")
    return redact(body[:200])


@dataclass(frozen=True)
class PortalLogin:
    """A portal account (``symbiota.user`` + password), exchanged for an API token at
    ``<portal_url>/webservices/token.php`` on the first write."""

    portal_url: str | None
    user: str
    password: str = field(repr=False)


class SymbiotaApi:
    """One portal's API. Thread-safe: each thread gets its own ``requests.Session``."""

    def __init__(
        self,
        api_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retry: Backoff = API_RETRY,
        token_key: str = "symbiota.api_token",
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retry = retry
        self.retries = max(0, retry.retries)
        self.token_key = token_key  # the config key named when the portal refuses the token
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests_sent: dict[str, int] = {}  # method → count (tests and the run report)

    # -- plumbing ----------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["Accept"] = "application/json"
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
        return s

    def _count(self, method: str) -> None:
        with self._lock:
            self.requests_sent[method] = self.requests_sent.get(method, 0) + 1

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> requests.Response:
        """Send one request; retry 5xx/timeouts/connection errors when ``retry``. Raises
        ``ServiceUnavailable`` when it still fails (the message carries no secret)."""
        attempts = 1 + (self.retries if retry else 0)
        what = f"{method} {redact(url)}"
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                self._count(method)
                resp = self._session().request(
                    method, url, params=params, json=json, data=data, timeout=self.timeout
                )
            except requests.RequestException as exc:
                reason = redact(f"{type(exc).__name__}: {exc}")[:300]
                if last:
                    raise ServiceUnavailable(
                        f"Symbiota API: {what} failed: {reason}; check symbiota.api_url "
                        "and that the portal is up"
                    ) from None
                log.warning("Symbiota API: %s failed (%s); retrying", what, reason)
            else:
                if resp.status_code < 500 or last:
                    return resp
                log.warning("Symbiota API: %s answered %s; retrying", what, resp.status_code)
            self.retry.pause(attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, resp: requests.Response, what: str) -> Any:
        if resp.status_code >= 500:
            raise ServiceUnavailable(
                f"Symbiota API: {what} answered {resp.status_code}: {_short(resp)}"
            )
        if resp.status_code == 401:
            raise AuthenticationFailed(
                f"Symbiota API refused the token ({what}: 401); check {self.token_key} "
                "(cyverse-link credentials set symbiota)"
            )
        if resp.status_code >= 400:
            raise PortalError(f"Symbiota API: {what} answered {resp.status_code}: {_short(resp)}")
        try:
            return resp.json()
        except ValueError:
            raise PortalError(
                f"Symbiota API: {what} did not answer JSON ({_short(resp)}); "
                "check symbiota.api_url (it ends in /api/v2 on most portals)"
            ) from None

    def _need_token(self) -> str:
        if not self._token:
            raise AuthenticationFailed(
                "Symbiota API: writing needs symbiota.api_token or symbiota.user + "
                "symbiota.password"
            )
        return self._token

    # -- session -----------------------------------------------------------------------------

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def login(self, account: PortalLogin) -> None:
        """Get a token from ``<portal_url>/webservices/token.php`` (form ``un``, ``pw``)."""
        portal_url = account.portal_url.rstrip("/") if account.portal_url else None
        if not portal_url:
            raise PortalError("symbiota.portal_url: required to log in with symbiota.user")
        user = account.user
        url = f"{portal_url}/webservices/token.php"
        resp = self.request("POST", url, data={"un": user, "pw": account.password})
        token = None
        if resp.status_code < 500:
            try:
                packet = resp.json()
            except ValueError:
                packet = None
            if isinstance(packet, dict) and isinstance(packet.get("token"), str):
                token = packet["token"] or None
        if resp.status_code >= 500:
            raise ServiceUnavailable(f"Symbiota portal: POST {url} answered {resp.status_code}")
        if not token:
            raise AuthenticationFailed(
                f"Symbiota portal refused the login of symbiota.user {user!r} at {url}; check "
                "symbiota.user and symbiota.password (cyverse-link credentials set symbiota)"
            )
        redactor.register(token)  # masked by the CLI's log handlers, like every password
        self._token = token

    def status(self) -> dict[str, Any]:
        """``/installation/status``: portalName, symbiotaVersion, apiVersion…"""
        url = f"{self.api_url}/installation/status"
        out = self._json(self.request("GET", url), f"GET {url}")
        return out if isinstance(out, dict) else {}

    def check_token(self) -> None:
        """Prove the token without writing: PATCH of media id 0 with an empty body answers
        401 for a bad token and 400 ("not found") for a good one (MediaController ``update``
        authenticates before it looks the row up)."""
        token = self._need_token()
        url = f"{self.api_url}/media/0"
        resp = self.request("PATCH", url, json={"apiToken": token})
        if resp.status_code == 401:
            self._json(resp, f"PATCH {url}")
        if resp.status_code >= 500:
            self._json(resp, f"PATCH {url}")

    # -- reads -------------------------------------------------------------------------------

    def occurrence_page(
        self, filters: Mapping[str, Any], *, limit: int = MAX_OCCURRENCE_PAGE, offset: int = 0
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of ``GET /occurrence``: (full count, rows)."""
        url = f"{self.api_url}/occurrence"
        params = {**filters, "limit": min(limit, MAX_OCCURRENCE_PAGE), "offset": offset}
        out = self._json(self.request("GET", url, params=params), f"GET {url}")
        if not isinstance(out, dict) or not isinstance(out.get("results"), list):
            raise PortalError(f"Symbiota API: GET {url} answered an unexpected shape")
        return int(out.get("count") or 0), list(out["results"])

    def occurrences(self, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every row of ``GET /occurrence`` with ``filters``, page by page."""
        offset = 0
        while True:
            count, rows = self.occurrence_page(filters, offset=offset)
            yield from rows
            offset += len(rows)
            if not rows or offset >= count:
                return

    def occurrence_media(self, occid: int) -> list[dict[str, Any]] | None:
        """The media rows of one occurrence (``includeMedia=1``); None if it does not exist
        (or is locality-protected: the API hides those)."""
        url = f"{self.api_url}/occurrence/{int(occid)}"
        resp = self.request("GET", url, params={"includeMedia": 1})
        if resp.status_code == 404:
            return None
        out = self._json(resp, f"GET {url}")
        if not isinstance(out, list) or not out:
            return None
        media = out[0].get("media") or []
        return [m for m in media if isinstance(m, dict)]

    def media_page(self, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """One page of ``GET /media`` (every media row of the portal): (full count, rows)."""
        url = f"{self.api_url}/media"
        params = {"limit": limit, "offset": offset}
        out = self._json(self.request("GET", url, params=params), f"GET {url}")
        if not isinstance(out, dict) or not isinstance(out.get("results"), list):
            raise PortalError(f"Symbiota API: GET {url} answered an unexpected shape")
        return int(out.get("count") or 0), [r for r in out["results"] if isinstance(r, dict)]

    def media(self, media_id: int | str) -> dict[str, Any] | None:
        url = f"{self.api_url}/media/{media_id}"
        resp = self.request("GET", url)
        if resp.status_code in (400, 404):
            return None
        out = self._json(resp, f"GET {url}")
        return out if isinstance(out, dict) else None

    # -- writes (token needed) ---------------------------------------------------------------

    def create_media(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST one media row; sent once (the caller decides about retrying)."""
        url = f"{self.api_url}/media"
        resp = self.request("POST", url, json={**body, "apiToken": self._need_token()}, retry=False)
        out = self._json(resp, f"POST {url}")
        if resp.status_code != 201 or not isinstance(out, dict) or "mediaID" not in out:
            raise PortalError(f"Symbiota API: POST {url} answered {resp.status_code} without a row")
        return out

    def update_media(self, media_id: int, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """PATCH one media row in place; None when the row no longer exists."""
        url = f"{self.api_url}/media/{int(media_id)}"
        resp = self.request("PATCH", url, json={**body, "apiToken": self._need_token()})
        if resp.status_code == 400 and "not found" in resp.text.lower():
            return None
        out = self._json(resp, f"PATCH {url}")
        return out if isinstance(out, dict) else None

    def close(self) -> None:
        with self._lock:
            for s in self._sessions:
                s.close()
            self._sessions.clear()
        self._local = threading.local()

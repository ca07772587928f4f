"""``verify``: fetch mapped URLs and report the broken ones.

HEAD with ``Accept: image/*`` (dav-anon answers ``application/octet-stream`` to ``*/*`` or no
``Accept``), falling back to a one-byte ranged GET where HEAD is refused (405/403/501).
Redirects are followed and noted (dav-anon sends over-limit clients a 307 to unblockme); a
redirect to BisQue's login page is a dead (private or missing) BisQue link.
Bounded concurrency: at most ``concurrency`` requests in flight and a small window of pending
work, so memory stays flat for a million URLs; results come back in input order.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from cyverse_link.core.models import MediaUrls

if TYPE_CHECKING:
    from cyverse_link.config.settings import Settings

ACCEPT = "image/*"
HEAD_REFUSED = frozenset({403, 405, 501})
_RANGE_TOTAL = re.compile(r"bytes\s+(?:\d+-\d+|\*)/(\d+)")


class UrlProblem(enum.StrEnum):
    BROKEN = "broken"  # 4xx/5xx
    GONE = "gone"  # 410: the project left CyVerse
    UNREACHABLE = "unreachable"  # connection refused, DNS, timeout
    NOT_IMAGE = "not_image"  # Content-Type is not image/*
    SIZE_MISMATCH = "size_mismatch"  # Content-Length / Content-Range total ≠ expected


@dataclass(frozen=True)
class UrlToCheck:
    url: str
    expected_size: int | None = None
    key: str | None = None  # caller's handle, e.g. sourceIdentifier or occid


@dataclass(frozen=True)
class UrlCheckResult:
    target: UrlToCheck
    status: int | None
    method: str  # "HEAD" or "GET" (ranged fallback)
    content_type: str | None = None
    size: int | None = None
    final_url: str | None = None
    redirects: tuple[str, ...] = ()  # "301 http://… → https://…"
    problems: tuple[UrlProblem, ...] = ()
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_urls(
    urls: Iterable[UrlToCheck],
    *,
    session: requests.Session | None = None,
    concurrency: int = 8,
    timeout: float = 30,
) -> Iterator[UrlCheckResult]:
    """Check every URL; yields one result per input, in input order."""
    own = session is None
    sess = session or _session(concurrency)
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    window: deque[Future[UrlCheckResult]] = deque()
    try:
        for target in urls:
            window.append(pool.submit(check_url, target, sess, timeout))
            if len(window) >= 4 * max(1, concurrency):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:  # also when the caller stops early: drop queued work, then close
        for fut in window:
            fut.cancel()
        pool.shutdown(wait=True)
        if own:
            sess.close()


def _session(concurrency: int) -> requests.Session:
    sess = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, concurrency))
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    return sess


def check_url(target: UrlToCheck, session: requests.Session, timeout: float) -> UrlCheckResult:
    """One URL: HEAD, then a ranged GET if HEAD is refused."""
    method = "HEAD"
    try:
        resp = session.head(
            target.url, headers={"Accept": ACCEPT}, timeout=timeout, allow_redirects=True
        )
        if resp.status_code in HEAD_REFUSED:
            method = "GET"
            resp = session.get(
                target.url,
                headers={"Accept": ACCEPT, "Range": "bytes=0-0"},
                timeout=timeout,
                allow_redirects=True,
                stream=True,
            )
            resp.close()  # one byte is all we asked for; never read a whole master
    except requests.RequestException as exc:
        return UrlCheckResult(
            target, None, method, problems=(UrlProblem.UNREACHABLE,), detail=type(exc).__name__
        )
    return _judge(target, method, resp)


def _judge(target: UrlToCheck, method: str, resp: requests.Response) -> UrlCheckResult:
    redirects = tuple(
        f"{r.status_code} {r.url} → {r.headers.get('Location', '')}" for r in resp.history
    )
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower() or None
    size = _size(resp)
    problems: list[UrlProblem] = []
    detail = None
    login = _login_hop(resp)
    if login is not None:
        # BisQue refuses a private or missing image to an anonymous caller with 401, which
        # its challenge decider turns into a 302 to the HTML login page (image_service/
        # controllers/service.py ~232-242, bqcore/bq/core/lib/challenge_decider.py ~25-63):
        # a dead link, not a page that happens not to be an image.
        problems.append(UrlProblem.BROKEN)
        detail = f"{method} answered {login.status_code}: BisQue login page (private or missing)"
    elif resp.status_code >= 400:
        problems.append(UrlProblem.GONE if resp.status_code == 410 else UrlProblem.BROKEN)
        detail = f"{method} answered {resp.status_code} {resp.reason}"
    else:
        if not (ctype or "").startswith("image/"):
            problems.append(UrlProblem.NOT_IMAGE)
            detail = f"Content-Type is {ctype or 'missing'}, not image/*"
        if target.expected_size is not None and size is not None and size != target.expected_size:
            problems.append(UrlProblem.SIZE_MISMATCH)
            detail = f"size {size} bytes, expected {target.expected_size}"
    return UrlCheckResult(
        target=target,
        status=login.status_code if login is not None else resp.status_code,
        method=method,
        content_type=ctype,
        size=size,
        final_url=resp.url,
        redirects=redirects,
        problems=tuple(problems),
        detail=detail,
    )


def _login_hop(resp: requests.Response) -> requests.Response | None:
    """The redirect to BisQue's ``/auth_service/login`` in this answer's history, if any."""
    for hop in resp.history:
        location = urlsplit(hop.headers.get("Location", "")).path
        if location.rstrip("/").endswith("/auth_service/login"):
            return hop
    return None


def _size(resp: requests.Response) -> int | None:
    """Full object size: the Content-Range total of a 206, else Content-Length."""
    if resp.status_code == 206:
        m = _RANGE_TOTAL.search(resp.headers.get("Content-Range", ""))
        return int(m.group(1)) if m else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


# -- the ``verify`` command: every mapped URL in the ledger -----------------------------------


class MappedRecord(Protocol):
    """What ``verify`` needs of a ledger row (``ledger.records.FileRecord`` satisfies it)."""

    @property
    def rel_path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def irods_path(self) -> str | None: ...
    @property
    def urls(self) -> MediaUrls | None: ...


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    redirected: int = 0
    broken: list[UrlCheckResult] = field(default_factory=list)  # only the failures: stays small

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": self.ok,
            "redirected": self.redirected,
            "broken": [
                {
                    "key": r.target.key,
                    "url": r.target.url,
                    "status": r.status,
                    "problems": [p.value for p in r.problems],
                    "detail": r.detail,
                }
                for r in self.broken
            ],
        }


def targets_for(record: MappedRecord) -> list[UrlToCheck]:
    """Every distinct URL of one row. The expected size is the original's, so it is only set
    on a URL that names the original object itself (not on renditions or BisQue URLs)."""
    if record.urls is None:
        return []
    original_name = posixpath.basename(record.irods_path or "")
    found: dict[str, UrlToCheck] = {}
    for label in ("url", "thumbnail_url", "original_url", "archive_url"):
        url = getattr(record.urls, label)
        if not url or url in found:
            continue
        last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        size = record.size if original_name and last == original_name else None
        found[url] = UrlToCheck(url, size, f"{record.rel_path} {label}")
    return list(found.values())


def verify_records(
    records: Iterable[MappedRecord],
    *,
    session: requests.Session | None = None,
    concurrency: int = 8,
    timeout: float = 30,
    on_result: Callable[[UrlCheckResult], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    targets = (t for rec in records for t in targets_for(rec))
    for result in check_urls(targets, session=session, concurrency=concurrency, timeout=timeout):
        report.checked += 1
        report.redirected += bool(result.redirects)
        if result.ok:
            report.ok += 1
        else:
            report.broken.append(result)
        if on_result is not None:
            on_result(result)
    return report


def run_verify(
    settings: Settings,
    *,
    concurrency: int = 8,
    timeout: float = 30,
    on_result: Callable[[UrlCheckResult], None] | None = None,
) -> VerifyReport:
    """``verify``: check every URL the ledger holds for mapped files."""
    from cyverse_link.ledger.store import Ledger  # the ledger pulls in SQLAlchemy: load it on use

    with Ledger(settings.state.db_url) as ledger:
        return verify_records(
            ledger.iter_mapped(), concurrency=concurrency, timeout=timeout, on_result=on_result
        )

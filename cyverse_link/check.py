"""``check``: is the config valid, and does every configured service answer and accept us?

One ``CheckLine`` per service (``=`` fine, ``!`` a problem). A missing password is a config
problem (exit 2); an unreachable service or a refused login is exit 3; anything else wrong
(e.g. the collection is missing) is exit 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from cyverse_link import wiring
from cyverse_link.config import Settings
from cyverse_link.credentials import resolve_password
from cyverse_link.datastore.irods_check import check_irods
from cyverse_link.errors import ConfigError, CyverseLinkError, ServiceUnavailable
from cyverse_link.ledger import Ledger
from cyverse_link.models import PortalMode, UrlProvider
from cyverse_link.wiring import build_api_portal, build_bisque_client, build_portal


@dataclass(frozen=True)
class CheckLine:
    service: str
    ok: bool
    message: str
    exit_code: int = 0  # what this line alone would make the command exit with

    @property
    def sigil(self) -> str:
        return "=" if self.ok else "!"


def run_check(settings: Settings) -> list[CheckLine]:
    """Connect to every configured service; never raises for a service problem."""
    where = settings.config_path or "config"
    lines = [CheckLine("config", True, f"{where}: valid")]
    lines.append(_guard("irods", lambda: _check_irods(settings)))
    if settings.urls.provider is UrlProvider.BISQUE:
        lines.append(_guard("bisque", lambda: _check_bisque(settings)))
    else:
        base = settings.urls.davanon_base
        lines.append(CheckLine("urls", True, f"dav-anon URLs under {base} (no login needed)"))
    lines.append(_guard("symbiota", lambda: _check_symbiota(settings)))
    lines.append(_guard("ledger", lambda: _check_ledger(settings)))
    return lines


def exit_code(lines: list[CheckLine]) -> int:
    codes = {line.exit_code for line in lines}
    for code in (2, 3, 1):
        if code in codes:
            return code
    return 0


def _guard(service: str, fn: Callable[[], CheckLine]) -> CheckLine:
    try:
        return fn()
    except ConfigError as exc:
        return CheckLine(service, False, str(exc), 2)
    except ServiceUnavailable as exc:
        return CheckLine(service, False, str(exc), 3)
    except CyverseLinkError as exc:
        return CheckLine(service, False, str(exc), 1)


def _check_irods(settings: Settings) -> CheckLine:
    r = check_irods(settings.irods, resolve_password(settings, "irods"))
    head = f"iRODS {r.server_version} at {r.host}:{r.port}, logged in as {r.user}#{r.zone}"
    if not r.collection_exists:
        return CheckLine(
            "irods", True, f"{head}; {r.collection} does not exist yet (sync creates it)"
        )
    if r.writable is False:
        return CheckLine("irods", False, f"{head}; no write access to {r.collection}", 1)
    return CheckLine("irods", True, f"{head}; {r.collection} is there")


def _check_bisque(settings: Settings) -> CheckLine:
    client = build_bisque_client(settings)
    try:
        user = client.login_check()
    finally:
        client.close()
    return CheckLine("bisque", True, f"BisQue {settings.bisque.url}: logged in as {user}")


def _check_symbiota(settings: Settings) -> CheckLine:
    if settings.symbiota.mode is PortalMode.CSV:
        return _check_csv(settings)
    if settings.symbiota.mode is PortalMode.API:
        api_portal = build_api_portal(settings)
        try:
            return CheckLine("symbiota", True, api_portal.check())
        finally:
            api_portal.close()
    portal = build_portal(settings)
    try:
        info = portal.schema()
    finally:
        portal.close()
    url = sa.make_url(settings.symbiota.db_url).render_as_string(hide_password=True)
    version = info.version or "unknown version"
    return CheckLine(
        "symbiota",
        True,
        f"Symbiota {url}: schema {version}, `{info.table}` table, collid "
        f"{settings.collection.collid}",
    )


def _check_csv(settings: Settings) -> CheckLine:
    """Where the files go; with read access, that the portal's API answers and knows the
    collection (its name is what db mode writes as ``owner``)."""
    s = settings.symbiota
    where = f"CSV mode: import files go to {s.csv_dir}"
    if not s.api_root:
        return CheckLine("symbiota", True, f"{where}; matches not checked (no symbiota.portal_url)")
    portal = wiring.build_csv_portal(settings)
    try:
        name = portal.owner()
    finally:
        portal.close()
    return CheckLine(
        "symbiota",
        True,
        f"{where}; matches checked through {s.api_root} (collection {name!r}, read-only)",
    )


def _check_ledger(settings: Settings) -> CheckLine:
    ledger = Ledger(settings.state.db_url)
    try:
        return CheckLine(
            "ledger", True, f"state ledger {ledger.safe_url}: schema v{ledger.schema_version}"
        )
    finally:
        ledger.close()

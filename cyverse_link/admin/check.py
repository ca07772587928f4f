"""``check``: is the config valid, and does every configured service answer and accept us?

One ``CheckLine`` per service (``=`` fine, ``!`` a problem). A missing password is a config
problem (exit 2); an unreachable service or a refused login is exit 3; anything else wrong
(e.g. the collection is missing) is exit 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from cyverse_link.config.credentials import resolve_password
from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import ConfigError, CyverseLinkError, ServiceUnavailable
from cyverse_link.core.models import PortalMode, UrlProvider
from cyverse_link.datastore.irods_check import check_irods
from cyverse_link.ledger.store import Ledger
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.run import wiring
from cyverse_link.run.wiring import build_api_portal, build_bisque_client, build_portal


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
    lines.append(_guard("source", lambda: _check_source(settings)))
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
        missing = portal.missing_privileges() if isinstance(portal, SymbiotaDb) else []
    finally:
        portal.close()
    url = sa.make_url(settings.symbiota.db_url)
    version = info.version or "unknown version"
    head = (
        f"Symbiota {url.render_as_string(hide_password=True)}: schema {version}, "
        f"`{info.table}` table, collid {settings.collection.collid}"
    )
    if missing:
        return CheckLine(
            "symbiota",
            False,
            f"{head}; the account {url.username or ''} may not do {', '.join(missing)}, which "
            f"linking needs: ask the portal's admin to GRANT SELECT, INSERT, UPDATE on "
            f"{url.database or 'the database'}.{info.table}"
            + (" and omoccurrences (create_skeletal)" if settings.symbiota.create_skeletal else ""),
            1,
        )
    return CheckLine("symbiota", True, head)


def _check_source(settings: Settings) -> CheckLine:
    """The drop folder ``plan`` and ``sync`` scan must be there and readable."""
    root = settings.source.path
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise ConfigError(f"source.path: {root} {what}; create it or fix source.path")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ConfigError(f"source.path: {root} cannot be read by this user")
    return CheckLine("source", True, f"drop folder {root}")


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
    """Opens an existing ledger (never creates one: ``check`` changes nothing); for a SQLite
    ledger not made yet, whether its folder can be made and written."""
    url = sa.make_url(settings.state.db_url)
    safe = url.render_as_string(hide_password=True)
    ledger = Ledger.open_existing(settings.state.db_url)
    if ledger is not None:
        try:
            return CheckLine(
                "ledger", True, f"state ledger {safe}: schema v{ledger.schema_version}"
            )
        finally:
            ledger.close()
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"state.db_url: {folder} is not writable; the ledger cannot be made")
    return CheckLine("ledger", True, f"state ledger {safe}: not made yet (the first sync makes it)")

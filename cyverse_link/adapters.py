"""``Settings`` → concrete adapters for the admin commands (``link``, ``relink``).

Each builder receives the settings once and resolves the one password it needs only when it
is called. Tests pass their own adapters to ``run_link``/``run_relink`` instead.
"""

from __future__ import annotations

import sqlalchemy as sa

from cyverse_link.config import Settings
from cyverse_link.credentials import resolve_password
from cyverse_link.datastore.irods import IrodsStore
from cyverse_link.models import PortalMode, UrlProvider
from cyverse_link.portal.base import Portal
from cyverse_link.publish.base import UrlProvider as UrlProviderProtocol
from cyverse_link.publish.bisque import BisqueClient, BisqueProvider
from cyverse_link.publish.davanon import DavAnonProvider


def open_store(settings: Settings) -> IrodsStore:
    return IrodsStore(settings.irods, resolve_password(settings, "irods"))


def symbiota_password(settings: Settings) -> str | None:
    """None for SQLite (no password) or a URL that carries one; else the resolved secret."""
    url = sa.make_url(settings.symbiota.db_url)
    if url.get_backend_name() == "sqlite" or url.password is not None:
        return None
    return resolve_password(settings, "symbiota")


def open_portal(settings: Settings) -> Portal:
    if settings.symbiota.mode is PortalMode.CSV:
        from cyverse_link.portal.csvfile import CsvPortal

        return CsvPortal(settings.symbiota.csv_dir, settings.collection.collid,
                         settings.collection.code)  # fmt: skip
    from cyverse_link.portal.symbiota import SymbiotaDb

    ident = settings.identifiers
    return SymbiotaDb(
        settings.symbiota.db_url,
        symbiota_password(settings),
        settings.collection.collid,
        match_on=ident.match_on,
        strip_leading_zeros=ident.strip_leading_zeros,
        create_skeletal=settings.symbiota.create_skeletal,
        batch_size=settings.symbiota.batch_size,
    )


def open_bisque_client(settings: Settings) -> BisqueClient | None:
    """A client for ``bisque.url``, or None when none is configured."""
    b = settings.bisque
    if not b.url:
        return None
    password = resolve_password(settings, "bisque") if b.user else ""
    return BisqueClient(b.url, b.user, password, timeout=b.timeout, retries=b.retries)


def open_provider(settings: Settings) -> UrlProviderProtocol:
    if settings.urls.provider is UrlProvider.BISQUE:
        client = open_bisque_client(settings)
        assert client is not None  # config validation requires bisque.url for this provider
        return BisqueProvider(client, settings.bisque.irods_host, settings.irods.zone)
    return DavAnonProvider(settings.urls.davanon_base, settings.irods.zone)

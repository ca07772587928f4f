"""``Settings`` → concrete adapters. The only place that knows which class serves which section;
passwords are resolved here, when a service is actually used, and passed on, never logged."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from typing import TypeVar

import sqlalchemy as sa

from cyverse_link.config.credentials import resolve_password
from cyverse_link.config.settings import Settings
from cyverse_link.core.models import PortalMode, UrlProvider
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.irods import IrodsStore
from cyverse_link.portal.api import SymbiotaApiPortal
from cyverse_link.portal.api_client import API_RETRY, PortalLogin, SymbiotaApi
from cyverse_link.portal.api_matching import ApiMatcher
from cyverse_link.portal.base import MatchRules, Portal
from cyverse_link.portal.csvfile import ApiReader, CsvPortal
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.publish.base import UrlProvider as UrlProviderProtocol
from cyverse_link.publish.bisque import BISQUE_RETRY, BisqueClient, BisqueProvider
from cyverse_link.publish.davanon import DavAnonProvider

T = TypeVar("T")


def closing(opened: ExitStack, adapter: T) -> T:
    """Hand ``adapter`` back, closed when ``opened`` unwinds (if it has ``close``): each run
    closes exactly what it built, last built first."""
    close = getattr(adapter, "close", None)
    if close is not None:
        opened.callback(close)
    return adapter


def build_store(settings: Settings) -> IrodsStore:
    """The iRODS store (also the ``PublicLinker``); connects lazily, one session per thread."""
    return IrodsStore(settings.irods, resolve_password(settings, "irods"))


def symbiota_needs_password(settings: Settings) -> bool:
    """SQLite files, URLs that carry a password, and ``password: none`` (an account without
    one, e.g. a local test server) need no secret."""
    if settings.symbiota.password.strip().lower() == "none":
        return False
    url = sa.make_url(settings.symbiota.db_url)
    return url.get_backend_name() != "sqlite" and url.password is None


def match_rules(settings: Settings) -> MatchRules:
    """collection.collid and identifiers.*: which records an image may link to."""
    ids = settings.identifiers
    return MatchRules(
        settings.collection.collid,
        match_on=ids.match_on,
        strip_leading_zeros=ids.strip_leading_zeros,
    )


def api_retry(settings: Settings) -> Backoff:
    """The API client's retries: symbiota.retries, with its usual pauses."""
    return replace(API_RETRY, retries=settings.symbiota.retries)


def build_portal(settings: Settings) -> Portal:
    s = settings.symbiota
    if s.mode is PortalMode.CSV:
        return build_csv_portal(settings)
    if s.mode is PortalMode.API:
        return build_api_portal(settings)
    password = resolve_password(settings, "symbiota") if symbiota_needs_password(settings) else None
    return SymbiotaDb(
        s.db_url,
        password,
        rules=match_rules(settings),
        create_skeletal=s.create_skeletal,
        batch_size=s.batch_size,
    )


def build_csv_portal(settings: Settings) -> CsvPortal:
    """csv mode; with ``symbiota.portal_url``/``api_url`` matches are looked up through the
    portal's read-only API (no token, no password) and rows carry their occid."""
    s, coll = settings.symbiota, settings.collection
    reader = None
    if s.api_root:
        api = SymbiotaApi(s.api_root, timeout=s.timeout, retry=api_retry(settings))
        matcher = ApiMatcher(api, match_rules(settings), concurrency=s.api_concurrency)
        reader = ApiReader(matcher)
    return CsvPortal(s.csv_dir, collid=coll.collid, code=coll.code, reader=reader)


def build_api_portal(settings: Settings) -> SymbiotaApiPortal:
    """api mode: a token (``symbiota.api_token``) or a login (``symbiota.user`` + password,
    exchanged for a token on first write); the secret is resolved here, never logged."""
    s = settings.symbiota
    secret = resolve_password(settings, "symbiota")
    key = "symbiota.password" if s.user else "symbiota.api_token"
    api = SymbiotaApi(
        s.api_root,
        token=None if s.user else secret,
        timeout=s.timeout,
        retry=api_retry(settings),
        token_key=key,
    )
    return SymbiotaApiPortal(
        api,
        match_rules(settings),
        state_url=settings.state.db_url,
        concurrency=s.api_concurrency,
        login=PortalLogin(s.portal_url or None, s.user, secret) if s.user else None,
    )


def build_bisque_client(settings: Settings) -> BisqueClient:
    b = settings.bisque
    return BisqueClient(
        b.url,
        (b.user, resolve_password(settings, "bisque")),
        timeout=b.timeout,
        retry=replace(BISQUE_RETRY, retries=b.retries),
    )


def build_provider(settings: Settings) -> UrlProviderProtocol:
    if settings.urls.provider is UrlProvider.BISQUE:
        return BisqueProvider(
            build_bisque_client(settings), settings.bisque.irods_host, settings.irods.zone
        )
    return DavAnonProvider(settings.urls.davanon_base, settings.irods.zone)

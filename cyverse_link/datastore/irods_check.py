"""``check_irods``: can we log in, which server is it, is the collection there and writable?"""

from __future__ import annotations

from dataclasses import dataclass

from cyverse_link.config.settings import IrodsSettings
from cyverse_link.core.errors import NotFound
from cyverse_link.datastore.irods import IrodsStore


@dataclass(frozen=True)
class IrodsCheckResult:
    host: str
    port: int
    user: str
    zone: str
    server_version: str
    collection: str
    collection_exists: bool
    writable: bool | None  # None: no ACL of the user's own (a group may still grant write)


def check_irods(settings: IrodsSettings, password: str) -> IrodsCheckResult:
    """Log in once and inspect ``settings.collection``; uses one connection, closed on return.

    Raises AuthenticationFailed (wrong user/password, exit 3), ServiceUnavailable (exit 3).
    """
    with IrodsStore(settings, password, application_name="cyverse_link-check") as store:
        version = store.server_version()
        try:
            writable = store.collection_writable(settings.collection)
            exists = True
        except NotFound:
            writable, exists = None, False
    return IrodsCheckResult(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        zone=settings.zone,
        server_version=version,
        collection=settings.collection,
        collection_exists=exists,
        writable=writable,
    )

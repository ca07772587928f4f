"""Passwords for iRODS, BisQue and the Symbiota database: resolved only when a service is used.

Order (SPEC §3): ``CYVERSE_LINK_<SERVICE>_PASSWORD`` always wins (cron, systemd); otherwise the
config's ``<service>.password`` spec: ``keyring`` (OS keyring, service ``cyverse-link``, user
``<service>:<user>``), ``env:NAME``, or a literal (accepted with a warning).

Discipline: a password is never put in a log record, an exception message or a ``repr``.
``Secret`` wraps one for objects that keep it; ``resolve_password`` registers every value it
returns with ``redactor`` so the CLI's log handlers mask it even if someone logs it by mistake.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Literal
from urllib.parse import urlsplit

import keyring
import keyring.errors
import sqlalchemy as sa

from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.logsafe import library_record_allowed, printable, quiet_libraries
from cyverse_link.core.models import PortalMode

__all__ = [
    "KEYRING_SERVICE",
    "SERVICES",
    "Redactor",
    "Secret",
    "Service",
    "delete_password",
    "env_var",
    "keyring_username",
    "redactor",
    "resolve_password",
    "secret_key",
    "store_password",
]

log = logging.getLogger(__name__)

KEYRING_SERVICE = "cyverse-link"
Service = Literal["irods", "bisque", "symbiota"]
SERVICES: tuple[Service, ...] = ("irods", "bisque", "symbiota")


class Secret:
    """Holds a password; prints as ``***``. Call ``reveal()`` only where the value is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:  # never pickled into a cache or a report
        raise TypeError("a Secret cannot be pickled")


class Redactor(logging.Filter):
    """The logging filter on every handler the CLI installs: drops python-irodsclient's records
    below WARNING (they hold auth challenges, digests and packets, see ``logsafe``), replaces
    every registered secret with ``***`` and escapes control characters (one line a record)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._rx: re.Pattern[str] | None = None

    def register(self, secret: str) -> None:
        if len(secret) >= 3 and secret not in self._secrets:  # 1-2 chars would mask everything
            self._secrets.add(secret)
            alts = sorted(self._secrets, key=len, reverse=True)
            self._rx = re.compile("|".join(re.escape(s) for s in alts))

    def redact(self, text: str) -> str:
        return self._rx.sub("***", text) if self._rx else text

    def filter(self, record: logging.LogRecord) -> bool:
        if not library_record_allowed(record):
            return False
        try:
            text = record.getMessage()
        except Exception:  # a bad format string: show the template, never the arguments
            text = str(record.msg)
        record.msg = printable(self.redact(text))
        record.args = None
        return True


redactor = Redactor()
quiet_libraries()  # python-irodsclient's DEBUG records are never even made


def env_var(service: Service) -> str:
    return f"CYVERSE_LINK_{service.upper()}_PASSWORD"


def keyring_username(settings: Settings, service: Service) -> str:
    """``<service>:<user>``; the Symbiota user comes from ``symbiota.db_url`` (db mode) or
    ``symbiota.user`` (api mode; a token is stored as ``symbiota-token:<API host>``)."""
    user: str | None
    if service == "symbiota" and settings.symbiota.mode is PortalMode.API:
        sym = settings.symbiota
        if not sym.user:  # a token: stored under the API's host
            host = urlsplit(sym.api_root).netloc or "api"
            return f"symbiota-token:{host}"
        user, key = sym.user, "symbiota.user"
    elif service == "symbiota":
        user = _db_url_user(settings.symbiota.db_url)
        key = "symbiota.db_url"
    else:
        user = settings.irods.user if service == "irods" else settings.bisque.user
        key = f"{service}.user"
    if not user:
        raise ConfigError(f"{key}: a user name is needed to find the {service} password")
    return f"{service}:{user}"


def _db_url_user(db_url: str) -> str | None:
    if not db_url:
        return None
    try:
        return sa.make_url(db_url).username
    except sa.exc.ArgumentError:
        raise ConfigError("symbiota.db_url: not a database URL") from None


def _spec(settings: Settings, service: Service) -> str:
    if service == "irods":
        return settings.irods.password
    if service == "bisque":
        return settings.bisque.password
    sym = settings.symbiota
    if sym.mode is PortalMode.API and not sym.user:
        return sym.api_token
    return sym.password


def secret_key(settings: Settings, service: Service) -> str:
    """The config key a service's secret comes from (named in messages)."""
    sym = settings.symbiota
    if service == "symbiota" and sym.mode is PortalMode.API and not sym.user:
        return "symbiota.api_token"
    return f"{service}.password"


def resolve_password(settings: Settings, service: Service) -> str:
    """The password for ``service``. Raises ``ConfigError`` (``<service>.password: ...``) when
    none can be found, saying how to provide one; never includes the value anywhere."""
    override = os.environ.get(env_var(service))
    if override:
        return _registered(override)
    key = secret_key(settings, service)
    spec = _spec(settings, service).strip()
    how = f"run `cyverse-link credentials set {service}` or set {env_var(service)}"
    if spec.lower() == "keyring":
        username = keyring_username(settings, service)
        _require_usable_keyring(key)
        try:
            value = keyring.get_password(KEYRING_SERVICE, username)
        except keyring.errors.KeyringError as exc:
            raise ConfigError(_headless(key, f"the keyring failed: {type(exc).__name__}")) from None
        if not value:
            raise ConfigError(f"{key}: no password stored in the keyring for {username}; {how}")
        return _registered(value)
    if spec.lower().startswith("env:"):
        name = spec[4:].strip()
        value = os.environ.get(name) if name else None
        if not value:
            raise ConfigError(f"{key}: environment variable {name or '(none)'} is not set; {how}")
        return _registered(value)
    if not spec:
        raise ConfigError(f"{key}: empty; {how}")
    log.warning(
        "%s is written in the config file itself; prefer `password: keyring` "
        "(cyverse-link credentials set %s) or env:NAME",
        key,
        service,
    )
    return _registered(_spec(settings, service))


def _registered(value: str) -> str:
    redactor.register(value)
    return value


def store_password(settings: Settings, service: Service, password: str) -> str:
    """Put ``password`` in the OS keyring; returns the keyring user name it was stored under."""
    if not password:
        raise ConfigError(f"{service}.password: refusing to store an empty password")
    username = keyring_username(settings, service)
    key = secret_key(settings, service)
    _require_usable_keyring(key)
    try:
        keyring.set_password(KEYRING_SERVICE, username, password)
    except keyring.errors.KeyringError as exc:
        raise ConfigError(_headless(key, f"the keyring failed: {type(exc).__name__}")) from None
    return username


def delete_password(settings: Settings, service: Service) -> bool:
    """Remove the stored password; False when there was none."""
    username = keyring_username(settings, service)
    key = secret_key(settings, service)
    _require_usable_keyring(key)
    try:
        keyring.delete_password(KEYRING_SERVICE, username)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as exc:
        raise ConfigError(_headless(key, f"the keyring failed: {type(exc).__name__}")) from None
    return True


def _require_usable_keyring(key: str) -> None:
    """Headless servers (no Secret Service / no desktop session) get keyring's fail or null
    backend; say so plainly instead of a library traceback."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # keyring raises assorted errors while choosing a backend
        raise ConfigError(_headless(key, f"no keyring backend ({type(exc).__name__})")) from None
    module = type(backend).__module__
    name = type(backend).__name__
    unusable = module in ("keyring.backends.fail", "keyring.backends.null")
    if module == "keyring.backends.chainer" and not getattr(backend, "backends", None):
        unusable = True
    if unusable:
        raise ConfigError(_headless(key, f"no usable OS keyring on this machine ({name})"))


def _headless(key: str, what: str) -> str:
    variable = f"CYVERSE_LINK_{key.split('.')[0].upper()}_PASSWORD"
    return (
        f"{key}: {what}. This is usual on a headless server or in cron, where no desktop "
        f"keyring runs. Either set {variable} for the job (e.g. systemd "
        "EnvironmentFile= or a cron wrapper that reads a root-only, chmod 600 file), or use an "
        "encrypted file keyring: pip install keyrings.cryptfile and set "
        "PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring"
    )

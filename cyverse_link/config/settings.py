"""YAML configuration → frozen, typed ``Settings`` (SPEC §3).

Read once, at the edge; each adapter receives only its own section. Unknown keys, wrong types,
bad patterns and relative iRODS collections are ``ConfigError`` naming the key (exit 2).
Passwords stay as *specs* here (``keyring``, ``env:NAME`` or a literal); ``credentials.py``
resolves them only when a service is actually used.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cyverse_link.config.checks import check_db_url, check_http_url, check_irods_path, load_yaml
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import PortalMode, UrlProvider

DEFAULT_CONFIG_NAME = "cyverse-link.yaml"
CONFIG_ENV = "CYVERSE_LINK_CONFIG"
MAX_IRODS_THREADS = 10  # CyVerse's HAProxy rejects the 11th connection per address


@dataclass(frozen=True)
class CollectionSettings:
    collid: int
    code: str = ""


@dataclass(frozen=True)
class SourceSettings:
    path: Path = Path("./incoming")
    include: tuple[str, ...] = ("*.jpg", "*.jpeg", "*.tif", "*.tiff", "*.png")
    exclude: tuple[str, ...] = ()
    max_web_bytes: int = 8 * 1024 * 1024  # larger originals are flagged: need a web derivative
    # A symbolic link whose target lies outside ``path`` is not followed (reported instead)
    # unless this is true: a link must not publish a folder nobody meant to drop.
    follow_links_outside: bool = False


@dataclass(frozen=True)
class ReplaceRule:
    pattern: str
    replacement: str


@dataclass(frozen=True)
class IdentifierSettings:
    pattern: str = r"(?P<catalog>[A-Z]+\d+)(?:[_-](?P<suffix>\w+))?"
    match_on: tuple[str, ...] = ("catalogNumber", "otherCatalogNumbers")
    strip_leading_zeros: bool = True
    replace: tuple[ReplaceRule, ...] = ()  # applied to the catalog group, in order
    mapping_csv: Path | None = None  # file name → catalog number; overrides the pattern


@dataclass(frozen=True)
class IrodsSettings:
    host: str = "data.cyverse.org"
    port: int = 1247
    zone: str = "iplant"
    user: str = ""
    password: str = "keyring"
    collection: str = "/iplant/home/shared/myproject"
    public: bool = True
    threads: int = 4
    connection_timeout: int = 120
    retries: int = 3


@dataclass(frozen=True)
class UrlSettings:
    provider: UrlProvider = UrlProvider.DAVANON
    davanon_base: str = "https://data.cyverse.org/dav-anon"


@dataclass(frozen=True)
class DerivativeSettings:
    enabled: bool = True
    web_width: int = 1400
    thumbnail_width: int = 200
    large_width: int = 3200
    jpeg_quality: int = 85


@dataclass(frozen=True)
class BisqueSettings:
    url: str = ""
    user: str = ""
    password: str = "keyring"
    irods_host: str = "data.iplantcollaborative.org"
    timeout: float = 60.0
    retries: int = 4


@dataclass(frozen=True)
class SymbiotaSettings:
    mode: PortalMode = PortalMode.DB
    db_url: str = ""
    password: str = "keyring"
    csv_dir: Path = Path("./out")
    create_skeletal: bool = False
    batch_size: int = 500
    # api mode (and csv mode's read-only matching): the portal root (webservices/token.php)
    # and the REST API root, default <portal_url>/api/v2
    portal_url: str = ""
    api_url: str = ""
    user: str = ""  # a portal login: a token is asked for with symbiota.password
    api_token: str = ""  # instead of user + password: keyring | env:NAME | literal
    api_concurrency: int = 4  # requests in flight at once
    timeout: float = 60.0
    retries: int = 4

    @property
    def api_root(self) -> str:
        """``api_url``, else ``<portal_url>/api/v2``; "" when neither is set."""
        if self.api_url:
            return self.api_url.rstrip("/")
        return f"{self.portal_url.rstrip('/')}/api/v2" if self.portal_url else ""


@dataclass(frozen=True)
class StateSettings:
    db_url: str = "sqlite:///cyverse-link-state.sqlite"
    report_dir: Path = Path("./reports")


@dataclass(frozen=True)
class RelinkSettings:
    bisque_hosts: tuple[str, ...] = ("bisque.cyverse.org",)
    search_collections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    collection: CollectionSettings
    source: SourceSettings = field(default_factory=SourceSettings)
    identifiers: IdentifierSettings = field(default_factory=IdentifierSettings)
    irods: IrodsSettings = field(default_factory=IrodsSettings)
    urls: UrlSettings = field(default_factory=UrlSettings)
    derivatives: DerivativeSettings = field(default_factory=DerivativeSettings)
    bisque: BisqueSettings = field(default_factory=BisqueSettings)
    symbiota: SymbiotaSettings = field(default_factory=SymbiotaSettings)
    state: StateSettings = field(default_factory=StateSettings)
    relink: RelinkSettings = field(default_factory=RelinkSettings)
    config_path: Path | None = None  # where it was read from (its directory anchors paths)


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate a YAML config file. Raises ``ConfigError`` naming the bad key."""
    cfg_path = Path(path) if path is not None else default_config_path()
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {cfg_path} not found; create one with `cyverse-link init {cfg_path}`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {cfg_path} is not UTF-8 text") from None
    data = load_yaml(text, cfg_path)
    return parse_settings(data or {}, base_dir=cfg_path.resolve().parent, config_path=cfg_path)


def parse_settings(
    data: Any, *, base_dir: Path | None = None, config_path: Path | None = None
) -> Settings:
    """Validate a mapping (already parsed YAML) into ``Settings``."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping of sections (collection, source, ...)")
    if "collection" not in data:
        raise ConfigError("collection: missing section (needs at least collection.collid)")
    settings = _build(Settings, data, "")
    settings = _anchor_paths(settings, base_dir or Path.cwd())
    _check_semantics(settings)
    settings = _normalise(settings)
    return dataclasses.replace(settings, config_path=config_path)


def _build(cls: type[Any], data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "config_path"}
    for key in data:
        if key not in known:
            hint = f" (known keys: {', '.join(sorted(known))})"
            raise ConfigError(f"{prefix}{key}: unknown key{hint}")
    kwargs = {key: _coerce(hints[key], value, f"{prefix}{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key is missing
        missing = re.findall(r"'(\w+)'", str(exc))
        name = f"{prefix}{missing[0]}" if missing else where
        raise ConfigError(f"{name}: required key is missing") from None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, f"{key}.")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {_kind(value)}")
        return tuple(_coerce(args[0], item, f"{key}[{i}]") for i, item in enumerate(value))
    if hint is ReplaceRule:
        return _build(ReplaceRule, value, f"{key}.")
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(m.value for m in hint)
            raise ConfigError(f"{key}: {value!r} is not one of {choices}") from None
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: expected a path, got {_kind(value)}")
        return Path(value).expanduser()
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {_kind(value)}")
        return float(value)
    if hint is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{key}: expected text, got {_kind(value)}")
        return str(value)
    raise ConfigError(f"{key}: unsupported value {_kind(value)}")  # pragma: no cover


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:60]


def _anchor_paths(s: Settings, base: Path) -> Settings:
    """Relative paths (and SQLite files) are taken relative to the config file's folder."""

    def anchor(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    state_url = s.state.db_url
    if state_url.startswith("sqlite:///") and not state_url.startswith("sqlite:////"):
        rel = state_url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            state_url = f"sqlite:///{anchor(Path(rel))}"
    mapping = s.identifiers.mapping_csv
    return dataclasses.replace(
        s,
        source=dataclasses.replace(s.source, path=anchor(s.source.path)),
        identifiers=dataclasses.replace(
            s.identifiers, mapping_csv=anchor(mapping) if mapping else None
        ),
        symbiota=dataclasses.replace(s.symbiota, csv_dir=anchor(s.symbiota.csv_dir)),
        state=dataclasses.replace(s.state, db_url=state_url, report_dir=anchor(s.state.report_dir)),
    )


def _normalise(s: Settings) -> Settings:
    """iRODS paths without ``.``/``..`` (refused), doubled or trailing slashes (dropped)."""
    search = tuple(
        check_irods_path(f"relink.search_collections[{i}]", c)
        for i, c in enumerate(s.relink.search_collections)
    )
    return dataclasses.replace(
        s,
        irods=dataclasses.replace(
            s.irods, collection=check_irods_path("irods.collection", s.irods.collection)
        ),
        relink=dataclasses.replace(s.relink, search_collections=search),
    )


def _check_urls(s: Settings) -> None:
    """Database and web URLs, parsed here so that no later step meets a malformed one."""
    if s.symbiota.db_url:
        check_db_url("symbiota.db_url", s.symbiota.db_url)
    check_db_url("state.db_url", s.state.db_url)
    check_http_url("urls.davanon_base", s.urls.davanon_base)
    if s.bisque.url:
        check_http_url("bisque.url", s.bisque.url)
    # api mode writes through these; csv mode reads matches through them when given
    for key, url in (
        ("symbiota.portal_url", s.symbiota.portal_url),
        ("symbiota.api_url", s.symbiota.api_url),
    ):
        if url:
            check_http_url(key, url)


def _check_semantics(s: Settings) -> None:
    try:
        rx = re.compile(s.identifiers.pattern)
    except re.error as exc:
        raise ConfigError(f"identifiers.pattern: not a valid regular expression ({exc})") from None
    if "catalog" not in rx.groupindex:
        raise ConfigError("identifiers.pattern: needs a named group (?P<catalog>...)")
    for i, rule in enumerate(s.identifiers.replace):
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            raise ConfigError(f"identifiers.replace[{i}].pattern: invalid ({exc})") from None
        try:  # the template too: a bad group reference would fail every file mid-run
            re.sub(rule.pattern, rule.replacement, "")
        except (re.error, IndexError) as exc:
            raise ConfigError(
                f"identifiers.replace[{i}].replacement: invalid ({exc}); use \\1 or \\g<name> "
                "for groups the rule's pattern has"
            ) from None
    allowed = {"catalogNumber", "otherCatalogNumbers", "omoccuridentifiers"}
    for name in s.identifiers.match_on:
        if name not in allowed:
            raise ConfigError(
                f"identifiers.match_on: {name!r} is not one of {', '.join(sorted(allowed))}"
            )
    coll = s.irods.collection
    if not coll.startswith("/"):
        raise ConfigError(
            f"irods.collection: must be an absolute iRODS path like /{s.irods.zone}/home/..., "
            f"got {coll!r}"
        )
    if not coll.startswith(f"/{s.irods.zone}/"):
        raise ConfigError(f"irods.collection: must lie in zone {s.irods.zone!r} (/zone/...)")
    if not 1 <= s.irods.threads <= MAX_IRODS_THREADS:
        raise ConfigError(
            f"irods.threads: {s.irods.threads} is outside 1..{MAX_IRODS_THREADS}; CyVerse "
            "rejects more than 10 connections per address (keep to 8 or fewer)"
        )
    if s.urls.provider is UrlProvider.BISQUE and not s.bisque.url:
        raise ConfigError("bisque.url: required when urls.provider is bisque")
    if s.symbiota.mode is PortalMode.DB and not s.symbiota.db_url:
        raise ConfigError("symbiota.db_url: required when symbiota.mode is db")
    _check_urls(s)
    if not 1 <= s.irods.port <= 65535:
        raise ConfigError(f"irods.port: {s.irods.port} is outside 1..65535")
    if s.symbiota.mode is PortalMode.API:
        _check_api(s.symbiota)
    for name, value in (
        ("derivatives.web_width", s.derivatives.web_width),
        ("derivatives.thumbnail_width", s.derivatives.thumbnail_width),
        ("symbiota.batch_size", s.symbiota.batch_size),
    ):
        if value <= 0:
            raise ConfigError(f"{name}: must be positive")
    if not 1 <= s.derivatives.jpeg_quality <= 100:
        raise ConfigError("derivatives.jpeg_quality: must be between 1 and 100")


def _check_api(sym: SymbiotaSettings) -> None:
    if not sym.api_root:
        raise ConfigError(
            "symbiota.portal_url: required when symbiota.mode is api (the portal's address, "
            "e.g. https://portal.example.org/symbiota; or set symbiota.api_url)"
        )
    if sym.user and not sym.portal_url:
        raise ConfigError("symbiota.portal_url: required to log in as symbiota.user")
    if not sym.user and not sym.api_token:
        raise ConfigError(
            "symbiota.user: api mode needs symbiota.user (and symbiota.password) or "
            "symbiota.api_token"
        )
    if sym.create_skeletal:
        raise ConfigError(
            "symbiota.create_skeletal: not available in api mode (it writes media only)"
        )
    if not 1 <= sym.api_concurrency <= 16:
        raise ConfigError("symbiota.api_concurrency: must be between 1 and 16")
    if sym.timeout <= 0 or sym.retries < 0:
        raise ConfigError("symbiota.timeout must be positive and symbiota.retries at least 0")

"""The checks ``config.settings`` runs on text a user wrote: the YAML itself, database and web URLs,
iRODS paths. Each failure is a one-line ``ConfigError`` naming the key (exit 2), never a
traceback from PyYAML or SQLAlchemy, and never the value of a URL (it may hold a password).
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlsplit

import yaml

from cyverse_link.core.errors import ConfigError

__all__ = ["MAX_DEPTH", "check_db_url", "check_http_url", "check_irods_path", "load_yaml"]

MAX_DEPTH = 40  # a config is 3 levels deep; deeper means a mistake or a hostile file
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no ``!!python/...`` tags), plus: a key given twice in one mapping
    is an error (PyYAML keeps the last one silently, so a second ``symbiota:`` section would
    replace the first), and nesting is bounded (PyYAML's composer recurses per level: 20,000
    levels end in a ``RecursionError`` after seconds)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue  # `<<: *base` may repeat keys on purpose: explicit keys win
                key = self.construct_object(key_node)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: PyYAML reports it below
                    continue
                if first is not None:
                    raise _DuplicateKey(key, first, key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, source: object) -> Any:
    """Parse a config text. ``source`` names the file in messages."""
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(
            f"{exc.key}: given twice in {source} (lines {exc.first} and {exc.again}); the "
            "second would silently replace the first: keep one and merge them"
        ) from None
    except yaml.MarkedYAMLError as exc:
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        # One line, without PyYAML's snippet of the file (it may show a literal password).
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"{source}{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:  # a bound we did not foresee; never a traceback
        raise ConfigError(f"{source}: not valid YAML: nested too deeply") from None


def check_db_url(key: str, text: str) -> None:
    """A SQLAlchemy URL whose dialect and driver are installed, e.g.
    ``mysql+pymysql://user@host:3306/symbiota`` or ``sqlite:///state.sqlite``."""
    import sqlalchemy as sa

    example = "like mysql+pymysql://user@host:3306/symbiota or sqlite:///file.sqlite"
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise ConfigError(f"{key}: not a database URL; write it {example}") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise ConfigError(f"{key}: the port is not a number; write the URL {example}") from None
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ConfigError(f"{key}: port {url.port} is outside 1..65535")
    try:
        dialect = url.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ConfigError(
            f"{key}: unknown database kind or driver {url.drivername!r}; write the URL {example}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(
            f"{key}: the Python driver for {url.drivername!r} is not installed "
            f"(module {exc.name or '?'}); install it or use mysql+pymysql://"
        ) from None


def check_http_url(key: str, text: str) -> None:
    """An ``http(s)://host[:port]/...`` URL (a web server: dav-anon, BisQue, a portal)."""
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise ConfigError(f"{key}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: expected an http:// or https:// URL with a host name")
    if port == 0:
        raise ConfigError(f"{key}: port 0 is not a valid port")


def check_irods_path(key: str, path: str) -> str:
    """An absolute iRODS collection path without ``.``/``..`` segments; trailing and doubled
    slashes are dropped. iRODS does not resolve ``..`` (it would be a collection of that name,
    or refused), and every dav-anon URL and ledger path is built from this text, so an
    unnormalised path would fail every file after ``check`` passed."""
    if not path.startswith("/"):
        raise ConfigError(
            f"{key}: must be an absolute iRODS path like /zone/home/..., got {path!r}"
        )
    segments = [s for s in path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ConfigError(
            f"{key}: {path!r} has a '.' or '..' segment; write the collection's full path "
            f"(e.g. {posixpath.normpath(path)!r})"
        )
    if not segments:
        raise ConfigError(f"{key}: '/' is not a collection you can write to")
    return "/" + "/".join(segments)

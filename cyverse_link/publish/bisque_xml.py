"""Pure BisQue XML: request bodies and response parsers (bisque-api.md §3–§6). No I/O.

BisQue answers without an XML prolog, attributes sorted, listings wrapped in a ``resource``
element (self-closing when empty). ``uri`` and ``resource_uniq`` are opaque strings.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict

PUBLISHED = "published"
PRIVATE = "private"


class BisqueXmlError(ValueError):
    """A response that is not the XML BisQue documents (HTML login page, truncated body…)."""


@dataclass(frozen=True)
class BisqueResource:
    """One top-level BisQue document as returned in a short view."""

    kind: str  # element name: image, file, resource…
    uniq: str
    uri: str
    name: str | None = None
    value: str | None = None
    permission: str | None = None
    owner: str | None = None
    created: str | None = None
    ts: str | None = None

    @property
    def published(self) -> bool:
        return self.permission == PUBLISHED


def _parse(xml: str | bytes) -> dict[str, Any]:
    try:
        doc = xmltodict.parse(xml, disable_entities=True, force_list=("tag",))
    except (ExpatError, ValueError) as exc:
        raise BisqueXmlError(f"not XML: {exc}") from exc
    if not isinstance(doc, dict) or len(doc) != 1:
        raise BisqueXmlError("expected one root element")
    return doc


def _as_dict(node: Any) -> dict[str, Any]:
    """xmltodict gives None for ``<x/>``, a str for text-only elements, else a dict."""
    return node if isinstance(node, dict) else {}


def _resource(kind: str, node: Any) -> BisqueResource:
    attrs = _as_dict(node)
    uri = attrs.get("@uri") or ""
    uniq = attrs.get("@resource_uniq") or uri.rstrip("/").rsplit("/", 1)[-1]
    if not uniq:
        raise BisqueXmlError(f"<{kind}> without resource_uniq or uri")
    return BisqueResource(
        kind=kind,
        uniq=uniq,
        uri=uri,
        name=attrs.get("@name"),
        value=attrs.get("@value"),
        permission=attrs.get("@permission"),
        owner=attrs.get("@owner"),
        created=attrs.get("@created"),
        ts=attrs.get("@ts"),
    )


def parse_resource(xml: str | bytes) -> BisqueResource:
    """The bare element answered by ``paths/insert`` and ``POST /data_service/<uniq>``."""
    ((kind, node),) = _parse(xml).items()
    return _resource(kind, node)


def parse_listing(xml: str | bytes) -> list[BisqueResource]:
    """Children of a ``<resource uri="/data_service/image?…">`` listing wrapper."""
    ((kind, node),) = _parse(xml).items()
    if kind != "resource":
        raise BisqueXmlError(f"expected a <resource> listing, got <{kind}>")
    found: list[BisqueResource] = []
    for child_kind, child in _as_dict(node).items():
        if child_kind.startswith("@") or child_kind == "#text":
            continue
        for item in child if isinstance(child, list) else [child]:
            found.append(_resource(child_kind, item))
    return found


def parse_session(xml: str | bytes) -> str | None:
    """The ``user`` tag's value (``<root>/data_service/<user uniq>``), None when anonymous."""
    ((kind, node),) = _parse(xml).items()
    if kind != "session":
        raise BisqueXmlError(f"expected <session>, got <{kind}>")
    for tag in _as_dict(node).get("tag", []):
        tag = _as_dict(tag)
        if tag.get("@name") == "user":
            return str(tag.get("@value") or "") or None
    return None


def parse_tags(xml: str | bytes) -> dict[str, list[str]]:
    """Top-level ``tag`` children of a document (``view=full``): name → values."""
    ((_, node),) = _parse(xml).items()
    tags: dict[str, list[str]] = {}
    for tag in _as_dict(node).get("tag", []):
        tag = _as_dict(tag)
        if "@name" in tag:
            tags.setdefault(tag["@name"], []).append(str(tag.get("@value") or ""))
    return tags


def _tag_nodes(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"@name": name, "@value": value} for name, value in tags.items()]


def _unparse(doc: dict[str, Any]) -> str:
    return str(xmltodict.unparse(doc, full_document=False))


# Characters BisQue's value= filter does not take literally (resource_query.py ~845-881):
# '=', '<', '>' cut the value, quotes are stripped from its ends, '|' is OR, '*' is LIKE and
# a backslash escapes inside a LIKE. Each becomes the LIKE wildcard '*'.
_NOT_LITERAL = frozenset("=<>|*\\\"'")


def query_pattern(value: str) -> str:
    """``value`` as sent in a ``value=`` filter: itself when BisQue compares it literally,
    else a LIKE pattern (each troublesome character → ``*``) that matches at least ``value``;
    hits must then be compared exactly."""
    if not any(ch in _NOT_LITERAL for ch in value):
        return value
    return "".join("*" if ch in _NOT_LITERAL else ch for ch in value)


def insert_name(value: str) -> str:
    """The ``name`` sent to ``paths/insert``: the value's last segment as it stands (encoded,
    so without '#'), which BisQue percent-decodes into the stored name."""
    name = posixpath.basename(value)
    if not name or "#" in name:
        raise ValueError(f"no usable last segment in {value!r}")
    return name


def insert_body(
    name: str, value: str, *, permission: str = PUBLISHED, tags: Mapping[str, str] | None = None
) -> str:
    """``paths/insert`` body. ``name`` is the basename: one starting with '/' crashes BisQue."""
    if not name or name.startswith("/"):
        raise ValueError(f"BisQue resource name must be a basename, got {name!r}")
    node: dict[str, Any] = {"@name": name, "@permission": permission, "@value": value}
    if tags:
        node["tag"] = _tag_nodes(tags)
    return _unparse({"resource": node})


def permission_body(uri: str, permission: str = PUBLISHED) -> str:
    """Body for ``POST /data_service/<uniq>``: only 'published'/'private' are valid values."""
    if permission not in (PUBLISHED, PRIVATE):
        raise ValueError(f"BisQue permission must be published or private, got {permission!r}")
    return _unparse({"resource": {"@permission": permission, "@uri": uri}})


def tags_body(tags: Mapping[str, str]) -> str:
    """Several tags in one ``request`` wrapper, added (not replaced) by a POST."""
    return _unparse({"request": {"tag": _tag_nodes(tags)}})

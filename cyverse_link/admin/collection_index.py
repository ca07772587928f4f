"""An in-memory index of one paged listing of an iRODS collection (``link`` and ``relink``).

The data store is listed once (``DataStore.list``: a few GenQuery pages per 500 replicas);
everything else — which objects are originals, which derivatives belong to which original,
which objects carry a given file name — is answered from this index, never by a round trip per
object. Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable, Sequence

from cyverse_link.core.models import RemoteObject
from cyverse_link.core.naming import (
    Rendition,
    derivative_of,
    derivative_stem,
    is_derivative,
    version_of,
)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    low = name.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)


class CollectionIndex:
    """Originals, derivatives and file names of a listing.

    ``include`` are the config's ``source.include`` globs (case-insensitive, on the object
    name): other objects (README, CSV, ...) are ``ignored``. Derivatives
    (``_derivatives/<stem>.<md5_8>.<web|thumb|large>.jpg``) are never originals.
    """

    def __init__(self, include: Sequence[str] = ("*",)) -> None:
        self.include = tuple(include)
        self.originals: list[RemoteObject] = []
        self.ignored: list[RemoteObject] = []
        self.derivative_count = 0
        # original's folder + stem → md5 prefix → rendition → derivative path
        self._derivatives: dict[str, dict[str, dict[Rendition, str]]] = {}
        self._by_name: dict[str, list[RemoteObject]] = {}
        self._by_path: dict[str, RemoteObject] = {}
        self._current: dict[str, str] | None = None  # see superseded_by

    def add(self, objects: Iterable[RemoteObject]) -> CollectionIndex:
        for obj in objects:
            if obj.path in self._by_path:
                continue  # listed twice (overlapping search collections)
            self._by_path[obj.path] = obj
            self._current = None
            found = derivative_of(obj.path) if is_derivative(obj.path) else None
            if found is not None:
                stem, tag, rendition = found
                self._derivatives.setdefault(stem, {}).setdefault(tag, {})[rendition] = obj.path
                self.derivative_count += 1
                continue
            name = posixpath.basename(obj.path)
            if not _matches(name, self.include):
                self.ignored.append(obj)
                continue
            self.originals.append(obj)
            self._by_name.setdefault(name.casefold(), []).append(obj)
        return self

    def superseded_by(self, path: str) -> str | None:
        """The newer content that ``sync`` wrote for the same drop-folder file, when ``path``
        is an older one, else None. ``sync`` never overwrites: changed content goes to
        ``stem.v<md5_8>.ext`` beside ``stem.ext`` (``naming.versioned_path``) and the file's
        Symbiota row moves to it. Of such a family (the plain name and its versions whose tag
        is their own MD5 prefix) only the most recently modified object is current."""
        if self._current is None:
            self._current = self._families()
        plain = version_of(path, self._checksum(path)) or path
        current = self._current.get(plain)
        return current if current is not None and current != path else None

    def _checksum(self, path: str) -> str | None:
        obj = self._by_path.get(path)
        return obj.checksum if obj is not None else None

    def _families(self) -> dict[str, str]:
        """plain path → its current member, for every family with a version."""
        members: dict[str, list[RemoteObject]] = {}
        for obj in self.originals:
            plain = version_of(obj.path, obj.checksum)
            if plain is not None:
                members.setdefault(plain, []).append(obj)
        current: dict[str, str] = {}
        for plain, versions in members.items():
            family = list(versions)
            if plain in self._by_path:
                family.append(self._by_path[plain])
            # newest first; without a time a version beats the plain name; then by path
            newest = max(family, key=lambda o: (
                o.modified.timestamp() if o.modified is not None else float("-inf"),
                o.path != plain, o.path,
            ))  # fmt: skip
            current[plain] = newest.path
        return current

    def get(self, path: str) -> RemoteObject | None:
        return self._by_path.get(path)

    def by_name(self, name: str) -> list[RemoteObject]:
        """Originals with this object name (case-insensitive), in listing order."""
        return list(self._by_name.get(posixpath.basename(name).casefold(), ()))

    def derivatives_for(self, original: str, md5: str | None) -> dict[Rendition, str]:
        """The derivatives made from this content of ``original`` (matched by the MD5 prefix
        in their names; stale ones of earlier content are not used). With no MD5 known, a
        single set is taken; several sets are ambiguous and none is used."""
        sets = self._derivatives.get(derivative_stem(original), {})
        if md5:
            return dict(sets.get(md5[:8].lower(), {}))
        return dict(next(iter(sets.values()))) if len(sets) == 1 else {}

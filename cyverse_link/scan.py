"""Drop folder → ``LocalFile``s, streamed in sorted ``rel_path`` order.

The order is the plain code-point order of the POSIX relative paths (what ``sorted()`` gives
and what the ledger's ``ORDER BY rel_path`` gives), so a caller can merge-join the scan with
``Ledger.iter_records()`` in flat memory. Each directory is listed and sorted on its own, with
folders keyed as ``name + "/"``, which makes the depth-first walk come out globally sorted.

A file the caller already knows (``known(rel_path, size, mtime_ns)`` returns its previous
``LocalFile``) is never opened: its MD5, type and problems are reused. Anything else is read
once, in 1 MiB chunks, for the MD5, the content type and the integrity checks of ``sniff``.
Nothing in a file or folder makes the scan raise; only a missing ``source.path`` does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from cyverse_link import sniff
from cyverse_link.config import SourceSettings
from cyverse_link.errors import ConfigError
from cyverse_link.models import LocalFile, Problem
from cyverse_link.naming import DERIVATIVE_DIR
from cyverse_link.sniff import TAIL_BYTES, check_image, extension_problem, sniff_mime

__all__ = ["CHUNK", "KnownLookup", "SkipCallback", "ignored_reason", "inspect_file", "scan"]

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
_TEMP_SUFFIXES = (".part", ".crdownload", ".partial", ".tmp", ".download", "~")

KnownLookup = Callable[[str, int, int], LocalFile | None]
"""``(rel_path, size, mtime_ns)`` → the file's previous ``LocalFile`` when it is unchanged."""
SkipCallback = Callable[[str, str], None]
"""``(rel_path, reason)`` for folders or files left out for a reason worth reporting."""


def ignored_reason(name: str, is_dir: bool) -> str | None:
    """Why a name is never part of the drop folder's content, or None."""
    if name.startswith("."):  # hidden, including macOS "._x" resource forks and .DS_Store
        return "hidden"
    if is_dir:
        return "derivatives" if name.lower() == DERIVATIVE_DIR.lower() else None
    lower = name.lower()
    if lower.endswith(_TEMP_SUFFIXES) or name.startswith("~$"):
        return "incomplete or temporary file"
    return None


class _Filter:
    """Case-insensitive include/exclude globs (``fnmatch``; ``*`` also crosses ``/``)."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.include = tuple(p.lower() for p in include)
        self.exclude = tuple(p.lower() for p in exclude)

    def excluded(self, rel: str, name: str) -> bool:
        rel, name = rel.lower(), name.lower()
        return any(
            fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in self.exclude
        )

    def dir_excluded(self, rel: str, name: str) -> bool:
        return self.excluded(rel, name) or self.excluded(rel + "/", name)

    def included(self, rel: str, name: str) -> bool:
        if not self.include:
            return True
        rel, name = rel.lower(), name.lower()
        return any(fnmatch.fnmatchcase(rel if "/" in p else name, p) for p in self.include)


def scan(
    source: SourceSettings,
    *,
    known: KnownLookup | None = None,
    on_skip: SkipCallback | None = None,
) -> Iterator[LocalFile]:
    """Walk ``source.path`` recursively and yield one ``LocalFile`` per included file, in
    sorted ``rel_path`` order, as it goes. Raises ``ConfigError`` only if the folder itself
    is missing or not a folder."""
    root = Path(source.path)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise ConfigError(f"source.path: {root} {what}; create it or fix source.path")
    flt = _Filter(source.include, source.exclude)
    skip = on_skip or (lambda rel, reason: None)
    seen_dirs: set[tuple[int, int]] = set()
    yield from _walk(root, "", flt, known, skip, source.max_web_bytes, seen_dirs)


def _walk(
    folder: Path,
    prefix: str,
    flt: _Filter,
    known: KnownLookup | None,
    skip: SkipCallback,
    max_web_bytes: int,
    seen_dirs: set[tuple[int, int]],
) -> Iterator[LocalFile]:
    try:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop
            skip(prefix.rstrip("/"), "folder already scanned (symbolic link loop)")
            return
        seen_dirs.add((st.st_dev, st.st_ino))
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc.strerror)
        skip(prefix.rstrip("/") or ".", f"cannot list folder: {exc.strerror}")
        return
    keyed: list[tuple[str, os.DirEntry[str], bool]] = []
    for entry in entries:
        name = entry.name
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes in the name: cannot go in a report/URL
            log.warning("skipping %r: file name is not valid UTF-8; rename it", entry.path)
            skip(prefix + name.encode("utf-8", "replace").decode(), "file name is not UTF-8")
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        keyed.append((name + "/" if is_dir else name, entry, is_dir))
    keyed.sort(key=lambda t: t[0])
    for _key, entry, is_dir in keyed:
        name = entry.name
        rel = prefix + name
        reason = ignored_reason(name, is_dir)
        if reason:
            log.debug("skipping %s: %s", rel, reason)
            continue
        if is_dir:
            if flt.dir_excluded(rel, name):
                continue
            yield from _walk(
                Path(entry.path), rel + "/", flt, known, skip, max_web_bytes, seen_dirs
            )
            continue
        if flt.excluded(rel, name) or not flt.included(rel, name):
            continue
        local = _visit(entry, rel, known, skip, max_web_bytes)
        if local is not None:
            yield local


def _visit(
    entry: os.DirEntry[str],
    rel: str,
    known: KnownLookup | None,
    skip: SkipCallback,
    max_web_bytes: int,
) -> LocalFile | None:
    try:
        st = entry.stat()
    except FileNotFoundError:
        return None  # removed (or a dangling link) since the listing
    except OSError as exc:
        return LocalFile(rel, 0, 0, problems=(Problem.UNREADABLE,), detail=f"{exc.strerror}")
    if not entry.is_file():
        return None  # fifo, socket, device
    size, mtime_ns = st.st_size, st.st_mtime_ns
    if known is not None:
        prev = known(rel, size, mtime_ns)
        if prev is not None and prev.md5 is not None:
            return _with_size_flag(prev, rel, size, mtime_ns, max_web_bytes)
    return inspect_file(Path(entry.path), rel, size, mtime_ns, max_web_bytes, skip=skip)


def _with_size_flag(
    prev: LocalFile, rel: str, size: int, mtime_ns: int, max_web_bytes: int
) -> LocalFile:
    """Reuse what is known; TOO_LARGE follows today's ``max_web_bytes`` (no I/O needed)."""
    problems: tuple[Problem, ...] = tuple(p for p in prev.problems if p is not Problem.TOO_LARGE)
    if size > max_web_bytes:
        problems = (*problems, Problem.TOO_LARGE)
    return LocalFile(rel, size, mtime_ns, prev.md5, prev.mime, problems, prev.detail)


def inspect_file(
    path: Path,
    rel_path: str,
    size: int,
    mtime_ns: int,
    max_web_bytes: int,
    *,
    skip: SkipCallback | None = None,
) -> LocalFile | None:
    """Hash and check one file (one streaming read). None when it vanished or is still growing."""
    if size == 0:
        return LocalFile(
            rel_path, 0, mtime_ns, EMPTY_MD5, None, (Problem.EMPTY,), "file is empty (0 bytes)"
        )
    digest = hashlib.md5(usedforsecurity=False)
    head = b""
    tail = b""
    read = 0
    keep = size <= sniff.FULL_DECODE_BYTES  # small: Pillow checks it from memory
    kept: list[bytes] = []
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                if not head:
                    head = chunk[:4096]
                digest.update(chunk)
                tail = (tail + chunk)[-TAIL_BYTES:]
                read += len(chunk)
                if keep:
                    kept.append(chunk)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return LocalFile(
            rel_path,
            size,
            mtime_ns,
            problems=(Problem.UNREADABLE,),
            detail=f"cannot read: {exc.strerror or exc}",
        )
    if read != size:
        # Still being copied in: leave it for the next run rather than record a half file.
        if skip is not None:
            skip(rel_path, f"changed while reading ({size} → {read} bytes); retried next run")
        return None
    md5 = digest.hexdigest()
    mime = sniff_mime(head)
    problems: tuple[Problem, ...] = ()
    detail: str | None = None
    if mime is None or not mime.startswith("image/"):
        kind = "text" if mime == "text/plain" else (mime or "unrecognised content")
        problems, detail = (Problem.NOT_IMAGE,), f"not an image: {kind}"
    else:
        bad_ext = extension_problem(rel_path, mime)
        problems, detail, mime = check_image(
            path, mime, size, tail, b"".join(kept) if keep else None
        )
        if bad_ext:
            problems = (Problem.WRONG_EXTENSION, *problems)
            detail = f"{bad_ext}; {detail}" if detail else bad_ext
    if size > max_web_bytes and Problem.TOO_LARGE not in problems:
        problems = (*problems, Problem.TOO_LARGE)
        note = f"{size} bytes is over source.max_web_bytes ({max_web_bytes}): needs a web copy"
        detail = f"{detail}; {note}" if detail else note
    return LocalFile(rel_path, size, mtime_ns, md5, mime, problems, detail)

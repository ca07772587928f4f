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
import re
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from stat import S_ISREG

from cyverse_link.config.settings import SourceSettings
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import LocalFile, Problem
from cyverse_link.core.naming import DERIVATIVE_DIR, MAX_REL_PATH
from cyverse_link.dropfolder import sniff
from cyverse_link.dropfolder.sniff import TAIL_BYTES, check_image, extension_problem, sniff_mime

__all__ = [
    "CHUNK",
    "HANDLED",
    "KnownLookup",
    "SkipCallback",
    "ignored_reason",
    "inspect_file",
    "name_problem",
    "scan",
]

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
_TEMP_SUFFIXES = (".part", ".crdownload", ".partial", ".tmp", ".download", "~")
_first = itemgetter(0)
_FD_WALK = os.scandir in os.supports_fd and os.open in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)

KnownLookup = Callable[[str, int, int], LocalFile | None]
"""``(rel_path, size, mtime_ns)`` → the file's previous ``LocalFile`` when it is unchanged, or
``HANDLED`` when the caller has dealt with the file itself (``scan`` then skips it)."""
HANDLED = LocalFile("", 0, 0)
"""What a ``known`` callback returns for a file it has fully handled (``plan``'s fast path for
unchanged files): ``scan`` yields nothing for it. Compared by identity."""
SkipCallback = Callable[[str, str], None]
"""``(rel_path, reason)`` for folders or files left out for a reason worth reporting."""


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def name_problem(rel_path: str) -> str | None:
    """Why iRODS cannot hold ``rel_path`` as a name, or None.

    A C0 control character or DEL: the iRODS server itself stores any byte but NUL, and sends
    names back inside its XML protocol escaping only ``& < > " '`` (irods/irods
    lib/core/src/packStruct.cpp, ``strToXmlStr`` ~line 1466). XML 1.0 forbids most control
    characters and turns CR into LF, so python-irodsclient's parser fails on (or changes) such
    a name, and any listing of its folder breaks with it. Refused before anything is sent."""
    m = _CONTROL.search(rel_path)
    if m is None:
        return None
    code = ord(m.group())
    return (
        f"the name contains the control character U+{code:04X}, which iRODS cannot give back "
        "to its clients (its XML protocol forbids it); rename the file or folder"
    )


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
    """Case-insensitive include/exclude globs (``fnmatch``; ``*`` also crosses ``/``).

    Compiled once per scan: plain extension globs (``*.jpg``, the default include list) become
    one ``str.endswith`` tuple; all other patterns of a kind become ONE regex of
    ``fnmatch.translate`` alternatives, so a file costs one test, not one ``fnmatch`` per
    pattern. ``active`` is False when there are no patterns (the walk then skips the filter)."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.active = bool(include or exclude)
        inc = [p.lower() for p in include]
        exc = [p.lower() for p in exclude]
        # "*.ext" matches a path exactly when it matches the path's last name: test the name.
        self._exclude_ends = tuple(p[1:] for p in exc if _plain_suffix(p))
        self._exclude = _combined(p for p in exc if not _plain_suffix(p))
        self._include = bool(inc)
        self._include_ends = tuple(p[1:] for p in inc if _plain_suffix(p))
        self._include_rel = _combined(p for p in inc if "/" in p)
        self._include_name = _combined(p for p in inc if "/" not in p and not _plain_suffix(p))
        simple = not exc and self._include_rel is None and self._include_name is None
        self.only_ends = self._include_ends if simple and self._include_ends else None
        """Set when the whole filter is "name ends with one of these" (the walk inlines it)."""

    def excluded(self, rel: str, name: str) -> bool:
        lower = name.lower()
        if self._exclude_ends and lower.endswith(self._exclude_ends):
            return True
        match = self._exclude.match if self._exclude is not None else None
        return match is not None and (match(rel.lower()) is not None or match(lower) is not None)

    def dir_excluded(self, rel: str, name: str) -> bool:
        return self.excluded(rel, name) or self.excluded(rel + "/", name)

    def included(self, rel: str, name: str) -> bool:
        if not self._include:
            return True
        lower = name.lower()
        if self._include_ends and lower.endswith(self._include_ends):
            return True
        by_rel, by_name = self._include_rel, self._include_name
        return (by_rel is not None and by_rel.match(rel.lower()) is not None) or (
            by_name is not None and by_name.match(lower) is not None
        )

    def keep_file(self, rel: str, name: str) -> bool:
        return not self.excluded(rel, name) and self.included(rel, name)


def _plain_suffix(pattern: str) -> bool:
    """``*.jpg``-like: a star, then no wildcard and no folder separator."""
    rest = pattern[1:]
    return pattern.startswith("*") and not any(ch in rest for ch in "*?[/")


def _combined(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching (whole string) wherever any of the globs would ``fnmatchcase``."""
    parts = [fnmatch.translate(p) for p in patterns]  # each ends with \Z: alternatives are safe
    return re.compile("|".join(parts)) if parts else None


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
    walk = _Walk(skip, None if source.follow_links_outside else os.path.realpath(root))
    yield from _walk(root, "", flt, known, walk, source.max_web_bytes, seen_dirs)
    walk.finish()


HIDDEN_LISTED = 20
"""Hidden files named in the report per run; the rest are counted in one line (a Mac-written
drive has a ``._`` twin of every image: a line each would swamp the report)."""


class _Walk:
    """What the walk reports besides files: skipped folders, hidden files (bounded), links out
    of the drop folder. ``inside`` is the drop folder's real path, or None to follow every
    link."""

    def __init__(self, skip: SkipCallback, inside: str | None) -> None:
        self.skip = skip
        self.inside = inside
        self.hidden = 0

    def hidden_file(self, rel: str) -> None:
        self.hidden += 1
        if self.hidden <= HIDDEN_LISTED:
            self.skip(rel, "hidden file (its name starts with a dot)")

    def finish(self) -> None:
        if self.hidden > HIDDEN_LISTED:
            more = self.hidden - HIDDEN_LISTED
            self.skip(".", f"{more} more hidden files (names starting with a dot) not listed")

    def outside(self, folder: Path, name: str) -> str | None:
        """The real target of link ``folder/name`` when it lies outside the drop folder."""
        if self.inside is None:
            return None
        target = os.path.realpath(folder / name)
        if target == self.inside or target.startswith(self.inside.rstrip(os.sep) + os.sep):
            return None
        return target


def _walk(
    folder: Path,
    prefix: str,
    flt: _Filter,
    known: KnownLookup | None,
    walk: _Walk,
    max_web_bytes: int,
    seen_dirs: set[tuple[int, int]],
    parent_fd: int | None = None,
) -> Iterator[LocalFile]:
    # Each folder is opened once and listed and stat-ed through its descriptor (fstatat):
    # no path lookup from the root per file, which was a visible share of a warm plan.
    fd: int | None = None
    skip = walk.skip
    try:
        try:
            if _FD_WALK:
                where = folder if parent_fd is None else folder.name
                fd = os.open(where, _DIR_FLAGS, dir_fd=parent_fd)
                st = os.fstat(fd)
            else:
                st = folder.stat()
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop
                skip(prefix.rstrip("/"), "folder already scanned (symbolic link loop)")
                return
            seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(folder if fd is None else fd) as it:
                entries = list(it)
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc.strerror)
            skip(prefix.rstrip("/") or ".", f"cannot list folder: {exc.strerror}")
            return
        yield from _entries(folder, prefix, entries, fd, flt, known, walk, max_web_bytes, seen_dirs)
    finally:
        if fd is not None:
            os.close(fd)


def _entries(
    folder: Path,
    prefix: str,
    entries: list[os.DirEntry[str]],
    fd: int | None,
    flt: _Filter,
    known: KnownLookup | None,
    walk: _Walk,
    max_web_bytes: int,
    seen_dirs: set[tuple[int, int]],
) -> Iterator[LocalFile]:
    skip = walk.skip
    # Hidden names go before the sort; folders are keyed "name/" (see the module docstring).
    keyed: list[tuple[str, os.DirEntry[str], bool]] = []
    for entry in entries:
        name = entry.name
        if not name.isascii():
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes in the name: no report/URL for it
                log.warning(
                    "skipping %r: file name is not valid UTF-8; rename it", str(folder / name)
                )
                skip(prefix + name.encode("utf-8", "replace").decode(), "file name is not UTF-8")
                continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if name[0] == ".":  # hidden, including macOS "._x" resource forks and .DS_Store
            log.debug("skipping %s%s: hidden", prefix, name)
            if is_dir:
                skip(prefix + name, "hidden folder (its name starts with a dot): not scanned")
            else:
                walk.hidden_file(prefix + name)
            continue
        if walk.inside is not None and entry.is_symlink():  # d_type: no system call
            target = walk.outside(folder, name)
            if target is not None:
                what = "folder" if is_dir else "file"
                log.info("skipping %s%s: link to a %s outside source.path", prefix, name, what)
                skip(
                    prefix + name,
                    f"symbolic link to a {what} outside source.path ({target}): not followed; "
                    "set source.follow_links_outside: true to include it",
                )
                continue
        keyed.append((name + "/" if is_dir else name, entry, is_dir))
    keyed.sort(key=_first)
    filtered, only_ends = flt.active, flt.only_ends
    for _key, entry, is_dir in keyed:
        name = entry.name
        rel = prefix + name
        if is_dir:
            reason = ignored_reason(name, True)
            if reason:
                log.debug("skipping %s: %s", rel, reason)
                skip(rel, f"{DERIVATIVE_DIR} folder (cyverse-link's own web copies): not scanned")
            elif not (filtered and flt.dir_excluded(rel, name)):
                yield from _walk(
                    folder / name, rel + "/", flt, known, walk, max_web_bytes, seen_dirs, fd
                )
            continue
        # ignored_reason(name, False) inlined (hidden names are gone already): per-file cost.
        lower = name.lower()
        if lower.endswith(_TEMP_SUFFIXES) or name.startswith("~$"):
            log.debug("skipping %s: incomplete or temporary file", rel)
            continue
        if only_ends is not None:
            if not lower.endswith(only_ends):
                continue
        elif filtered and not flt.keep_file(rel, name):
            continue
        if len(rel) > MAX_REL_PATH:  # deeper than PATH_MAX: no ledger row, no upload
            skip(
                rel[:200] + "…",
                f"path longer than {MAX_REL_PATH} characters: the system cannot open it by "
                "name; move the file higher up",
            )
            continue
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue  # removed (or a dangling link) since the listing
        except OSError as exc:
            yield LocalFile(rel, 0, 0, problems=(Problem.UNREADABLE,), detail=f"{exc.strerror}")
            continue
        if not S_ISREG(st.st_mode):
            continue  # fifo, socket, device (a link counts as what it points to)
        size, mtime_ns = st.st_size, st.st_mtime_ns
        if known is not None:
            prev = known(rel, size, mtime_ns)
            if prev is HANDLED:
                continue
            if prev is not None and prev.md5 is not None:
                yield _with_size_flag(prev, rel, size, mtime_ns, max_web_bytes)
                continue
        local = inspect_file(folder / name, rel, size, mtime_ns, max_web_bytes, skip=skip)
        if local is not None:
            yield local


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
    bad = name_problem(rel_path)
    if bad is not None:  # never read: it cannot go to iRODS under this name anyway
        return LocalFile(rel_path, size, mtime_ns, problems=(Problem.BAD_NAME,), detail=bad)
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

"""File name → catalog number (+ suffix). Pure: no third-party imports, no I/O except the CSV.

Decisions (documented in README "Identifying files"):

* The pattern is ``re.search``-ed in the file's **stem** (name without its last extension), and
  **case-insensitively**: ``asu0001234.jpg`` names the same specimen as ``ASU0001234.JPG``.
  The catalog is returned as written in the name (Symbiota's MySQL collations compare
  case-insensitively anyway). A pattern may still force case with ``(?-i:...)``.
* The stem is NFKC-normalised first (macOS NFD names, full-width digits ``０１２`` → ``012``) and
  trimmed of surrounding spaces and of copy markers added by browsers and file managers:
  ``name (1)``, ``name - Copy``, ``name copy 2``. When the pattern captured no suffix, the copy
  number becomes the suffix so the copy sorts after the plain image and is not a duplicate.
* ``replace`` rules are applied in order to the catalog group (Python ``re.sub`` syntax:
  ``\\1`` or ``\\g<name>``, not PHP's ``$1``).
* A mapping CSV (file name → catalog number) overrides the pattern, looked up by full file name,
  then by stem, case-insensitively. The suffix still comes from the pattern when it matches.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import Identifier

if TYPE_CHECKING:
    from cyverse_link.config.settings import IdentifierSettings

__all__ = [
    "RULES_VERSION",
    "IdentifierParser",
    "load_mapping_csv",
    "mapping_key",
    "normalize_catalog",
    "parse_identifier",
    "split_copy_marker",
    "stem_of",
    "suffix_rank",
    "suffix_sort_key",
]

# Bump when a change to the parsing below can give another catalog number or suffix for a name:
# it invalidates the catalog numbers ``plan`` reuses from the ledger (``fingerprint``).
RULES_VERSION = 1
# Trailing copy markers: "x (1)", "x(2)", "x - Copy", "x - Copy (3)", "x copy", "x copy 2".
_COPY_RX = re.compile(
    r"(?:\s*\((?P<paren>\d{1,3})\)|\s*-\s*copy(?:\s*\((?P<win>\d{1,3})\))?|\s+copy(?:\s+(?P<mac>\d{1,3}))?)$",
    re.IGNORECASE,
)
_FIRST_DIGITS = re.compile(r"\d+")
_MAPPING_FILE_COLS = ("filename", "file_name", "file", "name", "image", "imagefile")
_MAPPING_CATALOG_COLS = ("catalognumber", "catalog_number", "catalog", "catalogno")


@functools.lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def stem_of(file_name: str) -> str:
    """The name without folders and without its last extension, NFKC-normalised and trimmed."""
    name = re.split(r"[/\\]", file_name)[-1]
    name = unicodedata.normalize("NFKC", name).strip()
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    return stem.strip()


def split_copy_marker(stem: str) -> tuple[str, str | None]:
    """``"ASU1 (2)"`` → ``("ASU1", "2")``; ``"ASU1 - Copy"`` → ``("ASU1", "1")``.

    Repeated markers (``x (1) (1)``) are all removed; the outermost number is kept.
    """
    copy: str | None = None
    while True:
        m = _COPY_RX.search(stem)
        if not m or m.start() == 0:
            return stem.strip(), copy
        if copy is None:
            copy = m["paren"] or m["win"] or m["mac"] or "1"
        stem = stem[: m.start()].rstrip()


def mapping_key(name: str) -> str:
    """How mapping-CSV keys are compared: NFKC, trimmed, case-folded, no folders."""
    base = re.split(r"[/\\]", name)[-1]
    return unicodedata.normalize("NFKC", base).strip().casefold()


def parse_identifier(
    file_name: str,
    rules: IdentifierSettings,
    mapping: Mapping[str, str] | None = None,
) -> Identifier | None:
    """Catalog number and suffix for one file name (or relative path), or None.

    ``mapping`` is what ``load_mapping_csv`` returns (keys already passed through
    ``mapping_key``); it wins over the pattern. For many names, build one ``IdentifierParser``.
    """
    return IdentifierParser(rules, mapping).parse(file_name)


class IdentifierParser:
    """``parse_identifier`` with the rules compiled once: calling it gives ``(catalog,
    suffix)`` or None without building an ``Identifier`` (``plan`` parses every file name)."""

    def __init__(self, rules: IdentifierSettings, mapping: Mapping[str, str] | None = None):
        self._rx = _compile(rules.pattern)
        self._has_suffix = "suffix" in self._rx.groupindex
        self._replace = tuple((re.compile(r.pattern), r.replacement) for r in rules.replace)
        self._mapping = mapping or None
        self._rules = rules

    @property
    def pattern(self) -> str:
        """``identifiers.pattern``, for messages about names it does not match."""
        return self._rules.pattern

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes whenever what this parser returns for some name may change: the pattern,
        the replace rules, the mapping CSV's content, this parsing code (``RULES_VERSION``)
        and the Unicode tables behind NFKC. ``Ledger.confirm_catalogs`` records it per row."""
        rules = self._rules
        data = [
            RULES_VERSION,
            unicodedata.unidata_version,
            rules.pattern,
            [[r.pattern, r.replacement] for r in rules.replace],
            sorted(self._mapping.items()) if self._mapping else None,
        ]
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def parse(self, file_name: str) -> Identifier | None:
        found = self(file_name)
        return Identifier(catalog=found[0], suffix=found[1]) if found else None

    def __call__(self, file_name: str) -> tuple[str, str | None] | None:
        # stem_of and the " _-." trimming, inlined, with shortcuts giving the same result.
        name = file_name[file_name.rfind("/") + 1 :]
        if "\\" in name:
            name = name[name.rfind("\\") + 1 :]
        if not name.isascii():  # NFKC leaves ASCII as it is
            name = unicodedata.normalize("NFKC", name)
        name = name.strip()
        dot = name.rfind(".")
        stem = (name[:dot] if dot > 0 else name).strip()
        copy = None
        # Every copy marker ends with ")" or contains "copy": skip the regex otherwise.
        if stem.endswith(")") or "copy" in stem.lower():
            stem, copy = split_copy_marker(stem)
        m = self._rx.search(stem)
        suffix = m.group("suffix") if m is not None and self._has_suffix else None
        if suffix is not None:
            suffix = suffix.strip(" _-.") or None
        if suffix is None:
            suffix = copy

        if self._mapping:
            mapping = self._mapping
            catalog = mapping.get(mapping_key(file_name)) or mapping.get(
                mapping_key(stem_of(file_name))
            )
            if catalog is None:
                catalog = mapping.get(mapping_key(stem))
            if catalog:
                return catalog, suffix

        if m is None:
            return None
        catalog = m.group("catalog")
        catalog = catalog.strip(" _-.") if catalog is not None else ""
        if not catalog:
            return None
        for rx, replacement in self._replace:
            catalog = rx.sub(replacement, catalog)
        catalog = catalog.strip()
        return (catalog, suffix) if catalog else None


def normalize_catalog(value: str) -> str:
    """Strip the leading zeros of the first run of digits: ``ASU0001234`` → ``ASU1234``,
    ``0001234`` → ``1234``, ``ASU-000123`` → ``ASU-123``; an all-zero run stays ``0``.

    Symbiota's harvester tried this one way only (file ``0001234`` finds ``1234``); comparing
    normalized forms on both sides also lets file ``ASU1234`` find record ``ASU0001234``.
    """
    value = value.strip()
    m = _FIRST_DIGITS.search(value)
    if not m:
        return value
    digits = m.group().lstrip("0") or "0"
    return f"{value[: m.start()]}{digits}{value[m.end() :]}"


def suffix_sort_key(suffix: str | None) -> tuple[int, int, str]:
    """Order images of one specimen: no suffix first, then numbers numerically (``2`` < ``10``),
    then letters and words alphabetically, case-insensitively."""
    if suffix is None or not suffix.strip():
        return (0, 0, "")
    s = suffix.strip()
    if s.isdecimal():
        return (1, int(s), s)
    return (2, 0, s.casefold())


def suffix_rank(suffixes: Iterable[str | None]) -> dict[str | None, int]:
    """Symbiota ``sortOccurrence`` values (1, 2, ...) for the suffixes of one specimen."""
    ordered = sorted(set(suffixes), key=suffix_sort_key)
    return {s: i for i, s in enumerate(ordered, start=1)}


def load_mapping_csv(path: Path | str) -> dict[str, str]:
    """Read a mapping CSV with a header row naming a file column (``filename``, ``file``,
    ``name``) and a catalog column (``catalogNumber``, ``catalog``). Comma, semicolon or tab
    separated; UTF-8 with or without BOM. Keys are returned through ``mapping_key``.

    Raises ``ConfigError`` (naming ``identifiers.mapping_csv`` and the line) for a missing file,
    a missing column, an empty catalog number, or one file mapped to two different numbers.
    """
    key = "identifiers.mapping_csv"
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{key}: {p} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {p} is not UTF-8 text; save it as CSV UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {p}: {exc.strerror}") from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(text.splitlines(), dialect)
    header = next(rows, None)
    if not header:
        raise ConfigError(f"{key}: {p} is empty; expected a header like filename,catalogNumber")
    cols = [h.strip().casefold() for h in header]
    file_col = next((cols.index(c) for c in _MAPPING_FILE_COLS if c in cols), None)
    cat_col = next((cols.index(c) for c in _MAPPING_CATALOG_COLS if c in cols), None)
    if file_col is None or cat_col is None:
        raise ConfigError(
            f"{key}: {p} needs a header row with a file column (filename) and a catalog column "
            f"(catalogNumber); found {', '.join(h.strip() for h in header)}"
        )
    result: dict[str, str] = {}
    for line_no, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, cat_col):
            raise ConfigError(f"{key}: {p} line {line_no}: expected {len(header)} columns")
        name, catalog = row[file_col].strip(), row[cat_col].strip()
        if not name:
            raise ConfigError(f"{key}: {p} line {line_no}: empty file name")
        if not catalog:
            raise ConfigError(f"{key}: {p} line {line_no}: empty catalog number for {name!r}")
        k = mapping_key(name)
        if result.get(k, catalog) != catalog:
            raise ConfigError(
                f"{key}: {p} line {line_no}: {name!r} is mapped to both {result[k]!r} and "
                f"{catalog!r}"
            )
        result[k] = catalog
    return result

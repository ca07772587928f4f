"""CSV text that Symbiota's import reads back exactly and that spreadsheets never run.

Two rules, both pure:

* **Formulas (OWASP "CSV injection").** A spreadsheet runs a cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab, CR or LF. ``spreadsheet_safe`` prefixes such a value with ``'``
  unless it is a plain number (``-12`` is a number, not a formula). URLs, MD5 hex, occids,
  ``sortOccurrence`` and ``format`` never start with those characters, so they are never
  changed; a catalog number or a collection name can be.
* **PHP's reader.** Symbiota reads the file with ``fgetcsv($fh, 0, ',')``
  (classes/UtilitiesFileImport.php ~190), whose escape character is ``\\``: inside quotes a
  backslash keeps the next character literally, so ``\\"`` must *not* be doubled the way
  Python's ``csv`` module doubles it. ``php_csv_line`` writes what ``fgetcsv`` reads back as
  the same values; a value it cannot represent (it needs quotes and ends in a backslash, which
  would escape the closing quote) raises ``Unrepresentable``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_START = frozenset("=+-@\t\r\n")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NEEDS_QUOTES = re.compile(r'[,"\r\n]|^\s|\s$')


class Unrepresentable(ValueError):
    """A value ``fgetcsv`` could not read back as written."""


def is_formula(value: str) -> bool:
    """True when a spreadsheet would read ``value`` as a formula."""
    return bool(value) and value[0] in FORMULA_START and not _NUMBER.fullmatch(value)


def spreadsheet_safe(value: str) -> str:
    """``value``, or ``'`` + ``value`` when a spreadsheet would run it as a formula."""
    return "'" + value if is_formula(value) else value


def _php_field(value: str) -> str:
    if not _NEEDS_QUOTES.search(value):
        return value  # outside quotes fgetcsv takes everything up to the comma, backslashes too
    if value.endswith("\\") and (len(value) - len(value.rstrip("\\"))) % 2:
        raise Unrepresentable(
            f"{value[:60]!r} ends in a backslash, which Symbiota's CSV reader would take as "
            "escaping the closing quote"
        )
    out: list[str] = ['"']
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            out.append(value[i : i + 2])  # fgetcsv keeps both characters, quote or not
            i += 2
            continue
        out.append('""' if ch == '"' else ch)
        i += 1
    out.append('"')
    return "".join(out)


def php_csv_line(values: Iterable[str]) -> str:
    """One CSV record (with its line end) that PHP's ``fgetcsv`` reads back as ``values``."""
    return ",".join(_php_field(v) for v in values) + "\r\n"

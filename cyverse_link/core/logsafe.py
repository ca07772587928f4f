"""What may reach a log line: one rule for every handler the CLI installs (via ``Redactor``).

* python-irodsclient logs secret-equivalents below WARNING, whatever the verbosity asked for:
  ``irods.auth`` logs each auth step's request and answer (``resp = {... 'request_result':
  <challenge> ...}``, then the digest, irods/auth/__init__.py ~line 169-178), and
  ``irods.connection`` logs every packet it sends or receives (``Connection.send``, ~line 150,
  and ``_login_native``'s challenge, ~line 622; a PAM login's packet holds the password itself),
  ``irods.message`` the raw server answers (~line 436). MD5(challenge + password) lets anyone
  holding the log test password guesses offline. So no record below WARNING from any logger
  under ``irods`` is ever emitted, and those loggers are set to WARNING so none is even made.
* A file name is data: control characters (newline, carriage return, ESC ...) in a message are
  shown escaped, so a name cannot forge a second log line ("x.jpg\\nevil.jpg: linked") or
  drive the terminal. ``printable`` is the one helper for log and summary lines.
"""

from __future__ import annotations

import logging
import re

__all__ = ["QUIET_LIBRARIES", "library_record_allowed", "printable", "quiet_libraries"]

QUIET_LIBRARIES = ("irods",)
"""Loggers (with their children) whose records below WARNING are never emitted."""

# C0 controls, DEL, C1 controls, and the bidirectional overrides/isolates that reorder text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control and text-direction characters written as ``\\n``, ``\\x1b``,
    ``\\u202e``: one line, shown as it is stored. Plain text comes back unchanged."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def library_record_allowed(record: logging.LogRecord) -> bool:
    """False for a record below WARNING from a logger in ``QUIET_LIBRARIES``."""
    if record.levelno >= logging.WARNING:
        return True
    name = record.name
    return not any(name == lib or name.startswith(lib + ".") for lib in QUIET_LIBRARIES)


def quiet_libraries() -> None:
    """Set the ``QUIET_LIBRARIES`` loggers to WARNING (children inherit it)."""
    for lib in QUIET_LIBRARIES:
        logger = logging.getLogger(lib)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)

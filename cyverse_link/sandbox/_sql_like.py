"""SQL ``LIKE`` as a regular expression, for both sandboxes: iRODS GenQuery and BisQue's
data_service both hand their LIKE patterns to a PostgreSQL catalog."""

from __future__ import annotations

import re


def like_regex(pattern: str) -> re.Pattern[str]:
    """'%' any run, '_' one character, a backslash escapes the next character."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)

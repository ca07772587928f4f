"""``expected_failures.txt``: every python-irodsclient test expected to fail against the
sandbox, one per line, with the persona(s) and a one-line reason naming the missing feature::

    <module>::<Class>::<test> | <4.3.1|4.2.8|both|4.3.1+cyverse> | <reason>

Blank lines and lines starting with ``#`` are ignored. A line without a reason is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# ``4.3.1+cyverse``: the 4.3.1 persona with CyVerse's rules on (test_prc_suite.CONFIGS).
PERSONA_WORDS = {
    "both": ("4.3.1", "4.2.8"),
    "4.3.1": ("4.3.1",),
    "4.2.8": ("4.2.8",),
    "4.3.1+cyverse": ("4.3.1+cyverse",),
}


@dataclass
class Expectations:
    # (test id, persona) -> reason
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)

    def failing(self, module: str, config: str) -> set[str]:
        return {t for (t, c) in self.reasons if c == config and t.startswith(f"{module}::")}


def load_expectations(path: Path) -> Expectations:
    out = Expectations()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not all(parts) or parts[1] not in PERSONA_WORDS:
            raise ValueError(f"{path.name} line {number}: want '<test id> | <persona> | <reason>'")
        test_id, personas, reason = parts
        for persona in PERSONA_WORDS[personas]:
            if (test_id, persona) in out.reasons:
                raise ValueError(f"{path.name} line {number}: {test_id} listed twice")
            out.reasons[(test_id, persona)] = reason
    return out

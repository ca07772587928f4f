"""Pure parts of wiring and check: which Symbiota URLs need a secret; the exit code of check."""

from __future__ import annotations

import pytest

from cyverse_link.admin.check import CheckLine, exit_code
from cyverse_link.config.settings import parse_settings
from cyverse_link.run.wiring import symbiota_needs_password


@pytest.mark.parametrize(
    ("db_url", "password", "needed"),
    [
        ("mysql+pymysql://portal@db.example.org/symbiota", "keyring", True),
        ("mysql+pymysql://portal:secret@db.example.org/symbiota", "keyring", False),
        ("mysql+pymysql://root@127.0.0.1/symbiota", "none", False),
        ("mysql+pymysql://root@127.0.0.1/symbiota", " None ", False),
        ("sqlite:////srv/portal.sqlite", "keyring", False),
    ],
)
def test_symbiota_needs_password(db_url: str, password: str, needed: bool) -> None:
    s = parse_settings(
        {"collection": {"collid": 1}, "symbiota": {"db_url": db_url, "password": password}}
    )
    assert symbiota_needs_password(s) is needed


@pytest.mark.parametrize(
    ("codes", "expected"),
    [((0, 0), 0), ((0, 1), 1), ((1, 3), 3), ((3, 2, 1), 2), ((), 0)],
)
def test_check_exit_code_prefers_config_then_service(codes: tuple[int, ...], expected: int) -> None:
    lines = [CheckLine("x", code == 0, "m", code) for code in codes]
    assert exit_code(lines) == expected
    assert [ln.sigil for ln in lines] == ["=" if c == 0 else "!" for c in codes]

"""No secret may be committed: every file under cassettes/ is checked."""

from __future__ import annotations

import base64
import re

from web_support import CASSETTES, SANDBOX_PASSWORD, SANDBOX_USER, WRONG_PASSWORD


def test_cassettes_hold_no_credentials() -> None:
    files = [p for p in CASSETTES.rglob("*") if p.is_file()]
    assert len(files) >= 10, "the cassettes are missing; record them (see tests/web/conftest.py)"
    basic = [
        base64.b64encode(f"{SANDBOX_USER}:{pw}".encode()).decode()
        for pw in (SANDBOX_PASSWORD, WRONG_PASSWORD)
    ]
    forbidden = [SANDBOX_PASSWORD, WRONG_PASSWORD, *basic]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for secret in forbidden:
            assert secret not in text, f"{path.name} contains a test password"
        assert not re.search(r"(?im)^\s*authorization:", text), f"{path.name}: Authorization"
        assert not re.search(r"(?i)\bbasic [A-Za-z0-9+/=]{8,}", text), f"{path.name}: Basic"
        assert not re.search(r"(?im)^\s*(set-)?cookie:", text), f"{path.name}: cookie"


def test_replay_is_strict_about_requests() -> None:
    """A request that differs from the recording (here only its Accept header) fails."""
    import pytest
    import requests
    import vcr
    from vcr.errors import CannotOverwriteExistingCassetteException
    from web_support import CANON_BISQUE, same_accept

    recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "body", "accept"])
    recorder.register_matcher("accept", same_accept)
    cassette = CASSETTES / "bisque_client" / "test_login_ok.yaml"
    url = f"{CANON_BISQUE}/auth_service/session"
    with recorder.use_cassette(str(cassette)):
        ok = requests.get(url, headers={"Accept": "text/xml"}, timeout=30)
        assert ok.status_code == 200
    with (
        recorder.use_cassette(str(cassette)),
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        requests.get(url, headers={"Accept": "*/*"}, timeout=30)

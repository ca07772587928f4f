"""No secret may be committed: every file under cassettes/ is checked."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import yaml
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


def _stated_servers() -> dict[str, list[str]]:
    """cassettes/README.md's table: folder -> the Server headers it says they came from."""
    stated: dict[str, list[str]] = {}
    for line in (CASSETTES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`[\w-]+/`", cells[0]):
            stated[cells[0].strip("`/")] = re.findall(r"`([^`]+)`", cells[2])
    return stated


def test_every_cassette_comes_from_where_the_readme_says() -> None:
    """Each response's Server header starts with one the README states for its folder, and the
    README names the BisQue version the sandbox imitates."""
    readme = (CASSETTES / "README.md").read_text(encoding="utf-8")
    assert "recorded from a real BisQue" in readme and "8ba481c" in readme
    stated = _stated_servers()
    folders = sorted(p.name for p in CASSETTES.iterdir() if p.is_dir())
    assert folders and sorted(stated) == folders, (stated, folders)
    seen = 0
    for path in sorted(CASSETTES.rglob("*.yaml")):
        allowed = stated[path.parent.name]
        for exchange in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
            headers = {k.lower(): v for k, v in exchange["response"]["headers"].items()}
            (server,) = headers["server"]
            assert any(server.startswith(s) for s in allowed), f"{path.name}: Server {server!r}"
            seen += 1
    assert seen >= 40


def test_replay_is_strict_about_content_type() -> None:
    """A body sent with another Content-Type than recorded (here JSON) does not replay."""
    import pytest
    import requests
    import vcr
    from vcr.errors import CannotOverwriteExistingCassetteException
    from web_support import same_content_type

    recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "body", "content_type"])
    recorder.register_matcher("content_type", same_content_type)
    cassette = CASSETTES / "bisque_client" / "test_publish_uses_post.yaml"
    publish = next(
        i["request"]
        for i in yaml_interactions(cassette)
        if i["request"]["method"] == "POST" and "/data_service/" in i["request"]["uri"]
    )
    headers = {k: v[0] for k, v in publish["headers"].items()}
    assert headers["Content-Type"].startswith("text/xml")
    body = publish["body"]
    with recorder.use_cassette(str(cassette)):
        ok = requests.post(publish["uri"], data=body, headers=headers, timeout=30)
        assert ok.status_code == 200
    headers["Content-Type"] = "application/json"
    with (
        recorder.use_cassette(str(cassette)),
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        requests.post(publish["uri"], data=body, headers=headers, timeout=30)


def yaml_interactions(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"])

"""api mode under faults, against the real Symbiota 3.4.14 API: refused tokens and logins
(exit 3, no secret anywhere), 5xx retried, and a POST whose answer was lost not duplicated."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from api_support import RealDb, make_link
from fault_proxy import FaultProxy
from symbiota_real import RealPortal

from cyverse_link.admin.check import run_check
from cyverse_link.config.settings import parse_settings
from cyverse_link.core.errors import AuthenticationFailed, ServiceUnavailable
from cyverse_link.core.retry import Backoff
from cyverse_link.portal.api import SymbiotaApiPortal
from cyverse_link.portal.api_client import API_RETRY, PortalLogin, SymbiotaApi, redact
from cyverse_link.portal.base import MatchRules

COLLID = 7
RULES = MatchRules(COLLID)
BAD_TOKEN = "bad-token-5c2e9a1f"
BAD_PASSWORD = "bad-Pw-8d3f0b27"


@pytest.fixture(scope="module")
def db(real_symbiota: RealPortal) -> Iterator[RealDb]:
    d = RealDb(real_symbiota)
    yield d
    d.close()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**7:07d}"


def write_one(portal: SymbiotaApiPortal, catalog: str) -> object:
    link = make_link(catalog, f"{catalog}.jpg")
    return portal.write([(link, portal.match([catalog])[catalog])])


def test_a_refused_token_names_the_key_and_leaks_nothing(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    api = SymbiotaApi(real_symbiota.api_url, token=BAD_TOKEN)
    portal = SymbiotaApiPortal(api, RULES, state_url=f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        with pytest.raises(AuthenticationFailed) as err:
            write_one(portal, catalog)
    finally:
        portal.close()
    assert err.value.exit_code == 3
    assert "symbiota.api_token" in str(err.value)
    assert BAD_TOKEN not in str(err.value) and BAD_TOKEN not in repr(err.value)
    assert BAD_TOKEN not in caplog.text
    assert db.media("occid = :o", o=occid) == []


def test_password_login_through_token_php(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    api = SymbiotaApi(real_symbiota.api_url)
    login = PortalLogin(
        real_symbiota.portal_url, real_symbiota.admin_user, real_symbiota.admin_password
    )
    state = f"sqlite:///{tmp_path / 's.sqlite'}"
    portal = SymbiotaApiPortal(api, RULES, state_url=state, login=login)
    try:
        assert write_one(portal, catalog).inserted == 1  # type: ignore[attr-defined]
    finally:
        portal.close()
    assert len(db.media("occid = :o", o=occid)) == 1

    api = SymbiotaApi(real_symbiota.api_url)
    bad_login = PortalLogin(real_symbiota.portal_url, "admin", BAD_PASSWORD)
    wrong = SymbiotaApiPortal(api, RULES, state_url=state, login=bad_login)
    try:
        other = unique("ASU")
        db.occurrence(COLLID, other)
        with pytest.raises(AuthenticationFailed) as err:
            write_one(wrong, other)
    finally:
        wrong.close()
    assert "symbiota.user" in str(err.value) and "symbiota.password" in str(err.value)
    assert BAD_PASSWORD not in str(err.value)
    assert BAD_PASSWORD not in caplog.text


def api_settings(real: RealPortal, tmp_path: Path, **symbiota: str) -> object:
    return parse_settings(
        {
            "collection": {"collid": COLLID},
            "irods": {"host": "127.0.0.1", "port": 1, "user": "u", "password": "env:NOPE_X",
                      "collection": "/iplant/home/u/x"},
            "symbiota": {"mode": "api", "portal_url": real.portal_url, "api_url": real.api_url,
                         **symbiota},
            "state": {"db_url": f"sqlite:///{tmp_path / 's.sqlite'}"},
        }
    )  # fmt: skip


def test_check_logs_in_and_reports_the_api_version(
    real_symbiota: RealPortal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYM_TOKEN_T", real_symbiota.api_token)
    lines = run_check(api_settings(real_symbiota, tmp_path, api_token="env:SYM_TOKEN_T"))  # type: ignore[arg-type]
    (line,) = [ln for ln in lines if ln.service == "symbiota"]
    assert line.ok, line.message
    assert "Symbiota 3.4.14 API 2.0" in line.message and "ASU PLANTS" in line.message

    monkeypatch.setenv("CYVERSE_LINK_SYMBIOTA_PASSWORD", real_symbiota.admin_password)
    settings = api_settings(real_symbiota, tmp_path, user=real_symbiota.admin_user)
    (line,) = [ln for ln in run_check(settings) if ln.service == "symbiota"]  # type: ignore[arg-type]
    assert line.ok, line.message


@pytest.mark.parametrize("how", ["token", "password"])
def test_check_refused_is_exit_3_without_the_secret(
    real_symbiota: RealPortal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = BAD_TOKEN if how == "token" else BAD_PASSWORD
    monkeypatch.setenv("CYVERSE_LINK_SYMBIOTA_PASSWORD", secret)  # the env override wins
    extra = {"api_token": "keyring"} if how == "token" else {"user": "admin"}
    (line,) = [
        ln
        for ln in run_check(api_settings(real_symbiota, tmp_path, **extra))
        if ln.service == "symbiota"  # type: ignore[arg-type]
    ]
    assert not line.ok and line.exit_code == 3
    key = "symbiota.api_token" if how == "token" else "symbiota.password"
    assert key in line.message
    assert secret not in line.message and secret not in caplog.text


def test_5xx_is_retried_and_then_exit_3(real_symbiota: RealPortal) -> None:
    upstream = "http://" + urlsplit(real_symbiota.api_url).netloc
    with FaultProxy(upstream) as proxy:
        api = SymbiotaApi(proxy.url + "/v2", retry=Backoff(retries=2, base_delay=0.01))
        proxy.gateway_errors["GET"] = 2
        assert api.status()["apiVersion"] == "2.0"  # two 503s, then the answer
        assert api.requests_sent == {"GET": 3}
        proxy.gateway_errors["GET"] = 3
        with pytest.raises(ServiceUnavailable) as err:
            api.status()
        assert err.value.exit_code == 3
        api.close()


def test_a_post_whose_answer_was_lost_is_not_duplicated(
    real_symbiota: RealPortal, db: RealDb, tmp_path: Path
) -> None:
    catalog = unique("ASU")
    occid = db.occurrence(COLLID, catalog)
    upstream = "http://" + urlsplit(real_symbiota.api_url).netloc
    with FaultProxy(upstream) as proxy:
        proxy.drop_answers["POST"] = 1  # the row is made; the client hears nothing
        quick = replace(API_RETRY, base_delay=0.01)
        api = SymbiotaApi(proxy.url + "/v2", token=real_symbiota.api_token, retry=quick)
        portal = SymbiotaApiPortal(api, RULES, state_url=f"sqlite:///{tmp_path / 's.sqlite'}")
        try:
            result = write_one(portal, catalog)
        finally:
            portal.close()
        posts = [s for s in proxy.seen if s[0] == "POST"]
    assert len(posts) == 1  # not sent again: the row was found first
    assert result.inserted == 1 and not result.errors  # type: ignore[attr-defined]
    assert len(db.media("occid = :o", o=occid)) == 1
    # the token travelled in the body, never in an address
    assert all("apiToken" not in path for _, path, _ in proxy.seen)


def test_redact_hides_tokens_in_addresses_and_bodies() -> None:
    text = 'GET http://p/v2/media?apiToken=abc123&x=1 {"token":"t-999","pw":"s3"}'
    out = redact(text)
    assert "abc123" not in out and "t-999" not in out and "s3" not in out
    assert "x=1" in out

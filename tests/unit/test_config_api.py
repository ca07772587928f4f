"""api mode's config keys and secrets: every mistake names its key; the password or token is
found like the other passwords (keyring / env: / literal, env override)."""

from __future__ import annotations

from typing import Any

import pytest

from cyverse_link.config.credentials import (
    KEYRING_SERVICE,
    keyring_username,
    resolve_password,
    store_password,
)
from cyverse_link.config.settings import parse_settings
from cyverse_link.core.errors import ConfigError

SECRET = "api-Secret-1b2c3d"


def api(**symbiota: Any) -> Any:
    return parse_settings({"collection": {"collid": 7}, "symbiota": {"mode": "api", **symbiota}})


def test_api_url_defaults_to_the_portal_api() -> None:
    s = api(portal_url="https://portal.example.org/symbiota/", user="cm")
    assert s.symbiota.api_root == "https://portal.example.org/symbiota/api/v2"
    t = api(
        portal_url="https://p.example.org", api_url="https://api.example.org/v2/", api_token="x"
    )
    assert t.symbiota.api_root == "https://api.example.org/v2"


@pytest.mark.parametrize(
    ("symbiota", "key"),
    [
        ({"user": "cm"}, "symbiota.portal_url"),
        ({"api_url": "https://a.example.org/v2", "user": "cm"}, "symbiota.portal_url"),
        ({"portal_url": "https://p.example.org"}, "symbiota.user"),
        ({"portal_url": "ftp://p.example.org", "user": "cm"}, "symbiota.portal_url"),
        ({"portal_url": "https://p.example.org", "user": "cm", "create_skeletal": True},
         "symbiota.create_skeletal"),
        ({"portal_url": "https://p.example.org", "user": "cm", "api_concurrency": 0},
         "symbiota.api_concurrency"),
    ],
)  # fmt: skip
def test_mistakes_name_their_key(symbiota: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        api(**symbiota)
    assert str(err.value).startswith(key), str(err.value)


def test_password_of_the_portal_user(memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = api(portal_url="https://p.example.org", user="cm")
    assert keyring_username(s, "symbiota") == "symbiota:cm"
    store_password(s, "symbiota", SECRET)
    assert memory_keyring.store[(KEYRING_SERVICE, "symbiota:cm")] == SECRET
    assert resolve_password(s, "symbiota") == SECRET
    monkeypatch.setenv("CYVERSE_LINK_SYMBIOTA_PASSWORD", "from-env")
    assert resolve_password(s, "symbiota") == "from-env"


def test_token_instead_of_a_user(memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = api(api_url="https://api.example.org/v2", api_token="keyring")
    assert keyring_username(s, "symbiota") == "symbiota-token:api.example.org"
    with pytest.raises(ConfigError, match=r"^symbiota\.api_token: no password stored"):
        resolve_password(s, "symbiota")
    store_password(s, "symbiota", SECRET)
    assert resolve_password(s, "symbiota") == SECRET
    monkeypatch.setenv("MY_TOKEN", "t-from-env")
    t = api(api_url="https://api.example.org/v2", api_token="env:MY_TOKEN")
    assert resolve_password(t, "symbiota") == "t-from-env"
    u = api(api_url="https://api.example.org/v2", api_token="env:NOT_SET_X")
    with pytest.raises(ConfigError, match=r"^symbiota\.api_token: environment variable"):
        resolve_password(u, "symbiota")

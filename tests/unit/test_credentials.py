from __future__ import annotations

import logging
import pickle

import keyring
import pytest
from keyring.backends import fail, null

from cyverse_link.config.credentials import (
    KEYRING_SERVICE,
    Redactor,
    Secret,
    delete_password,
    keyring_username,
    resolve_password,
    store_password,
)
from cyverse_link.config.settings import parse_settings
from cyverse_link.core.errors import ConfigError

SECRET = "Tr0ub4dor&3-horse"


def settings(**sections: dict[str, object]):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "collection": {"collid": 7},
        "irods": {"user": "alice"},
        "bisque": {"url": "https://b.example.org", "user": "bob"},
        "symbiota": {"db_url": "mysql+pymysql://portal@127.0.0.1:3306/symbiota"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}  # type: ignore[dict-item]
    return parse_settings(data)


@pytest.mark.parametrize(
    ("service", "username"),
    [("irods", "irods:alice"), ("bisque", "bisque:bob"), ("symbiota", "symbiota:portal")],
)
def test_keyring_round_trip(memory_keyring, service, username) -> None:  # type: ignore[no-untyped-def]
    s = settings()
    assert keyring_username(s, service) == username
    assert store_password(s, service, SECRET) == username
    assert memory_keyring.store[(KEYRING_SERVICE, username)] == SECRET
    assert resolve_password(s, service) == SECRET
    assert delete_password(s, service) is True
    assert delete_password(s, service) is False
    with pytest.raises(ConfigError, match=rf"^{service}\.password: no password stored") as info:
        resolve_password(s, service)
    assert f"cyverse-link credentials set {service}" in str(info.value)
    assert f"CYVERSE_LINK_{service.upper()}_PASSWORD" in str(info.value)


def test_env_override_always_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(irods={"password": "literal-pw"})
    store_password(settings(), "irods", "from-keyring")
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", SECRET)
    assert resolve_password(s, "irods") == SECRET
    assert resolve_password(settings(), "irods") == SECRET  # over keyring too


def test_env_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(bisque={"password": "env:MY_BQ_PW"})
    with pytest.raises(ConfigError, match=r"^bisque\.password: environment variable MY_BQ_PW"):
        resolve_password(s, "bisque")
    monkeypatch.setenv("MY_BQ_PW", SECRET)
    assert resolve_password(s, "bisque") == SECRET


def test_literal_is_accepted_with_a_warning_without_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = settings(symbiota={"password": SECRET})
    with caplog.at_level(logging.WARNING):
        assert resolve_password(s, "symbiota") == SECRET
    assert "symbiota.password is written in the config file" in caplog.text
    assert SECRET not in caplog.text


def test_missing_user_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^irods\.user: a user name is needed"):
        resolve_password(settings(irods={"user": ""}), "irods")
    s = settings(symbiota={"db_url": "mysql+pymysql://127.0.0.1/symbiota"})
    with pytest.raises(ConfigError, match=r"^symbiota\.db_url"):
        store_password(s, "symbiota", "x")


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_headless_machine_is_explained(backend) -> None:  # type: ignore[no-untyped-def]
    keyring.set_keyring(backend)  # the autouse fixture restores the memory keyring
    for call in (
        lambda: resolve_password(settings(), "irods"),
        lambda: store_password(settings(), "irods", SECRET),
        lambda: delete_password(settings(), "irods"),
    ):
        with pytest.raises(ConfigError) as info:
            call()
        msg = str(info.value)
        assert msg.startswith("irods.password: no usable OS keyring on this machine")
        assert "headless" in msg and "CYVERSE_LINK_IRODS_PASSWORD" in msg
        assert "keyrings.cryptfile" in msg and "root-only" in msg


def test_keyring_errors_are_translated(memory_keyring, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def locked(*a: object) -> None:
        raise keyring.errors.KeyringLocked("locked")

    monkeypatch.setattr(memory_keyring, "get_password", locked)
    monkeypatch.setattr(memory_keyring, "set_password", locked)
    with pytest.raises(ConfigError, match="the keyring failed: KeyringLocked"):
        resolve_password(settings(), "irods")
    with pytest.raises(ConfigError, match="the keyring failed: KeyringLocked"):
        store_password(settings(), "irods", SECRET)


def test_empty_password_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty password"):
        store_password(settings(), "irods", "")


def test_secret_never_shows() -> None:
    s = Secret(SECRET)
    assert SECRET not in repr(s) and SECRET not in str(s) and SECRET not in f"{s!r} {s}"
    assert s.reveal() == SECRET
    assert s == Secret(SECRET) and s != SECRET
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_redactor_masks_registered_secrets_in_log_records() -> None:
    r = Redactor()
    r.register(SECRET)
    r.register("ab")  # too short to mask safely: ignored
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login %s failed", (SECRET,), None)
    r.filter(record)
    assert record.getMessage() == "login *** failed"
    assert r.redact("ab cd") == "ab cd"

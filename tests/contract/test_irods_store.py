"""IrodsStore behaviour that only a real socket shows: logins, connection budget, timeouts."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from datastore_backends import PASSWORD, USER, ZONE, Backend, md5_of

from cyverse_link.config.settings import IrodsSettings
from cyverse_link.core.errors import (
    AuthenticationFailed,
    ChecksumMismatch,
    CyverseLinkError,
    ServiceUnavailable,
    TransferFailed,
)
from cyverse_link.datastore.irods_check import check_irods


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_connection_is_service_unavailable() -> None:
    settings = IrodsSettings(host="127.0.0.1", port=_free_port(), user=USER, connection_timeout=2)
    with pytest.raises(ServiceUnavailable) as info:
        check_irods(settings, PASSWORD)
    assert info.value.exit_code == 3
    assert "irods.host" in str(info.value) and PASSWORD not in str(info.value)


def test_check_irods_reports_server_and_collection(sandbox: Backend) -> None:
    assert sandbox.settings is not None
    result = check_irods(sandbox.settings, PASSWORD)
    assert (result.server_version, result.user, result.zone) == ("4.3.1", USER, ZONE)
    assert result.collection_exists and result.writable is True
    import dataclasses

    elsewhere = dataclasses.replace(sandbox.settings, collection=f"/{ZONE}/home/{USER}/nope")
    missing = check_irods(elsewhere, PASSWORD)
    assert not missing.collection_exists and missing.writable is None


def test_wrong_password_is_authentication_failed(sandbox: Backend) -> None:
    assert sandbox.settings is not None
    wrong = "definitely-not-" + PASSWORD
    with pytest.raises(AuthenticationFailed) as info:
        check_irods(sandbox.settings, wrong)
    assert info.value.exit_code == 3
    assert wrong not in str(info.value) and PASSWORD not in str(info.value)
    assert "credentials set irods" in str(info.value)


def wait_until_server_closed_all(sandbox: Backend) -> None:
    """A client's disconnect is noticed by the server in its own thread, a moment later."""
    deadline = time.monotonic() + 30
    while sandbox.server.stats.current_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.server.stats.current_connections == 0


def test_one_connection_per_worker_thread(sandbox: Backend, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"per thread")
    store = sandbox.store
    store.close()  # the fixture's set-up used a session on this (main) thread
    wait_until_server_closed_all(sandbox)  # else its late count lands after the reset
    sandbox.server.stats.reset()
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            remote = f"{sandbox.root}/t{i}.jpg"
            store.put(local, remote, md5_of(local))
            store.set_metadata(remote, {"n": str(i)})
            store.make_public(remote)
            assert store.is_public(remote)
            list(store.list(sandbox.root))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.open_connections() == 4  # one per thread, none leaked by PRC
    assert sandbox.server.stats.peak_connections <= 4
    assert sandbox.server.stats.connections_opened == 4
    store.close()
    assert store.open_connections() == 0


def test_round_trips_per_put(sandbox: Backend, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(os.urandom(100_000))
    store = sandbox.store
    store.server_version()  # log in first: count the put alone
    store.put(local, f"{sandbox.root}/first.jpg", md5_of(local))  # + 1 read-back (MD5 zone?)
    before = dict(sandbox.server.stats.requests)
    store.put(local, f"{sandbox.root}/rt.jpg", md5_of(local))
    after = dict(sandbox.server.stats.requests)
    delta = {api: n - before.get(api, 0) for api, n in after.items() if n != before.get(api, 0)}
    # open, write, close (+ lseeks). No GenQuery: not PRC's "is it a collection?" pair (we
    # name the object), nor a read-back of the checksum (the server verified it at close).
    assert delta.get(702, 0) == 0 and delta.get(602) == 1 and delta.get(676) == 1
    assert delta.get(673) == 1
    assert sum(delta.values()) <= 5, delta
    assert store.checksum(f"{sandbox.root}/rt.jpg") == md5_of(local)


def test_connection_cap_gives_a_clear_error(sandbox: Backend, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"capped")
    sandbox.store.close()
    wait_until_server_closed_all(sandbox)  # the fixture's connection must not take a slot
    sandbox.server.faults.max_connections = 2
    store = sandbox.new_store()
    outcomes: list[object] = []

    def work(i: int) -> None:
        try:
            outcomes.append(store.put(local, f"{sandbox.root}/cap{i}.jpg", md5_of(local)))
        except CyverseLinkError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if isinstance(o, ServiceUnavailable)]
    done = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(done) == 2 and len(refused) == 2, outcomes
    assert all("10 connections" in str(e) for e in refused)


def test_reply_delay_beyond_timeout_fails_fast(sandbox: Backend, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"slow")
    store = sandbox.new_store(connection_timeout=1, retries=1)
    store.server_version()
    sandbox.server.faults.reply_delay = 3.0
    started = time.monotonic()
    with pytest.raises((TransferFailed, ServiceUnavailable)) as info:
        store.put(local, f"{sandbox.root}/slow.jpg", md5_of(local))
    assert info.value.retryable
    assert time.monotonic() - started < 10
    sandbox.server.faults.reply_delay = 0.0


def test_a_zone_that_does_not_verify_md5_is_caught_on_the_first_put(
    sandbox: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store trusts the server's verifyChksum instead of reading every checksum back.
    A server that ignored it (say a SHA-256 zone, which cannot compare an MD5) and registered
    something else must not pass unnoticed: the first put of a store reads back once."""
    from cyverse_link.datastore import irods_put as irods_mod

    real_send = irods_mod._send

    def unverified(session: object, local: Path, remote: str, options: dict[str, str]) -> None:
        sandbox.server.faults.corrupt_checksum(remote)  # registers a wrong checksum ...
        options = {k: v for k, v in options.items() if k != "verifyChksum"}  # ... unchecked
        real_send(session, local, remote, options)  # type: ignore[arg-type]

    monkeypatch.setattr(irods_mod, "_send", unverified)
    local = tmp_path / "f"
    local.write_bytes(b"unverified")
    with pytest.raises(ChecksumMismatch, match="MD5"):
        sandbox.store.put(local, f"{sandbox.root}/u.jpg", md5_of(local))

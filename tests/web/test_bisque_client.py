"""BisQue client and provider: each test runs twice, replaying its cassette (no server; any
request that is not in the cassette fails) and live against the sandbox server."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
import requests
from web_support import SANDBOX_PASSWORD, WRONG_PASSWORD, BisqueTarget

from cyverse_link.admin.verify import UrlProblem, UrlToCheck, check_urls
from cyverse_link.core.errors import AuthenticationFailed, PublishError, ServiceUnavailable
from cyverse_link.core.urls import bisque_irods_value, irods_value_forms
from cyverse_link.publish.bisque import BISQUE_RETRY, BisqueClient, BisqueProvider
from cyverse_link.sandbox.bisque_server import BisqueSandbox

IRODS_HOST = "data.iplantcollaborative.org"
NO_WAIT = replace(BISQUE_RETRY, sleep=lambda s: None)  # the default retries, without pauses


def client_for(t: BisqueTarget, password: str | None = None, **retry: Any) -> BisqueClient:
    """``retry``: changes to the client's default ``Backoff``; its waits land in ``t.sleeps``."""
    retry.setdefault("sleep", t.sleeps.append)
    login = (t.user, password or t.password)
    return BisqueClient(t.url, login, retry=replace(BISQUE_RETRY, **retry))


def value_for(t: BisqueTarget, name: str) -> str:
    path = "/" + t.prefix.split("/", 3)[3] + name  # irods://host/<path>
    return bisque_irods_value(path, IRODS_HOST)


def inserts(t: BisqueTarget) -> int:
    assert t.sandbox is not None
    return sum(r.path == "/blob_service/paths/insert" for r in t.sandbox.requests)


def test_login_ok(bisque: BisqueTarget) -> None:
    user_uri = client_for(bisque).login_check()
    assert "/data_service/" in user_uri


def test_bad_password_is_detected(bisque: BisqueTarget) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        client_for(bisque, WRONG_PASSWORD).login_check()
    assert info.value.exit_code == 3
    assert "anonymous" in str(info.value)
    assert WRONG_PASSWORD not in str(info.value) and SANDBOX_PASSWORD not in str(info.value)


def test_register_new(bisque: BisqueTarget) -> None:
    client = client_for(bisque)
    value = value_for(bisque, "new/ASU0000101 #1 é.jpg")
    res, created = client.register(value, "ASU0000101 #1 é.jpg", {"catalogNumber": "ASU0000101"})
    assert created and res.published and res.kind == "image"
    assert res.value == value and "%20" in value and "%23" in value
    assert res.name == "ASU0000101 #1 é.jpg"
    tags = client.get_tags(res.uniq)
    assert tags["catalogNumber"] == ["ASU0000101"] and "upload_datetime" in tags


def test_register_existing_is_reused(bisque: BisqueTarget) -> None:
    client = client_for(bisque)
    value = value_for(bisque, "reuse/ASU0000102.jpg")
    first, created1 = client.register(value, "ASU0000102.jpg")
    second, created2 = client.register(value, "ASU0000102.jpg")
    assert (created1, created2) == (True, False)
    assert second.uniq == first.uniq
    if bisque.sandbox:
        assert inserts(bisque) == 1 and len(bisque.sandbox.resources) == 1


def test_hostile_name_is_registered_once_by_a_second_client(bisque: BisqueTarget) -> None:
    """A fresh client (a lost ledger) finds the registration although BisQue's value filter
    cuts at '=', '<', '>'; BisQue's name is the file's name, '#' included."""
    name = "ASU0000121 scale=2 #1 <a>.jpg"
    value = value_for(bisque, "hostile/" + name)
    first, created1 = client_for(bisque).register(value, name)
    second, created2 = client_for(bisque).register(value, name)
    assert (created1, created2) == (True, False) and second.uniq == first.uniq
    assert first.name == name
    if bisque.sandbox:
        assert inserts(bisque) == 1


@pytest.mark.needs_sandbox
def test_legacy_raw_registration_is_found(bisque: BisqueTarget) -> None:
    value = value_for(bisque, "legacy/ASU 0000103.jpg")
    raw = irods_value_forms(value)[1]
    bisque.fault(lambda sb: sb.add_resource(raw, bisque.user, permission="published"))
    client = client_for(bisque)
    res, created = client.register(value, "ASU 0000103.jpg")
    assert not created and res.value == raw
    if bisque.sandbox:
        assert inserts(bisque) == 0


def test_register_outside_a_store_is_explained(bisque: BisqueTarget) -> None:
    client = client_for(bisque)
    value = bisque_irods_value("/iplant/home/someoneelse/x/ASU0000104.jpg", IRODS_HOST)
    with pytest.raises(PublishError, match="not under a store"):
        client.register(value, "ASU0000104.jpg")


def test_publish_uses_post(bisque: BisqueTarget) -> None:
    client = client_for(bisque)
    res, _ = client.register(value_for(bisque, "pub/ASU0000105.jpg"), "ASU0000105.jpg")
    updated = client.publish(res.uniq, res.uri)
    assert updated.published and updated.uniq == res.uniq
    if bisque.sandbox:
        assert not any(r.method == "PUT" for r in bisque.sandbox.requests)


@pytest.mark.needs_sandbox
def test_provider_publishes_and_tags_a_private_registration(bisque: BisqueTarget) -> None:
    value = value_for(bisque, "prov/ASU0000106.tif")
    bisque.fault(lambda sb: sb.add_resource(value, bisque.user, permission="private"))
    client = client_for(bisque)
    provider = BisqueProvider(client, IRODS_HOST)
    original = "/" + value.split("/", 3)[3]
    tags = {"catalogNumber": "ASU0000106", "collid": "7"}
    urls = provider.urls_for(original, {}, tags=tags)
    uniq = urls.url.split("/image_service/image/")[1].split("/")[0]
    assert urls.url.endswith(f"{uniq}/resize:1250/format:jpeg")
    assert urls.thumbnail_url and urls.thumbnail_url.endswith("/thumbnail:200,200")
    assert urls.original_url and urls.original_url.endswith("/resize:4000,4000,BL,MX/format:jpeg")
    assert urls.archive_url and urls.archive_url.endswith(uniq)  # TIFF master
    again = provider.urls_for(original, {}, tags=tags)  # idempotent: no second tag POST
    assert again == urls
    got = client.get_tags(uniq)
    assert got["catalogNumber"] == ["ASU0000106"] and got["collid"] == ["7"]
    if bisque.sandbox:
        (res,) = bisque.sandbox.resources.values()
        assert res.permission == "published"
        posts = [r for r in bisque.sandbox.requests if r.method == "POST"]
        assert len(posts) == 2  # publish + one tag request, nothing on the second call


@pytest.mark.needs_sandbox
def test_503_then_success(bisque: BisqueTarget) -> None:
    bisque.fault(lambda sb: sb.fail_next(2))
    client_for(bisque, base_delay=0.5).login_check()
    assert bisque.sleeps == [0.5, 1.0]


@pytest.mark.needs_sandbox
def test_503_until_the_retries_run_out(bisque: BisqueTarget) -> None:
    bisque.fault(lambda sb: sb.fail_next(3, retry_after=7))
    with pytest.raises(ServiceUnavailable, match="503") as info:
        client_for(bisque, retries=2, max_wait=5).login_check()
    assert info.value.retryable and info.value.exit_code == 3
    assert bisque.sleeps == [5, 5]  # Retry-After respected, but bounded


@pytest.mark.needs_sandbox
def test_307_retry_after_while_rendering(bisque: BisqueTarget) -> None:
    client = client_for(bisque)
    res, _ = client.register(value_for(bisque, "render/ASU0000107.jpg"), "ASU0000107.jpg")
    bisque.fault(lambda sb: sb.render_next(2, retry_after=3))
    resp = client.fetch(client.image_urls(res.uniq).web)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert resp.content[:2] == b"\xff\xd8"
    assert bisque.sleeps == [3, 3]


def test_verify_bisque_urls(bisque: BisqueTarget) -> None:
    client = client_for(bisque)
    jpg, _ = client.register(value_for(bisque, "verify/ASU0000108.jpg"), "ASU0000108.jpg")
    other, _ = client.register(value_for(bisque, "verify/ASU0000108.bin"), "ASU0000108.bin")
    links = client.image_urls(jpg.uniq)
    targets = [
        UrlToCheck(links.web, key="web"),
        UrlToCheck(links.thumbnail, key="thumb"),
        UrlToCheck(f"{bisque.url}/image_service/image/00-NoSuchResourceAtAll00", key="dead"),
        UrlToCheck(f"{bisque.url}/blob_service/00-NoSuchResourceAtAll00", key="dead blob"),
        UrlToCheck(f"{bisque.url}/blob_service/{other.uniq}", key="octet"),
    ]
    # one worker: vcrpy does not record reliably from several threads
    results = {r.target.key: r for r in check_urls(targets, concurrency=1, timeout=30)}
    assert results["web"].ok and results["web"].content_type == "image/jpeg"
    assert results["thumb"].ok
    # a dead image: 401 -> 302 to the login page -> 200 text/html (service.py ~232-242,
    # challenge_decider.py ~25-63): broken, not "not an image"
    dead = results["dead"]
    assert dead.problems == (UrlProblem.BROKEN,) and dead.status == 302
    assert dead.detail is not None and "login page" in dead.detail
    assert results["dead blob"].problems == (UrlProblem.BROKEN,)
    assert results["dead blob"].status == 403  # blobsrv.py ~349, for everyone
    assert results["octet"].problems == (UrlProblem.NOT_IMAGE,)
    assert results["octet"].content_type == "application/octet-stream"


# -- not recordable: timeouts and connection errors (live sandbox / closed port) --------------


def test_timeout_uses_the_live_sandbox_delay_switch() -> None:
    """A timeout cannot be recorded in a cassette: the sandbox's ``delay`` makes a real one."""
    with BisqueSandbox({"alice": SANDBOX_PASSWORD}) as sb:
        sb.delay = 30.0  # far beyond the timeout, and beyond any stall of a loaded machine
        sleeps: list[float] = []
        retry = replace(BISQUE_RETRY, retries=1, sleep=sleeps.append)
        client = BisqueClient(sb.url, ("alice", SANDBOX_PASSWORD), timeout=0.5, retry=retry)
        start = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="did not answer") as info:
            client.login_check()
        assert time.monotonic() - start < 10.0  # two 0.5 s attempts, never the 30 s delay
        assert sleeps == [1.0] and info.value.retryable
        assert SANDBOX_PASSWORD not in str(info.value)


def test_connection_refused() -> None:
    with BisqueSandbox() as sb:
        url = sb.url
    retry = replace(BISQUE_RETRY, retries=1, sleep=lambda s: None)
    client = BisqueClient(url, ("alice", SANDBOX_PASSWORD), retry=retry, timeout=2)
    with pytest.raises(ServiceUnavailable, match="cannot connect"):
        client.login_check()


def test_html_answer_is_an_auth_failure() -> None:
    """A CAS site that still redirects to its HTML login page is refused, not parsed."""
    with BisqueSandbox() as sb:
        session = requests.Session()
        client = BisqueClient(sb.url, ("alice", "x"), session=session, retry=NO_WAIT)
        with pytest.raises(AuthenticationFailed, match="HTML"):
            client.fetch(f"{sb.url}/auth_service/login", accept="text/xml")


def test_check_bisque_reports_the_login_state() -> None:
    from cyverse_link.config.settings import BisqueSettings
    from cyverse_link.core.errors import ConfigError
    from cyverse_link.publish.bisque import check_bisque

    with BisqueSandbox({"alice": SANDBOX_PASSWORD}) as sb:
        settings = BisqueSettings(url=sb.url, user="alice")
        assert check_bisque(settings, SANDBOX_PASSWORD).startswith("logged in as alice (")
        with pytest.raises(AuthenticationFailed):
            check_bisque(settings, WRONG_PASSWORD)
    with pytest.raises(ConfigError, match=r"bisque\.url"):
        check_bisque(BisqueSettings(), "x")


def test_lookup_is_exact_despite_like_and_or_syntax() -> None:
    """``*`` turns on LIKE and ``|`` means OR in BisQue's value filter: hits are compared
    exactly, and a form holding ``|`` is sent as a LIKE pattern (it could not match itself)."""
    with BisqueSandbox({"alice": SANDBOX_PASSWORD}) as sb:
        base = "irods://data.iplantcollaborative.org/iplant/home/shared/p/"
        sb.add_resource(base + "ab.jpg", "alice", permission="published")
        star = sb.add_resource(base + "a*.jpg", "alice", permission="published")
        client = BisqueClient(sb.url, ("alice", SANDBOX_PASSWORD), retry=NO_WAIT)
        found = client.find_by_value(bisque_irods_value("/iplant/home/shared/p/a*.jpg", IRODS_HOST))
        assert found is not None and found.uniq == star.uniq
        piped = bisque_irods_value("/iplant/home/shared/p/a|b.jpg", IRODS_HOST)
        assert client.find_by_value(piped) is None
        raw_pipe = sb.add_resource(base + "a|b.jpg", "alice", permission="published")
        sb.requests.clear()
        found = client.find_by_value(piped)
        assert found is not None and found.uniq == raw_pipe.uniq  # the legacy raw form
        queried = [r.query for r in sb.requests if r.path == "/data_service/image"]
        assert len(queried) == 2 and "%257C" in queried[0] and "a%2Ab.jpg" in queried[1]


def test_insert_is_not_blindly_retried() -> None:
    """A 500 on insert may have registered the value: no second POST (the next run looks up
    first); a 503 means BisQue did not act, so the insert is retried at once."""
    with BisqueSandbox({"alice": SANDBOX_PASSWORD}) as sb:
        sleeps: list[float] = []
        retry = replace(BISQUE_RETRY, sleep=sleeps.append)
        client = BisqueClient(sb.url, ("alice", SANDBOX_PASSWORD), retry=retry)
        value = bisque_irods_value("/iplant/home/shared/p/ASU0000109.jpg", IRODS_HOST)
        sb.fail_next(1, status=500, path="/blob_service/paths/insert")
        with pytest.raises(ServiceUnavailable, match="500"):
            client.register(value, "ASU0000109.jpg")
        assert sum(r.path.endswith("/insert") for r in sb.requests) == 1 and sleeps == []
        sb.fail_next(1, status=503, path="/blob_service/paths/insert")
        _, created = client.register(value, "ASU0000109.jpg")
        assert created and len(sb.resources) == 1 and sleeps == [1.0]

"""Cassettes (pytest-recording / vcrpy) for the BisQue client and ``verify``.

Replay is the default (``record_mode=none``): no server runs, and a request that is not in the
cassette fails the test. Recording runs the servers on fixed loopback ports so the recorded
URLs are stable:

    pytest tests/web --record-mode=rewrite                 # re-record against the sandboxes

    CYVERSE_LINK_BISQUE_URL=https://bisque.example.org CYVERSE_LINK_BISQUE_USER=me \\
    CYVERSE_LINK_BISQUE_PASSWORD=… \\
    CYVERSE_LINK_BISQUE_IRODS_PREFIX=irods://data.iplantcollaborative.org/iplant/home/me/fresh/ \\
    pytest tests/web/test_bisque_client.py --record-mode=rewrite -k cassette  # a real BisQue

Requests match on Accept and Content-Type as well. cassettes/README.md says where the
cassettes were recorded (``test_cassette_hygiene`` checks their Server headers against it).
A real BisQue's root URL and irods:// prefix are rewritten to the sandbox's canonical ones
before anything is written, so those cassettes replay offline too. Passwords, Authorization,
cookies are scrubbed (``test_cassette_hygiene.py`` checks every file).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web_support import (
    BISQUE_PORT,
    CANON_BISQUE,
    CANON_PREFIX,
    CASSETTES,
    IMAGEHOST_PORT,
    REAL_TARGET,
    SANDBOX_PASSWORD,
    SANDBOX_USER,
    BisqueTarget,
    ImageHost,
    same_accept,
    same_content_type,
    scrub_request,
    scrub_response,
)

from cyverse_link.sandbox.bisque_server import BisqueSandbox

CASSETTE_OR_LIVE = [pytest.param("cassette", marks=pytest.mark.vcr), "live"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_sandbox: uses the BisQue sandbox's fault switches")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Recording against a real BisQue: skip sandbox-only tests before pytest-recording's
    rewrite mode deletes their cassettes."""
    if REAL_TARGET and config.getoption("--record-mode") != "none":
        skip = pytest.mark.skip(reason="fault injection needs the sandbox, not a real BisQue")
        for item in items:
            if "needs_sandbox" in item.keywords:
                item.add_marker(skip)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("accept", same_accept)
    vcr.register_matcher("content_type", same_content_type)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": ["authorization", "cookie"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": [
            *("method", "scheme", "host", "port", "path", "query", "body"),
            *("accept", "content_type"),
        ],
        "decode_compressed_response": True,
    }


@pytest.fixture(params=CASSETTE_OR_LIVE)
def bisque(request: pytest.FixtureRequest, record_mode: str) -> Iterator[BisqueTarget]:
    """A BisQue to talk to: cassette replay (no server), recording, or the live sandbox."""
    if request.param == "live":
        with BisqueSandbox({SANDBOX_USER: SANDBOX_PASSWORD}) as sb:
            yield BisqueTarget(sb.url, SANDBOX_USER, SANDBOX_PASSWORD, CANON_PREFIX, sb)
        return
    if record_mode == "none":
        yield BisqueTarget(CANON_BISQUE, SANDBOX_USER, SANDBOX_PASSWORD, CANON_PREFIX)
    elif REAL_TARGET:
        prefix = REAL_TARGET["IRODS_PREFIX"] or pytest.fail("set CYVERSE_LINK_BISQUE_IRODS_PREFIX")
        yield BisqueTarget(
            REAL_TARGET["URL"], REAL_TARGET["USER"], REAL_TARGET["PASSWORD"], prefix, real=True
        )
    else:
        with BisqueSandbox({SANDBOX_USER: SANDBOX_PASSWORD}, port=BISQUE_PORT) as sb:
            yield BisqueTarget(sb.url, SANDBOX_USER, SANDBOX_PASSWORD, CANON_PREFIX, sb)


@pytest.fixture(params=CASSETTE_OR_LIVE)
def imagehost(request: pytest.FixtureRequest, record_mode: str) -> Iterator[str]:
    """Root URL of the tiny image host: replay (no server), recording (fixed port) or live."""
    if request.param == "live":
        with ImageHost() as host:
            yield host.url
        return
    if record_mode == "none":
        yield f"http://127.0.0.1:{IMAGEHOST_PORT}"
        return
    with ImageHost(port=IMAGEHOST_PORT) as host:
        yield host.url


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """``test_login_ok`` rather than ``test_login_ok[cassette]``."""
    return str(request.node.name).replace("[cassette]", "")

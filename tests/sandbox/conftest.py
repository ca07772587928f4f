"""Fixtures: a sandbox iRODS server per persona and python-irodsclient sessions against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

USERS = {"alice": "alice-pw", "bob": "bob-pw"}
ZONE = "iplant"


@pytest.fixture(params=["4.3.1", "4.2.8"])
def persona(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(persona: str) -> Iterator[SandboxIrods]:
    with SandboxIrods(persona=persona, zone=ZONE, users=USERS) as srv:
        yield srv


SessionFactory = Callable[..., iRODSSession]


@pytest.fixture
def connect(server: SandboxIrods) -> Iterator[SessionFactory]:
    """Open sessions (cleaned up at teardown) as any user."""
    sessions: list[iRODSSession] = []

    def factory(user: str = "alice", password: str | None = None, **kw: object) -> iRODSSession:
        pw = USERS.get(user, "") if password is None else password
        kw.setdefault("connection_timeout", 30)
        sess = iRODSSession(
            host=server.host, port=server.port, user=user, password=pw, zone=ZONE, **kw
        )
        sessions.append(sess)
        return sess

    yield factory
    for sess in sessions:
        sess.cleanup()


@pytest.fixture
def alice(connect: SessionFactory) -> iRODSSession:
    return connect("alice")


HOME = f"/{ZONE}/home/alice"

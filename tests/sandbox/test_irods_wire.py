"""Wire-level facts checked with raw sockets and PRC's message classes (no session)."""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator

import pytest
from irods.message import (
    AuthChallenge,
    AuthResponse,
    GenQueryRequest,
    GenQueryResponse,
    IntegerIntegerMap,
    IntegerStringMap,
    JSON_Message,
    StartupPack,
    StringStringMap,
    VersionResponse,
    iRODSMessage,
)

from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.irods.auth import digest

from .conftest import HOME, USERS


class Raw:
    def __init__(self, srv: SandboxIrods, user: str = "alice") -> None:
        self.sock = socket.create_connection((srv.host, srv.port), timeout=30)
        self.user = user

    def send(self, msg_type: str, body: object = None, int_info: int = 0) -> None:
        self.sock.sendall(iRODSMessage(msg_type, msg=body, int_info=int_info).pack())

    def recv(self) -> iRODSMessage:
        return iRODSMessage.recv(self.sock)

    def connect(self) -> VersionResponse:
        pack = StartupPack((self.user, "iplant"), (self.user, "iplant"), "wire-test")
        self.send("RODS_CONNECT", pack)
        return self.recv().get_main_message(VersionResponse)

    def legacy_login(self, user_field: str, password: str) -> iRODSMessage:
        self.send("RODS_API_REQ", int_info=703)
        challenge = self.recv().get_main_message(AuthChallenge).challenge
        resp = AuthResponse(response=digest(challenge, password), username=user_field)
        self.send("RODS_API_REQ", resp, int_info=704)
        return self.recv()


@pytest.fixture
def raw(server: SandboxIrods) -> Iterator[Raw]:
    r = Raw(server)
    yield r
    r.sock.close()


def test_version_reply_and_challenge_format(raw: Raw, server: SandboxIrods) -> None:
    version = raw.connect()
    assert version.relVersion == f"rods{server.persona}" and version.status == 0
    raw.send("RODS_API_REQ", int_info=703)
    challenge = raw.recv().get_main_message(AuthChallenge).challenge
    assert re.fullmatch(rb"[0-9a-f]{64}", challenge)


def test_legacy_login_accepts_user_hash_zone(raw: Raw) -> None:
    raw.connect()
    assert raw.legacy_login("alice#iplant", "alice-pw").int_info == 0


def test_legacy_login_wrong_password_then_connection_closes(raw: Raw) -> None:
    raw.connect()
    reply = raw.legacy_login("alice", "nope")
    assert reply.int_info == -826000
    assert raw.sock.recv(1) == b""  # the agent hung up


def test_plugin_auth_api_missing_on_428() -> None:
    with SandboxIrods(persona="4.2.8", users=USERS) as server:
        _plugin_auth_api_missing(server)


def _plugin_auth_api_missing(server: SandboxIrods) -> None:
    r = Raw(server)
    r.connect()
    req = {"user_name": "alice", "zone_name": "iplant", "scheme": "native"}
    req["next_operation"] = "auth_agent_auth_request"
    r.send("RODS_API_REQ", JSON_Message(req, (4, 2, 8)), int_info=110000)
    assert r.recv().int_info == -12000
    r.sock.close()


def test_plugin_reply_is_binbytesbuf_on_431() -> None:
    with SandboxIrods(persona="4.3.1", users=USERS) as server:
        _plugin_flow(server)


def _plugin_flow(server: SandboxIrods) -> None:
    r = Raw(server)
    r.connect()
    req = {"user_name": "alice", "zone_name": "iplant", "scheme": "native"}
    r.send(
        "RODS_API_REQ",
        JSON_Message({**req, "next_operation": "auth_agent_auth_request"}, (4, 3, 1)),
        int_info=110000,
    )
    reply = r.recv()
    assert reply.msg.startswith(b"<BinBytesBuf_PI>")
    answer = reply.get_json_encoded_struct()
    assert answer["user_name"] == "alice" and re.fullmatch("[0-9a-f]{64}", answer["request_result"])
    raw_digest = digest(answer["request_result"].encode(), "alice-pw")
    answer.update(
        next_operation="auth_agent_auth_response", digest=base64.b64encode(raw_digest).decode()
    )
    r.send("RODS_API_REQ", JSON_Message(answer, (4, 3, 1)), int_info=110000)
    final = r.recv()
    assert final.int_info == 0 and json.loads(json.dumps(final.get_json_encoded_struct()))
    r.sock.close()


def test_requests_before_login_are_refused(raw: Raw) -> None:
    raw.connect()
    raw.send("RODS_API_REQ", GenQueryRequest(maxRows=1, continueInx=0), int_info=702)
    assert raw.recv().int_info == -13000


def _query(max_rows: int, cont: int = 0) -> GenQueryRequest:
    return GenQueryRequest(
        maxRows=max_rows,
        continueInx=cont,
        partialStartIndex=0,
        options=0,
        KeyValPair_PI=StringStringMap(),
        InxIvalPair_PI=IntegerIntegerMap({501: 1}),
        InxValPair_PI=IntegerStringMap({501: f"like '{HOME}%'"}),
    )


def test_genquery_close_and_bare_eof(raw: Raw, server: SandboxIrods) -> None:
    raw.connect()
    raw.legacy_login("alice", "alice-pw")
    for i in range(3):
        server.seed_object(f"{HOME}/sub{i}/x", b"x", owner="alice")
    raw.send("RODS_API_REQ", _query(2), int_info=702)
    first = raw.recv().get_main_message(GenQueryResponse)
    assert first.rowCnt == 2 and first.continueInx > 0
    raw.send("RODS_API_REQ", _query(0, first.continueInx), int_info=702)
    closed = raw.recv()
    assert closed.int_info == 0 and closed.get_main_message(GenQueryResponse).rowCnt == 0
    raw.send("RODS_API_REQ", _query(2, first.continueInx), int_info=702)
    assert raw.recv().int_info == -808000  # the statement is gone
    raw.sock.close()  # bare EOF, no RODS_DISCONNECT: the server carries on
    again = Raw(server)
    assert again.connect().status == 0
    again.sock.close()


def test_genquery_reply_packs_as_python_irodsclient_packs_it() -> None:
    from irods.message import GenQueryResponse, GenQueryResponseColumn

    from cyverse_link.sandbox.irods.protocol import GenQueryOut

    rows = [("a&b", "1"), ("<x>'\"", ""), ("ünï", "22")]
    ours = GenQueryOut([403, 407], rows, 3, 7).pack()
    theirs = GenQueryResponse(
        rowCnt=3,
        attriCnt=2,
        continueInx=3,
        totalRowCount=7,
        SqlResult_PI=[
            GenQueryResponseColumn(
                attriInx=col,
                reslen=max(len(r[i]) for r in rows) + 1,
                value=[r[i] for r in rows],
            )
            for i, col in enumerate([403, 407])
        ],
    ).pack()
    assert ours == theirs


def test_requests_with_control_characters_parse_as_irods_parses_them() -> None:
    # PRC's QUASI_XML names and an obfuscated password's random first character (\x0b, \x0c)
    from cyverse_link.sandbox.irods.protocol import parse

    root = parse(b"<generalAdminInp_PI><arg4>\x0b.ObfV2\x01x&amp;</arg4></generalAdminInp_PI>")
    assert root.findtext("arg4") == "\x0b.ObfV2\x01x&"

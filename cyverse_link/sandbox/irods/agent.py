"""One agent per client connection: start-up, authentication, API dispatch, GenQuery cursors."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from irods.message import (
    AuthChallenge,
    AuthResponse,
    ClientServerNegotiation,
    GenQueryRequest,
    GenQueryResponse,
    VersionResponse,
)

from cyverse_link.sandbox.irods import (
    admin,
    auth,
    genquery,
    handlers,
    metadata,
    namespace,
    parallel,
)
from cyverse_link.sandbox.irods.protocol import (
    ConnectionClosed,
    GenQueryOut,
    IrodsError,
    Packet,
    json_body,
    parse,
    read_json,
    read_packet,
    send_packet,
    text,
    unpack,
)

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.server import SandboxIrods

log = logging.getLogger(__name__)

AUTH_APIS = {703, 704, 110000}


class DropConnection(Exception):
    """Fault injection: reset the socket now (SO_LINGER 0)."""


@dataclass
class Reply:
    int_info: int = 0
    body: Any = None
    bs: bytes = b""


@dataclass
class Cursor:
    cols: list[int]
    rows: list[tuple[str, ...]]
    pos: int


@dataclass
class Agent:
    server: SandboxIrods
    sock: socket.socket
    user: str | None = None
    proxy_user: str = ""
    legacy_challenge: bytes | None = None
    plugin: auth.PluginFlow = field(default_factory=auth.PluginFlow)
    descriptors: dict[int, handlers.Descriptor] = field(default_factory=dict)
    cursors: dict[int, Cursor] = field(default_factory=dict)
    next_cursor: int = 1
    # hex of the first 16 challenge bytes: the key clients obfuscate new passwords with
    # (irods/irods lib/core/src/clientLogin.cpp; PRC connection.py ``client_signature``)
    signature: str = ""

    @property
    def persona(self) -> tuple[int, ...]:
        return self.server.persona_tuple

    @property
    def json_binary(self) -> bool:
        return self.persona >= (4, 2, 9)

    # ---- connection loop ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            if not self._startup():
                return
            while True:
                packet = read_packet(self.sock)
                if packet.msg_type == "RODS_DISCONNECT":
                    return
                if packet.msg_type != "RODS_API_REQ":
                    log.info("sandbox iRODS: unexpected message type %r", packet.msg_type)
                    return
                if not self._serve(packet):
                    return
        except DropConnection:
            self._reset()
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._abandon()

    def _startup(self) -> bool:
        packet = read_packet(self.sock)
        if packet.msg_type != "RODS_CONNECT":
            return False  # HAProxy and the agent want RODS_CONNECT first
        pack = parse(packet.body)
        self.proxy_user = text(pack, "proxyUser") or text(pack, "clientUser")
        if "request_server_negotiation" in text(pack, "option"):
            # CyVerse refuses TLS; answer the negotiation the way a CS_NEG_REFUSE server does.
            neg = ClientServerNegotiation(status=1, result="CS_NEG_REFUSE")
            self._send(Reply(0, neg), msg_type="RODS_CS_NEG_T")
            read_packet(self.sock)
        version = VersionResponse(
            status=0,
            relVersion=f"rods{self.server.persona}",
            apiVersion="d",
            reconnPort=0,
            reconnAddr="",
            cookie=400,
        )
        self._send(Reply(0, version), msg_type="RODS_VERSION")
        return True

    def _send(
        self, reply: Reply, msg_type: str = "RODS_API_REPLY", error: str | None = None
    ) -> None:
        delay = self.server.faults.reply_delay
        if delay > 0:
            time.sleep(delay)
        send_packet(self.sock, reply.int_info, reply.body, reply.bs, error, msg_type)

    def _serve(self, packet: Packet) -> bool:
        api = packet.int_info
        self.server.stats.count_request(api)
        try:
            if self.user is None and api not in AUTH_APIS:
                raise IrodsError(-13000, "authenticate first")  # SYS_NO_API_PRIV
            handler = self._table().get(api)
            if handler is None:
                raise IrodsError(-12000, f"API {api} is not supported")  # SYS_UNMATCHED_API_NUM
            try:
                reply = handler(packet)
            except (DropConnection, IrodsError):
                raise
            except Exception as exc:  # a sandbox bug: answer like a server, keep the agent alive
                log.exception("sandbox iRODS: API %s failed", api)
                raise IrodsError(-14000, f"sandbox could not handle API {api}: {exc!r}") from exc
        except IrodsError as err:
            log.debug("sandbox iRODS: API %s by %s -> %s %s", api, self.user, err.code, err.message)
            self.server.stats.count_error(err.code)
            self._send(Reply(err.code, err.body), error=err.message or str(err.code))
            # A failed login ends the conversation, as the client never proceeds on it.
            return not (api in AUTH_APIS and err.code in (-826000, -827000))
        self._send(reply)
        return True

    def _table(self) -> dict[int, Callable[[Packet], Reply]]:
        return {
            703: self._auth_request,
            704: self._auth_response,
            110000: self._auth_plugin,
            702: self._genquery,
            681: lambda p: handlers.coll_create(self, p),
            602: lambda p: handlers.open_obj(self, p),
            674: lambda p: handlers.lseek(self, p),
            675: lambda p: handlers.read(self, p),
            676: lambda p: handlers.write(self, p),
            673: lambda p: handlers.close(self, p),
            629: lambda p: handlers.chksum(self, p),
            601: lambda p: admin.create_obj(self, p),
            701: lambda p: admin.general_admin(self, p),
            615: lambda p: namespace.unlink(self, p),
            679: lambda p: namespace.rm_coll(self, p),
            627: lambda p: namespace.rename(self, p),
            707: lambda p: metadata.mod_access(self, p),
            706: lambda p: metadata.mod_avu(self, p),
            20002: lambda p: metadata.atomic(self, p),
            20000: lambda p: parallel.fd_info(self, p),  # parallel transfer (parallel.py)
            20004: lambda p: parallel.replica_close(self, p),
        }

    def _reset(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _abandon(self) -> None:
        """The client is gone: what it was writing stays as a real agent leaves it."""
        for desc in list(self.descriptors.values()):
            handlers.abandon(self, desc)
        self.descriptors.clear()
        self.cursors.clear()

    # ---- authentication -----------------------------------------------------------------------
    def _auth_request(self, packet: Packet) -> Reply:
        self.legacy_challenge = auth.new_challenge().encode()
        self.signature = self.legacy_challenge[:16].hex()
        return Reply(0, AuthChallenge(challenge=self.legacy_challenge))

    def _auth_response(self, packet: Packet) -> Reply:
        if self.legacy_challenge is None:
            raise IrodsError(-130000, "auth response without a challenge")
        req = unpack(AuthResponse, packet.body)
        challenge, self.legacy_challenge = self.legacy_challenge, None
        self.user = auth.check(
            self.server.catalog, req.username or self.proxy_user, challenge, req.response or b""
        )
        return Reply(0)

    def _auth_plugin(self, packet: Packet) -> Reply:
        if self.persona < (4, 3, 0):
            raise IrodsError(-12000, "API 110000 does not exist before iRODS 4.3")
        answer, user = self.plugin.step(self.server.catalog, read_json(packet.body))
        if "request_result" in answer and user is None:
            self.signature = str(answer["request_result"]).encode("utf-8")[:16].hex()
        if user is not None:
            self.user = user
        return Reply(0, json_body(answer, self.json_binary))

    # ---- GenQuery with per-connection continuation ---------------------------------------------
    def _genquery(self, packet: Packet) -> Reply:
        req = unpack(GenQueryRequest, packet.body)
        max_rows, cont = req.maxRows or 0, req.continueInx or 0
        if max_rows <= 0:  # close the statement
            self.cursors.pop(cont, None)
            return Reply(0, GenQueryResponse(rowCnt=0, attriCnt=0, continueInx=0, totalRowCount=0))
        if cont > 0:
            cursor = self.cursors.get(cont)
            if cursor is None or cursor.pos >= len(cursor.rows):
                self.cursors.pop(cont, None)
                raise IrodsError(-808000, "no more rows")  # CAT_NO_ROWS_FOUND
        else:
            sel, conds = req.InxIvalPair_PI, req.InxValPair_PI
            selects = list(zip(sel.inx or [], sel.ivalue or [], strict=False)) if sel else []
            where = list(zip(conds.inx or [], conds.svalue or [], strict=False)) if conds else []
            rows = genquery.execute(
                self.server.catalog,
                self.user or "",
                self.persona,
                [(int(c), int(f)) for c, f in selects],
                [(int(c), v or "") for c, v in where],
                req.options or 0,
            )
            offset = req.partialStartIndex or 0
            cursor = Cursor([int(c) for c, _ in selects], rows, offset)
            if cursor.pos >= len(rows):
                raise IrodsError(-808000, "no rows found")
            cont = self.next_cursor
            self.next_cursor += 1
        page = cursor.rows[cursor.pos : cursor.pos + max_rows]
        cursor.pos += len(page)
        # A full page keeps the statement open, even if nothing is left (general_query.cpp).
        if len(page) == max_rows:
            self.cursors[cont] = cursor
        else:
            self.cursors.pop(cont, None)
            cont = 0
        total = len(cursor.rows) if (req.options or 0) & genquery.RETURN_TOTAL_ROW_COUNT else 0
        return Reply(0, GenQueryOut(cursor.cols, page, cont, total))

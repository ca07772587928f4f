"""iRODS framing: 4-byte length, MsgHeader_PI, body, error, bs (irods-protocol.md §2).

Bodies are packed and unpacked with python-irodsclient's own message classes, so the sandbox
speaks exactly the XML dialect the client parses.
"""

from __future__ import annotations

import base64
import html
import json
import socket
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from irods.message import BinBytesBuf, BytesBuf, Error, ErrorMessage

MAX_HEADER = 1 << 16
MAX_PART = 256 << 20


class IrodsError(Exception):
    """An error reply: ``code`` becomes intInfo, ``message`` the RError_PI text."""

    def __init__(self, code: int, message: str = "", body: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.body = body


class ConnectionClosed(Exception):
    """The peer closed (or reset) the socket."""


@dataclass
class Packet:
    msg_type: str
    body: bytes
    error: bytes
    bs: bytes
    int_info: int


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise ConnectionClosed(f"EOF after {got} of {size} bytes")
        got += n
    return bytes(buf)


def read_packet(sock: socket.socket) -> Packet:
    """Read one message; ConnectionClosed on EOF (a bare EOF is a normal way to leave)."""
    (hlen,) = struct.unpack(">i", _recv_exact(sock, 4))
    if hlen <= 0 or hlen > MAX_HEADER:
        raise ConnectionClosed(f"implausible header length {hlen}")
    root = ET.fromstring(_recv_exact(sock, hlen))

    def field(name: str) -> str:
        el = root.find(name)
        return (el.text or "") if el is not None else ""

    sizes = [int(field(n) or 0) for n in ("msgLen", "errorLen", "bsLen")]
    if any(s < 0 or s > MAX_PART for s in sizes):
        raise ConnectionClosed(f"implausible part sizes {sizes}")
    body, error, bs = (_recv_exact(sock, s) if s else b"" for s in sizes)
    return Packet(field("type"), body, error, bs, int(field("intInfo") or 0))


def _header(msg_type: str, msg_len: int, err_len: int, bs_len: int, int_info: int) -> bytes:
    xml = (
        f"<MsgHeader_PI><type>{msg_type}</type><msgLen>{msg_len}</msgLen>"
        f"<errorLen>{err_len}</errorLen><bsLen>{bs_len}</bsLen><intInfo>{int_info}</intInfo>"
        "</MsgHeader_PI>"
    ).encode()
    return struct.pack(">i", len(xml)) + xml


def send_packet(
    sock: socket.socket,
    int_info: int = 0,
    body: Any = None,
    bs: bytes | memoryview = b"",
    error_text: str | None = None,
    msg_type: str = "RODS_API_REPLY",
) -> None:
    """Send one reply. ``body`` is a PRC Message (or None); large ``bs`` is sent without copying."""
    main = body.pack().encode("utf-8") if body is not None else b""
    err = b""
    if error_text is not None:
        stack = Error(count=1, RErrMsg_PI=[ErrorMessage(status=int_info, msg=error_text)])
        err = stack.pack().encode("utf-8")
    sock.sendall(_header(msg_type, len(main), len(err), len(bs), int_info) + main + err)
    if len(bs):
        sock.sendall(bs)


# Control characters XML 1.0 forbids. iRODS's own packing-instruction parser takes them
# (irods/irods lib/core/src/packStruct.cpp, ``unpackXmlString``: no XML parser; PRC's
# QUASI_XML mode sends them raw in names, and an obfuscated password starts with a random
# ``string.printable`` character, sometimes \x0b or \x0c): parsed here as private-use
# stand-ins, put back in every element's text afterwards.
_CONTROL = {c: 0xE000 + c for c in (*range(1, 9), 11, 12, *range(14, 32))}
_CONTROL_BACK = {v: k for k, v in _CONTROL.items()}


def parse(body: bytes) -> ET.Element:
    if not body:
        raise IrodsError(-14000, "missing request body")  # SYS_API_INPUT_ERR
    raw = body.replace(b"\0", b"")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as first:
        try:
            root = ET.fromstring(raw.decode("utf-8").translate(_CONTROL))
        except (ET.ParseError, UnicodeDecodeError):
            raise IrodsError(-14000, f"unparseable request body: {first}") from first
    for element in root.iter():
        if element.text:
            element.text = element.text.translate(_CONTROL_BACK)
    return root


def unpack(cls: Any, body: bytes) -> Any:
    """Unpack ``body`` into a fresh PRC message of class ``cls``."""
    msg = cls()
    msg.unpack(parse(body))
    return msg


def text(root: ET.Element, name: str) -> str:
    el = root.find(name)
    return (el.text or "") if el is not None else ""


def read_json(body: bytes) -> dict[str, Any]:
    """JSON from BinBytesBuf_PI (base64), BytesBuf_PI (text) or STR_PI, minus NULs."""
    root = parse(body)
    if root.tag == "STR_PI":
        raw = text(root, "myStr")
    elif root.tag == "BinBytesBuf_PI":
        raw = base64.b64decode(text(root, "buf")).replace(b"\0", b"").decode("utf-8")
    else:
        raw = text(root, "buf")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise IrodsError(-14000, f"request is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise IrodsError(-14000, "request JSON is not an object")
    return value


def json_body(value: Any, binary: bool) -> Any:
    """A JSON reply framed as a real server of the persona frames it (§1)."""
    raw = json.dumps(value)
    if binary:
        return BinBytesBuf(buflen=len(raw.encode()), buf=raw.encode())
    return BytesBuf(raw)


class GenQueryOut:
    """``GenQueryOut_PI`` packed straight to text: the same XML as PRC's ``GenQueryResponse``
    (tests/sandbox/test_irods_wire.py compares them), without its per-value property objects,
    which cost more than the query on pages of AVU rows."""

    def __init__(
        self, columns: list[int], rows: list[tuple[str, ...]], continue_inx: int, total: int
    ) -> None:
        self.columns, self.rows = columns, rows
        self.continue_inx, self.total = continue_inx, total

    def pack(self) -> str:
        parts = [
            f"<GenQueryOut_PI><rowCnt>{len(self.rows)}</rowCnt>"
            f"<attriCnt>{len(self.columns)}</attriCnt>"
            f"<continueInx>{self.continue_inx}</continueInx>"
            f"<totalRowCount>{self.total}</totalRowCount>"
        ]
        for i, col in enumerate(self.columns):
            values = [r[i] for r in self.rows]
            reslen = max([len(v) for v in values] + [0]) + 1
            parts.append(f"<SqlResult_PI><attriInx>{col}</attriInx><reslen>{reslen}</reslen>")
            parts.extend(f"<value>{html.escape(v, quote=False)}</value>" for v in values)
            parts.append("</SqlResult_PI>")
        parts.append("</GenQueryOut_PI>")
        return "".join(parts)

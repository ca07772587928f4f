"""Native authentication, both flows (irods-protocol.md §4), checked against stored passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from typing import Any

from cyverse_link.sandbox.irods.catalog import ANONYMOUS, Catalog
from cyverse_link.sandbox.irods.protocol import IrodsError

MAX_PASSWORD_LENGTH = 50
CAT_INVALID_AUTHENTICATION = -826000
CAT_INVALID_USER = -827000


def new_challenge() -> str:
    """64 lowercase hex characters from 32 random bytes, as irods/irods generates them."""
    return secrets.token_hex(32)


def digest(challenge: bytes, password: str) -> bytes:
    """MD5(challenge ‖ password NUL-padded to 50 bytes), with 0x00 bytes turned into 0x01."""
    padded = struct.pack(f"{MAX_PASSWORD_LENGTH}s", password.encode("utf-8").strip())
    raw = hashlib.md5(challenge + padded).digest()
    return raw.replace(b"\0", b"\1")


def check(cat: Catalog, user_name: str, challenge: bytes, response: bytes) -> str:
    """The authenticated user name, or IrodsError −827000 (unknown) / −826000 (bad password)."""
    name = user_name.split("#", 1)[0]
    user = cat.users.get(name)
    if user is None or user.type == "rodsgroup":
        raise IrodsError(CAT_INVALID_USER, f"user {name!r} does not exist")
    if not user.password:
        # A user without a password has no R_USER_PASSWORD row: CAT_INVALID_USER, except
        # anonymous, whose check is skipped (what davrods relies on). irods/irods 4.3.1 and
        # 4.2.8 plugins/database/src/db_plugin.cpp, ``db_check_auth_op``.
        if name == ANONYMOUS:
            return name
        raise IrodsError(CAT_INVALID_USER, f"user {name!r} has no password")
    if not hmac.compare_digest(digest(challenge, user.password), response[:16]):
        raise IrodsError(CAT_INVALID_AUTHENTICATION, "authentication failed")
    return name


class PluginFlow:
    """Server side of the 4.3 ``native`` plugin over API 110000 (two JSON round trips)."""

    def __init__(self) -> None:
        self.challenge: str | None = None

    def step(self, cat: Catalog, request: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Answer one request; the second element is the user once authenticated."""
        op = request.get("next_operation")
        if request.get("scheme", "native") != "native":
            raise IrodsError(-130000, f"auth scheme {request.get('scheme')!r} is not offered")
        if op == "auth_agent_auth_request":
            for key in ("user_name", "zone_name"):
                if key not in request:
                    raise IrodsError(-130000, f"missing {key}")
            self.challenge = new_challenge()
            return {**request, "request_result": self.challenge}, None
        if op == "auth_agent_auth_response":
            if self.challenge is None:
                raise IrodsError(-130000, "auth response without a request")
            try:
                response = base64.b64decode(str(request.get("digest", "")))
            except ValueError as exc:
                raise IrodsError(CAT_INVALID_AUTHENTICATION, "unreadable digest") from exc
            challenge, self.challenge = self.challenge.encode("utf-8"), None
            user = check(cat, str(request.get("user_name", "")), challenge, response)
            return dict(request), user
        raise IrodsError(-130000, f"unknown next_operation {op!r}")  # SYS_INVALID_INPUT_PARAM

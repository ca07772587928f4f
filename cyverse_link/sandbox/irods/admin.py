"""User administration (701 GENERAL_ADMIN) and DATA_OBJ_CREATE (601), as python-irodsclient's
``session.users`` and ``session.data_objects.create`` send them.

Follows irods/irods 4.3.1 ``server/api/src/rsGeneralAdmin.cpp`` (``add``/``modify``/``rm``
``user``), ``server/core/src/administration_utilities.cpp`` (``create_user``),
``packaging/core.re.template`` (``acCreateUser``: home and trash collections and the group
``public``, neither for ``anonymous``), ``plugins/database/src/db_plugin.cpp`` (``decodePw``,
``db_del_user_re_op``) and ``server/api/src/rsDataObjCreate.cpp`` (4.3.1 and 4.2.8).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from irods.message import FileOpenRequest, GeneralAdminRequest
from irods.password_obfuscation import unscramble
from irods.password_obfuscation import v2_prefix as V2_PREFIX

from cyverse_link.sandbox.irods import handlers
from cyverse_link.sandbox.irods.catalog import Catalog, normalize
from cyverse_link.sandbox.irods.protocol import IrodsError, Packet, unpack

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.agent import Agent, Reply

USER_TYPES = ("rodsuser", "rodsadmin", "groupadmin", "rodsgroup")
CAT_INSUFFICIENT_PRIVILEGE_LEVEL = -830000
CAT_INVALID_USER = -827000
CAT_COLLECTION_NOT_EMPTY = -821000
CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME = -809000
CAT_PASSWORD_ENCODING_ERROR = -850000
SYS_NOT_SUPPORTED = -66000
CAT_INVALID_USER_TYPE = -820000
USER_INVALID_USERNAME_FORMAT = -319000
# decodePw (db_plugin.cpp): the padding that clients append, "must match clients".
PASSWORD_PADDING = "1gCBizHWbwIYyWLo"
MAX_PASSWORD_LEN = 50
O_RDWR, O_CREAT, O_TRUNC = 2, 64, 512


def _reply(int_info: int = 0) -> Reply:
    from cyverse_link.sandbox.irods.agent import Reply

    return Reply(int_info)


def decode_password(obfuscated: str, key_password: str, signature: str) -> str:
    """``obfDecodeByKeyV2`` + ``decodePw``: the key is the admin's password and the session
    signature (hex of the first 16 challenge bytes); a random character and ``.ObfV2`` lead."""
    key = (key_password[:90] + signature[:100]).ljust(100, "\0")
    hashed = hashlib.md5(key.encode("utf-8")).hexdigest()
    plain: str = unscramble(obfuscated, key=hashed, scramble_prefix="", block_chaining=True)
    plain = plain[len(V2_PREFIX) :]
    cut = plain.find(PASSWORD_PADDING)
    if cut >= 0:
        plain = plain[:cut]
    elif len(plain) > MAX_PASSWORD_LEN - 5:
        raise IrodsError(CAT_PASSWORD_ENCODING_ERROR, "Error with password encoding")
    return plain


def general_admin(agent: Agent, packet: Packet) -> Reply:
    req = unpack(GeneralAdminRequest, packet.body)
    args = [getattr(req, f"arg{i}") or "" for i in range(10)]
    cat, user = agent.server.catalog, agent.user or ""
    if not cat.is_admin(user):
        raise IrodsError(CAT_INSUFFICIENT_PRIVILEGE_LEVEL, "general admin needs a rodsadmin")
    action, kind = args[0], args[1]
    with cat.lock:
        if (action, kind) == ("add", "user"):
            _add_user(cat, args[2], args[3], args[4])
        elif (action, kind) == ("modify", "user"):
            _modify_user(agent, cat, args[2], args[3], args[4])
        elif (action, kind) == ("rm", "user"):
            _remove_user(cat, args[2])
        elif (action, kind) == ("rm", "unusedAVUs"):
            pass  # chlDelUnusedAVUs; the sandbox keeps AVUs on their entities, none is unused
        else:
            raise IrodsError(SYS_NOT_SUPPORTED, f"the sandbox does not do iadmin {action} {kind}")
        cat.dirty = True
    return _reply()


def _local_name(cat: Catalog, name: str, zone: str = "") -> str:
    base, _, in_name = name.partition("#")
    for z in (in_name, zone):
        if z and z != cat.zone:
            raise IrodsError(SYS_NOT_SUPPORTED, "the sandbox has no remote zones")
    if not base:
        raise IrodsError(USER_INVALID_USERNAME_FORMAT, "empty user name")
    return base


def _add_user(cat: Catalog, name: str, type_: str, zone: str) -> None:
    if type_ not in USER_TYPES:
        raise IrodsError(CAT_INVALID_USER_TYPE, f"invalid user type {type_!r}")
    local = _local_name(cat, name, zone)
    if local in cat.users:
        raise IrodsError(CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME, f"user {local} exists")
    cat.add_user(local, "", type_)


def _modify_user(agent: Agent, cat: Catalog, name: str, option: str, value: str) -> None:
    local = _local_name(cat, name)
    target = cat.users.get(local)
    if target is None:
        raise IrodsError(CAT_INVALID_USER, f"user {local} does not exist")
    if option == "password":
        if target.type == "rodsgroup":
            raise IrodsError(CAT_INVALID_USER_TYPE, "groups have no password")
        admin = cat.users[agent.user or ""]
        target.password = decode_password(value, admin.password, agent.signature)
    elif option == "type":
        if value not in USER_TYPES or (value == "rodsgroup") != (target.type == "rodsgroup"):
            raise IrodsError(CAT_INVALID_USER_TYPE, f"invalid user type {value!r}")
        target.type = value
    else:
        raise IrodsError(SYS_NOT_SUPPORTED, f"the sandbox does not modify a user's {option}")


def _remove_user(cat: Catalog, name: str) -> None:
    local = _local_name(cat, name)
    if local not in cat.users:
        raise IrodsError(CAT_INVALID_USER, f"user {local} does not exist")
    homes = [f"/{cat.zone}/home/{local}", f"/{cat.zone}/trash/home/{local}"]
    # acDeleteDefaultCollections → msiDeleteCollByAdmin refuses a non-empty collection.
    for home in homes:
        if home in cat.colls and cat.children(home):
            raise IrodsError(CAT_COLLECTION_NOT_EMPTY, f"{home} is not empty")
    for home in homes:
        cat.colls.pop(home, None)
    del cat.users[local]
    # db_del_user_re_op deletes the user's R_OBJT_ACCESS and R_USER_GROUP rows too.
    for entry in [*cat.colls.values(), *cat.objs.values()]:
        entry.acl.pop(local, None)
    for other in cat.users.values():
        if local in other.groups:
            other.groups.remove(local)


# ---- DATA_OBJ_CREATE ----------------------------------------------------------------------------
def create_obj(agent: Agent, packet: Packet) -> Reply:
    """``rsDataObjCreate``: 4.3.1 opens with O_CREAT|O_RDWR|O_TRUNC; 4.2.8 refuses an existing
    object without ``forceFlag`` (OVERWRITE_WITHOUT_FORCE_FLAG) and otherwise truncates it."""
    req = unpack(FileOpenRequest, packet.body)
    path = normalize(req.objPath or "")
    cat = agent.server.catalog
    opts = handlers.keywords(req)
    if agent.persona < (4, 3, 0) and path in cat.objs and "forceFlag" not in opts:
        raise IrodsError(-312000, f"{path} exists")  # OVERWRITE_WITHOUT_FORCE_FLAG
    req.openFlags = (req.openFlags or 0) | O_CREAT | O_RDWR | O_TRUNC
    body = req.pack().encode("utf-8")
    reopened = Packet(packet.msg_type, body, packet.error, packet.bs, packet.int_info)
    return handlers.open_obj(agent, reopened)

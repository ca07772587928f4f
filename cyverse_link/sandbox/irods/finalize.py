"""Checksums of a written data object, at open and at close, the way a real server does them.

Sources followed (irods/irods at the tags named):

* **Open: `regChksum` wins.** With both `regChksum` and `verifyChksum` in the open's keywords,
  the descriptor gets REG_CHKSUM and the `regChksum` value; `verifyChksum` is then ignored
  (4.3.1 `server/core/src/objDesc.cpp`, `populate_L1desc_with_inp` ~826-833; 4.2.8 same file,
  `fillL1desc` ~202-210). The close's own keywords do not change the flag.
* **Close, 4.3.x** (`server/api/src/rsDataObjClose.cpp`): a write clears the catalog checksum
  (`close_replica` ~596-600); then `perform_checksum_operation_for_finalize` ~181-261 (and the
  PUT_OPR branch of `update_replica_checksum_and_throw_on_failure` ~479-499, same outcome):
  REG hashes the stored bytes and registers the hash, no comparison (`register_new_checksum`);
  VERIFY with a value hashes, compares and throws USER_CHKSUM_MISMATCH on a difference
  (`server/core/src/finalize_utilities.cpp`, `verify_checksum` ~106-134), after which the replica
  is left stale (~509-515); VERIFY with an empty value, or no flag, registers no checksum.
* **Close, 4.2.8** (`server/api/src/rsDataObjClose.cpp`): writing to an object that already had a
  checksum turns the flag into REG_CHKSUM whatever the client asked (`_rsDataObjClose` ~447-453);
  then `procChksumForClose` ~869-1016: VERIFY with a value compares (~877-899) and registers
  nothing on a mismatch; REG hashes and registers, **except** that when its value equals the old
  catalog checksum the old checksum is kept and the new hash is dropped (~979-997).

So `regChksum` + `verifyChksum` never compares, and on 4.2.8 neither does `verifyChksum` alone
when the object is overwritten: the client (`datastore/irods.py`) chooses its keywords for that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cyverse_link.sandbox.irods.protocol import IrodsError

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.agent import Agent
    from cyverse_link.sandbox.irods.handlers import Descriptor

# chksumFlag values (4.3.1 server/core/include/irods/objDesc.hpp ~23-24)
NO_CHKSUM, REG_CHKSUM, VERIFY_CHKSUM = 0, 1, 2
USER_CHKSUM_MISMATCH = -314000


def open_flag(options: dict[str, str]) -> tuple[int, str]:
    """The descriptor's checksum flag and value from the open's keywords (objDesc.cpp)."""
    if "regChksum" in options:
        return REG_CHKSUM, options["regChksum"]
    if "verifyChksum" in options:
        return VERIFY_CHKSUM, options["verifyChksum"]
    return NO_CHKSUM, ""


def damage_in_transit(agent: Agent, desc: Descriptor) -> None:
    """The ``damage_upload``/``damage_every`` faults: flip one stored byte before the close
    hashes anything, as a bit flipped on the wire or on disk would."""
    store = agent.server.catalog.store
    blob = desc.replica.blob
    size = store.size(blob)
    if size == 0 or not agent.server.faults.take_damage(desc.obj.path):
        return
    middle = size // 2
    byte = store.read(blob, middle, 1)
    store.write(blob, middle, bytes([byte[0] ^ 0x5A]))


def finalize_checksum(agent: Agent, desc: Descriptor, compute: Callable[[], str]) -> None:
    """Set the replica's checksum and status for a finalizing close; raise -314000 on a
    verified mismatch. ``compute`` hashes the stored bytes (the server's ``_dataObjChksum``),
    called only where the server hashes. Call with the catalog lock held."""
    rep = desc.replica
    flag, value = desc.chksum_flag, desc.chksum
    if agent.persona < (4, 3, 0):
        if desc.old_checksum:
            flag = REG_CHKSUM  # 4.2.8 rsDataObjClose.cpp ~447-453
        if flag == REG_CHKSUM:
            keep_old = bool(value) and value == desc.old_checksum  # ~979-997
            rep.checksum, rep.status = compute(), "1"
            if keep_old:
                rep.checksum = desc.old_checksum
            return
    else:
        rep.checksum = ""  # 4.3.1 close_replica ~596-600
        if flag == REG_CHKSUM:
            rep.checksum, rep.status = compute(), "1"
            return
    if flag == VERIFY_CHKSUM and value:
        computed = compute()
        if value != computed:
            rep.checksum, rep.status = "", "0"
            raise IrodsError(
                USER_CHKSUM_MISMATCH, f"checksum mismatch: computed {computed}, given {value}"
            )
        rep.checksum, rep.status = computed, "1"
        return
    # no flag, or an empty verifyChksum: no checksum now (CyVerse's delayed rule adds it later)
    rep.checksum, rep.status = "", "1"

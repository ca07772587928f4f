"""``python -m cyverse_link.sandbox.irods``: run a sandbox iRODS server until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from cyverse_link.sandbox.irods.server import PERSONAS, SandboxIrods


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback iRODS server for manual testing.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--zone", default="iplant")
    parser.add_argument("--persona", choices=PERSONAS, default="4.3.1")
    parser.add_argument("--user", action="append", default=[], help="repeatable")
    parser.add_argument("--password", action="append", default=[], help="one per --user")
    parser.add_argument("--shared", action="append", default=[], help="folder:owner, repeatable")
    parser.add_argument("--data-dir", type=Path, default=None, help="persist here")
    parser.add_argument(
        "--stock-rules",
        action="store_true",
        help="a stock server: no CyVerse rules (no ipc_UUID, no rodsadmin grants, no anonymous)",
    )
    args = parser.parse_args(argv)
    if len(args.password) != len(args.user):
        parser.error("give one --password per --user")
    srv = SandboxIrods(
        persona=args.persona,
        zone=args.zone,
        users=dict(zip(args.user, args.password, strict=True)),
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        cyverse_rules=not args.stock_rules,
    )
    for spec in args.shared:
        folder, _, owner = spec.partition(":")
        srv.make_shared_folder(folder, owner=owner)
    srv.start()
    print(srv.host, srv.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

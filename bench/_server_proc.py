"""A sandbox iRODS server in its own process, driven over stdin, so the benchmarked client does
not share its interpreter (and GIL) with the server -- as with a real, remote Data Store.

Prints ``<host> <port>`` once listening; then reads commands, one per line, and answers each with
one JSON line: ``stats`` (connections and per-API request counts), ``delay <seconds>``
(``faults.reply_delay``), ``count <collection>`` (data objects under it), ``quit``.
"""

from __future__ import annotations

import json
import sys

from cyverse_link.sandbox.irods import SandboxIrods


def main() -> None:
    user, password, folder = sys.argv[1:4]
    srv = SandboxIrods("4.3.1", zone="iplant", users={user: password})
    srv.make_shared_folder(folder, user)
    srv.start()
    print(srv.host, srv.port, flush=True)
    try:
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "stats":
                snap = srv.stats.snapshot()
                answer: object = {
                    "requests": snap.total_requests,
                    "by_api": snap.requests,
                    "connections_opened": snap.connections_opened,
                    "peak_connections": snap.peak_connections,
                }
            elif cmd == "delay":
                srv.faults.reply_delay = float(arg)
                answer = "ok"
            elif cmd == "count":
                answer = len(srv.data_objects(arg))
            elif cmd == "quit":
                break
            else:
                answer = f"unknown command {cmd!r}"
            print(json.dumps(answer), flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()

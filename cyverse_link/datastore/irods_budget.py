"""The connection budget of one ``IrodsStore``: ``irods.threads`` connections for the whole run.

CyVerse's proxy rejects an address's 11th concurrent connection (cyverse-datastore.md §7), and
python-irodsclient's parallel transfer opens one connection per extra stream. So each worker
session counts one connection, and a large upload may borrow extra streams only from what no
session holds; a session being opened waits while borrowed streams would push the total over.
"""

from __future__ import annotations

import os
import threading


class ConnectionBudget:
    """``total`` connections shared by sessions (one each, for good) and borrowed streams."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._cond = threading.Condition()
        self._sessions = 0  # opened or being opened
        self._borrowed = 0

    def open_session(self) -> None:
        """Count a session about to connect; waits while borrowed streams fill the budget."""
        with self._cond:
            while self._borrowed and self._sessions + self._borrowed >= self.total:
                self._cond.wait()
            self._sessions += 1

    def session_closed(self, count: int = 1) -> None:
        with self._cond:
            self._sessions = max(0, self._sessions - count)
            self._cond.notify_all()

    def borrow(self, wanted: int) -> int:
        """Up to ``wanted`` extra connections, never beyond the budget nor beyond the streams
        python-irodsclient would use (it caps them at the CPU count, ``irods/parallel.py``
        ``io_main``). Returns how many were lent (0: go single stream)."""
        cap = max(0, (os.cpu_count() or 1) - 1)
        with self._cond:
            lent = max(0, min(wanted, cap, self.total - self._sessions - self._borrowed))
            self._borrowed += lent
            return lent

    def give_back(self, count: int) -> None:
        if count:
            with self._cond:
                self._borrowed -= count
                self._cond.notify_all()

    @property
    def in_use(self) -> int:
        with self._cond:
            return self._sessions + self._borrowed

"""Fault switches and counters shared by all agents of one sandbox server (thread-safe)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


class Faults:
    """Switches tests flip at any time; each takes effect for the next request or connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drops: list[int] = []  # write-request numbers (counted from 1) that reset
        self._writes = 0
        self._corrupt: Counter[str] = Counter()
        self._max_connections: int | None = None
        self._reply_delay = 0.0
        self._damage: Counter[str] = Counter()
        self._damage_every = 0  # flip a byte of every Nth upload (0: off)
        self._uploads = 0  # finalized uploads counted for ``damage_every``
        self.damaged: list[str] = []  # paths whose stored bytes a fault changed, in order

    def drop_during_write(self, n: int = 1) -> None:
        """Reset the connection (SO_LINGER 0) when the ``n``th write request (API 676) arrives,
        counted from now, or from the last drop still pending: two calls with 1 drop the next
        two writes. The data of that request is not stored."""
        if n < 1:
            raise ValueError("n counts write requests from 1")
        with self._lock:
            start = self._drops[-1] if self._drops else self._writes
            self._drops.append(start + n)

    def take_write_drop(self) -> bool:
        with self._lock:
            self._writes += 1
            if self._drops and self._drops[0] <= self._writes:
                self._drops.pop(0)
                return True
            return False

    @property
    def pending_drops(self) -> int:
        with self._lock:
            return len(self._drops)

    def corrupt_checksum(self, path: str) -> None:
        """The next checksum stored for ``path`` (at close or by API 629) is wrong."""
        with self._lock:
            self._corrupt[path] += 1

    def take_corrupt(self, path: str) -> bool:
        with self._lock:
            if self._corrupt[path] <= 0:
                return False
            self._corrupt[path] -= 1
            return True

    def damage_upload(self, path: str, times: int = 1) -> None:
        """Flip one stored byte of each of the next ``times`` uploads of ``path``, after the
        last write and before the server closes (and hashes) it: the bytes a network or disk
        fault damages in transit. The checksum the server computes is then that of the
        damaged bytes, as on a real server."""
        with self._lock:
            self._damage[path] += times

    def damage_every(self, n: int) -> None:
        """Flip one stored byte of every ``n``th upload from now on (any path; 0 stops)."""
        with self._lock:
            self._damage_every, self._uploads = max(0, n), 0

    def take_damage(self, path: str) -> bool:
        """Called once per finalized upload: whether to damage this one."""
        with self._lock:
            self._uploads += 1
            hit = bool(self._damage_every) and self._uploads % self._damage_every == 0
            if self._damage[path] > 0:
                self._damage[path] -= 1
                hit = True
            if hit:
                self.damaged.append(path)
            return hit

    @property
    def max_connections(self) -> int | None:
        """Connections beyond this many concurrent ones are closed at once (CyVerse HAProxy)."""
        with self._lock:
            return self._max_connections

    @max_connections.setter
    def max_connections(self, value: int | None) -> None:
        with self._lock:
            self._max_connections = value

    @property
    def reply_delay(self) -> float:
        """Seconds to wait before every reply."""
        with self._lock:
            return self._reply_delay

    @reply_delay.setter
    def reply_delay(self, value: float) -> None:
        with self._lock:
            self._reply_delay = max(0.0, float(value))

    def clear(self) -> None:
        with self._lock:
            self._drops.clear()
            self._corrupt.clear()
            self._damage.clear()
            self._damage_every = self._uploads = 0
            self._max_connections, self._reply_delay = None, 0.0


@dataclass(frozen=True)
class StatsSnapshot:
    connections_opened: int
    connections_refused: int
    current_connections: int
    peak_connections: int
    requests: dict[int, int]
    errors: dict[int, int]  # error code → how many replies carried it

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class Stats:
    """Connection and per-API request counters (tests and benchmarks count round trips)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._opened = self._refused = self._peak = 0
            self._current = 0
            self._requests: Counter[int] = Counter()
            self._errors: Counter[int] = Counter()

    def try_open(self, limit: int | None) -> bool:
        with self._lock:
            if limit is not None and self._current >= limit:
                self._refused += 1
                return False
            self._opened += 1
            self._current += 1
            self._peak = max(self._peak, self._current)
            return True

    def closed(self) -> None:
        with self._lock:
            self._current -= 1

    def count_request(self, api: int) -> None:
        with self._lock:
            self._requests[api] += 1

    def count_error(self, code: int) -> None:
        with self._lock:
            self._errors[code] += 1

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                self._opened,
                self._refused,
                self._current,
                self._peak,
                dict(self._requests),
                dict(self._errors),
            )

    @property
    def connections_opened(self) -> int:
        return self.snapshot().connections_opened

    @property
    def current_connections(self) -> int:
        return self.snapshot().current_connections

    @property
    def peak_connections(self) -> int:
        return self.snapshot().peak_connections

    @property
    def connections_refused(self) -> int:
        return self.snapshot().connections_refused

    @property
    def requests(self) -> dict[int, int]:
        return self.snapshot().requests

    @property
    def errors(self) -> dict[int, int]:
        return self.snapshot().errors

"""``Backoff``: how a client tries a request again (the BisQue and Symbiota API clients, both
data stores). A plain value; each client keeps its own default (``BISQUE_RETRY``,
``API_RETRY``, ``IrodsStore``'s from ``irods.retries``, ``MemoryStore``'s)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Up to ``retries`` re-sends after the first attempt. Before re-send ``n`` (1 for the
    first) the client pauses ``base_delay * 2 ** (n - 1)`` seconds, never more than
    ``max_wait`` at once (BisQue also caps a server's Retry-After with it). ``sleep`` does the
    pausing; tests pass one that does not wait."""

    retries: int
    base_delay: float
    max_wait: float = math.inf
    sleep: Callable[[float], None] = time.sleep

    def delay(self, resend: int) -> float:
        """Seconds to pause before re-send ``resend`` (1 for the first)."""
        factor: int = 2 ** (resend - 1)
        return min(self.base_delay * factor, self.max_wait)

    def pause(self, resend: int) -> None:
        """Pause before re-send ``resend`` (1 for the first)."""
        self.sleep(self.delay(resend))

"""One run's ledger writes: what the stages hand in, serialised, optionally buffered per batch.

``sync``'s workers and its main thread share one ``Journal``: every write takes one lock, so
the ledger sees one writer at a time. ``link`` buffers (``buffered=True``) and commits once per
batch of objects: a commit per object would dominate a run over tens of thousands, and a lost
buffer costs nothing (the portal writer is idempotent on sourceIdentifier). A finished stage
before mapping is told to the event handler (``STAGE_DONE``), as the progress display wants.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from cyverse_link.core.events import Event, EventHandler, EventKind, ignore
from cyverse_link.core.models import Stage, Status
from cyverse_link.ledger.store import Ledger

Transition = tuple[str, Stage, Status, Mapping[str, Any]]  # rel_path, stage, status, fields


class Journal:
    def __init__(
        self, ledger: Ledger, *, on_event: EventHandler = ignore, buffered: bool = False
    ) -> None:
        self.ledger = ledger
        self.emit = on_event
        self.buffered = buffered
        self._buffer: list[Transition] = []
        self._lock = threading.Lock()

    def advance(self, rel_path: str, stage: Stage, status: Status, **fields: Any) -> None:
        self.advance_many([(rel_path, stage, status, fields)])

    def advance_many(self, transitions: Iterable[Transition]) -> None:
        """Several transitions in one committed transaction (one file's worker stages, one
        batch's rows), or into the buffer."""
        items = list(transitions)
        with self._lock:
            if self.buffered:
                self._buffer.extend(items)
            else:
                self.ledger.advance_many(items)
        for rel_path, stage, status, _ in items:
            if status is Status.DONE and stage < Stage.MAPPED:
                self.emit(Event(EventKind.STAGE_DONE, rel_path, stage))

    def fail(self, rel_path: str, stage: Stage, error: str, **fields: Any) -> None:
        with self._lock:
            self._commit()  # keep the order of this file's transitions
            self.ledger.fail(rel_path, stage, error, **fields)

    def commit(self) -> None:
        """Write what is buffered (one transaction)."""
        with self._lock:
            self._commit()

    def _commit(self) -> None:
        if self._buffer:
            buffer, self._buffer = self._buffer, []
            self.ledger.advance_many(buffer)

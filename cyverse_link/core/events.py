"""What the pipeline tells its caller while it runs. The library counts, the CLI draws."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from cyverse_link.core.models import Counts, Stage


class EventKind(enum.StrEnum):
    STARTED = "started"  # message: what runs; total: None (streaming)
    DISCOVERED = "discovered"  # one file found (rel_path)
    UNCHANGED = "unchanged"  # skipped without opening: the ledger says done
    STAGE_DONE = "stage_done"  # rel_path reached ``stage``
    FAILED = "failed"  # rel_path failed at ``stage`` (message: why)
    UNMAPPED = "unmapped"  # uploaded and public but not linked (message: unmatched/ambiguous)
    RETRY = "retry"  # a retryable error; trying again (message)
    INFO = "info"  # a run-level fact (server version, public tree)
    FINISHED = "finished"  # counts: the run's totals


@dataclass(frozen=True)
class Event:
    kind: EventKind
    rel_path: str | None = None
    stage: Stage | None = None
    message: str | None = None
    counts: Counts | None = None  # FINISHED: the run's counts (a snapshot)


EventHandler = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default handler: the library never prints."""

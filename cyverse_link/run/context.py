"""One run's collaborators, built once from ``Settings`` and handed down.

``open_run`` takes the run lock (one run per config, whatever the command), builds the adapters
the command needs (passwords are resolved then, so a missing one is a config error before any
state is made), opens the ledger, and reads the mapping CSV and compiles the identifier rules
once. ``RunContext.recording`` then starts the ledger's run row and the streamed report; a run
that a service stops (``CyverseLinkError``, exit 3) is finished there as failed, with the reason
in the report and the run row. Everything built is closed again, last built first; adapters the
caller gave (tests, ``demo``) are the caller's to close.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import CyverseLinkError
from cyverse_link.core.identifiers import IdentifierParser, load_mapping_csv
from cyverse_link.core.models import Counts
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.lock import RunLock, lock_path
from cyverse_link.run.report import ReportWriter, RunReport, finish_failed

if TYPE_CHECKING:  # the adapters' modules load only when a run builds them (see _build)
    from cyverse_link.portal.base import Portal
    from cyverse_link.publish.base import UrlProvider
    from cyverse_link.publish.bisque import BisqueClient

T = TypeVar("T")


class LedgerUse(Enum):
    CREATE = "create"  # made and migrated if need be (a run that records)
    EXISTING = "existing"  # only if there is one, never created (``plan``, dry runs)
    NONE = "none"


@dataclass(frozen=True)
class Adapters:
    """The services of a run: handed in (tests, ``demo``), or built from ``Settings``."""

    store: Any = None  # DataStore (and PublicLinker): IrodsStore, MemoryStore
    portal: Portal | None = None
    provider: UrlProvider | None = None
    bisque: BisqueClient | None = None  # relink asks a BisQue server that still answers


class RunContext:
    """What one run shares. Components take the pieces they need from it, not ``Settings``."""

    def __init__(
        self,
        settings: Settings,
        adapters: Adapters,
        *,
        parser: IdentifierParser,
        ledger: Ledger | None,
    ) -> None:
        self.settings = settings
        self.adapters = adapters
        self.parser = parser  # the identifier rules and the mapping CSV, read once per run
        self.ledger = ledger
        self.counts = Counts()
        self.report: ReportWriter | None = None  # while ``recording``
        self.run_id: int | None = None
        self._finished = False

    @property
    def store(self) -> Any:
        return _needed(self.adapters.store, "store")

    @property
    def portal(self) -> Portal:
        return _needed(self.adapters.portal, "portal")

    @property
    def provider(self) -> UrlProvider:
        return _needed(self.adapters.provider, "provider")

    @contextmanager
    def recording(self, command: str, *, dry_run: bool = False) -> Iterator[ReportWriter]:
        """The run's report (and, when it writes, its ledger run row) for the ``with`` body;
        the body ends with ``finish``. A ``CyverseLinkError`` out of the body finishes both
        as failed, says where the report is, and propagates."""
        ledger = self.ledger if not dry_run else None
        self.run_id = ledger.start_run(command) if ledger is not None else None
        self._finished = False
        with ReportWriter(self.settings.state.report_dir, command, dry_run=dry_run) as writer:
            self.report = writer
            try:
                yield writer
            except CyverseLinkError as exc:  # a service went away (exit 3): say so
                if not self._finished:
                    finish_failed(writer, self.counts, exc, self._failed_row())
                raise
            finally:
                self.report = None

    def finish(self, *, confirm_catalogs: bool = False) -> RunReport:
        """The report's last line and the run row. ``confirm_catalogs``: the catalog numbers
        the ledger holds are checked against this run's rules, so ``plan`` may reuse them."""
        assert self.report is not None, "finish() belongs inside recording()"
        report = self.report.finish(self.counts)
        self._finished = True
        if self.run_id is not None and self.ledger is not None:
            if confirm_catalogs:
                self.ledger.confirm_catalogs(self.parser.fingerprint, self.parser)
            self.ledger.finish_run(self.run_id, self.counts, report.path)
        return report

    def _failed_row(self) -> Callable[[Path | None, str], None] | None:
        ledger, run_id = self.ledger, self.run_id
        if ledger is None or run_id is None:
            return None
        return lambda path, reason: ledger.finish_run(run_id, self.counts, path, error=reason)


@contextmanager
def open_run(
    settings: Settings,
    *,
    given: Adapters = Adapters(),
    build: Collection[str] = (),
    ledger: LedgerUse = LedgerUse.CREATE,
    lock: bool = True,
    mapping: bool = True,
) -> Iterator[RunContext]:
    """A ``RunContext`` for one run. ``build`` names the adapters to make from ``settings``
    when not ``given`` (``store``, ``portal``, ``provider``; ``bisque`` only when
    ``bisque.url`` is set), in that order. ``lock``: hold the run lock (every run that
    writes). ``mapping``: identify with ``identifiers.mapping_csv`` too (relink does not)."""
    with ExitStack() as opened:  # what this run built, it closes (last opened first)
        if lock:
            opened.enter_context(RunLock(lock_path(settings)))
        made = _build(settings, given, build, opened)
        book: Ledger | None = None
        if ledger is LedgerUse.CREATE:
            book = Ledger(settings.state.db_url)
        elif ledger is LedgerUse.EXISTING:
            book = Ledger.open_existing(settings.state.db_url)
        if book is not None:
            opened.callback(book.close)
        rules = settings.identifiers
        table = load_mapping_csv(rules.mapping_csv) if mapping and rules.mapping_csv else None
        yield RunContext(settings, made, parser=IdentifierParser(rules, table), ledger=book)


def _build(
    settings: Settings, given: Adapters, build: Collection[str], opened: ExitStack
) -> Adapters:
    store, portal, provider, bisque = given.store, given.portal, given.provider, given.bisque
    if not build:
        return given
    from cyverse_link.run import wiring  # python-irodsclient, requests: only when needed

    if store is None and "store" in build:
        store = wiring.closing(opened, wiring.build_store(settings))
    if portal is None and "portal" in build:
        portal = wiring.closing(opened, wiring.build_portal(settings))
    if provider is None and "provider" in build:
        provider = wiring.closing(opened, wiring.build_provider(settings))
    if bisque is None and "bisque" in build and settings.bisque.url:
        bisque = wiring.closing(opened, wiring.build_bisque_client(settings))
    return Adapters(store, portal, provider, bisque)


def _needed(adapter: T | None, name: str) -> T:
    if adapter is None:
        raise AssertionError(f"this run was opened without a {name}")
    return adapter

"""One file's remote work: derive → upload (verified) → publish → URL. Runs in worker threads.

Ledger writes (serialised by the caller) are grouped per file into two transactions: the target
path (with the main thread's "identified") is committed *before* anything is written to iRODS,
so a partial object there is known to be ours; the finished stages (uploaded, published,
registered) are committed together once the file is through or has failed. A run killed in
between resumes that file at "derived": the existing object is then found verified (same MD5)
and is not sent again. A file whose original is already verified in iRODS resumes at publish
or URL; derivatives are re-made only when an upload is still due.

Whether a target name is taken is read from one listing per iRODS folder per run (a paged
GenQuery, ``DataStore.list_children``), not from a look-up per file.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from cyverse_link.config.settings import DerivativeSettings, Settings
from cyverse_link.core.errors import CyverseLinkError, NotFound, ServiceUnavailable
from cyverse_link.core.events import Event, EventHandler, EventKind
from cyverse_link.core.models import MediaUrls, Stage, Status, Written
from cyverse_link.core.naming import MAX_IRODS_PATH, Rendition, derivative_path, versioned_path
from cyverse_link.datastore.base import DataStore
from cyverse_link.dropfolder.derivatives import make_derivatives
from cyverse_link.ledger.journal import Journal, Transition
from cyverse_link.publish.base import UrlProvider

T = TypeVar("T")


@dataclass(frozen=True)
class TransferRules:
    """What the remote stages need from the config, and nothing else."""

    collection: str  # irods.collection: the drop folder's mirror
    collid: int  # collection.collid, written into AVUs and BisQue tags
    public: bool  # irods.public
    derivatives: DerivativeSettings
    max_web_bytes: int  # source.max_web_bytes (only for the note on a forced web copy)

    @classmethod
    def from_settings(cls, settings: Settings) -> TransferRules:
        return cls(
            settings.irods.collection,
            settings.collection.collid,
            settings.irods.public,
            settings.derivatives,
            settings.source.max_web_bytes,
        )

    def derivative_paths(
        self, remote: str, md5: str, mime: str | None, *, web_copy: bool = False
    ) -> dict[Rendition, str]:
        """Where the derivatives of ``remote`` live (what ``_derive_and_upload`` wrote)."""
        if not (self.derivatives.enabled or web_copy):
            return {}
        kinds = [Rendition.WEB, Rendition.THUMB]
        if mime != "image/jpeg":
            kinds.append(Rendition.LARGE)
        return {r: derivative_path(remote, md5, r) for r in kinds}


@dataclass(frozen=True)
class Job:
    """Everything known about one file on its way through the pipeline."""

    rel_path: str
    local: Path
    size: int
    mtime_ns: int
    md5: str
    catalog: str
    suffix: str | None
    remote: str  # full iRODS path of the original
    resume_at: Stage = Stage.IDENTIFIED  # the last stage already done
    previous_remote: str | None = None  # where earlier content of this file lives
    mime: str | None = None
    derivatives: Mapping[Rendition, str] = field(default_factory=dict)  # rendition → iRODS path
    derivative_md5s: Mapping[str, str] = field(default_factory=dict)  # iRODS path → MD5 (put now)
    urls: MediaUrls | None = None
    action: str | None = None  # the plan's decision: new, changed, resume
    overwrite_ok: bool = False  # ``remote`` may hold our own unverified partial write
    uploaded: bool = False  # bytes were sent in this run (for the counts)
    published: bool = False
    identified: Mapping[str, Any] | None = None  # the "identified" record, not yet committed
    written: Written | None = None  # the media row's last write, from the ledger (curator rules)
    # Too large for a browser (over source.max_web_bytes or Pillow's pixel limit): gets a web
    # copy and thumbnail even with derivatives.enabled false (see Transfer._derive_and_upload).
    web_copy: bool = False


class FileFailed(Exception):
    """One file could not finish ``stage``; the run goes on."""

    def __init__(self, job: Job, stage: Stage, message: str) -> None:
        super().__init__(message)
        self.job = job
        self.stage = stage
        self.message = message

    @property
    def service_down(self) -> bool:
        """The cause was the service (unreachable, login refused), not this file."""
        return isinstance(self.__cause__, ServiceUnavailable)


class Stopped(Exception):
    """The run was asked to stop; ``job`` finished the stages it had begun (all recorded) and
    resumes from there next time."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.rel_path)
        self.job = job


class RetryPolicy:
    """Bounded retries with exponential backoff for errors flagged ``retryable``."""

    def __init__(
        self,
        attempts: int,
        base_delay: float,
        *,
        on_event: EventHandler,
        stop: threading.Event | None = None,
    ) -> None:
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.on_event = on_event
        self.stop = stop or threading.Event()  # set: no more retries (the run is stopping)

    def call(
        self,
        what: str,
        rel_path: str,
        fn: Callable[[], T],
        *,
        only: type[CyverseLinkError] = CyverseLinkError,
    ) -> T:
        """``fn()``, again after a pause while it raises a retryable error of type ``only``."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except CyverseLinkError as exc:
                last = attempt == self.attempts or self.stop.is_set()
                if not (exc.retryable and isinstance(exc, only)) or last:
                    raise
                self.on_event(
                    Event(EventKind.RETRY, rel_path, message=f"{what}: {exc} (attempt {attempt})")
                )
                time.sleep(self.base_delay * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover


class Transfer:
    """Shared by all workers; the store keeps one iRODS session per thread (and is the
    ``PublicLinker``). A context manager: its scratch folder for derivatives lives as long as
    the ``with``. Finished stages go to the run's ``journal``; ``retry.stop`` set means finish
    the current stage and start no other."""

    def __init__(
        self,
        store: DataStore,
        provider: UrlProvider,
        *,
        journal: Journal,
        retry: RetryPolicy,
        rules: TransferRules,
    ) -> None:
        self.store = store
        self.linker: Any = store
        self.provider = provider
        self.journal = journal
        self.retry = retry
        self.rules = rules
        self.stop = retry.stop
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._tree_lock = threading.Lock()
        self._tree_public = False
        self._made_dirs: set[str] = set()
        self._dirs_lock = threading.Lock()
        # iRODS folder → {object path: catalog checksum}, read once per run (see _existing)
        self._listings: dict[str, dict[str, str | None]] = {}
        self._listing_lock = threading.Lock()

    def __enter__(self) -> Transfer:
        self._scratch = tempfile.TemporaryDirectory(prefix="cyverse-link-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    @property
    def work_dir(self) -> Path:
        assert self._scratch is not None, "use Transfer as a context manager"
        return Path(self._scratch.name)

    # -- the stages ---------------------------------------------------------------------------

    def process(self, job: Job) -> Job:
        """Run the remaining stages; any ordinary error becomes ``FileFailed`` (per-file
        isolation). BaseExceptions (a kill, Ctrl-C) propagate and stop the run."""
        stage = Stage(job.resume_at + 1)
        done: list[Transition] = []  # finished stages of this file, committed together
        if job.identified is not None:
            done.append((job.rel_path, Stage.IDENTIFIED, Status.DONE, dict(job.identified)))
            job = replace(job, identified=None)
        try:
            if job.resume_at < Stage.UPLOADED:
                self._check_stop(job)
                stage = Stage.DERIVED
                job = self._derive_and_upload(job, done)
            if job.resume_at < Stage.PUBLISHED:
                self._check_stop(job)
                stage = Stage.PUBLISHED
                job = self._publish(job, done)
            if job.resume_at < Stage.REGISTERED:
                self._check_stop(job)
                stage = Stage.REGISTERED
                job = self._register(job, done)
        except (FileFailed, Stopped):
            raise
        except CyverseLinkError as exc:
            raise FileFailed(job, stage, str(exc)) from exc
        except Exception as exc:  # a bug or a library surprise: still only this file
            raise FileFailed(job, stage, f"{type(exc).__name__}: {exc}") from exc
        finally:
            # Also on failure (before the caller records it) and on a kill that unwinds:
            # what finished is recorded. Only a hard kill loses these, which is safe (above).
            if done:
                self.journal.advance_many(done)
        return job

    def _check_stop(self, job: Job) -> None:
        if self.stop.is_set():
            raise Stopped(job)

    def _derive_and_upload(self, job: Job, done: list[Transition]) -> Job:
        # A scratch folder only when there is something to derive: making and removing one
        # per file cost ~15% of a small-file sync with derivatives off (bench_sync_overhead).
        enabled = self.rules.derivatives.enabled or job.web_copy
        if job.web_copy and not self.rules.derivatives.enabled:
            # The original would be the web ``url`` with no thumbnail: a page loading 9.5 MB
            # or 900 Mpx for every visitor. source.max_web_bytes (8 MiB) is the line.
            self._web_copy_note(job)
        tmp = Path(tempfile.mkdtemp(prefix="derive-", dir=self.work_dir)) if enabled else None
        try:
            if self._tree_linker():
                # Before the first upload of the run: objects and folders created from here on
                # inherit anonymous read, so none is ever briefly (or, in a race, never) public.
                self._ensure_tree_public(job.rel_path)
            remote, needs_put, fresh = self._choose_remote(job)
            job = replace(job, remote=remote)
            derived: dict[Rendition, tuple[Path, str]] = {}  # local file, its md5
            paths: dict[Rendition, str] = {}
            if tmp is not None:
                # A scratch folder per file: short fixed names there, whatever the file's name
                # (a 255-byte name + ".large.jpg" is over NAME_MAX: OSError 36, every run).
                d = make_derivatives(job.local, tmp, self.rules.derivatives, stem="d")
                job = replace(job, mime=d.source_mime)
                for rendition, f in d.files.items():
                    derived[rendition] = (f.path, f.md5)
                    paths[rendition] = derivative_path(remote, job.md5, rendition)
            _check_path_length(job, (remote, *paths.values()))
            # Record the target before writing: a partial object there is then known to be ours.
            done.append((job.rel_path, Stage.DERIVED, Status.DONE, _job_fields(job)))
            self.journal.advance_many(done)
            done.clear()
            try:
                for rendition, (local, md5) in derived.items():
                    self._put(job.rel_path, local, paths[rendition], md5)
                if needs_put:
                    self._put(job.rel_path, job.local, remote, job.md5)
                avus = self._avus(job)
                self.retry.call(
                    "metadata",
                    job.rel_path,
                    lambda: self.store.set_metadata(remote, avus, new=fresh),
                )
            except CyverseLinkError as exc:
                raise FileFailed(job, Stage.UPLOADED, str(exc)) from exc
            md5s = {paths[r]: md5 for r, (_, md5) in derived.items()}
            job = replace(
                job,
                derivatives=paths,
                derivative_md5s=md5s,
                resume_at=Stage.UPLOADED,
                uploaded=needs_put,
            )
            done.append((job.rel_path, Stage.UPLOADED, Status.DONE, _job_fields(job)))
            return job
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _web_copy_note(self, job: Job) -> None:
        limit = self.rules.max_web_bytes
        self.retry.on_event(
            Event(
                EventKind.INFO,
                job.rel_path,
                message=(
                    "derivatives.enabled is false, but this image is too large to be the web "
                    f"image ({job.size} bytes; source.max_web_bytes {limit}, or too many "
                    "pixels): a web copy and thumbnail are made for it"
                ),
            )
        )

    def _publish(self, job: Job, done: list[Transition]) -> Job:
        published = False
        if self.rules.public:
            if self._tree_linker():
                self._ensure_tree_public(job.rel_path)  # done already unless resumed here
            else:  # a linker without inheritance: one ACL per object
                for path in (job.remote, *job.derivatives.values()):
                    self._make_public(job.rel_path, path)
            published = True
        job = replace(job, resume_at=Stage.PUBLISHED, published=published)
        done.append((job.rel_path, Stage.PUBLISHED, Status.DONE, {}))
        return job

    def _register(self, job: Job, done: list[Transition]) -> Job:
        tags = {"catalog_number": job.catalog, "collid": str(self.rules.collid)}
        md5s = self._md5s(job)
        urls = self.retry.call(
            "url",
            job.rel_path,
            lambda: self.provider.urls_for(job.remote, job.derivatives, tags=tags, md5s=md5s),
        )
        job = replace(job, urls=urls, resume_at=Stage.REGISTERED)
        done.append((job.rel_path, Stage.REGISTERED, Status.DONE, {"urls": urls}))
        return job

    # -- helpers ------------------------------------------------------------------------------

    def _md5s(self, job: Job) -> dict[str, str]:
        """MD5 of the original and of each derivative: known when this run put them; after a
        resume, the catalog's checksum (verified at upload) is asked for. The URL provider
        takes the one its originalUrl serves (hashValue describes that file)."""
        md5s = {job.remote: job.md5, **job.derivative_md5s}
        for path in job.derivatives.values():
            if path not in md5s:
                md5s[path] = self.retry.call(
                    "checksum", job.rel_path, functools.partial(self.store.checksum, path)
                )
        return md5s

    def _choose_remote(self, job: Job) -> tuple[str, bool, bool]:
        """(path, upload needed, path was free). Never overwrite different bytes that are not
        our own partial write: a name holding other content gets ``stem.v<md5_8>.ext``."""
        remote = job.remote
        # Our own interrupted or refused upload: re-send unless the catalog already holds our
        # MD5. Without a catalog checksum the replica is not a verified one (a refused close
        # leaves it unregistered), so it is not hashed in place and counted as done.
        existing = self._existing(job.rel_path, remote, compute=not job.overwrite_ok)
        if existing is _FREE:
            return remote, True, True
        if existing == job.md5:
            return remote, False, False  # already there, identical (a re-run, a lost ledger)
        if job.overwrite_ok:
            return remote, True, False  # our own interrupted upload of this content
        versioned = versioned_path(remote, job.md5)
        there = self._existing(job.rel_path, versioned)
        if there is _FREE:
            return versioned, True, True
        return versioned, there != job.md5, False

    def _existing(self, rel_path: str, remote: str, *, compute: bool = True) -> object:
        """The checksum of ``remote`` in iRODS, or ``_FREE`` when no object has that name.

        From the folder's listing, read once per run: this run is the only writer of its own
        targets (one run per config holds the lock; each file has its own name), and an
        object made by someone else after the listing is as much a race as it was with a
        look-up per file just before the put. A listed object without a checksum yet (CyVerse
        registers some later) is asked for one, as before."""
        folder, _ = remote.rsplit("/", 1)
        with self._listing_lock:  # the other workers want the same folder: let them wait
            listing = self._listings.get(folder)
            if listing is None:
                found = self.retry.call(
                    "listing", rel_path, lambda: list(self.store.list_children(folder))
                )
                listing = {o.path: o.checksum for o in found}
                self._listings[folder] = listing
        if remote not in listing:
            return _FREE
        checksum = listing[remote]
        if checksum or not compute:
            return checksum
        try:
            return self.retry.call("checksum", rel_path, lambda: self.store.checksum(remote))
        except NotFound:
            return _FREE

    def _put(self, rel_path: str, local: Path, remote: str, md5: str) -> None:
        self._ensure_dir(rel_path, remote.rsplit("/", 1)[0])
        # ``put`` re-sends on a dropped write or a wrong checksum itself (``irods.retries``);
        # here only a lost connection (the service away for a moment) is tried again.
        self.retry.call(
            "upload", rel_path, lambda: self.store.put(local, remote, md5), only=ServiceUnavailable
        )

    def _ensure_dir(self, rel_path: str, path: str) -> None:
        with self._dirs_lock:
            if path in self._made_dirs:
                return
        self.retry.call("mkdir", rel_path, lambda: self.store.ensure_collection(path))
        with self._dirs_lock:
            self._made_dirs.add(path)

    def _tree_linker(self) -> bool:
        return self.rules.public and hasattr(self.linker, "make_tree_public")

    def _make_public(self, rel_path: str, path: str) -> None:
        self.retry.call("publish", rel_path, lambda: self.linker.make_public(path))

    def _ensure_tree_public(self, rel_path: str) -> None:
        with self._tree_lock:
            if self._tree_public:
                return
            root = self.rules.collection
            self._ensure_dir(rel_path, root)
            self.retry.call("publish", rel_path, lambda: self.linker.make_tree_public(root))
            self._tree_public = True

    def _avus(self, job: Job) -> dict[str, str]:
        avus = {
            "catalog_number": job.catalog,
            "collid": str(self.rules.collid),
            "source_md5": job.md5,
        }
        if job.suffix:
            avus["suffix"] = job.suffix
        return avus


_FREE = object()  # no object of that name


def _check_path_length(job: Job, paths: tuple[str, ...]) -> None:
    """Refuse, before anything is written, a path iRODS would refuse (see naming)."""
    longest = max(paths, key=lambda p: len(p.encode()))
    size = len(longest.encode())
    if size > MAX_IRODS_PATH:
        raise FileFailed(
            job,
            Stage.UPLOADED,
            f"the iRODS path would be {size} bytes and iRODS takes at most {MAX_IRODS_PATH}; "
            "shorten the folder or file names (or irods.collection)",
        )


def _job_fields(job: Job) -> dict[str, Any]:
    return {
        "md5": job.md5,
        "size": job.size,
        "mtime_ns": job.mtime_ns,
        "catalog": job.catalog,
        "suffix": job.suffix,
        "irods_path": job.remote,
        "previous_irods_path": job.previous_remote,
        "mime": job.mime,
    }

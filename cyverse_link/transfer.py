"""One file's remote work: derive → upload (verified) → publish → URL. Runs in worker threads.

Each stage is recorded through ``record`` (serialised by the caller) before the next starts, so a
killed run resumes exactly where each file stopped. A file whose original is already verified
in iRODS resumes at publish or URL; derivatives are re-made only when an upload is still due.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from cyverse_link.config import Settings
from cyverse_link.datastore.base import DataStore
from cyverse_link.derivatives import make_derivatives
from cyverse_link.errors import CyverseLinkError, NotFound, ServiceUnavailable
from cyverse_link.events import Event, EventHandler, EventKind
from cyverse_link.models import MediaUrls, Stage, Status
from cyverse_link.naming import Rendition, derivative_path, versioned_path
from cyverse_link.publish.base import UrlProvider

T = TypeVar("T")
Recorder = Callable[..., None]  # (rel_path, stage, status, **fields)


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
    urls: MediaUrls | None = None
    action: str | None = None  # the plan's decision: new, changed, resume
    overwrite_ok: bool = False  # ``remote`` may hold our own unverified partial write
    uploaded: bool = False  # bytes were sent in this run (for the counts)
    published: bool = False


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


class RetryPolicy:
    """Bounded retries with exponential backoff for errors flagged ``retryable``."""

    def __init__(self, attempts: int, base_delay: float, on_event: EventHandler) -> None:
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.on_event = on_event

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
                if not (exc.retryable and isinstance(exc, only)) or attempt == self.attempts:
                    raise
                self.on_event(
                    Event(EventKind.RETRY, rel_path, message=f"{what}: {exc} (attempt {attempt})")
                )
                time.sleep(self.base_delay * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover


class Transfer:
    """Shared by all workers; the store keeps one iRODS session per thread."""

    def __init__(
        self,
        settings: Settings,
        store: DataStore,
        linker: Any,
        provider: UrlProvider,
        record: Recorder,
        retry: RetryPolicy,
        work_dir: Path,
    ) -> None:
        self.settings = settings
        self.store = store
        self.linker = linker
        self.provider = provider
        self.record = record
        self.retry = retry
        self.work_dir = work_dir
        self._tree_lock = threading.Lock()
        self._tree_public = False
        self._made_dirs: set[str] = set()
        self._dirs_lock = threading.Lock()

    # -- the stages ---------------------------------------------------------------------------

    def process(self, job: Job) -> Job:
        """Run the remaining stages; any ordinary error becomes ``FileFailed`` (per-file
        isolation). BaseExceptions (a kill, Ctrl-C) propagate and stop the run."""
        stage = Stage(job.resume_at + 1)
        try:
            if job.resume_at < Stage.UPLOADED:
                stage = Stage.DERIVED
                job = self._derive_and_upload(job)
            if job.resume_at < Stage.PUBLISHED:
                stage = Stage.PUBLISHED
                job = self._publish(job)
            if job.resume_at < Stage.REGISTERED:
                stage = Stage.REGISTERED
                job = self._register(job)
        except FileFailed:
            raise
        except CyverseLinkError as exc:
            raise FileFailed(job, stage, str(exc)) from exc
        except Exception as exc:  # a bug or a library surprise: still only this file
            raise FileFailed(job, stage, f"{type(exc).__name__}: {exc}") from exc
        return job

    def _derive_and_upload(self, job: Job) -> Job:
        # A scratch folder only when there is something to derive: making and removing one
        # per file cost ~15% of a small-file sync with derivatives off (bench_sync_overhead).
        enabled = self.settings.derivatives.enabled
        tmp = Path(tempfile.mkdtemp(prefix="derive-", dir=self.work_dir)) if enabled else None
        try:
            if self._tree_linker():
                # Before the first upload of the run: objects and folders created from here on
                # inherit anonymous read, so none is ever briefly (or, in a race, never) public.
                self._ensure_tree_public(job.rel_path)
            remote, needs_put = self._choose_remote(job)
            job = replace(job, remote=remote)
            derived: dict[Rendition, tuple[Path, str]] = {}  # local file, its md5
            paths: dict[Rendition, str] = {}
            if tmp is not None:
                d = make_derivatives(job.local, tmp, self.settings.derivatives)
                job = replace(job, mime=d.source_mime)
                for rendition, f in d.files.items():
                    derived[rendition] = (f.path, f.md5)
                    paths[rendition] = derivative_path(remote, job.md5, rendition)
            # Record the target before writing: a partial object there is then known to be ours.
            self.record(job.rel_path, Stage.DERIVED, Status.DONE, **_job_fields(job))
            try:
                for rendition, (local, md5) in derived.items():
                    self._put(job.rel_path, local, paths[rendition], md5)
                if needs_put:
                    self._put(job.rel_path, job.local, remote, job.md5)
                avus = self._avus(job)
                self.retry.call(
                    "metadata", job.rel_path, lambda: self.store.set_metadata(remote, avus)
                )
            except CyverseLinkError as exc:
                raise FileFailed(job, Stage.UPLOADED, str(exc)) from exc
            job = replace(job, derivatives=paths, resume_at=Stage.UPLOADED, uploaded=needs_put)
            self.record(job.rel_path, Stage.UPLOADED, Status.DONE, **_job_fields(job))
            return job
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _publish(self, job: Job) -> Job:
        published = False
        if self.settings.irods.public:
            if self._tree_linker():
                self._ensure_tree_public(job.rel_path)  # done already unless resumed here
            else:  # a linker without inheritance: one ACL per object
                for path in (job.remote, *job.derivatives.values()):
                    self._make_public(job.rel_path, path)
            published = True
        job = replace(job, resume_at=Stage.PUBLISHED, published=published)
        self.record(job.rel_path, Stage.PUBLISHED, Status.DONE)
        return job

    def _register(self, job: Job) -> Job:
        tags = {"catalog_number": job.catalog, "collid": str(self.settings.collection.collid)}
        urls = self.retry.call(
            "url",
            job.rel_path,
            lambda: self.provider.urls_for(job.remote, job.derivatives, tags=tags),
        )
        job = replace(job, urls=urls, resume_at=Stage.REGISTERED)
        self.record(job.rel_path, Stage.REGISTERED, Status.DONE, urls=urls)
        return job

    # -- helpers ------------------------------------------------------------------------------

    def _choose_remote(self, job: Job) -> tuple[str, bool]:
        """(path, upload needed). Never overwrite different bytes that are not our own partial
        write: a name holding other content gets ``stem.v<md5_8>.ext`` instead."""
        remote = job.remote
        try:
            existing = self.retry.call(
                "checksum", job.rel_path, lambda: self.store.checksum(remote)
            )
        except NotFound:
            return remote, True
        if existing == job.md5:
            return remote, False  # already there, identical (a re-run after a lost ledger)
        if job.overwrite_ok:
            return remote, True  # our own interrupted upload of this content
        versioned = versioned_path(remote, job.md5)
        try:
            same = self.store.checksum(versioned) == job.md5
        except NotFound:
            same = False
        return versioned, not same

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
        return self.settings.irods.public and hasattr(self.linker, "make_tree_public")

    def _make_public(self, rel_path: str, path: str) -> None:
        self.retry.call("publish", rel_path, lambda: self.linker.make_public(path))

    def _ensure_tree_public(self, rel_path: str) -> None:
        with self._tree_lock:
            if self._tree_public:
                return
            root = self.settings.irods.collection
            self._ensure_dir(rel_path, root)
            self.retry.call("publish", rel_path, lambda: self.linker.make_tree_public(root))
            self._tree_public = True

    def _avus(self, job: Job) -> dict[str, str]:
        avus = {
            "catalog_number": job.catalog,
            "collid": str(self.settings.collection.collid),
            "source_md5": job.md5,
        }
        if job.suffix:
            avus["suffix"] = job.suffix
        return avus


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


def derivative_paths(
    settings: Settings, remote: str, md5: str, mime: str | None
) -> dict[Rendition, str]:
    """Where the derivatives of ``remote`` live (what ``_derive_and_upload`` wrote)."""
    if not settings.derivatives.enabled:
        return {}
    kinds = [Rendition.WEB, Rendition.THUMB]
    if mime != "image/jpeg":
        kinds.append(Rendition.LARGE)
    return {r: derivative_path(remote, md5, r) for r in kinds}

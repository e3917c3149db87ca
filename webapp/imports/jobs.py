"""An import from upload to report.

1. **create** — the request keeps the uploaded files in the instance folder
   (``instance/imports/<job id>/``) and adds the job's row, ``queued``; it
   commits, then ``start`` runs the job in a thread of this process (one
   import at a time per process; the others wait their turn, ``queued``).
2. **run** — the thread claims the job (``running``), reads each file
   (``webapp.imports.files``), tells its format from its first entry that
   is a conversation of one (``parley``, ``openwebui``, ``chatgpt``; the
   entries before it fail, each alone), and imports each conversation
   in a transaction of its own: converted and planned
   (``webapp.imports.threads``), skipped if the account has it already,
   else its replies rendered (``webapp.imports.rendering``: for a large
   import, in worker processes, a few threads ahead of the one stored) and
   the thread stored (``webapp.imports.store``) together with the job's
   counters; in the order of the file.
   A thread that cannot be imported is counted as failed with its reason
   and the next one goes on; a file that cannot be read is reported and the
   next file goes on. The files are deleted when the job ends.
3. **report** — the row is the job's whole state, so any instance shows its
   progress (bytes read of the conversations) and, once ``done`` (or
   ``failed``: nothing could be read), what was imported, skipped and
   failed. A job whose row has not moved for ``STALE`` died with its
   process: it is reported as stopped, what it imported kept.

Like a reply's writer (``webapp.replies``), the job's thread commits its own
writes; ``create_job`` only flushes.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path, PurePath
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.datastructures import FileStorage

from webapp.database import is_unavailable
from webapp.errors import InvalidInput, NotFound
from webapp.extensions import db
from webapp.imports import chatgpt, openwebui, parley, rendering
from webapp.imports.files import Document, FileError, documents, items
from webapp.imports.rendering import Renderer, Rendering
from webapp.imports.store import already_imported, store
from webapp.imports.threads import PlannedThread, ThreadError, clean_name, plan
from webapp.models import UNTITLED, ImportJob, User, utcnow
from webapp.serialize import timestamp

log = logging.getLogger(__name__)

#: The formats, in the order they are tried on a file's entries.
FORMATS = (parley, openwebui, chatgpt)
ACCEPTED = (
    "Parley imports a ChatGPT data export (the ZIP as downloaded, its conversations.json, or the split "
    "conversations-000.json… files), an Open WebUI chat export (its JSON file) or a Parley export (the ZIP, "
    "or its conversations.json)."
)
STALE = timedelta(minutes=5)  # a job not heard from for this long died with its process
WAIT_BEAT = timedelta(minutes=1)  # how often a job waiting for its turn says it is alive
SAVE_SECONDS = 1.0  # how often progress is written while nothing is imported
ERRORS_KEPT = 500  # reasons kept in the report; the counts go on
UNPACK_FACTOR = 8  # a ZIP may unpack to this many times PARLEY_IMPORT_MAX_MB
INTERRUPTED = (
    "The import stopped when the server running it did. What it imported is kept; import the file again "
    "to finish (what is already here is skipped)."
)
NOT_RENDERED = "Its text could not be turned into a page."
FAILED = (
    "Something went wrong on our side while importing. What was imported is kept; import the file again "
    "to finish (what is already here is skipped)."
)
MB = 1024 * 1024


def upload_limit() -> int:
    """The largest upload, in bytes (``PARLEY_IMPORT_MAX_MB``)."""
    return current_app.config["PARLEY_IMPORT_MAX_MB"] * MB


def _uploads_folder(app: Flask | None = None) -> Path:
    return Path((app or current_app).instance_path) / "imports"


# --- 1. create ---------------------------------------------------------------------------------


def create_job(user: User, uploads: Iterable[FileStorage]) -> ImportJob:
    """Keep the uploaded files and add their job, queued (flushes; the
    caller commits, then calls ``start``)."""
    uploads = sorted((upload for upload in uploads if upload and upload.filename), key=lambda u: u.filename)
    if not uploads:
        raise InvalidInput("file", "Choose a file to import.")
    job_id = uuid.uuid4()
    _sweep_abandoned(_uploads_folder())
    folder = _uploads_folder() / str(job_id)
    folder.mkdir(parents=True)
    files = []
    for n, upload in enumerate(uploads):
        path = folder / str(n)
        upload.save(path)
        name = clean_name(PurePath(upload.filename.replace("\\", "/")).name, 200) or "upload"
        files.append({"name": name, "size": path.stat().st_size})
    now = utcnow()
    job = ImportJob(
        id=job_id,
        user_id=user.id,
        status="queued",
        files=files,
        bytes_total=sum(file["size"] for file in files),
        bytes_done=0,
        imported=0,
        skipped=0,
        failed=0,
        messages=0,
        errors=[],
        created_at=now,
        updated_at=now,
    )
    db.session.add(job)
    db.session.flush()
    return job


def _sweep_abandoned(folder: Path) -> None:
    """Uploads left behind by a process that died mid-import, a day on."""
    if not folder.is_dir():
        return
    cutoff = time.time() - 86_400
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def start(job_id: uuid.UUID, app: Flask | None = None) -> threading.Thread:
    """Run the committed job in a thread of this process, once the imports
    before it here have ended: one runs at a time, so memory holds one."""
    app = app or current_app._get_current_object()
    state = app.extensions.setdefault("parley.imports", {"turn": threading.Lock(), "threads": set()})

    def work() -> None:
        with app.app_context():
            try:
                # Waiting, the job tells any instance that shows it that it is alive.
                while not state["turn"].acquire(timeout=WAIT_BEAT.total_seconds()):
                    _still_queued(job_id)
                try:
                    run(job_id)
                finally:
                    state["turn"].release()
            finally:
                db.session.remove()
                state["threads"].discard(threading.current_thread())

    thread = threading.Thread(target=work, name=f"import-{job_id}", daemon=True)
    state["threads"].add(thread)
    thread.start()
    return thread


def _still_queued(job_id: uuid.UUID) -> None:
    try:
        db.session.execute(
            update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "queued").values(updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()


def wait_for_imports(app: Flask, timeout: float = 60.0) -> None:
    """Wait for the imports this app is running (tests, benchmarks)."""
    deadline = time.monotonic() + timeout
    for thread in list(app.extensions.get("parley.imports", {}).get("threads", ())):
        thread.join(max(0.0, deadline - time.monotonic()))


# --- 2. run ----------------------------------------------------------------------------------


def run(job_id: uuid.UUID) -> None:
    """Run the job to its end, in this thread (its app context pushed)."""
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "queued")
        .values(status="running", updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return
    job = db.session.get(ImportJob, job_id)
    progress = _Progress(job)
    folder = _uploads_folder() / str(job_id)
    try:
        _import_files(progress, folder)
        progress.finish()
    except Exception as error:
        if not is_unavailable(error):
            log.exception("import %s failed", job_id)
        db.session.rollback()
        progress.error(None, None, FAILED)
        progress.finish(failed=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _import_files(progress: _Progress, folder: Path) -> None:
    limit = UNPACK_FACTOR * upload_limit()
    paths = [(folder / str(n), file["name"]) for n, file in enumerate(progress.files)]
    total = 0
    for path, name in paths:
        try:
            total += sum(document.size for document in documents(path, name, limit))
        except FileError:
            pass  # reported when the file is read
    progress.bytes_total = total
    progress.save()
    large = total >= rendering.POOL_MIN_BYTES
    with Renderer(rendering.workers() if large else 0) as renderer:
        for path, name in paths:
            try:
                for document in documents(path, name, limit):
                    try:
                        _import_document(progress, document, renderer)
                    except FileError as error:
                        progress.error(document.name, None, _reason(error))
            except FileError as error:
                progress.error(name, None, _reason(error))


def _reason(error: FileError) -> str:
    return f"{error.message} {ACCEPTED}" if error.unknown_format else error.message


def _import_document(progress: _Progress, document: Document, renderer: Renderer) -> None:
    conversations = items(document, progress.read)
    # The format is the first entry's that has one; the entries before it
    # fail (their titles kept for the report, not the entries themselves).
    kind, first, unknown, unknown_titles = None, None, 0, []
    for first in conversations:
        kind = detect(first)
        if kind is not None:
            break
        unknown += 1
        if len(unknown_titles) < ERRORS_KEPT:
            unknown_titles.append(_title_of(first) or UNTITLED)
    if kind is None:
        if unknown:
            raise FileError(f"{document.name} is not a file Parley can import.", unknown_format=True)
        raise FileError(f"{document.name} holds no conversations.")
    progress.formats.add(kind.NAME)
    unreadable = f"It could not be read as {kind.NAME} writes conversations."
    for n in range(unknown):
        progress.thread_failed(document.name, unknown_titles[n] if n < ERRORS_KEPT else UNTITLED, unreadable)
    # Threads read and handed to the renderer, not yet stored: oldest first.
    waiting: deque[_Thread] = deque()

    def store_waiting(keep: int = 0) -> None:
        while len(waiting) > keep:
            _import_thread(progress, waiting.popleft())

    try:
        for item in chain([first], conversations):
            waiting.append(_read_thread(progress, renderer, kind, item, document.name))
            store_waiting(keep=renderer.ahead)
    except FileError:
        store_waiting()  # what was read before the file broke off, before that is reported
        raise
    store_waiting()


def detect(item: Any):
    """The format an entry of a file is in; None if none fits."""
    return next((kind for kind in FORMATS if kind.matches(item)), None)


@dataclass
class _Thread:
    """A conversation of the file, read: planned and its replies handed to
    the renderer, or already known to fail or to be skipped."""

    file_name: str
    title: str
    planned: PlannedThread | None = None
    replies: Rendering | None = None
    failure: str | None = None
    skipped: bool = False
    new: bool = False  # not in the account when it was read (else: asked when it is stored)


def _read_thread(progress: _Progress, renderer: Renderer, kind: Any, item: Any, file_name: str) -> _Thread:
    title = _title_of(item) or UNTITLED
    try:
        planned = plan(kind.convert(item))
    except ThreadError as error:
        return _Thread(file_name, title, failure=error.message)
    except Exception:
        # A shape no rule above foresaw: this thread fails, the others go on.
        log.exception("reading a thread of job %s", progress.job_id)
        return _Thread(file_name, title, failure=f"It could not be read as {kind.NAME} writes conversations.")
    new = False
    if renderer.parallel:
        # Asked now, not to render for nothing. The same source read again
        # before this one is stored is still skipped: the unique source id
        # refuses it (``IntegrityError`` below).
        if already_imported(progress.user_id, planned):
            return _Thread(file_name, title, skipped=True)
        new = True
    return _Thread(file_name, title, planned, renderer.submit(planned), new=new)


def _import_thread(progress: _Progress, thread: _Thread) -> None:
    """One conversation, in a transaction of its own."""
    file_name, title, planned = thread.file_name, thread.title, thread.planned
    if thread.failure is not None:
        progress.thread_failed(file_name, title, thread.failure)
        return
    if thread.skipped or (not thread.new and already_imported(progress.user_id, planned)):
        progress.thread_skipped()
        return
    try:
        replies_html = thread.replies.result()
    except Exception:
        log.exception("rendering a thread of job %s", progress.job_id)
        progress.thread_failed(file_name, title, NOT_RENDERED)
        return
    try:
        store(progress.user_id, planned, replies_html)
        progress.imported += 1
        progress.messages += len(planned.messages)
        progress.save()
        db.session.commit()
    except IntegrityError:
        # The same thread, imported meanwhile by another import of it (or
        # by this one, read twice).
        db.session.rollback()
        progress.thread_skipped()
    except SQLAlchemyError as error:
        db.session.rollback()
        if is_unavailable(error):
            raise
        log.exception("importing a thread of job %s", progress.job_id)
        progress.thread_failed(file_name, title, "The database refused it.")


def _title_of(item: Any) -> str | None:
    """The conversation's title as the report names it, whatever its format."""
    if not isinstance(item, dict):
        return None
    for holder in (item, item.get("conversation"), item.get("chat")):
        if isinstance(holder, dict) and clean_name(holder.get("title"), 120):
            return clean_name(holder.get("title"), 120)
    return None


class _Progress:
    """The job's counters as it runs, written to its row in the transaction
    of each imported thread, and otherwise about once a second."""

    def __init__(self, job: ImportJob):
        self.job_id, self.user_id, self.files = job.id, job.user_id, list(job.files)
        self.bytes_total, self.bytes_done = job.bytes_total, 0
        self.imported = self.skipped = self.failed = self.messages = 0
        self.errors: list[dict[str, Any]] = []
        self.formats: set[str] = set()
        self._errors_changed = False
        self._saved_at = time.monotonic()

    def read(self, size: int) -> None:
        self.bytes_done += size

    def thread_skipped(self) -> None:
        self.skipped += 1
        self._save_now_and_then()

    def thread_failed(self, file_name: str, title: str, message: str) -> None:
        self.failed += 1
        self.error(file_name, title, message)

    def error(self, file_name: str | None, title: str | None, message: str) -> None:
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append({"file": file_name, "thread": title, "message": message})
            self._errors_changed = True
        self._save_now_and_then()

    def _save_now_and_then(self) -> None:
        if time.monotonic() - self._saved_at >= SAVE_SECONDS:
            self.save()
            db.session.commit()

    def save(self, **values: Any) -> None:
        """Write the counters to the row, in the current transaction."""
        values |= {
            "bytes_total": self.bytes_total,
            "bytes_done": min(self.bytes_done, self.bytes_total),
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": self.failed,
            "messages": self.messages,
            "formats": ", ".join(sorted(self.formats)) or None,
            "updated_at": utcnow(),
        }
        if self._errors_changed:
            values["errors"] = list(self.errors)
            self._errors_changed = False
        db.session.execute(
            update(ImportJob).where(ImportJob.id == self.job_id).values(**values),
            execution_options={"synchronize_session": False},
        )
        self._saved_at = time.monotonic()

    def finish(self, failed: bool = False) -> None:
        nothing_read = not (self.imported or self.skipped or self.failed)
        self.bytes_done = self.bytes_total
        self._errors_changed = True
        self.save(status="failed" if failed or nothing_read else "done", finished_at=utcnow())
        db.session.commit()


# --- 3. report ---------------------------------------------------------------------------------


def get_job(user: User, job_id: uuid.UUID | str) -> ImportJob:
    """The user's job; another user's is exactly as missing as none."""
    try:
        job_id = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("That import does not exist.") from None
    job = db.session.scalar(select(ImportJob).where(ImportJob.id == job_id, ImportJob.user_id == user.id))
    if job is None:
        raise NotFound("That import does not exist.")
    return job


def list_jobs(user: User, limit: int = 10) -> list[ImportJob]:
    """The user's latest imports, newest first."""
    return list(
        db.session.scalars(
            select(ImportJob)
            .where(ImportJob.user_id == user.id)
            .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Report:
    """What a job's page and the API say of it."""

    job: ImportJob
    status: str
    errors: list[dict[str, Any]]

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        total = self.job.bytes_total
        return min(99, int(100 * self.job.bytes_done / total)) if total else 0

    @property
    def files(self) -> list[str]:
        return [file["name"] for file in self.job.files]

    @property
    def unlisted_failures(self) -> int:
        """Failed threads beyond the reasons kept (``ERRORS_KEPT``)."""
        return max(0, self.job.failed - sum(1 for error in self.errors if error["thread"] is not None))


def report(job: ImportJob, now: datetime | None = None) -> Report:
    """The job as it stands; one whose row has not moved for ``STALE`` died with its process."""
    errors = list(job.errors or [])
    if not job.finished and job.updated_at < (now or utcnow()) - STALE:
        return Report(job, "failed", [*errors, {"file": None, "thread": None, "message": INTERRUPTED}])
    return Report(job, job.status, errors)


def job_json(job: ImportJob) -> dict[str, Any]:
    """The API's shape of a job."""
    shown = report(job)
    return {
        "id": str(job.id),
        "status": shown.status,
        "imported": job.imported,
        "skipped": job.skipped,
        "failed": job.failed,
        "errors": shown.errors,
        "messages": job.messages,
        "progress": shown.percent / 100,
        "files": shown.files,
        "formats": job.formats.split(", ") if job.formats else [],
        "created_at": timestamp(job.created_at),
        "finished_at": timestamp(job.finished_at) if job.finished_at else None,
    }

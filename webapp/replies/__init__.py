"""The life of an assistant reply, from start to end.

A reply is an assistant message that starts ``pending`` (added, with the
message it answers, in the request's own transaction). Then:

1. **start** — the request asks this process to write it: a writer thread
   claims the row with one conditional UPDATE, so one generation runs per
   reply across any number of instances, and the model is asked once.
2. **write** — the writer streams the model's text. Each piece goes out
   through the relay (``webapp.replies.relay``) to every reader on every
   instance at once; the text is saved to the row every few seconds, and
   the row ends ``complete``, ``stopped`` or ``error``, its text kept. A
   heartbeat renews the writer's lease on the row while it lives, whether
   the model is sending text or still thinking.
3. **follow** — a reader (a page's event stream, on any instance) gets the
   text so far, then each piece as it comes, then the end. It also watches
   the row: a reply whose writer died (its lease lapsed, by the database's
   clock) is ended as ``error`` "interrupted" with its saved text, by
   whichever reader notices first, and every reader sees that end.
4. **stop** — Stop reaches the writer wherever it runs; it stops reading
   the model at once and ends the reply with all the text it has, so
   nothing a reader saw is lost.
5. **shutdown** — an instance going away (SIGTERM) takes no new replies,
   lets running ones finish for ``PARLEY_SHUTDOWN_GRACE`` seconds, then
   ends the rest as interrupted.

The writer runs in a thread of its own, outliving the request, and commits
its own writes: the one exception to the rule that the request commits.
Readers and the writer share nothing but the database and the relay.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from webapp.assistant import ProviderError, ReplyRequest, provider_for
from webapp.branches import walk_up
from webapp.database import after_commit
from webapp.extensions import db
from webapp.models import Message, utcnow
from webapp.rendering import render_markdown
from webapp.replies.relay import LocalRelay, RedisRelay, Relay, reply_channel, thread_channel

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=20)  # a writer not heard from for this long is gone
HEARTBEAT_SECONDS = 5.0  # how often a live writer renews its lease
PROBE_SECONDS = 5.0  # how often a waiting reader looks at the row
SAVE_SECONDS = 2.0  # how often the text so far is saved to the row
HISTORY_STEP = 100  # messages read at a time when gathering what the model is sent
STOP_WAIT_SECONDS = 2.0  # how long Stop waits for the writer to end the reply
INTERRUPTED = "Interrupted: the server writing this reply stopped. Retry to write it again."
FAILED = "Something went wrong while writing this reply. Try again."
EMPTY = "The model returned an empty reply. Retry to ask again."


# --- text from the model ------------------------------------------------------------------


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Model output as the database can store it: no NUL, no half of a
    UTF-16 surrogate pair (each becomes U+FFFD, the replacement character)."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


# --- one engine per app: its relay, its writers, its heartbeat ----------------------------------


class Writer:
    """A reply being written in this process."""

    def __init__(self, reply_id: int):
        self.reply_id = reply_id
        self.request: ReplyRequest | None = None
        self.stop_reason: str | None = None  # "stopped" or "interrupted"
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stopped.set()
        if self.request is not None:
            self.request.cancel()


class Engine:
    def __init__(self, app: Flask):
        self.app = app
        url = app.config.get("PARLEY_REDIS_URL")
        self.relay: Relay = RedisRelay(url) if url else LocalRelay()
        self.relay.on_stop = self._stop_here
        # Who holds a lease: this process, told apart from its earlier lives.
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.writers: dict[int, Writer] = {}
        self.accepting = True
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None

    def _stop_here(self, reply_id: int) -> None:
        with self._lock:
            writer = self.writers.get(reply_id)
        if writer is not None:
            writer.stop("stopped")

    def ensure_heartbeat(self) -> None:
        with self._lock:
            if self._heartbeat is None or not self._heartbeat.is_alive():
                self._heartbeat = threading.Thread(target=self._beat, name="parley-heartbeat", daemon=True)
                self._heartbeat.start()

    def _beat(self) -> None:
        """Renew the leases of every reply this process writes, in one UPDATE,
        until it writes none."""
        with self.app.app_context():
            while True:
                time.sleep(HEARTBEAT_SECONDS)
                with self._lock:
                    if not self.writers:
                        self._heartbeat = None
                        return
                try:
                    db.session.execute(
                        update(Message)
                        .where(Message.lease_owner == self.owner, Message.status == "streaming")
                        .values(lease_until=lease_expiry()),
                        execution_options={"synchronize_session": False},
                    )
                    db.session.commit()
                except SQLAlchemyError:
                    log.exception("could not renew reply leases")
                    db.session.rollback()
                finally:
                    db.session.remove()


_engines_lock = threading.Lock()


def engine(app: Flask | None = None) -> Engine:
    """The app's reply engine, made on first use; making it ends the replies
    that an earlier process on this machine left half written."""
    app = app or current_app._get_current_object()
    with _engines_lock:
        found = app.extensions.get("parley.replies")
        if found is not None:
            return found
        found = app.extensions["parley.replies"] = Engine(app)
    with app.app_context():
        interrupt_dead_writers_here(app)
    return found


# --- the database's clock -------------------------------------------------------------------


def database_now():
    """Now by the database's clock, so that instances whose clocks differ
    agree on when a lease lapses. SQLite runs on this machine: its clock is ours."""
    return utcnow() if db.engine.dialect.name == "sqlite" else func.now()


def lease_expiry():
    return database_now() + LEASE


# --- 1. start ---------------------------------------------------------------------------------


def start(reply_id: int, app: Flask | None = None) -> threading.Thread | None:
    """Write the pending reply in a thread of this process. None if this
    process writes it already, or is shutting down (the reply then stays
    pending for its next reader, on any instance, to start)."""
    app = app or current_app._get_current_object()
    eng = engine(app)
    with eng._lock:
        if reply_id in eng.writers or not eng.accepting:
            return None
        writer = eng.writers[reply_id] = Writer(reply_id)

    def run() -> None:
        with app.app_context():
            try:
                write(eng, writer)
            finally:
                with eng._lock:
                    eng.writers.pop(reply_id, None)
                db.session.remove()

    writer.thread = threading.Thread(target=run, name=f"reply-{reply_id}", daemon=True)
    writer.thread.start()
    return writer.thread


def claim(reply_id: int, owner: str) -> bool:
    """Take a pending reply for ``owner``; False if it is not pending (being
    written, or ended). Only ever pending once: one model call per reply."""
    claimed = db.session.execute(
        update(Message)
        .where(Message.id == reply_id, Message.role == "assistant", Message.status == "pending")
        .values(status="streaming", content="", html=None, error=None, lease_owner=owner, lease_until=lease_expiry()),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    return claimed == 1


# --- 2. write ---------------------------------------------------------------------------------


def history_for(message: Message, budget: int) -> list[dict[str, str]]:
    """What the model is sent: the messages of ``message``'s own branch
    before it (never another branch's), newest kept first, within ``budget``
    characters; always at least the newest one."""
    history: list[dict[str, str]] = []
    used = 0
    conversation = message.conversation
    above = message.parent_id
    while above is not None:
        page = walk_up(conversation, above, HISTORY_STEP)
        for earlier in reversed(page):
            if earlier.role not in ("user", "assistant", "system"):
                continue
            if history and used + len(earlier.content) > budget:
                return history[::-1]
            history.append({"role": earlier.role, "content": earlier.content})
            used += len(earlier.content)
        above = page[0].parent_id if len(page) == HISTORY_STEP else None
    return history[::-1]


def write(eng: Engine, writer: Writer) -> None:
    """Claim the reply and write it, in this thread, to its end."""
    reply_id = writer.reply_id
    if not claim(reply_id, eng.owner):
        return
    eng.ensure_heartbeat()
    text = ""
    status, error = "complete", None
    try:
        message = db.session.get(Message, reply_id)
        conversation = message.conversation
        writer.request = ReplyRequest(
            history=history_for(message, current_app.config["PARLEY_LLM_HISTORY_CHARS"]),
            model=conversation.model,
            system_prompt=conversation.system_prompt,
        )
        if writer.stopped.is_set():  # stopped before the model was asked
            writer.request.cancel()
        db.session.close()  # hand the connection back while the model talks
        last_save = time.monotonic()
        for chunk in provider_for(current_app).stream(writer.request):
            if writer.stopped.is_set():
                break
            chunk = clean_text(chunk)
            if not chunk:
                continue
            eng.relay.publish_piece(reply_id, len(text), chunk)
            text += chunk
            if time.monotonic() - last_save >= SAVE_SECONDS:
                last_save = time.monotonic()
                if not _save(reply_id, eng.owner, content=text):
                    return  # someone ended it (its lease lapsed): theirs now
        if not writer.stopped.is_set() and not text.strip():
            status, error = "error", EMPTY
    except ProviderError as failure:
        if failure.detail:
            log.warning("reply %s failed: %s", reply_id, failure.detail)
        status, error = "error", failure.stored()
    except Exception:
        if not writer.stopped.is_set():  # closing the model's stream on Stop lands here
            log.exception("writing reply %s failed", reply_id)
            status, error = "error", FAILED
    if writer.stopped.is_set():
        status, error = ("stopped", None) if writer.stop_reason == "stopped" else ("error", INTERRUPTED)
    finish(eng, reply_id, text, status, error)


def _update_owned(reply_id: int, owner: str, values: dict) -> bool:
    """Write to the reply if ``owner`` still holds it; False once it does not."""
    try:
        updated = db.session.execute(
            update(Message)
            .where(Message.id == reply_id, Message.lease_owner == owner, Message.status == "streaming")
            .values(**values),
            execution_options={"synchronize_session": False},
        ).rowcount
        db.session.commit()
        return updated == 1
    except SQLAlchemyError:
        db.session.rollback()
        raise
    finally:
        db.session.close()  # hand the connection back while the model talks


def _save(reply_id: int, owner: str, **values) -> bool:
    """Save the text so far; a failed save is tried again at the next one."""
    try:
        return _update_owned(reply_id, owner, values)
    except SQLAlchemyError:
        log.exception("could not save reply %s", reply_id)
        return True


def finish(eng: Engine, reply_id: int, text: str, status: str, error: str | None = None) -> None:
    """End the reply: its text, rendered once, and how it ended; then tell
    every reader. Should the database refuse even after a few tries, the
    lease lapses and a reader ends it as interrupted with the text saved
    last: a reply never stays "streaming"."""
    values = {
        "content": text,
        "html": render_markdown(text) if text else None,
        "status": status,
        "error": error,
        "lease_owner": None,
        "lease_until": None,
    }
    for attempt in range(3):
        try:
            ended = _update_owned(reply_id, eng.owner, values)
        except SQLAlchemyError:
            log.exception("could not end reply %s (try %d)", reply_id, attempt + 1)
            time.sleep(0.5 * (attempt + 1))
            continue
        if ended:
            eng.relay.publish_end(reply_id, status)
        return


# --- 3. follow --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    offset: int
    text: str


@dataclass(frozen=True)
class End:
    status: str


def follow(reply_id: int, keepalive: float = 15.0, tick: float | None = None) -> Iterator[Piece | End | None]:
    """What a reader shows: the text so far (a piece at offset 0), each new
    piece, then the end. None now and then while nothing happens, so the
    caller can keep its connection alive; with ``tick``, None after every
    ``tick`` seconds without a piece (to show what it holds back). Starts the
    writing here if nobody has (a pending reply whose request went away)."""
    eng = engine()
    with eng.relay.subscribe(reply_channel(reply_id)) as subscription:
        status = _status(reply_id)
        if status is None:
            return
        if status == "pending":
            start(reply_id)
        seen = 0
        caught_up = _catch_up(eng, reply_id, seen)
        if caught_up is not None:
            yield caught_up
            seen = len(caught_up.text)
        elif not Message.status_is_live(status):
            yield End(status)
            return
        ended = _check_writer(eng, reply_id)  # its writer may be long gone
        if ended is not None:
            yield End(ended)
            return
        quiet = probed = 0.0
        probe_every = min(PROBE_SECONDS, keepalive)
        wait = min(probe_every, tick) if tick else probe_every
        while True:
            message = subscription.get(timeout=wait)
            if message is None:
                quiet += wait
                probed += wait
                if probed >= probe_every:
                    probed = 0.0
                    ended = _check_writer(eng, reply_id)
                    if ended is not None:
                        yield End(ended)
                        return
                if tick or quiet >= keepalive:
                    quiet = 0.0
                    yield None
                continue
            if "end" in message:
                yield End(message["end"])
                return
            if message.get("closing"):
                return  # this instance is going away; the reader reconnects elsewhere
            offset, text = message["o"], message["t"]
            if offset > seen:  # a gap: a piece went by before this reader listened
                missed = _catch_up(eng, reply_id, seen)
                if missed is not None and missed.text:
                    yield missed
                    seen += len(missed.text)
                continue
            if offset + len(text) > seen:
                yield Piece(seen, text[seen - offset :])
                seen = offset + len(text)


def _status(reply_id: int) -> str | None:
    # Readers query on a connection of their own: a request's session (Stop's)
    # stays as it was, and a long stream holds no connection while it waits.
    with db.engine.connect() as connection:
        return connection.scalar(select(Message.status).where(Message.id == reply_id))


def _catch_up(eng: Engine, reply_id: int, seen: int) -> Piece | None:
    """The text past ``seen`` that the writer has published, or, with no
    writer publishing, what the row holds."""
    text = eng.relay.text_so_far(reply_id)
    if text is None:
        with db.engine.connect() as connection:
            text = connection.scalar(select(Message.content).where(Message.id == reply_id, Message.is_live))
    if text is None:
        return None
    return Piece(seen, text[seen:])


def _check_writer(eng: Engine, reply_id: int) -> str | None:
    """Look at the row: its status once it has ended (the end went by
    unheard), or "error" after ending it as interrupted if its writer is
    gone. None while it is being written."""
    with db.engine.connect() as connection:
        row = connection.execute(
            select(Message.status, Message.lease_until < database_now()).where(Message.id == reply_id)
        ).one_or_none()
    if row is None:
        return "error"  # deleted with its thread: nothing more will come
    status, lapsed = row
    if not Message.status_is_live(status):
        return status
    if status == "streaming" and lapsed:
        return "error" if interrupt(eng, reply_id) else _status(reply_id)
    return None


def interrupt(eng: Engine, reply_id: int) -> bool:
    """End a reply whose writer is gone as "interrupted", keeping the text it
    saved; False if it was not lapsed (or another reader got there first)."""
    with db.engine.begin() as connection:
        content = connection.scalar(select(Message.content).where(Message.id == reply_id))
        ended = connection.execute(
            update(Message)
            .where(Message.id == reply_id, Message.status == "streaming", Message.lease_until < database_now())
            .values(
                status="error",
                error=INTERRUPTED,
                html=render_markdown(content) if content else None,
                lease_owner=None,
                lease_until=None,
            )
        ).rowcount
    if ended:
        eng.relay.publish_end(reply_id, "error")
    return ended == 1


def interrupt_dead_writers_here(app: Flask) -> int:
    """At start-up: end at once the replies that an earlier process on this
    machine was writing when it died (kill -9, a crash, a power cut), rather
    than when their leases lapse."""
    eng = engine(app)
    host = eng.owner.split(":", 1)[0]
    dead = []
    with db.engine.begin() as connection:
        rows = connection.execute(
            select(Message.id, Message.lease_owner).where(
                Message.lease_until.is_not(None), Message.lease_owner.like(f"{host}:%")
            )
        ).all()
        for reply_id, owner in rows:
            pid = int(owner.split(":")[1])
            if pid != os.getpid() and not _process_alive(pid):
                dead.append(reply_id)
                # Its lease has lapsed in all but name: let it lapse now.
                connection.execute(
                    update(Message)
                    .where(Message.id == reply_id, Message.lease_owner == owner)
                    .values(lease_until=database_now() - timedelta(seconds=1))
                )
    return sum(interrupt(eng, reply_id) for reply_id in dead)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- 4. stop -----------------------------------------------------------------


def stop(message: Message) -> bool:
    """Stop a reply being written, wherever: its writer ends it with all the
    text it has. False if it had ended already. If no writer answers (it is
    pending, or its writer is gone), it is ended here with what was saved;
    the caller commits that."""
    eng = engine()
    if not message.is_live:
        return False
    with eng.relay.subscribe(reply_channel(message.id)) as subscription:
        eng.relay.request_stop(message.id)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            heard = subscription.get(timeout=min(left, 0.25))
            if heard is not None and "end" in heard:
                return True
            if heard is None and not Message.status_is_live(_status(message.id)):
                return True  # its end went by before this request listened
    # Nobody is writing it: end it here with what the row holds.
    stopped = db.session.execute(
        update(Message)
        .where(Message.id == message.id, Message.is_live)
        .values(status="stopped", lease_owner=None, lease_until=None),
        execution_options={"synchronize_session": False},
    ).rowcount
    if stopped:
        db.session.refresh(message)
        message.html = render_markdown(message.content) if message.content else None
        db.session.flush()
        after_commit(lambda: eng.relay.publish_end(message.id, "stopped"))
    return stopped == 1


# --- 5. the live thread ------------------------------------------------------------------------


def announce(
    conversation_id: uuid.UUID, message_ids: list[int], origin: str | None = None, *, branch: bool = False
) -> None:
    """Tell every page showing the thread, once the request commits, that
    these messages are new or changed, or (``branch``) that it shows another
    branch now; ``origin`` is the page that made the change (it shows it
    already)."""
    eng = engine()
    payload = {"messages": message_ids, "origin": origin, "branch": branch}
    after_commit(lambda: eng.relay.publish(thread_channel(conversation_id), payload))


def follow_thread(conversation_id: uuid.UUID, keepalive: float = 15.0) -> Iterator[dict | None]:
    """The thread's events as they happen; None now and then while none do.

    The first event, ``{"messages": []}``, comes once this reader listens:
    whatever the caller reads from the database after it, and every event
    after, together miss nothing."""
    with engine().relay.subscribe(thread_channel(conversation_id)) as subscription:
        yield {"messages": []}
        while True:
            yield subscription.get(timeout=keepalive)


# --- 6. shutdown -------------------------------------------------------------------------------


_apps: weakref.WeakSet[Flask] = weakref.WeakSet()


def init_app(app: Flask) -> None:
    """Whatever way the process ends normally, running replies are ended
    properly (``shutdown``); under gunicorn, SIGTERM starts that at once
    (``webapp.gunicorn_conf``)."""
    _apps.add(app)


@atexit.register
def _shutdown_all() -> None:
    for app in list(_apps):
        shutdown(app, app.config["PARLEY_SHUTDOWN_GRACE"])


def shutdown(app: Flask, grace: float) -> None:
    """Take no new replies; let the running ones finish for ``grace``
    seconds, then end the rest as interrupted and wait for them to say so."""
    eng = app.extensions.get("parley.replies")
    if eng is None:
        return
    eng.accepting = False
    deadline = time.monotonic() + grace
    for writer in list(eng.writers.values()):
        if writer.thread is not None:
            writer.thread.join(max(0.0, deadline - time.monotonic()))
    running = list(eng.writers.values())
    for writer in running:
        writer.stop("interrupted")
    for writer in running:
        if writer.thread is not None:
            writer.thread.join(5.0)
    # Readers of threads here go and reconnect elsewhere.
    eng.relay.close_subscriptions()


def wait_for_writers(app: Flask, timeout: float = 10.0) -> None:
    """Wait for every reply this app is writing (tests)."""
    eng = app.extensions.get("parley.replies")
    if eng is None:
        return
    deadline = time.monotonic() + timeout
    for writer in list(eng.writers.values()):
        if writer.thread is not None:
            writer.thread.join(max(0.0, deadline - time.monotonic()))

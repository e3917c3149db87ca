"""Writing the assistant's replies: claimed in the database, streamed from
the provider, saved as they arrive, and finished exactly once.

A reply is an assistant message that starts ``pending``. A worker claims it
with one conditional UPDATE (so only one generation ever runs for it, on
however many app instances), writes the text to the row in batches as it
streams, and ends it ``complete``, ``stopped`` or ``error``. Stop works from
any instance: it finishes the row at once, and the worker, finding its claim
gone, lets go.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import select, update

from webapp.assistant import ProviderError, ReplyRequest, provider_for
from webapp.assistant.live import LiveReply, close_reply, get_reply, open_reply
from webapp.database import after_commit
from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.models import Conversation, Message, utcnow
from webapp.rendering import render_markdown

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0  # how often a streaming reply is saved to its row
CLAIM_CHECK_SECONDS = 0.5  # how often a worker checks it still owns the reply
LEASE = timedelta(seconds=90)  # a claim not renewed for this long may be taken over

WORKER_ID = f"{os.uname().nodename[:40]}:{os.getpid()}"

_background: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def history_for(message: Message, budget: int) -> list[dict[str, str]]:
    """The messages before ``message``, newest kept first, within ``budget``
    characters; always at least the newest one."""
    rows = db.session.execute(
        select(Message.role, Message.content)
        .where(Message.conversation_id == message.conversation_id, Message.position < message.position)
        .where(Message.role.in_(("user", "assistant", "system")))
        .order_by(Message.position.desc())
    )
    history: list[dict[str, str]] = []
    used = 0
    for role, content in rows:
        if history and used + len(content) > budget:
            break
        history.append({"role": role, "content": content})
        used += len(content)
    history.reverse()
    return history


def _claim(message_id: int, owner: str) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.role == "assistant")
        .where(
            (Message.status == "pending")
            | ((Message.status == "streaming") & (Message.lease_until < now))
        )
        .values(status="streaming", content="", html=None, error=None, lease_owner=owner, lease_until=now + LEASE),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    return claimed == 1


def _save(message_id: int, owner: str, **values) -> bool:
    """Write to the reply if this worker still owns it; False once it does not."""
    saved = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.lease_owner == owner, Message.status == "streaming")
        .values(**values),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    db.session.close()  # hand the connection back while the model talks
    return saved == 1


def _still_owned(message_id: int, owner: str) -> bool:
    owned = db.session.scalar(
        select(Message.id).where(
            Message.id == message_id, Message.lease_owner == owner, Message.status == "streaming"
        )
    )
    db.session.close()
    return owned is not None


def _finish(message_id: int, owner: str, text: str, status: str, error: str | None = None) -> None:
    """End the reply: its text, rendered once, and how it ended."""
    _save(message_id, owner, content=text, html=render_markdown(text) if text else None,
          status=status, error=error, lease_owner=None, lease_until=None)


def generate(message_id: int, live: LiveReply | None = None) -> None:
    """Claim the reply and write it, in this thread. Returns when it is done,
    or at once if someone else has it."""
    if live is None:
        live, _ = open_reply(message_id)
    owner = f"{WORKER_ID}:{uuid.uuid4().hex[:12]}"
    text = ""
    try:
        if not _claim(message_id, owner):
            live.elsewhere = True
            return
        message = db.session.get(Message, message_id)
        conversation = message.conversation
        request = ReplyRequest(
            history=history_for(message, current_app.config["PARLEY_LLM_HISTORY_CHARS"]),
            model=conversation.model,
            system_prompt=conversation.system_prompt,
            stop=live.stop,
        )
        db.session.close()
        last_save = last_check = time.monotonic()
        for chunk in provider_for(current_app).stream(request):
            text += chunk
            live.append(chunk)
            now = time.monotonic()
            if now - last_save >= FLUSH_SECONDS:
                last_save = last_check = now
                if not _save(message_id, owner, content=text, lease_until=utcnow() + LEASE):
                    return
            elif now - last_check >= CLAIM_CHECK_SECONDS:
                last_check = now
                if not _still_owned(message_id, owner):
                    return
            if live.stop.is_set():
                return  # Stop has finished the row already
        _finish(message_id, owner, text, "complete")
    except ProviderError as error:
        _finish(message_id, owner, text, "error", error.message)
    except Exception:
        log.exception("writing reply %s failed", message_id)
        db.session.rollback()
        _finish(message_id, owner, text, "error", "Something went wrong while writing this reply. Try again.")
    finally:
        close_reply(message_id, live)


def generate_in_background(app: Flask, message_id: int) -> threading.Thread | None:
    """Write the reply in a thread of its own, outliving the request; None
    if this process is writing it already."""
    live, new = open_reply(message_id)
    if not new:
        return None

    def run() -> None:
        with app.app_context():
            generate(message_id, live)

    thread = threading.Thread(target=run, name=f"reply-{message_id}", daemon=True)
    _background.add(thread)
    thread.start()
    return thread


def wait_for_background_replies(timeout: float = 10.0) -> None:
    """Wait for every reply being written in the background (tests, shutdown)."""
    deadline = time.monotonic() + timeout
    for thread in list(_background):
        thread.join(max(0.0, deadline - time.monotonic()))


def stop(message: Message) -> bool:
    """End a reply that is being written, keeping what it has so far; False
    if it had ended already. The caller commits; the writer, if it is in
    this process, is told once the commit has landed."""
    live = get_reply(message.id)
    text = live.text if live else None
    values = {"status": "stopped", "lease_owner": None, "lease_until": None}
    if text is not None:
        values["content"] = text
        # In the same write as the status: the reply's stream, which ends as
        # soon as it sees "stopped", sends the final HTML from this row.
        values["html"] = render_markdown(text) if text else None
    stopped = db.session.execute(
        update(Message).where(Message.id == message.id, Message.is_live).values(**values),
        execution_options={"synchronize_session": False},
    ).rowcount
    if live:
        after_commit(live.stop.set)
    if stopped:
        db.session.refresh(message)
        if text is None:  # written by another instance: render what it saved
            message.html = render_markdown(message.content) if message.content else None
            db.session.flush()
    return stopped == 1


def reset_for_regeneration(conversation: Conversation, message: Message) -> Message:
    """Make the thread's last reply pending again, to be written anew."""
    if message.role != "assistant" or message.position != conversation.message_count:
        raise InvalidInput("message", "Only the last reply of a chat can be written again.")
    if message.is_live:
        raise InvalidInput("message", "This reply is still being written; stop it first.")
    message.status = "pending"
    message.content = ""
    message.html = None
    message.error = None
    message.lease_owner = None
    message.lease_until = None
    return message

"""Server-Sent Events that carry a reply into the page as it is written.

htmx's SSE extension swaps each unnamed message into the reply's text
(``beforeend``), so tokens go out as escaped text. The first message of a
connection replaces the text outright, so a reconnect or a second tab starts
from what has arrived so far. When the reply ends, the finished message
replaces the whole placeholder (out of band), which also closes the stream;
``event: done`` closes it as well.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from flask import Response, current_app, render_template, stream_with_context
from markupsafe import escape

from webapp.assistant.live import LiveReply, get_reply
from webapp.assistant.replies import generate_in_background
from webapp.extensions import db
from webapp.models import LIVE_STATUSES, Conversation, Message

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.5


def sse(data: str = "", event: str | None = None) -> str:
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in re.split(r"\r\n|\r|\n", data)]
    return "\n".join(lines) + "\n\n"


def _text(message_id: int, text: str, replace: bool) -> str:
    if replace:
        return sse(f'<div id="message-{message_id}-text" hx-swap-oob="innerHTML">{escape(text)}</div>')
    return sse(str(escape(text)))


def _follow_live(message_id: int, live: LiveReply) -> Iterator[str]:
    seen, held, first = 0, "", True
    while True:
        new, done = live.wait_beyond(seen, KEEPALIVE_SECONDS)
        seen += len(new)
        held += new
        # htmx drops a message that is only white space: keep it for the next word.
        if held.strip():
            yield _text(message_id, held, replace=first)
            held, first = "", False
        elif not new and not done:
            yield ": keep-alive\n\n"
        if done:
            return


def _follow_database(message_id: int) -> Iterator[str]:
    """For a reply written by another app instance: poll its row."""
    shown = None
    quiet_since = time.monotonic()
    while True:
        row = db.session.execute(
            db.select(Message.content, Message.status).where(Message.id == message_id)
        ).one_or_none()
        db.session.close()
        if row is None or row.status not in LIVE_STATUSES:
            return
        if row.content != shown and row.content.strip():
            replace = shown is None or not row.content.startswith(shown)
            yield _text(message_id, row.content if replace else row.content[len(shown):], replace)
            shown, quiet_since = row.content, time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        time.sleep(POLL_SECONDS)


def _live_reply(message_id: int) -> LiveReply | None:
    """The reply as this process writes it, starting the writing here if no
    instance holds it (a pending reply, or one whose writer went away)."""
    live = get_reply(message_id)
    if live is not None:
        return live
    status = db.session.scalar(db.select(Message.status).where(Message.id == message_id))
    db.session.close()
    if status not in LIVE_STATUSES:
        return None
    # Whether it may be taken up (pending, or its writer's lease lapsed) is
    # the claim's to decide; if another instance holds it, the live reply
    # says so and this reader follows the row instead.
    generate_in_background(current_app._get_current_object(), message_id)
    return get_reply(message_id)


def _final(conversation_id, message_id: int) -> Iterator[str]:
    message = db.session.get(Message, message_id)
    if message is not None:
        conversation = db.session.get(Conversation, conversation_id)
        yield sse(render_template("chat/_reply_final.html", message=message, conversation=conversation))
    db.session.close()
    yield sse(event="done")


def reply_stream(conversation: Conversation, message: Message) -> Response:
    conversation_id, message_id = conversation.id, message.id
    db.session.close()

    def events() -> Iterator[str]:
        yield ": open\n\n"  # send the headers now
        live = _live_reply(message_id)
        if live is not None:
            yield from _follow_live(message_id, live)
        if live is None or live.elsewhere:
            yield from _follow_database(message_id)
        yield from _final(conversation_id, message_id)

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

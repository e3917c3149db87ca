"""Server-Sent Events for the chat page: a reply as it is written, and a
thread's new messages as they are added (in another tab, on another device,
through the API).

A reply's stream: each message is the reply so far, rendered and sanitised
as the finished reply will be (Markdown, highlighted code), replacing the
reply's text out of band; at most one every ``RENDER_EVERY`` seconds, so a
fast model costs a few renders a second, not one per token. The first
message of a connection goes at once, so a reconnect or a second tab starts
from what has arrived so far. When the reply ends, the finished message
(its stored HTML: what a reload shows) replaces the whole placeholder (out
of band), which also ends the stream; ``event: done`` closes it as well.

A thread's stream carries messages that the page does not show yet, as a
partial appended to the message list, and messages that changed (a reply
written again) out of band, by id. Each event has an id (the newest message
it carried), which the browser sends back as ``Last-Event-ID`` when it
reconnects, so nothing added in between is missed.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

from flask import Response, render_template, stream_with_context
from sqlalchemy import select

from webapp import replies
from webapp.branches import list_messages, versions_of
from webapp.extensions import db
from webapp.models import Conversation, Message
from webapp.rendering import render_markdown

KEEPALIVE_SECONDS = 15.0
RENDER_EVERY = 0.15  # seconds between two renders of a reply being written
NEW_MESSAGES_MAX = 50


def sse(data: str = "", event: str | None = None, event_id: str | None = None) -> str:
    lines = [f"event: {event}"] if event else []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in re.split(r"\r\n|\r|\n", data)]
    return "\n".join(lines) + "\n\n"


def event_stream(events: Iterator[str]) -> Response:
    return Response(
        stream_with_context(events),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- a reply ---------------------------------------------------------------------------------


def _rendered(message_id: int, text: str) -> str:
    return sse(f'<div id="message-{message_id}-text" hx-swap-oob="innerHTML">{render_markdown(text)}</div>')


def _final(conversation_id: uuid.UUID, message_id: int) -> Iterator[str]:
    message = db.session.get(Message, message_id)
    if message is not None:
        conversation = db.session.get(Conversation, conversation_id)
        versions = versions_of(conversation, [message])
        yield sse(
            render_template("chat/_reply_final.html", message=message, conversation=conversation, versions=versions)
        )
    db.session.close()
    yield sse(event="done")


def reply_stream(conversation: Conversation, message: Message) -> Response:
    conversation_id, message_id = conversation.id, message.id
    db.session.close()  # the stream holds no connection while it waits

    def events() -> Iterator[str]:
        yield ": open\n\n"  # send the headers now
        text, shown = "", None
        sent_at = 0.0  # when the text was last sent
        spoke_at = time.monotonic()  # when anything was last sent
        for event in replies.follow(message_id, keepalive=KEEPALIVE_SECONDS, tick=RENDER_EVERY):
            now = time.monotonic()
            if isinstance(event, replies.Piece):
                text = text[: event.offset] + event.text
                if shown is not None and now - sent_at < RENDER_EVERY:
                    continue  # held back until the next tick or piece
            elif event is not None:
                break
            if text != shown:
                yield _rendered(message_id, text)
                shown, sent_at, spoke_at = text, now, now
            elif now - spoke_at >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                spoke_at = now
        yield from _final(conversation_id, message_id)

    return event_stream(events())


# --- a thread ---------------------------------------------------------------------------------


def thread_stream(conversation: Conversation, after: int, page: str | None) -> Response:
    """The thread's messages added after message ``after`` or changed, as they
    happen; ``page`` is the page listening (it shows its own changes already)."""
    conversation_id = conversation.id
    db.session.close()

    def events() -> Iterator[str]:
        nonlocal after
        yield ": open\n\n"
        # The first event asks for what was added since the page was
        # rendered (or while it was reconnecting); then what comes.
        for event in replies.follow_thread(conversation_id, keepalive=KEEPALIVE_SECONDS):
            if event is None:
                yield ": keep-alive\n\n"
                continue
            if event.get("closing"):
                return
            if page and event.get("origin") == page:
                continue
            if event.get("branch"):
                html, after = _branch_html(conversation_id, after)
            else:
                html, after = _messages_html(conversation_id, after, changed=event.get("messages", []))
            if html:
                yield sse(html, event_id=str(after))

    return event_stream(events())


def _branch_html(conversation_id: uuid.UUID, after: int) -> tuple[str, int]:
    """The thread's shown branch, to replace the page's list (an edit, a
    new version, a switch elsewhere); and the new ``after``."""
    try:
        conversation = db.session.get(Conversation, conversation_id)
        if conversation is None:
            return "", after
        page = list_messages(conversation)
        html = render_template(
            "chat/_thread_event.html",
            conversation=conversation,
            branch=page,
            versions=versions_of(conversation, page.items),
        )
        return html, max([after, *(message.id for message in page.items)])
    finally:
        db.session.close()


def _messages_html(conversation_id: uuid.UUID, after: int, changed: list[int]) -> tuple[str, int]:
    """The messages past ``after`` (appended) and the ``changed`` ones at or
    before it (replaced), as one SSE message; and the new ``after``."""
    try:
        conversation = db.session.get(Conversation, conversation_id)
        if conversation is None:
            return "", after
        # Only what carries on the page's branch from its last message; a new
        # version elsewhere comes as a branch event instead.
        new, tail = [], after
        for message in db.session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after)
            .order_by(Message.position)
            .limit(NEW_MESSAGES_MAX)
        ):
            if message.parent_id == tail:
                new.append(message)
                tail = message.id
        old_ids = [message_id for message_id in changed if message_id <= after]
        old = (
            list(
                db.session.scalars(
                    select(Message).where(Message.conversation_id == conversation_id, Message.id.in_(old_ids))
                )
            )
            if old_ids
            else []
        )
        if not new and not old:
            return "", after
        html = render_template(
            "chat/_thread_event.html",
            conversation=conversation,
            new=new,
            changed=old,
            versions=versions_of(conversation, [*new, *old]),
        )
        return html, tail
    finally:
        db.session.close()

"""A thread as a Markdown or JSON download, streamed message by message so
that a long thread costs no more memory than a short one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from flask import Response, stream_with_context
from sqlalchemy import select

from webapp.branches import branch_ids
from webapp.extensions import db
from webapp.models import Conversation, Message, utcnow
from webapp.serialize import conversation_json, message_json

BATCH = 500


def _shown_branch(conversation: Conversation) -> Iterator[Message]:
    """The shown branch, oldest first, a batch at a time: only its ids are
    held, never its messages."""
    ids = branch_ids(conversation)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        found = {m.id: m for m in db.session.scalars(select(Message).where(Message.id.in_(batch)))}
        for message_id in batch:
            yield found[message_id]
            db.session.expunge(found[message_id])  # keep the identity map from growing


def _messages(conversation: Conversation) -> Iterator[Message]:
    """Every message of every branch, in the order added."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.position)
        .execution_options(yield_per=BATCH)
    )
    for message in db.session.scalars(query):
        yield message
        db.session.expunge(message)  # keep the identity map from growing


def _when(message: Message) -> str:
    return message.created_at.strftime("%Y-%m-%d %H:%M UTC")


def markdown_lines(conversation: Conversation) -> Iterator[str]:
    yield f"# {conversation.display_title}\n\n"
    yield f"*Exported from Parley on {utcnow():%Y-%m-%d %H:%M} UTC: the branch shown, of {conversation.message_count} messages.*\n"
    for message in _shown_branch(conversation):
        status = "" if message.status == "complete" else f" ({message.status})"
        yield f"\n## {message.role_label}, {_when(message)}{status}\n\n{message.content.rstrip()}\n"
        if message.error:
            yield f"\n> {message.error}\n"


def json_chunks(conversation: Conversation) -> Iterator[str]:
    head = json.dumps({"conversation": conversation_json(conversation)}, ensure_ascii=False)
    yield head[:-1] + ', "messages": ['
    for n, message in enumerate(_messages(conversation)):
        yield ("," if n else "") + json.dumps(message_json(message), ensure_ascii=False)
    yield "]}\n"


def filename(conversation: Conversation, extension: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", conversation.title or "chat").strip("-").lower()[:60] or "chat"
    return f"{slug}.{extension}"


def download(conversation: Conversation, kind: str) -> Response:
    chunks, mimetype = {
        # Werkzeug adds "; charset=utf-8" to text types itself.
        "md": (markdown_lines, "text/markdown"),
        "json": (json_chunks, "application/json"),
    }[kind]
    return Response(
        stream_with_context(chunks(conversation)),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename(conversation, kind)}"'},
    )

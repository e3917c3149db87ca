"""Writing a planned thread: one conversation row and all its messages, in
the caller's transaction (which commits it, or rolls all of it back).

Messages go in with one multi-row INSERT, not one ORM object each: their
ids are taken first (PostgreSQL: from the column's sequence; SQLite: above
the largest, under the write lock the conversation's INSERT took), so that
each row can name its parent as it is inserted. A reply's HTML is stored
with it, as ``append_message`` stores it: rendered once, by the job's
renderer (``webapp.imports.rendering``); the full-text index takes
every row by itself (``webapp.search_index``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, func, insert, or_, select, text

from webapp.extensions import db
from webapp.imports.rendering import replies_of
from webapp.imports.threads import PlannedThread
from webapp.models import Conversation, Message


def already_imported(user_id: int, planned: PlannedThread) -> bool:
    """Whether the account holds this thread already: imported before (the
    same source id), or, for a Parley export, the very thread it came from."""
    found = []
    if planned.source_id is not None:
        found.append(Conversation.source_id == planned.source_id)
    if planned.own_id is not None:
        found.append(Conversation.id == planned.own_id)
    if not found:
        return False
    return bool(db.session.scalar(select(exists().where(Conversation.user_id == user_id, or_(*found)))))


def store(user_id: int, planned: PlannedThread, replies_html: list[str]) -> uuid.UUID:
    """Add the thread to the account (flushes; the caller commits).
    ``replies_html``: the HTML of ``replies_of(planned)``, in order (the
    job's renderer made it)."""
    if len(replies_html) != (replies := len(replies_of(planned))):
        raise ValueError(f"{len(replies_html)} replies' HTML for {replies} replies")
    html = iter(replies_html)
    conversation_id = uuid.uuid4()
    db.session.execute(
        insert(Conversation.__table__).values(
            id=conversation_id,
            user_id=user_id,
            title=planned.title,
            model=planned.model,
            system_prompt=planned.system_prompt,
            message_count=len(planned.messages),
            current_message_id=None,
            created_at=planned.created_at,
            updated_at=planned.updated_at,
            pinned=planned.pinned,
            archived=planned.archived,
            deleted_at=None,
            source_id=planned.source_id,
        )
    )
    ids = _new_message_ids(len(planned.messages))
    rows = [
        {
            "id": ids[n],
            "conversation_id": conversation_id,
            "position": n + 1,
            "parent_id": ids[message.parent] if message.parent is not None else None,
            "role": message.role,
            "content": message.content,
            "html": next(html) if message.role == "assistant" and message.content else None,
            "tool_calls": message.tool_calls,
            "status": message.status,
            "error": message.error,
            "created_at": message.created_at,
            "lease_owner": None,
            "lease_until": None,
        }
        for n, message in enumerate(planned.messages)
    ]
    if not rows:
        return conversation_id  # a Parley thread with no messages
    db.session.execute(insert(Message.__table__), rows)
    db.session.execute(
        Conversation.__table__.update()
        .where(Conversation.__table__.c.id == conversation_id)
        .values(current_message_id=ids[planned.current])
    )
    return conversation_id


def _new_message_ids(count: int) -> list[int]:
    """``count`` unused message ids, ascending, for this transaction alone."""
    if db.engine.dialect.name == "postgresql":
        taken = db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, :count)"),
            {"count": count},
        )
        return sorted(taken)
    # SQLite: the INSERT before this took the write lock, which no other
    # writer can take until this transaction ends.
    largest = db.session.scalar(select(func.coalesce(func.max(Message.id), 0)))
    return list(range(largest + 1, largest + 1 + count))

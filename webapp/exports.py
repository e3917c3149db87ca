"""Exports: one thread as Markdown or JSON, and a whole account (or the
threads chosen from it) as a ZIP, all streamed so that the largest costs
no more memory than the smallest.

The ZIP holds ``conversations.json``, a list of ``{"conversation": {...},
"messages": [...]}`` — the API's shapes, with what a thread needs to be
imported back exactly (its model, system prompt and source id; each
message's error) and every message of every branch in the order added —
and ``markdown/<YYYY-MM-DD>-<title>.md`` per thread, its shown branch.
Threads in the trash are left out. ``webapp.imports.parley`` reads it back.

The ZIP is written by ``zipfile`` into a pipe that the response empties as
it goes (entries carry their sizes after their data, as a stream must):
only the ids of the threads are held, and one page of messages at a time.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import func, select

from webapp.assistant import public_error
from webapp.audit import record
from webapp.branches import branch_ids
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Message, User, utcnow
from webapp.serialize import conversation_json, message_json

BATCH = 500  # messages read at a time
PIPE_CHUNK = 64 * 1024  # bytes of ZIP the response is handed at a time


# --- one thread ---------------------------------------------------------------------------


def shown_branch(conversation: Conversation) -> Iterator[Message]:
    """The shown branch, oldest first, a batch at a time: only its ids are
    held, never its messages."""
    ids = branch_ids(conversation)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        found = {m.id: m for m in db.session.scalars(select(Message).where(Message.id.in_(batch)))}
        for message_id in batch:
            yield found[message_id]
            db.session.expunge(found[message_id])  # keep the identity map from growing


def every_message(conversation: Conversation) -> Iterator[Message]:
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
    for message in shown_branch(conversation):
        status = "" if message.status == "complete" else f" ({message.status})"
        yield f"\n## {message.role_label}, {_when(message)}{status}\n\n{message.content.rstrip()}\n"
        if message.error:
            yield f"\n> {public_error(message.error)}\n"


def export_conversation_json(conversation: Conversation) -> dict[str, Any]:
    """The API's conversation, with what importing it back needs."""
    data = conversation_json(conversation)
    data.setdefault("pinned", conversation.pinned)
    data.setdefault("archived", conversation.archived)
    data |= {
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "source_id": conversation.source_id,
    }
    return data


def export_message_json(message: Message) -> dict[str, Any]:
    # What its reader is told of a failure: the details are the admins'.
    return message_json(message) | {"error": public_error(message.error) if message.error else None}


def thread_json_chunks(conversation: Conversation) -> Iterator[str]:
    """``{"conversation": {...}, "messages": [...every branch...]}``, piece by piece."""
    head = json.dumps({"conversation": export_conversation_json(conversation)}, ensure_ascii=False)
    yield head[:-1] + ', "messages": ['
    for n, message in enumerate(every_message(conversation)):
        yield ("," if n else "") + json.dumps(export_message_json(message), ensure_ascii=False)
    yield "]}"


def json_chunks(conversation: Conversation) -> Iterator[str]:
    """One thread's ``export.json``."""
    yield from thread_json_chunks(conversation)
    yield "\n"


# --- many threads, as a ZIP ---------------------------------------------------------------------


def exported_ids(user: User, chosen: Iterable[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """The ids of the user's threads that an export holds (all, or the
    ``chosen`` ones that are theirs), none in the trash, oldest first."""
    query = select(Conversation.id).where(Conversation.user_id == user.id, Conversation.deleted_at.is_(None))
    if chosen is not None:
        query = query.where(Conversation.id.in_(list(chosen)))
    return list(db.session.scalars(query.order_by(Conversation.created_at, Conversation.id)))


def _threads(ids: list[uuid.UUID]) -> Iterator[Conversation]:
    for conversation_id in ids:
        conversation = db.session.get(Conversation, conversation_id)
        if conversation is None or conversation.deleted_at is not None:
            continue  # deleted or trashed while the export ran
        yield conversation
        db.session.expunge(conversation)


class _Pipe(io.RawIOBase):
    """Where ``zipfile`` writes: the response takes what it has written.
    Not seekable, so entries are written with their sizes after them."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        self.size = 0
        return data


def markdown_name(conversation: Conversation, taken: set[str]) -> str:
    """``markdown/<YYYY-MM-DD>-<title>.md``, made unique within the ZIP."""
    slug = re.sub(r"[^\w]+", "-", conversation.display_title).strip("-_")[:80]
    # At most 200 bytes, so that the whole name fits the 255 bytes most file systems allow.
    slug = slug.encode()[:200].decode(errors="ignore").rstrip("-_") or "chat"
    stem = f"markdown/{conversation.created_at:%Y-%m-%d}-{slug}"
    name, n = f"{stem}.md", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.md"
    taken.add(name)
    return name


def _entry(name: str, when) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def zip_chunks(ids: list[uuid.UUID]) -> Iterator[bytes]:
    """The export ZIP of the threads ``ids``, as bytes to send."""
    pipe = _Pipe()
    now = utcnow()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        # zip64: its size is not known before it is written.
        with archive.open(_entry("conversations.json", now), "w", force_zip64=True) as entry:
            entry.write(b"[")
            for n, conversation in enumerate(_threads(ids)):
                entry.write(b",\n" if n else b"\n")
                for piece in thread_json_chunks(conversation):
                    entry.write(piece.encode())
                    if pipe.size >= PIPE_CHUNK:
                        yield pipe.take()
            entry.write(b"\n]\n")
        taken: set[str] = set()
        for conversation in _threads(ids):
            with archive.open(_entry(markdown_name(conversation, taken), conversation.updated_at), "w") as entry:
                for line in markdown_lines(conversation):
                    entry.write(line.encode())
                    if pipe.size >= PIPE_CHUNK:
                        yield pipe.take()
    yield pipe.take()


def zip_download(user: User, chosen: Iterable[uuid.UUID] | None = None, *, filename: str | None = None) -> Response:
    """The user's threads (all, or the ``chosen`` ones of theirs) as a ZIP download."""
    ids = exported_ids(user, chosen)
    name = filename or f"parley-export-{user.username}-{utcnow():%Y-%m-%d}.zip"
    return Response(
        stream_with_context(zip_chunks(ids)),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


def chosen_filename(user: User) -> str:
    """The name of a ZIP of chosen threads (the account's is ``zip_download``'s default)."""
    return f"parley-chats-{user.username}-{utcnow():%Y-%m-%d}.zip"


def record_account_export(actor: User, user: User) -> AuditEvent:
    """The audit log's record of an admin exporting ``user``'s account."""
    threads = db.session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.user_id == user.id, Conversation.deleted_at.is_(None))
    )
    return record(actor, "export_user", user, detail=f"{threads:,} thread{'s' if threads != 1 else ''}")

"""What the import and export tests share: running an import to its end,
and reading back what an account holds, position by position (ids differ
from one database to the other)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from webapp.branches import branch_ids
from webapp.extensions import db
from webapp.imports import create_job, job_json
from webapp.imports.jobs import run
from webapp.models import Conversation, ImportJob, Message, User

FIXTURES = Path(__file__).parent / "fixtures" / "imports"


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


def zipped(entries: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def run_import(app, user: User, *files: tuple[str, bytes]) -> dict:
    """Import ``files`` (name, bytes) for ``user`` as the import page does,
    here, to the end; the job as the API shows it."""
    with app.app_context():
        uploads = [FileStorage(io.BytesIO(data), filename=name) for name, data in files]
        job = create_job(db.session.get(User, user.id), uploads)
        db.session.commit()
        job_id = job.id
    with app.app_context():
        run(job_id)
    with app.app_context():
        return job_json(db.session.get(ImportJob, job_id))


def running_import(app, user: User, *, bytes_done: int, imported: int) -> uuid.UUID:
    """A job of ``user``'s that is ``bytes_done`` of 1,000 bytes into its file
    (committed); its id."""
    with app.app_context():
        job = ImportJob(
            user_id=user.id,
            status="running",
            files=[{"name": "conversations.json", "size": 1000}],
            bytes_total=1000,
            bytes_done=bytes_done,
            imported=imported,
            errors=[],
        )
        db.session.add(job)
        db.session.commit()
        return job.id


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class Stored:
    """A message as stored, its parent named by position (1, 2, …)."""

    position: int
    parent: int | None
    role: str
    content: str
    status: str
    error: str | None
    created_at: datetime
    html: str | None
    tool_calls: list | None


@dataclass
class Thread:
    id: object
    title: str | None
    model: str | None
    system_prompt: str | None
    created_at: datetime
    updated_at: datetime
    source_id: str | None
    pinned: bool
    archived: bool
    message_count: int
    messages: list[Stored]
    shown: list[int]  # positions of the shown branch

    @property
    def shown_texts(self) -> list[str]:
        return [self.messages[position - 1].content for position in self.shown]


def threads_of(app, user: User) -> list[Thread]:
    """The user's threads, oldest first, every message of every branch."""
    with app.app_context():
        found = []
        for conversation in db.session.scalars(
            select(Conversation).where(Conversation.user_id == user.id).order_by(Conversation.created_at)
        ):
            rows = list(
                db.session.scalars(
                    select(Message).where(Message.conversation_id == conversation.id).order_by(Message.position)
                )
            )
            position = {row.id: row.position for row in rows}
            found.append(
                Thread(
                    id=conversation.id,
                    title=conversation.title,
                    model=conversation.model,
                    system_prompt=conversation.system_prompt,
                    created_at=conversation.created_at,
                    updated_at=conversation.updated_at,
                    source_id=conversation.source_id,
                    pinned=conversation.pinned,
                    archived=conversation.archived,
                    message_count=conversation.message_count,
                    messages=[
                        Stored(
                            row.position,
                            position.get(row.parent_id),
                            row.role,
                            row.content,
                            row.status,
                            row.error,
                            row.created_at,
                            row.html,
                            row.tool_calls,
                        )
                        for row in rows
                    ],
                    shown=[position[message_id] for message_id in branch_ids(conversation)],
                )
            )
        return found


def fixture_json(name: str):
    return json.loads((FIXTURES / name).read_text())

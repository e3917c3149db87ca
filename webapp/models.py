"""The database schema: users, their conversations, every message as a row, and
the users' personal API tokens.

Changing anything here needs a migration in ``migrations/``
(``flask --app wsgi db migrate -m "…"``); a test compares the two.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeDecorator

from webapp.extensions import db

ROLES = ("user", "admin")
MESSAGE_ROLES = ("user", "assistant", "system", "tool")
MESSAGE_STATUSES = ("pending", "streaming", "complete", "stopped", "error")
# A reply with one of these is still to be written, or being written.
LIVE_STATUSES = ("pending", "streaming")
ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}
AUDIT_ACTIONS = (
    "rename_thread",
    "delete_thread",
    "set_role",
    "disable_user",
    "enable_user",
    "delete_user",
    "revoke_share",
    "restore_thread",
    "purge_thread",
    "export_user",
)
AUDIT_TARGETS = ("conversation", "user")
TITLE_MAX = 255
USERNAME_MAX = 32
TOKEN_NAME_MAX = 100
MODEL_NAME_MAX = 200
UNTITLED = "Untitled chat"
IMPORT_STATUSES = ("queued", "running", "done", "failed")
SOURCE_ID_MAX = 255

# SQLite has no 64-bit autoincrement other than INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value
    is stored as naive UTC and made aware again on the way out. Naive values
    are refused on the way in: they are always a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX))
    # Lower-cased username: uniqueness without regard to case, on any database.
    username_key: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(8), default="user")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the id the session cookie carries: replacing it ends every
    # session of the account (password change, disabled by an admin).
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Raised by the database with every write to what the account's pages
    # show (webapp/page_versions.py); read with the account, it tells whether
    # a page kept in webapp/page_cache.py is still the page.
    page_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    conversations: WriteOnlyMapped[Conversation] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    api_tokens: WriteOnlyMapped[ApiToken] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login: an inactive user cannot sign in
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


class Conversation(db.Model):
    __tablename__ = "conversations"
    __table_args__ = (
        # The sidebar: one user's threads by recent activity, keyset-paged.
        Index(
            "ix_conversations_user_recent",
            "user_id",
            "updated_at",
            "id",
            sqlite_where=text("deleted_at IS NULL AND archived = 0"),
            postgresql_where=text("deleted_at IS NULL AND NOT archived"),
        ),
        # The admin table: everyone's threads by recent activity (those
        # neither archived nor in the trash; the other two lists are short).
        Index(
            "ix_conversations_recent",
            "updated_at",
            "id",
            sqlite_where=text("deleted_at IS NULL AND archived = 0"),
            postgresql_where=text("deleted_at IS NULL AND NOT archived"),
        ),
        # The sidebar's order: pinned first, then by activity, of the threads
        # neither archived nor in the trash. Partial, so that an account's
        # archive and trash cost it nothing. (SQLite uses a partial index only
        # for a condition written as its own is: SQLAlchemy writes
        # ``archived == false()`` as ``archived = 0`` there.)
        Index(
            "ix_conversations_user_sidebar",
            "user_id",
            "pinned",
            "updated_at",
            "id",
            sqlite_where=text("deleted_at IS NULL AND archived = 0"),
            postgresql_where=text("deleted_at IS NULL AND NOT archived"),
        ),
        Index(
            "ix_conversations_user_archive",
            "user_id",
            "updated_at",
            "id",
            sqlite_where=text("deleted_at IS NULL AND archived = 1"),
            postgresql_where=text("deleted_at IS NULL AND archived"),
        ),
        # The trash, most recently trashed first; and the purge, oldest first.
        Index(
            "ix_conversations_user_trash",
            "user_id",
            "deleted_at",
            "id",
            sqlite_where=text("deleted_at IS NOT NULL"),
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        Index(
            "ix_conversations_trash",
            "deleted_at",
            "id",
            sqlite_where=text("deleted_at IS NOT NULL"),
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        # An import skips what the account already holds (webapp/imports):
        # one thread per source id and account.
        Index(
            "ix_conversations_user_source",
            "user_id",
            "source_id",
            unique=True,
            sqlite_where=text("source_id IS NOT NULL"),
            postgresql_where=text("source_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(TITLE_MAX))
    model: Mapped[str | None] = mapped_column(String(MODEL_NAME_MAX))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    # Kept in step with the messages (of every branch) in the same
    # transaction; it also hands out message positions, so listing never has
    # to count rows.
    message_count: Mapped[int] = mapped_column(default=0)
    # The last message of the branch the thread shows; null before the first
    # message. No foreign key: with messages.conversation_id it would make a
    # cycle whose cascades the two databases handle differently; only
    # webapp.conversations sets it, always to one of the thread's messages.
    current_message_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Organising (webapp/organising.py): none of these is activity, so none
    # of them changes updated_at.
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    archived: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set while the thread is in the trash; it is purged PARLEY_TRASH_DAYS later.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where an imported thread came from ("chatgpt:<its id>", "openwebui:…",
    # "parley:…"); null for a thread begun here.
    source_id: Mapped[str | None] = mapped_column(String(SOURCE_ID_MAX))

    user: Mapped[User] = relationship(back_populates="conversations")
    messages: WriteOnlyMapped[Message] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Message.position",
    )

    @property
    def display_title(self) -> str:
        """The title as pages and exports show it."""
        return self.title or UNTITLED

    def __repr__(self) -> str:
        return f"<Conversation {self.id} {self.title!r}>"


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        # Order of insertion (every branch): exports and the API's all=1.
        UniqueConstraint("conversation_id", "position"),
        # A message's replies and versions: walking a branch down, and ‹ 2 / 3 ›.
        Index("ix_messages_conversation_parent", "conversation_id", "parent_id", "id"),
        CheckConstraint(_in("role", MESSAGE_ROLES), name="role"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int]
    # The message it follows; null for a thread's first (and its versions):
    # a thread is a tree, and a branch is a walk up it.
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    # The content rendered to safe HTML, once, when the message is final.
    html: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[Any | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="complete")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which process is writing this reply, and until when (by the database's
    # clock) its claim holds: one generation per message, across any number
    # of app instances. Set only while a reply is written, so the index
    # holds only those few rows.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    @hybrid_property
    def is_live(self) -> bool:
        """A reply still to be written or being written (in SQL too)."""
        return Message.status_is_live(self.status)

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls) -> ColumnElement[bool]:
        return cls.status.in_(LIVE_STATUSES)

    @staticmethod
    def status_is_live(status: str | None) -> bool:
        """``is_live`` for a status read on its own."""
        return status in LIVE_STATUSES

    @property
    def content_length(self) -> int:
        """Part of what its kept fragment is found by, as ``branches.MESSAGE_HEAD`` reads it."""
        return len(self.content or "")

    @property
    def html_missing(self) -> bool:
        return self.html is None

    @property
    def role_label(self) -> str:
        """Who wrote it, as the owner's pages and exports name them."""
        return ROLE_LABELS[self.role]

    def __repr__(self) -> str:
        return f"<Message {self.id} #{self.position} {self.role}>"


class AuditEvent(db.Model):
    """One admin action: who did what to which thread or account, and when.

    Targets are named by id and snapshots of their names rather than by
    foreign key, so the record outlives the thread or account it names; the
    actor's id is kept only while their account exists.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(_in("action", AUDIT_ACTIONS), name="action"),
        CheckConstraint(_in("target_type", AUDIT_TARGETS), name="target_type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed so that deleting an account finds its events without a scan.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The actor's username then, or "command line" for `flask set-role`.
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(64))
    # Whose thread it was, or the account's own username.
    target_owner_name: Mapped[str | None] = mapped_column(String(USERNAME_MAX))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.target_type}:{self.target_id}>"


class ApiToken(db.Model):
    """A personal token for the JSON API, kept only as a hash.

    The plaintext is shown once, when the token is made; a copy of the
    database does not hand anyone a working token. Revoking deletes the row.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX))
    # SHA-256 hex digest of the plaintext: every API request looks a token up by it.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Recorded at most once a minute (see webapp.tokens), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_tokens")

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name!r}>"


class Share(db.Model):
    """A thread's share link and the snapshot it shows (``webapp.shares``).

    One link per thread: refreshing it keeps the token and replaces the
    snapshot. The snapshot is rows of its own (``SharedMessage``), not a
    reading of the thread, so that what the link shows changes only when its
    owner says so.
    """

    __tablename__ = "shares"
    __table_args__ = (
        # The settings page lists an account's links, newest first.
        Index("ix_shares_user_recent", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    # The thread's owner, copied from the thread (which never changes hands
    # and takes its share with it), so that an account's links are found by
    # an index of their own rather than through every thread of the account.
    # Null only in a database that SQLite could not give a NOT NULL column.
    user_id: Mapped[int | None] = mapped_column()
    # The token is kept so that its owner can copy the link again; a request
    # finds its share by the token's SHA-256 digest (see webapp.shares).
    token: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The thread's title when the snapshot was taken.
    title: Mapped[str | None] = mapped_column(String(TITLE_MAX))
    message_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the snapshot was last taken (made or refreshed).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation] = relationship()
    messages: WriteOnlyMapped[SharedMessage] = relationship(
        back_populates="share", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def display_title(self) -> str:
        return self.title or UNTITLED

    def __repr__(self) -> str:
        return f"<Share {self.id} of {self.conversation_id}>"


class SharedMessage(db.Model):
    """One message of a share's snapshot, as it was when the snapshot was
    taken: a copy, not a reference, so that editing, deleting or branching
    the thread does not change what the link shows."""

    __tablename__ = "shared_messages"
    __table_args__ = (UniqueConstraint("share_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("shares.id", ondelete="CASCADE"))
    # 1, 2, 3 … down the branch.
    position: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[Any | None] = mapped_column(JSON)
    # The message's status then: a reply still being written is shared as
    # far as it had got ("pending" or "streaming").
    status: Mapped[str] = mapped_column(String(16), default="complete")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    share: Mapped[Share] = relationship(back_populates="messages")

    @property
    def is_live(self) -> bool:
        """A reply that was still being written when the snapshot was taken."""
        return Message.status_is_live(self.status)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    def __repr__(self) -> str:
        return f"<SharedMessage {self.id} #{self.position} {self.role}>"


class Chore(db.Model):
    """When a periodic chore (the trash purge) last ran, shared by every
    instance: the instance whose conditional update claims the row runs it,
    so the chore runs once an interval however many instances there are."""

    __tablename__ = "chores"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Chore {self.name} {self.last_run_at}>"


class ImportJob(db.Model):
    """One import of uploaded files (``webapp.imports``): its progress and,
    once it ends, its report. The row is the job's whole state, so any
    instance can show it while the instance that took the upload runs it."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint(_in("status", IMPORT_STATUSES), name="status"),
        # The import page lists an account's latest jobs.
        Index("ix_import_jobs_user_recent", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # [{"name", "size"}] of the uploaded files, in the order they are read.
    files: Mapped[Any] = mapped_column(JSON, default=list)
    # The formats found ("ChatGPT", "Open WebUI", "Parley"), comma-separated.
    formats: Mapped[str | None] = mapped_column(String(64))
    # Progress: bytes of the uploads (of the conversations in a ZIP) read so far.
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    imported: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"file", "thread", "message"}]: each thread that failed and why, and
    # each file that could not be read (the first few hundred).
    errors: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Renewed as the job goes on: a running job not heard from for a few
    # minutes died with its process.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def __repr__(self) -> str:
        return f"<ImportJob {self.id} {self.status}>"

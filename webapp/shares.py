"""Sharing a thread by link: a read-only snapshot of its shown branch.

A thread has at most one share (``Share``), which holds a random token and a
snapshot: a copy of the shown branch's messages as they were when the link
was made or last refreshed, one ``SharedMessage`` row each (content, the
rendered HTML, role, status, time). Rows rather than a JSON column, so that
the shared page reads a page of a long thread by position, like the thread
itself does, and a snapshot is written and replaced with plain inserts and
one delete. The snapshot is a copy, not a pointer into the thread: a message
added, edited, regenerated or deleted later is not shown until the owner
refreshes the link ("Update link"), which keeps the token.

The token is 32 URL-safe characters (24 random bytes: 192 bits). It is kept
so that the owner can copy the link again; the snapshot it opens lives in
the same database, so storing only a hash would protect nothing. A visitor's
token is looked up by its SHA-256 digest, so the time the lookup takes says
nothing about the stored tokens; a malformed one is refused without asking
the database.

A link stops working (``find_share`` says NotFound, exactly as for an
unknown token) when it is revoked (the row is deleted), when the thread or
its owner is deleted (the database cascades), when the owner is disabled,
or when sharing is off (``PARLEY_SHARING=off``). What the owner and admins
see of shares goes through here too; like the rest of the core, nothing
here commits.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

from flask import current_app
from sqlalchemy import Row, Select, bindparam, delete, insert, select
from sqlalchemy.orm import contains_eager

from webapp.audit import record
from webapp.branches import DEEPEST, copy_messages, walk_up
from webapp.conversations import create_conversation
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Share, SharedMessage, User, utcnow
from webapp.pagination import Page, check_limit, decode_position_cursor, keyset_page
from webapp.rendering import render_markdown

TOKEN_BYTES = 24
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
SHARES_PAGE_MAX = 100
SNAPSHOT_PAGE_MAX = 500
NOT_FOUND = "There is nothing at this link. It may have been turned off, or the address is mistyped."


def sharing_enabled() -> bool:
    """Whether share links work on this site (``PARLEY_SHARING``)."""
    return current_app.config["PARLEY_SHARING"] == "on"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


# --- the owner's side ---------------------------------------------------------------------


def share_of(conversation: Conversation) -> Share | None:
    """The thread's share, if it has one (the caller scoped the thread)."""
    return db.session.scalar(select(Share).where(Share.conversation_id == conversation.id))


def share_thread(conversation: Conversation) -> Share:
    """Make the thread's link, or refresh its snapshot (same token): the
    shown branch as it is now."""
    share = share_of(conversation)
    now = utcnow()
    if share is None:
        token = new_token()
        share = Share(
            conversation_id=conversation.id,
            user_id=conversation.user_id,
            token=token,
            token_hash=hash_token(token),
            created_at=now,
        )
        db.session.add(share)
        db.session.flush()
    else:
        db.session.execute(delete(SharedMessage).where(SharedMessage.share_id == share.id))
    branch = walk_up(conversation, conversation.current_message_id, DEEPEST) if conversation.current_message_id else []
    rows = [
        {
            "share_id": share.id,
            "position": position,
            "role": message.role,
            "content": message.content,
            # A reply being written has no HTML yet: render what has arrived.
            "html": render_markdown(message.content)
            if message.is_live and message.role == "assistant" and message.content
            else message.html,
            "tool_calls": message.tool_calls,
            "status": message.status,
            "error": message.error,
            "created_at": message.created_at,
        }
        for position, message in enumerate(branch, start=1)
    ]
    if rows:
        db.session.execute(insert(SharedMessage), rows)
    share.title = conversation.title
    share.message_count = len(rows)
    share.updated_at = now
    db.session.flush()
    return share


def revoke(conversation: Conversation) -> None:
    """Stop sharing the thread: its link answers 404 from now on."""
    share = share_of(conversation)
    if share is None:
        raise NotFound("This chat is not shared.")
    db.session.delete(share)
    db.session.flush()


def list_shares(user: User) -> list[Share]:
    """The user's live links, newest first, each with its thread loaded."""
    return list(db.session.scalars(_shares_of_user(), {"user_id": user.id}))


@functools.cache
def _shares_of_user() -> Select:
    """``list_shares``'s query, built once (the settings page runs it; building
    it cost more than running it), the user bound per call."""
    return (
        select(Share)
        .join(Conversation, Share.conversation_id == Conversation.id)
        .where(Share.user_id == bindparam("user_id"), Conversation.deleted_at.is_(None))
        .options(contains_eager(Share.conversation))
        .order_by(Share.created_at.desc(), Share.id.desc())
    )


def revoke_share_of(user: User, share_id: int) -> Share:
    """Revoke one of the user's links by its id; another user's is as
    missing as none. Returns the revoked share (detached)."""
    share = db.session.scalar(
        select(Share)
        .join(Conversation, Share.conversation_id == Conversation.id)
        .where(Share.id == share_id, Conversation.user_id == user.id)
    )
    if share is None:
        raise NotFound("That shared link does not exist.")
    db.session.delete(share)
    db.session.flush()
    return share


# --- the visitor's side ---------------------------------------------------------------------


def find_share(token: str) -> Share:
    """The live share behind ``token``; anything else is NotFound, the same
    for a malformed, unknown or revoked token, a thread that is gone, an
    owner who is disabled, a thread in the trash (restoring it brings the
    link back), and sharing turned off."""
    if not sharing_enabled() or not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise NotFound(NOT_FOUND)
    share = db.session.scalar(
        select(Share)
        .join(Conversation, Share.conversation_id == Conversation.id)
        .join(User, Conversation.user_id == User.id)
        .where(Share.token_hash == hash_token(token), User.active.is_(True), Conversation.deleted_at.is_(None))
    )
    if share is None:
        raise NotFound(NOT_FOUND)
    return share


def snapshot_messages(share: Share, after: str | None = None, limit: int = 200) -> Page[SharedMessage]:
    """The snapshot's messages in order, ``limit`` at a time; ``after`` is
    the previous page's ``next_cursor``."""
    check_limit(limit, SNAPSHOT_PAGE_MAX)
    query = select(SharedMessage).where(SharedMessage.share_id == share.id)
    if after:
        position = decode_position_cursor(after, "after", "That page does not exist; start again from the top.")
        query = query.where(SharedMessage.position > min(position, 2**31 - 1))
    return keyset_page(query.order_by(SharedMessage.position), limit, lambda message: str(message.position))


def fork_snapshot(user: User, share: Share) -> Conversation:
    """A new thread of ``user``'s holding a copy of the snapshot, with the
    messages' times (a reply that was being written is copied stopped)."""
    copy = create_conversation(user, share.title)
    messages = db.session.scalars(
        select(SharedMessage).where(SharedMessage.share_id == share.id).order_by(SharedMessage.position)
    )
    copy_messages(copy, list(messages))
    return copy


# --- admins -------------------------------------------------------------------------------


def list_all_shares(cursor: str | None = None, limit: int = 50) -> Page[Row[tuple[Share, Conversation, str]]]:
    """Every live link with its thread and owner's name, newest first (a
    thread in the trash has none live)."""
    check_limit(limit, SHARES_PAGE_MAX)
    query = (
        select(Share, Conversation, User.username.label("owner_name"))
        .join(Conversation, Share.conversation_id == Conversation.id)
        .join(User, Conversation.user_id == User.id)
        .where(Conversation.deleted_at.is_(None))
    )
    if cursor:
        before = decode_position_cursor(cursor, "cursor", "That cursor is not valid; start again from the first page.")
        query = query.where(Share.id < min(before, 2**31 - 1))
    return keyset_page(query.order_by(Share.id.desc()), limit, lambda row: str(row.Share.id), rows=True)


def admin_revoke(actor: User, share_id: int) -> AuditEvent:
    """Revoke anyone's link, recorded in the audit log (``revoke_share``)
    against the thread it shared."""
    share = db.session.get(Share, share_id)
    if share is None:
        raise NotFound("That shared link does not exist.")
    conversation = share.conversation
    event = record(
        actor,
        "revoke_share",
        conversation,
        old_value=conversation.title,
        detail=f"shared since {share.created_at:%Y-%m-%d %H:%M} UTC",
    )
    db.session.delete(share)
    db.session.flush()
    return event

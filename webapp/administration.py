"""What admins do, as functions that need no request: the admin pages and
``flask set-role`` both call them.

Each action checks its rules before it writes, writes its audit event in
the same transaction as the change, and leaves the commit to the caller.
``actor`` is the admin doing it, or None for the command line.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, exists, func, select
from sqlalchemy.orm import joinedload

from webapp import organising
from webapp.accounts import USERNAME_PATTERN, delete_user, end_sessions, find_user
from webapp.audit import new_event, record
from webapp.conversations import (
    activity_cursor,
    by_recent_activity,
    clean_title,
    in_place,
    rename_conversation,
)
from webapp.errors import Conflict, InvalidInput
from webapp.extensions import db
from webapp.models import ROLES, TITLE_MAX, USERNAME_MAX, AuditEvent, Conversation, User
from webapp.pagination import Page, check_limit, keyset_page
from webapp.search import parse_query, title_matches
from webapp.text import contains, search_words

SEARCH_MAX = TITLE_MAX  # no title is longer
SEARCH_WORDS_MAX = 10


# --- input ---------------------------------------------------------------------------


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise InvalidInput("role", "The role must be admin or user.")
    return role


def parse_active(value: Any) -> bool:
    """The ``active`` form field: ``1`` enables an account, ``0`` disables it."""
    if value not in ("1", "0"):
        raise InvalidInput("active", "active must be 1 (enable) or 0 (disable).")
    return value == "1"


def title_words(q: str | None) -> list[str]:
    """The words of a title search; every one must appear in a matching title."""
    return search_words(q, max_length=SEARCH_MAX, max_words=SEARCH_WORDS_MAX)


# --- reading ---------------------------------------------------------------------------


def all_conversations_query(
    cursor: str | None, *, words: list[str] = (), owner: User | None = None, state: str = "active"
) -> Select[Any]:
    """Every user's threads in ``state`` (``active``, ``archived``,
    ``trash``) with their owner's name, newest activity first.

    Without an owner it walks ``ix_conversations_recent`` (updated_at, id);
    with one, ``ix_conversations_user_recent``. Title words are looked up in
    the search index (each the start of a word, in any case, accents
    ignored, as in search) and filter that walk.
    """
    query = (
        select(Conversation, User.username.label("owner_name"))
        .join(User, Conversation.user_id == User.id)
        .where(in_place(state))
    )
    if owner is not None:
        query = query.where(Conversation.user_id == owner.id)
    if words:
        # On the full-text index: a word no title holds costs nothing.
        query = query.where(title_matches(parse_query(" ".join(words))))
    return by_recent_activity(query, cursor)


def list_all_conversations(
    cursor: str | None = None,
    *,
    words: list[str] = (),
    owner: User | None = None,
    state: str = "active",
    limit: int = 50,
) -> Page[Row[tuple[Conversation, str]]]:
    """A page of ``(conversation, owner_name)`` rows for the admin table."""
    check_limit(limit, 100)
    query = all_conversations_query(cursor, words=words, owner=owner, state=state)
    return keyset_page(query, limit, lambda row: activity_cursor(row.Conversation), rows=True)


def list_threads_of(
    username: str | None,
    cursor: str | None = None,
    *,
    words: list[str] = (),
    state: str = "active",
    limit: int = 50,
) -> tuple[Page[Row[tuple[Conversation, str]]], User | None]:
    """The admin table filtered by owner: every user's threads, or, given a
    username (in any case), that account's and the account; an unknown
    username has no threads."""
    owner = find_user(username) if username else None
    if username and owner is None:
        return Page([], None), None
    return list_all_conversations(cursor, words=words, owner=owner, state=state, limit=limit), owner


@dataclass(frozen=True)
class AccountRow:
    user: User
    threads: int


def thread_counts(user_ids: list[int]) -> dict[int, int]:
    """How many threads each account has, in one grouped query."""
    if not user_ids:
        return {}
    query = (
        select(Conversation.user_id, func.count())
        .where(Conversation.user_id.in_(user_ids))
        .group_by(Conversation.user_id)
    )
    return {user_id: count for user_id, count in db.session.execute(query)}


def _decode_account_cursor(cursor: str) -> str:
    if len(cursor) > USERNAME_MAX or not USERNAME_PATTERN.fullmatch(cursor):
        raise InvalidInput("cursor", "That cursor is not valid; start again from the first page.")
    return cursor.lower()


def list_accounts(cursor: str | None = None, *, q: str | None = None, limit: int = 50) -> Page[AccountRow]:
    """Accounts by username, with their thread counts; ``q`` is part of a username."""
    check_limit(limit, 100)
    query = select(User)
    q = (q or "").strip().lower()
    if len(q) > USERNAME_MAX:
        raise InvalidInput("q", f"A username has at most {USERNAME_MAX} characters.")
    if q:
        query = query.where(contains(User.username_key, q, any_case=False))
    if cursor:
        query = query.where(User.username_key > _decode_account_cursor(cursor))
    page = keyset_page(query.order_by(User.username_key), limit, lambda user: user.username_key)
    counts = thread_counts([user.id for user in page.items])
    return Page([AccountRow(user, counts.get(user.id, 0)) for user in page.items], page.next_cursor)


def account_row(user: User) -> AccountRow:
    return AccountRow(user, thread_counts([user.id]).get(user.id, 0))


def account_footprint(user: User) -> tuple[int, int]:
    """``(threads, messages)``: what deleting the account deletes with it."""
    threads, messages = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Conversation.message_count), 0)).where(
            Conversation.user_id == user.id
        )
    ).one()
    return int(threads), int(messages)


# --- the rules that keep the site manageable ---------------------------------------------


def _is_active_admin():
    return (User.role == "admin") & User.active.is_(True)


def _refuse_own_account(actor: User | None, user: User, doing: str) -> None:
    # From the web, an admin never removes their own access: the last admin
    # would lock everyone out, and any other would lose the page they are on.
    if actor is not None and actor.id == user.id:
        raise Conflict(f"You cannot {doing} your own account. Ask another admin to do it.")


def _refuse_last_admin(user: User, done: str, *, lock: bool = True) -> None:
    """Refuse if ``user`` is the only active admin.

    The active admins' rows are locked first (PostgreSQL; SQLite has one
    writer at a time anyway), so two admins removing each other at the same
    moment are served one after the other and the second is refused.
    """
    query = select(User.id).where(_is_active_admin()).order_by(User.id)
    admins = db.session.scalars(query.with_for_update() if lock else query).all()
    if admins == [user.id]:
        raise Conflict(
            f"{user.username} is the last active admin and cannot be {done}. Make another account an admin first."
        )


def _check_an_admin_remains() -> None:
    # A backstop after the write: on SQLite the check above reads outside
    # the write lock, so a change committed in between could slip past it.
    # The caller does not commit after an error, so the change is dropped.
    if not db.session.scalar(select(exists().where(_is_active_admin()))):
        raise Conflict("That would leave no active admin. Make another account an admin first.")


def _guard_admin_access(actor: User | None, user: User, doing: str, done: str, *, lock: bool = True) -> bool:
    """Apply the rules for taking away ``user``'s access; True if they are an
    active admin (whose removal needs the backstop check afterwards)."""
    _refuse_own_account(actor, user, doing)
    if user.role == "admin" and user.active:
        _refuse_last_admin(user, done, lock=lock)
        return True
    return False


def removal_refusal(actor: User | None, user: User, doing: str, done: str) -> str | None:
    """Why ``actor`` may not demote, disable or delete ``user``, or None: for a
    page to say so before the form is sent (the action checks again)."""
    try:
        _guard_admin_access(actor, user, doing, done, lock=False)
    except Conflict as error:
        return error.message
    return None


# --- threads -------------------------------------------------------------------------------


def rename_thread(actor: User | None, conversation: Conversation, title: str) -> AuditEvent | None:
    """Rename anyone's thread (as its owner would: it counts as activity).
    Nothing happens, and nothing is logged, when the title stays the same."""
    old = conversation.title
    new = clean_title(title)
    if new == old:
        return None
    rename_conversation(conversation, new)
    return record(actor, "rename_thread", conversation, old_value=old, new_value=new)


def _messages(count: int) -> str:
    return f"{count} message{'s' if count != 1 else ''}"


def delete_thread(actor: User | None, conversation: Conversation) -> AuditEvent:
    """Move anyone's thread to the trash (with ``PARLEY_TRASH_DAYS=0``,
    delete it at once)."""
    restorable = organising.trash_days() > 0
    detail = "moved to the trash" if restorable else f"{_messages(conversation.message_count)} deleted with it"
    event = record(actor, "delete_thread", conversation, old_value=conversation.title, detail=detail)
    organising.move_to_trash(conversation)
    return event


def restore_thread(actor: User | None, conversation: Conversation) -> AuditEvent:
    """Bring anyone's thread back from the trash."""
    if conversation.deleted_at is None:
        raise Conflict("That thread is not in the trash.")
    event = record(actor, "restore_thread", conversation, old_value=conversation.title)
    organising.restore(conversation)
    return event


def purge_thread(actor: User | None, conversation: Conversation) -> AuditEvent:
    """Delete anyone's thread in the trash for good, with its messages."""
    if conversation.deleted_at is None:
        raise Conflict("Only a thread in the trash can be deleted for good; move it to the trash first.")
    detail = f"{_messages(conversation.message_count)} deleted with it"
    event = record(actor, "purge_thread", conversation, old_value=conversation.title, detail=detail)
    organising.purge(conversation)
    return event


ADMIN_BULK_ACTIONS = ("delete", "restore", "purge")
BULK_AUDIT = {"delete": "delete_thread", "restore": "restore_thread", "purge": "purge_thread"}


def bulk_threads(actor: User | None, action: str, ids: list[uuid.UUID]) -> organising.BulkResult:
    """One action on anyone's threads, each one audited, in one transaction."""
    if action not in ADMIN_BULK_ACTIONS:
        raise InvalidInput("action", f"Choose an action: {', '.join(ADMIN_BULK_ACTIONS)}.")
    chosen = db.session.scalars(
        select(Conversation)
        .options(joinedload(Conversation.user))
        .where(Conversation.id.in_(ids), organising.applies_to(action))
    ).all()
    detail = {"delete": "moved to the trash" if organising.trash_days() else None, "restore": None}
    db.session.add_all(
        new_event(
            actor,
            BULK_AUDIT[action],
            conversation,
            old_value=conversation.title,
            detail=detail.get(action, f"{_messages(conversation.message_count)} deleted with it"),
        )
        for conversation in chosen
    )
    result = organising.bulk(None, action, [conversation.id for conversation in chosen])
    return organising.BulkResult(action, result.done, len(ids) - result.done)


# --- accounts --------------------------------------------------------------------------------


def set_role(actor: User | None, user: User, role: str) -> AuditEvent | None:
    """Promote to admin or demote to user; None when the role is already that."""
    check_role(role)
    if user.role == role:
        return None
    was_active_admin = role != "admin" and _guard_admin_access(actor, user, "demote", "demoted")
    old = user.role
    user.role = role
    db.session.flush()
    if was_active_admin:
        _check_an_admin_remains()
    return record(actor, "set_role", user, old_value=old, new_value=role)


def set_active(actor: User | None, user: User, active: bool) -> AuditEvent | None:
    """Enable or disable an account; None when it is already so.

    Disabling replaces the session token, so every session and "remember me"
    cookie of the account stops working on its next request.
    """
    if user.active == active:
        return None
    was_active_admin = not active and _guard_admin_access(actor, user, "disable", "disabled")
    if not active:
        end_sessions(user)
    user.active = active
    db.session.flush()
    if was_active_admin:
        _check_an_admin_remains()
    return record(
        actor,
        "enable_user" if active else "disable_user",
        user,
        old_value="disabled" if active else "active",
        new_value="active" if active else "disabled",
    )


def delete_account(actor: User | None, user: User) -> AuditEvent:
    """Delete an account with every thread and message it owns."""
    was_active_admin = _guard_admin_access(actor, user, "delete", "deleted")
    threads, messages = account_footprint(user)
    event = record(
        actor,
        "delete_user",
        user,
        old_value=user.role,
        detail=(
            f"{threads} thread{'s' if threads != 1 else ''} and "
            f"{messages} message{'s' if messages != 1 else ''} deleted with it"
        ),
    )
    delete_user(user)
    if was_active_admin:
        _check_an_admin_remains()
    return event

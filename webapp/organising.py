"""Organising threads: pinned, archived, the trash, and actions on many at once.

A thread is in one of three places: the sidebar (pinned ones first), the
archive, or the trash. None of pinning, archiving, trashing or restoring is
activity: ``updated_at`` never changes here. A thread in the trash is gone
for every other purpose (``conversations.get_conversation`` does not find
it); it is deleted for good ``PARLEY_TRASH_DAYS`` days after it was put
there, by ``purge_expired`` (the ``purge-trash`` command, and the app itself
at most once an hour: ``purge_when_due``).

Like the rest of the core, these functions change the session and flush;
the caller commits. A bulk action is one UPDATE or DELETE over the chosen
threads, so it is one transaction, whole or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Boolean, Select, delete, inspect, literal, select, true, tuple_, update
from sqlalchemy.exc import IntegrityError

from webapp.conversations import activity_cursor, as_conversation_id, in_place, list_conversations
from webapp.errors import Conflict, InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import UNTITLED, Chore, Conversation, User, utcnow
from webapp.pagination import Page, check_limit, decode_activity_cursor, encode_activity_cursor, keyset_page

PAGE_MAX = 100
BULK_MAX = 10_000  # threads chosen by id in one action
BULK_ACTIONS = ("pin", "unpin", "archive", "unarchive", "delete", "restore", "purge")
PURGE_CHORE = "purge_trash"
PURGE_EVERY = timedelta(hours=1)
CHUNK = 500  # ids in one statement (SQLite allows 32,766 parameters)


# --- where a thread is ------------------------------------------------------------------


def trash_days() -> int:
    return current_app.config["PARLEY_TRASH_DAYS"]


def purge_date(conversation: Conversation) -> datetime | None:
    """When a thread in the trash will be deleted for good."""
    if conversation.deleted_at is None:
        return None
    return conversation.deleted_at + timedelta(days=trash_days())


# --- one thread ---------------------------------------------------------------------------


def set_pinned(conversation: Conversation, pinned: bool) -> None:
    conversation.pinned = pinned
    db.session.flush()


def set_archived(conversation: Conversation, archived: bool) -> None:
    conversation.archived = archived
    db.session.flush()


def move_to_trash(conversation: Conversation) -> bool:
    """Put the thread in the trash; with ``PARLEY_TRASH_DAYS=0`` there is no
    trash and it is deleted at once. True when it can still be restored."""
    if trash_days() == 0:
        _delete_for_good([conversation.id])
        return False
    if conversation.deleted_at is None:
        conversation.deleted_at = utcnow()
        db.session.flush()
    return True


def restore(conversation: Conversation) -> None:
    """Back from the trash to where it was (pinned and archived as before)."""
    conversation.deleted_at = None
    db.session.flush()


def purge(conversation: Conversation) -> None:
    """Delete a thread in the trash for good; one elsewhere is refused."""
    if conversation.deleted_at is None:
        raise Conflict("Only a chat in the trash can be deleted for good; move it to the trash first.")
    _delete_for_good([conversation.id])


def delete_for_good(conversation: Conversation) -> None:
    """Delete a thread at once, wherever it is (the API's ``?permanent=1``)."""
    _delete_for_good([conversation.id])


def get_trashed(user: User | None, conversation_id: uuid.UUID | str) -> Conversation:
    """A thread of ``user``'s (anyone's for None: the admin) in any place,
    the trash included: for restoring and purging."""
    query = select(Conversation).where(Conversation.id == as_conversation_id(conversation_id))
    if user is not None:
        query = query.where(Conversation.user_id == user.id)
    conversation = db.session.scalar(query)
    if conversation is None:
        raise NotFound("That chat no longer exists: it was deleted for good.")
    return conversation


def _delete_for_good(ids: Iterable[uuid.UUID]) -> int:
    """Delete threads; the database deletes their messages, shares and
    search entries with them."""
    ids = list(ids)
    if not ids:
        return 0
    deleted = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        deleted += db.session.execute(
            delete(Conversation).where(Conversation.id.in_(chunk)), execution_options={"synchronize_session": False}
        ).rowcount
    # Forget the deleted threads the session holds (by identity: reading an
    # attribute of one would go looking for its row).
    gone = set(ids)
    for conversation in [o for o in db.session.identity_map.values() if isinstance(o, Conversation)]:
        if inspect(conversation).identity[0] in gone:
            db.session.expunge(conversation)
    return deleted


# --- lists ----------------------------------------------------------------------------------


PINNED_CURSOR = "p"  # prefix of a sidebar cursor whose thread is pinned


@dataclass(frozen=True, slots=True)
class SidebarThread:
    """What a sidebar item shows of its thread: read as four columns, not
    as a whole ``Conversation`` (whose system prompt alone can be longer
    than the item)."""

    id: uuid.UUID
    title: str | None
    updated_at: datetime
    pinned: bool

    @property
    def display_title(self) -> str:
        return self.title or UNTITLED


def sidebar_cursor(conversation: Conversation | SidebarThread) -> str:
    cursor = activity_cursor(conversation)
    return PINNED_CURSOR + cursor if conversation.pinned else cursor


def list_sidebar(user: User, cursor: str | None = None, limit: int = 50) -> Page[SidebarThread]:
    """The sidebar's threads: the pinned ones first, then the others, each
    newest activity first; neither archived nor in the trash. One query,
    reading one stretch of one index (``ix_conversations_user_sidebar``)."""
    check_limit(limit, PAGE_MAX)
    query = select(Conversation.id, Conversation.title, Conversation.updated_at, Conversation.pinned).where(
        Conversation.user_id == user.id, in_place("active")
    )
    if cursor:
        pinned = cursor.startswith(PINNED_CURSOR)
        updated_at, conversation_id = decode_activity_cursor(cursor.removeprefix(PINNED_CURSOR))
        query = query.where(
            tuple_(Conversation.pinned, Conversation.updated_at, Conversation.id)
            < tuple_(literal(pinned, Boolean()), updated_at, conversation_id)
        )
    query = query.order_by(Conversation.pinned.desc(), Conversation.updated_at.desc(), Conversation.id.desc())
    page = keyset_page(query, limit, sidebar_cursor, rows=True)
    return Page([SidebarThread(*row) for row in page.items], page.next_cursor)


def list_archive(user: User, cursor: str | None = None, limit: int = 50) -> Page[Conversation]:
    """The user's archived threads, newest activity first."""
    return list_conversations(user, cursor, limit, state="archived")


def trash_cursor(conversation: Conversation) -> str:
    return encode_activity_cursor(conversation.deleted_at, conversation.id)


def list_trash(user: User | None, cursor: str | None = None, limit: int = 50) -> Page[Conversation]:
    """Threads in the trash (the user's; everyone's for None), most recently
    trashed first."""
    check_limit(limit, PAGE_MAX)
    query = select(Conversation).where(in_place("trash"))
    if user is not None:
        query = query.where(Conversation.user_id == user.id)
    if cursor:
        deleted_at, conversation_id = decode_activity_cursor(cursor)
        query = query.where(tuple_(Conversation.deleted_at, Conversation.id) < tuple_(deleted_at, conversation_id))
    query = query.order_by(Conversation.deleted_at.desc(), Conversation.id.desc())
    return keyset_page(query, limit, trash_cursor)


def empty_trash(user: User) -> int:
    """Delete every thread in the user's trash for good; how many."""
    ids = db.session.scalars(select(Conversation.id).where(Conversation.user_id == user.id, in_place("trash")))
    return _delete_for_good(ids)


# --- many threads at once -----------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    action: str
    done: int  # threads the action applied to (or that were already so)
    not_found: int  # ids chosen that name no thread of the user's in a place the action applies to

    @property
    def notice(self) -> str:
        verb = {
            "pin": "pinned",
            "unpin": "unpinned",
            "archive": "archived",
            "unarchive": "moved out of the archive",
            "delete": "moved to the trash",
            "restore": "restored",
            "purge": "deleted for good",
        }[self.action]
        text = f"{self.done} chat{'' if self.done == 1 else 's'} {verb}."
        if self.action == "delete" and trash_days() == 0:
            text = f"{self.done} chat{'' if self.done == 1 else 's'} deleted."
        if self.not_found:
            text += f" {self.not_found} not found."
        return text


def check_action(action: Any) -> str:
    if action not in BULK_ACTIONS:
        raise InvalidInput("action", f"Choose an action: {', '.join(BULK_ACTIONS)}.")
    return action


def parse_ids(values: Iterable[str]) -> list[uuid.UUID]:
    """Thread ids from a form or a request; ones that are not ids at all
    are refused (ids of no thread of the user's are only counted)."""
    ids: list[uuid.UUID] = []
    for value in values:
        try:
            ids.append(uuid.UUID(str(value).strip()))
        except ValueError:
            raise InvalidInput("ids", f"{str(value)[:40]!r} is not a chat id.") from None
    if len(ids) > BULK_MAX:
        raise InvalidInput("ids", f"Choose at most {BULK_MAX:,} chats at once.")
    return list(dict.fromkeys(ids))


def applies_to(action: str) -> Any:
    """Where a chosen thread must be for ``action`` to apply to it; one
    elsewhere counts as not found (restoring a thread not in the trash)."""
    if action in ("restore", "purge"):
        return in_place("trash")
    if action == "unarchive":
        return in_place("archived")
    if action == "delete":
        return true()  # one in the trash already stays there, with its date
    return Conversation.deleted_at.is_(None)


UPDATES = {
    "pin": {"pinned": True},
    "unpin": {"pinned": False},
    "archive": {"archived": True},
    "unarchive": {"archived": False},
    "restore": {"deleted_at": None},
}


def bulk(user: User | None, action: str, chosen: Select[Any] | list[uuid.UUID]) -> BulkResult:
    """Apply ``action`` to the chosen threads of ``user`` (anyone's for
    None: the admin): a list of ids, or a query of conversation ids (every
    search result, the whole archive or trash). Ids of no thread of the
    user's are counted as not found and nothing of anyone else's is touched."""
    check_action(action)
    query = select(Conversation.id).where(Conversation.id.in_(chosen), applies_to(action))
    if user is not None:
        query = query.where(Conversation.user_id == user.id)
    ids = list(db.session.scalars(query))
    not_found = len(chosen) - len(ids) if isinstance(chosen, list) else 0
    if action == "purge" or (action == "delete" and trash_days() == 0):
        _delete_for_good(ids)
        return BulkResult(action, len(ids), not_found)
    if action == "delete":
        values, where = {"deleted_at": utcnow()}, Conversation.deleted_at.is_(None)
    else:
        values, where = UPDATES[action], true()
    for start in range(0, len(ids), CHUNK):
        db.session.execute(
            update(Conversation).where(Conversation.id.in_(ids[start : start + CHUNK]), where).values(**values),
            execution_options={"synchronize_session": False},
        )
    db.session.expire_all()
    return BulkResult(action, len(ids), not_found)


# --- the purge ------------------------------------------------------------------------------


def purge_expired(now: datetime | None = None) -> int:
    """Delete for good every thread that has been in the trash longer than
    ``PARLEY_TRASH_DAYS``; how many. The caller commits."""
    cutoff = (now or utcnow()) - timedelta(days=trash_days())
    ids = db.session.scalars(select(Conversation.id).where(in_place("trash"), Conversation.deleted_at <= cutoff))
    return _delete_for_good(list(ids))


def claim_purge(now: datetime | None = None) -> bool:
    """Whether this instance is the one to purge now: at most once every
    ``PURGE_EVERY`` across every instance, decided by one conditional
    UPDATE (or the first INSERT) of the ``chores`` row."""
    now = now or utcnow()
    claimed = db.session.execute(
        update(Chore).where(Chore.name == PURGE_CHORE, Chore.last_run_at <= now - PURGE_EVERY).values(last_run_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed:
        return True
    if db.session.get(Chore, PURGE_CHORE) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(Chore(name=PURGE_CHORE, last_run_at=now))
    except IntegrityError:  # another instance inserted it first: theirs to run
        return False
    return True


def purge_when_due(now: datetime | None = None) -> int | None:
    """The hourly purge, if no instance has run it in the last hour: how
    many threads it deleted, or None when it was not due. Commits."""
    if not claim_purge(now):
        db.session.rollback()
        return None
    purged = purge_expired(now)
    db.session.commit()
    return purged

"""A thread is a tree of messages: its branches, their versions, and forks.

Every message has a parent (the one it follows; none for a thread's first),
and the thread shows one branch: the walk up from its ``current_message_id``
to the top. Editing a message or writing a reply again adds a sibling, a new
version, and keeps the old one.

Branches are read by walking the tree with ``WITH RECURSIVE`` (SQLite and
PostgreSQL both have it), one indexed lookup per step and never more steps
than the page has messages: a page costs the same in a thread of ten
messages or a hundred thousand, with one branch or a thousand.

Like the rest of the data layer, nothing here commits.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, literal, select

from webapp.conversations import append_message, check_message, create_conversation, get_message, start_reply
from webapp.errors import InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import BigId, Conversation, Message, User, utcnow
from webapp.pagination import Page, check_limit, decode_position_cursor, encode_position_cursor
from webapp.rendering import render_markdown

MESSAGES_PAGE_MAX = 200  # largest page of messages
AROUND = 25  # messages shown each side of one opened by its id
BAD_CURSOR = "That cursor is not valid; start again from the latest messages."
DEEPEST = 10_000_000  # more steps than any branch has


# --- walking the tree -----------------------------------------------------------------------


#: What a page needs of each message to find its kept fragment
#: (``webapp/fragments.py``): a row of these instead of the whole message,
#: whose content and HTML are read only if it must be rendered.
MESSAGE_HEAD = (
    Message.id,
    Message.conversation_id,
    Message.parent_id,
    Message.role,
    Message.status,
    Message.created_at,
    func.coalesce(func.length(Message.content), 0).label("content_length"),
    Message.html.is_(None).label("html_missing"),
)


def walk_up(conversation: Conversation, start_id: int, steps: int, *, heads: bool = False) -> list:
    """``start_id`` and up to ``steps - 1`` of its ancestors, oldest first:
    messages, or with ``heads`` rows of ``MESSAGE_HEAD``."""
    values = {"start_id": start_id, "conversation_id": conversation.id, "steps": steps}
    if heads:
        return list(db.session.execute(_walk_up_statement(True), values))
    return list(db.session.scalars(_walk_up_statement(False), values))


@functools.cache
def _walk_up_statement(heads: bool) -> Select:
    """``walk_up``'s query, built once (every page of messages runs it; its
    construction cost a tenth of a thread page), its values bound per call."""
    anchor = select(Message.id, Message.parent_id, literal(1).label("n")).where(
        Message.id == bindparam("start_id"), Message.conversation_id == bindparam("conversation_id")
    )
    walk = anchor.cte("walk_up", recursive=True)
    walk = walk.union_all(
        select(Message.id, Message.parent_id, (walk.c.n + 1).label("n"))
        .join(walk, Message.id == walk.c.parent_id)
        .where(walk.c.n < bindparam("steps"))
    )
    shown = MESSAGE_HEAD if heads else (Message,)
    return select(*shown).join(walk, Message.id == walk.c.id).order_by(walk.c.n.desc())


def _walk_down_query(conversation: Conversation, start_id: int, steps: int) -> Select:
    """The ids below ``start_id``, through the newest reply at each step, with
    their distance from it (``start_id`` itself is 0)."""
    Child = db.aliased(Message)
    walk = select(literal(start_id, BigId).label("id"), literal(0).label("n")).cte("walk_down", recursive=True)
    newest = (
        select(func.max(Child.id))
        .where(Child.conversation_id == conversation.id, Child.parent_id == walk.c.id)
        .scalar_subquery()
    )
    walk = walk.union_all(
        select(newest.label("id"), (walk.c.n + 1).label("n")).where(walk.c.n < steps, walk.c.id.is_not(None))
    )
    return select(walk.c.id, walk.c.n).where(walk.c.id.is_not(None))


def _walk_down(conversation: Conversation, start_id: int, steps: int) -> list[Message]:
    """Up to ``steps`` messages below ``start_id`` (not itself), oldest first."""
    below = _walk_down_query(conversation, start_id, steps).subquery()
    return list(
        db.session.scalars(
            select(Message).join(below, Message.id == below.c.id).where(below.c.n > 0).order_by(below.c.n)
        )
    )


def branch_ids(conversation: Conversation) -> list[int]:
    """The ids of the whole shown branch, oldest first (exports)."""
    if conversation.current_message_id is None:
        return []
    anchor = select(Message.id, Message.parent_id, literal(1).label("n")).where(
        Message.id == conversation.current_message_id, Message.conversation_id == conversation.id
    )
    walk = anchor.cte("branch", recursive=True)
    walk = walk.union_all(
        select(Message.id, Message.parent_id, (walk.c.n + 1).label("n")).join(walk, Message.id == walk.c.parent_id)
    )
    return list(db.session.scalars(select(walk.c.id).order_by(walk.c.n.desc())))


def leaf_below(conversation: Conversation, message_id: int) -> int:
    """The end of the branch through ``message_id``: down through the newest
    reply at each step."""
    ids = _walk_down_query(conversation, message_id, DEEPEST).subquery()
    return db.session.scalar(select(ids.c.id).order_by(ids.c.n.desc()).limit(1))


# --- reading a branch ----------------------------------------------------------------------


def _message_cursor(cursor: str, field: str) -> int:
    return decode_position_cursor(cursor, field, BAD_CURSOR)


def list_messages(
    conversation: Conversation, before: str | None = None, limit: int = 50, *, heads: bool = False
) -> Page:
    """The shown branch's latest ``limit`` messages, oldest first; with
    ``before`` (a page's ``next_cursor``), the ones above that page. With
    ``heads``, rows of ``MESSAGE_HEAD`` (a page that shows kept fragments)."""
    check_limit(limit, MESSAGES_PAGE_MAX)
    if before:
        start = _message_cursor(before, "before")
        walked = walk_up(conversation, start, limit + 2, heads=heads) if start <= DEEPEST * 1000 else []
        if not walked:
            raise InvalidInput("before", BAD_CURSOR)
        walked.pop()  # the first message of the page below
    elif conversation.current_message_id is not None:
        walked = walk_up(conversation, conversation.current_message_id, limit + 1, heads=heads)
    else:
        walked = []
    if len(walked) > limit:
        walked = walked[1:]
        return Page(walked, encode_position_cursor(walked[0].id))
    return Page(walked, None)


def list_later(conversation: Conversation, after: str, limit: int = 50) -> Page[Message]:
    """The messages below ``after`` on its branch (through the newest reply
    at each step), oldest first; ``next_cursor`` continues further down."""
    check_limit(limit, MESSAGES_PAGE_MAX)
    start = _message_cursor(after, "after")
    get_message(conversation, start)
    walked = _walk_down(conversation, start, limit + 1)
    if len(walked) > limit:
        walked = walked[:limit]
        return Page(walked, encode_position_cursor(walked[-1].id))
    return Page(walked, None)


@dataclass(frozen=True)
class Around:
    """A message with the branch around it: ``before`` (with the cursor to
    load earlier ones) ends with it; ``after`` follows it."""

    message: Message
    before: Page[Message]
    after: Page[Message]

    @property
    def items(self) -> list[Message]:
        return [*self.before.items, *self.after.items]


def messages_around(conversation: Conversation, message_id: int, radius: int = AROUND) -> Around:
    """The branch through ``message_id`` around it: ``radius`` messages each
    side, at the same cost however far back it is."""
    message = get_message(conversation, message_id)
    above = walk_up(conversation, message.id, radius + 2)
    earlier = None
    if len(above) > radius + 1:
        above = above[1:]
        earlier = encode_position_cursor(above[0].id)
    return Around(message, Page(above, earlier), list_later(conversation, str(message.id), radius))


def list_all_messages(conversation: Conversation, before: str | None = None, limit: int = 50) -> Page[Message]:
    """Every message of every branch, in the order added: the latest
    ``limit`` before the cursor, oldest first."""
    check_limit(limit, MESSAGES_PAGE_MAX)
    query = select(Message).where(Message.conversation_id == conversation.id)
    if before:
        position = _message_cursor(before, "before")
        query = query.where(Message.position < min(position, 2**31 - 1))
    rows = list(db.session.scalars(query.order_by(Message.position.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    return Page(rows, encode_position_cursor(rows[0].position) if more else None)


@dataclass(frozen=True)
class Versions:
    """Where a message stands among its siblings: ``index`` of ``count``
    (from 1), and the ones before and after it."""

    index: int
    count: int
    previous_id: int | None
    next_id: int | None


def versions_of(conversation: Conversation, messages: Iterable) -> dict[int, Versions]:
    """The versions of each of ``messages`` (messages or their heads) that
    has any, in one query."""
    messages = list(messages)
    if not messages:
        return {}
    parents = {message.parent_id for message in messages}
    values = {"conversation_id": conversation.id, "parent_ids": [parent for parent in parents if parent is not None]}
    siblings: dict[int | None, list[int]] = {}
    for message_id, parent_id in db.session.execute(_siblings_statement(None in parents), values):
        siblings.setdefault(parent_id, []).append(message_id)
    versions = {}
    for message in messages:
        ids = siblings.get(message.parent_id, [])
        if len(ids) > 1 and message.id in ids:
            at = ids.index(message.id)
            versions[message.id] = Versions(
                at + 1, len(ids), ids[at - 1] if at else None, ids[at + 1] if at + 1 < len(ids) else None
            )
    return versions


@functools.cache
def _siblings_statement(with_top: bool) -> Select:
    """``versions_of``'s query, built once (as ``walk_up``'s): the ids and
    parents of the messages under ``parent_ids``, and with ``with_top`` of
    the thread's first messages too."""
    condition = Message.parent_id.in_(bindparam("parent_ids", expanding=True))
    if with_top:
        condition = condition | Message.parent_id.is_(None)
    return (
        select(Message.id, Message.parent_id)
        .where(Message.conversation_id == bindparam("conversation_id"), condition)
        .order_by(Message.id)
    )


# --- changing the branch ----------------------------------------------------------------------


def show_branch(conversation: Conversation, message: Message) -> None:
    """Show the branch through ``message``: down from it through the newest
    reply at each step. Not activity: ``updated_at`` stays."""
    conversation.current_message_id = leaf_below(conversation, message.id)
    db.session.flush()


def set_current_message(conversation: Conversation, message_id: object) -> None:
    """Show the branch that ends at ``message_id`` (the API's switch)."""
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not 1 <= message_id < 2**63:
        raise InvalidInput("current_message_id", "current_message_id must be the id of a message of this thread.")
    try:
        message = get_message(conversation, message_id)
    except NotFound:
        raise InvalidInput("current_message_id", "That message is not in this thread.") from None
    conversation.current_message_id = message.id
    db.session.flush()


def edit_message(conversation: Conversation, message: Message, content: str) -> tuple[Message, Message | None]:
    """A new version of ``message`` with ``content``, shown. A user message's
    version gets a reply of its own (returned second, pending); any other
    is kept as written."""
    check_message(message.role, content)
    if message.role == "user":
        edited = append_message(conversation, "user", content, parent=message.parent_id)
        return edited, start_reply(conversation, parent=edited.id)
    return append_message(conversation, message.role, content, parent=message.parent_id), None


def regenerate(conversation: Conversation, message: Message) -> Message:
    """A new version of the reply ``message``, pending, shown (also Retry)."""
    if message.role != "assistant":
        raise InvalidInput("message", "Only a reply can be written again; edit your own message instead.")
    return start_reply(conversation, parent=message.parent_id)


def fork(user: User, conversation: Conversation, message: Message) -> Conversation:
    """A new thread of ``user``'s holding copies of the branch up to and
    including ``message``."""
    branch = walk_up(conversation, message.id, DEEPEST)
    copy = create_conversation(
        user,
        conversation.title,
        model=conversation.model,
        system_prompt=conversation.system_prompt,
    )
    copy_messages(copy, branch)
    return copy


def copy_messages(conversation: Conversation, branch: list[Message]) -> None:
    """Copies of ``branch`` (oldest first) as the thread's one branch, with
    their times; a reply still being written is copied as it stands, stopped."""
    now = utcnow()
    parent_id = None
    rows = []
    for position, message in enumerate(branch, start=1):
        live = message.is_live
        rows.append(
            Message(
                conversation_id=conversation.id,
                position=position,
                role=message.role,
                content=message.content,
                html=render_markdown(message.content) if live and message.content else message.html,
                tool_calls=message.tool_calls,
                status="stopped" if live else message.status,
                error=message.error,
                created_at=message.created_at,
            )
        )
    for row in rows:
        row.parent_id = parent_id
        db.session.add(row)
        db.session.flush()
        parent_id = row.id
    conversation.message_count = len(rows)
    conversation.current_message_id = parent_id
    conversation.updated_at = now
    db.session.flush()

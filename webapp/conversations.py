"""Reading and writing conversations and their messages.

Who commits: the request, the CLI command or the test that called in —
never a helper here or in the other core modules (``accounts``, ``tokens``,
``administration``, ``audit``). Every function works through ``db.session``
and at most flushes, so that what one action writes lands in one transaction
or not at all; input is checked before anything is written. The one
exception is the reply writer (``webapp.replies``), which runs in
a thread of its own, outliving the request, and commits its own saves.

Reads of a thread go through ``get_conversation``, which is scoped to its
owner and never finds a thread in the trash; only the admin area uses
``get_any_conversation``. Where a thread is (sidebar, archive, trash) and
how it moves between them is ``webapp.organising``'s.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Update,
    and_,
    bindparam,
    false,
    insert,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from webapp.errors import InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import (
    MESSAGE_ROLES,
    MESSAGE_STATUSES,
    MODEL_NAME_MAX,
    TITLE_MAX,
    Conversation,
    Message,
    User,
    utcnow,
)
from webapp.pagination import (
    Page,
    check_limit,
    decode_activity_cursor,
    encode_activity_cursor,
    keyset_page,
)
from webapp.rendering import render_markdown
from webapp.text import NUL_MESSAGE, clean_line, is_blank


class SHOWN:
    """``parent`` of a new message: after the last message of the shown branch."""


USER_MESSAGE_MAX = 16_000
SYSTEM_PROMPT_MAX = 16_000
CONVERSATIONS_PAGE_MAX = 100  # largest page of conversations one call returns


def clean_title(title: str | None) -> str | None:
    """A title is absent (None) or 1–255 characters on one line, trimmed."""
    if title is None:
        return None
    return clean_line(title, "title", maximum=TITLE_MAX, empty="The title cannot be empty.")


def check_message(role: str, content: str, tool_calls: Any = None) -> None:
    if role not in MESSAGE_ROLES:
        raise InvalidInput("role", f"The role must be one of {', '.join(MESSAGE_ROLES)}.")
    if not isinstance(content, str):
        raise InvalidInput("content", "The message must be text.")
    if "\x00" in content:
        raise InvalidInput("content", NUL_MESSAGE)
    if role == "user":
        if is_blank(content):
            raise InvalidInput("content", "Write a message before sending.")
        if len(content) > USER_MESSAGE_MAX:
            raise InvalidInput(
                "content",
                f"A message can be at most {USER_MESSAGE_MAX:,} characters; this one has {len(content):,}.",
            )
    if tool_calls is not None and not isinstance(tool_calls, list):
        raise InvalidInput("tool_calls", "tool_calls must be a list.")


def create_conversation(
    user: User,
    title: str | None = None,
    *,
    model: str | None = None,
    system_prompt: str | None = None,
) -> Conversation:
    now = utcnow()
    conversation = Conversation(
        id=uuid.uuid4(),
        user_id=user.id,
        title=clean_title(title),
        model=model,
        system_prompt=system_prompt,
        message_count=0,
        created_at=now,
        updated_at=now,
    )
    db.session.add(conversation)
    db.session.flush()
    return conversation


def as_conversation_id(value: uuid.UUID | str) -> uuid.UUID:
    """A thread id from a URL or a body; one that is not an id names no thread."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


def get_conversation(user: User, conversation_id: uuid.UUID | str) -> Conversation:
    """The user's conversation; another user's, or one in the trash, is
    exactly as missing as none."""
    conversation = db.session.scalar(
        _conversation_of_user(), {"conversation_id": as_conversation_id(conversation_id), "user_id": user.id}
    )
    if conversation is None:
        raise NotFound()
    return conversation


@functools.cache
def _conversation_of_user() -> Select:
    """``get_conversation``'s query, built once (nearly every request runs
    it), its values bound per call."""
    return select(Conversation).where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.user_id == bindparam("user_id"),
        Conversation.deleted_at.is_(None),
    )


def get_any_conversation(conversation_id: uuid.UUID | str, *, trashed: bool = True) -> Conversation:
    """Any user's conversation, one in the trash too unless ``trashed`` is
    False: for the admin area only."""
    conversation = db.session.get(Conversation, as_conversation_id(conversation_id))
    if conversation is None or (not trashed and conversation.deleted_at is not None):
        raise NotFound()
    return conversation


def by_recent_activity(query: Select[Any], cursor: str | None) -> Select[Any]:
    """Order a conversation query newest activity first, from ``cursor`` on."""
    if cursor:
        updated_at, conversation_id = decode_activity_cursor(cursor)
        query = query.where(tuple_(Conversation.updated_at, Conversation.id) < tuple_(updated_at, conversation_id))
    return query.order_by(Conversation.updated_at.desc(), Conversation.id.desc())


def activity_cursor(conversation: Conversation) -> str:
    return encode_activity_cursor(conversation.updated_at, conversation.id)


# Where a thread is: each list shows one of these.
PLACES = {
    "active": lambda: and_(Conversation.deleted_at.is_(None), Conversation.archived == false()),
    "archived": lambda: and_(Conversation.deleted_at.is_(None), Conversation.archived == true()),
    "trash": lambda: Conversation.deleted_at.is_not(None),
}


def in_place(state: str) -> ColumnElement[bool]:
    """The condition for threads in ``state`` (``active``: neither archived
    nor in the trash; ``archived``; ``trash``)."""
    if state not in PLACES:
        raise InvalidInput("state", f"The state must be one of {', '.join(PLACES)}.")
    return PLACES[state]()


def list_conversations(
    user: User, cursor: str | None = None, limit: int = 50, state: str = "active"
) -> Page[Conversation]:
    """The user's conversations in ``state``, most recent activity first."""
    check_limit(limit, CONVERSATIONS_PAGE_MAX)
    query = select(Conversation).where(Conversation.user_id == user.id, in_place(state))
    return keyset_page(by_recent_activity(query, cursor), limit, activity_cursor)


def get_message(conversation: Conversation, message_id: int) -> Message:
    """A message of this conversation; any other id is not found."""
    message = db.session.scalar(
        select(Message).where(Message.id == message_id, Message.conversation_id == conversation.id)
    )
    if message is None:
        raise NotFound("That message does not exist.")
    return message


def append_message(
    conversation: Conversation,
    role: str,
    content: str,
    *,
    tool_calls: list[Any] | None = None,
    status: str = "complete",
    parent: int | None | type[SHOWN] = SHOWN,
) -> Message:
    """Add a message after ``parent`` (by default the last message of the
    shown branch; None: a first message), show its branch, and mark it as
    activity (which brings an archived thread back to the sidebar).

    The counter update takes the conversation's row lock (PostgreSQL) or the
    write lock (SQLite) first, so concurrent appends get distinct, gapless
    positions in the order they commit.
    """
    check_message(role, content, tool_calls)
    if parent is not SHOWN and parent is not None:
        parent = get_message(conversation, parent).id
    if status not in MESSAGE_STATUSES:
        raise InvalidInput("status", f"The status must be one of {', '.join(MESSAGE_STATUSES)}.")
    # Rendered once, here, rather than on every page view; before the row
    # lock below, which other appends to the thread wait for.
    html = render_markdown(content) if role == "user" or (role == "assistant" and status == "complete") else None
    now = utcnow()
    connection = db.session.connection()
    counted = connection.execute(_count_message(), {"conversation_id": conversation.id, "now": now}).one_or_none()
    if counted is None:
        raise NotFound()
    position, shown = counted
    if parent is SHOWN:
        # Read under the row lock: appends at the same moment follow one
        # another on one branch, in the order they commit.
        parent = shown
    values = {
        "conversation_id": conversation.id,
        "position": position,
        "parent_id": parent,
        "role": role,
        "content": content,
        "html": html,
        "tool_calls": tool_calls,
        "status": status,
        "created_at": now,
    }
    message_id = connection.execute(_insert_message(), values).scalar_one()
    connection.execute(_show_message(), {"conversation_id": conversation.id, "message_id": message_id})
    # The row as written, in the session as if it had been read: nothing
    # for a flush to write again, nothing for its attributes to load.
    message = Message(id=message_id, error=None, lease_owner=None, lease_until=None, **values)
    make_transient_to_detached(message)
    db.session.add(message)
    _set_loaded(conversation, message_count=position, updated_at=now, archived=False, current_message_id=message_id)
    return message


# The writes ``append_message`` makes, built once, in Core: the ORM's bulk
# UPDATE, or its unit of work, would cost more than the statements themselves.
_conversations = Conversation.__table__


@functools.cache
def _count_message() -> Update:
    """A message more, as activity; its position and the shown branch's end."""
    return (
        update(_conversations)
        .where(_conversations.c.id == bindparam("conversation_id"))
        .values(message_count=_conversations.c.message_count + 1, updated_at=bindparam("now"), archived=False)
        .returning(_conversations.c.message_count, _conversations.c.current_message_id)
    )


@functools.cache
def _insert_message() -> Insert:
    """The new message; its id."""
    return insert(Message.__table__).returning(Message.__table__.c.id)


@functools.cache
def _show_message() -> Update:
    """Show the branch that ends at the new message."""
    return (
        update(_conversations)
        .where(_conversations.c.id == bindparam("conversation_id"))
        .values(current_message_id=bindparam("message_id"))
    )


def start_reply(conversation: Conversation, parent: int | None | type[SHOWN] = SHOWN) -> Message:
    """Add the assistant's reply (to ``parent``, by default the end of the
    shown branch), empty and ``pending``, for ``webapp.replies`` to write
    (the caller commits first)."""
    return append_message(conversation, "assistant", "", status="pending", parent=parent)


def post_message(
    conversation: Conversation,
    role: str,
    content: str,
    *,
    tool_calls: list[Any] | None = None,
    reply: bool = False,
    parent: int | None | type[SHOWN] = SHOWN,
) -> tuple[Message, Message | None]:
    """Append a message (after ``parent``, see ``append_message``) and, with
    ``reply``, the assistant's pending reply to it: the question is never
    stored without its reply. Only a user message can ask for one."""
    if reply and role != "user":
        raise InvalidInput("reply", "Only a user message can ask for a reply.")
    message = append_message(conversation, role, content, tool_calls=tool_calls, parent=parent)
    return message, start_reply(conversation, parent=message.id) if reply else None


def rename_conversation(conversation: Conversation, title: str | None) -> Conversation:
    """Set (or, with None, clear) the title; a rename counts as activity."""
    conversation.title = clean_title(title)
    conversation.updated_at = utcnow()
    db.session.flush()
    return conversation


def check_model_name(model: str | None) -> str | None:
    """A thread's model: a name on one line, or None for the server's default."""
    if model is None or is_blank(model):
        return None
    return clean_line(model, "model", maximum=MODEL_NAME_MAX, empty="")


def check_system_prompt(prompt: str | None) -> str | None:
    """A thread's system prompt: text up to 16,000 characters, or None."""
    if prompt is None or is_blank(prompt):
        return None
    if "\x00" in prompt:
        raise InvalidInput("system_prompt", NUL_MESSAGE)
    prompt = prompt.strip()
    if len(prompt) > SYSTEM_PROMPT_MAX:
        raise InvalidInput("system_prompt", f"The system prompt can be at most {SYSTEM_PROMPT_MAX:,} characters.")
    return prompt


def set_thread_settings(conversation: Conversation, model: str | None, system_prompt: str | None) -> None:
    """The model a thread talks to and its system prompt (blank: none)."""
    conversation.model = check_model_name(model)
    conversation.system_prompt = check_system_prompt(system_prompt)
    db.session.flush()


def _set_loaded(conversation: Conversation, **values: Any) -> None:
    # Bring the in-memory object in line with what the UPDATE wrote, without
    # marking it dirty (which would write the same values again).
    for name, value in values.items():
        set_committed_value(conversation, name, value)


TITLE_FROM_MESSAGE_LENGTH = 60


def title_from_message(content: str) -> str:
    """A thread's title until someone renames it: the first line of its first
    message, cut at a word boundary near 60 characters."""
    line = next((line.strip() for line in content.splitlines() if not is_blank(line)), "")
    line = " ".join(line.split())
    if len(line) <= TITLE_FROM_MESSAGE_LENGTH:
        return line
    cut = line.rfind(" ", 0, TITLE_FROM_MESSAGE_LENGTH + 1)
    if cut < TITLE_FROM_MESSAGE_LENGTH // 2:
        cut = TITLE_FROM_MESSAGE_LENGTH
    return line[:cut].rstrip(" ,.;:-") + "…"


def start_conversation(user: User, content: str) -> tuple[Conversation, Message]:
    """A new thread whose first message is ``content`` and whose title comes from it."""
    check_message("user", content)
    conversation = create_conversation(user, title_from_message(content))
    return conversation, append_message(conversation, "user", content)

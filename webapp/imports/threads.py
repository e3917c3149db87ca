"""A thread as the import formats hand it over, and the plan for storing it.

Each format's reader (``chatgpt``, ``openwebui``, ``parley``) turns one
conversation of its file into a ``SourceThread``: messages with the ids and
parents they had there, some marked hidden (a root, a system or hidden
node, an empty one). ``plan`` then checks the tree and lays it out as
Parley stores it:

- hidden messages are left out and their children follow the nearest
  message above them that is kept;
- a parent that is not in the conversation, or parents that loop, make
  the thread fail with a reason, never half of it stored; so does having
  no message to keep (but for a Parley export's thread, stored empty as
  it was);
- a message without a time takes the time of the one it follows (the
  first, the conversation's); a thread with no time at all fails;
- messages are stored oldest first (or, for a Parley export, in the order
  they were added), always after the message they follow, so positions
  and ids grow in the order Parley would have added them: the newest of
  several versions is the last, as ``‹ 2 / 3 ›`` expects;
- the shown branch ends at the source's current message (or the nearest
  kept one above it); without one, at the newest reply down from the
  newest first message, as Parley shows a branch.
"""

from __future__ import annotations

import heapq
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webapp.conversations import title_from_message
from webapp.models import LIVE_STATUSES, MESSAGE_ROLES, MESSAGE_STATUSES, MODEL_NAME_MAX, SOURCE_ID_MAX, TITLE_MAX
from webapp.replies import clean_text
from webapp.text import is_blank


class ThreadError(Exception):
    """This thread cannot be imported; ``message`` says why, for the report."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class SourceMessage:
    key: str  # its id in the file
    parent: str | None  # the id of the message it follows; None for a first message
    role: str
    content: str
    created_at: datetime | None = None
    status: str = "complete"
    error: str | None = None
    tool_calls: list[Any] | None = None
    hidden: bool = False  # left out; its children follow its parent


@dataclass
class SourceThread:
    source_id: str | None  # "chatgpt:<id>"…: a second import of it is skipped
    title: str | None
    messages: list[SourceMessage]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    current: str | None = None  # the id of the last message of the shown branch
    model: str | None = None
    system_prompt: str | None = None
    pinned: bool = False
    archived: bool = False
    # A Parley export: stored as it was, in the order given, with no title
    # made up and even with no messages; else oldest first, a thread
    # without a title takes one from its first question.
    exact: bool = False
    own_id: uuid.UUID | None = None  # a Parley export's thread id: importing it back to its account skips it


@dataclass
class PlannedMessage:
    parent: int | None  # index in PlannedThread.messages of the message it follows
    role: str
    content: str
    created_at: datetime
    status: str
    error: str | None
    tool_calls: list[Any] | None


@dataclass
class PlannedThread:
    source_id: str | None
    own_id: uuid.UUID | None
    title: str | None
    model: str | None
    system_prompt: str | None
    created_at: datetime
    updated_at: datetime
    pinned: bool
    archived: bool
    messages: list[PlannedMessage] = field(default_factory=list)  # in the order to store them
    current: int | None = None  # index of the last message of the shown branch


# --- values as the files hold them ------------------------------------------------------------

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


def to_time(value: Any, what: str) -> datetime | None:
    """A time as exports write it: seconds since 1970 (milliseconds and
    microseconds are told apart by size), or ISO 8601. None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ThreadError(f"{what} is not a time ({value!r}).")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ThreadError(f"{what} is not a time ({value!r}).")
        if seconds > 1e14:
            seconds /= 1e6
        elif seconds > 1e11:
            seconds /= 1e3
        if not _EARLIEST <= seconds < _LATEST:
            raise ThreadError(f"{what} is not a time Parley can store ({value!r}).")
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ThreadError(f"{what} is not a time ({value[:40]!r}).") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ThreadError(f"{what} is not a time (a {type(value).__name__}).")


def clean_name(value: Any, maximum: int) -> str | None:
    """A title or a model name: one line, at most ``maximum`` characters, or None."""
    if not isinstance(value, str):
        return None
    value = " ".join(clean_text(value).split())
    if is_blank(value):
        return None
    return value[:maximum].rstrip()


def source_id(kind: str, key: Any) -> str | None:
    """``kind:key``, the same however the id was written (text or number),
    as the database can hold it (see ``clean_text``)."""
    if isinstance(key, bool) or not isinstance(key, str | int):
        return None
    key = clean_text(str(key)).strip()
    return f"{kind}:{key}"[:SOURCE_ID_MAX] if key else None


def key_of(value: Any) -> str | None:
    """A message id or parent id as text; None for none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ThreadError(f"A message id is neither text nor a number ({value!r}).")
    return str(value)


def describe(key: str) -> str:
    return repr(key if len(key) <= 40 else key[:37] + "…")


# --- the plan -------------------------------------------------------------------------------


def plan(thread: SourceThread) -> PlannedThread:
    """Check ``thread``'s tree and lay it out for storing (see the module's
    docstring); ``ThreadError`` says why it cannot be."""
    by_key: dict[str, SourceMessage] = {}
    for message in thread.messages:
        if message.key in by_key:
            raise ThreadError(f"Two messages have the id {describe(message.key)}.")
        by_key[message.key] = message
    for message in thread.messages:
        if message.parent is not None and message.parent not in by_key:
            raise ThreadError(
                f"Message {describe(message.key)} follows {describe(message.parent)}, which is not in the conversation."
            )
    anchor = _kept_anchors(by_key)

    kept = [message for message in thread.messages if not message.hidden]
    if not kept and not thread.exact:
        raise ThreadError("It has no messages to import.")
    index_of = {message.key: n for n, message in enumerate(kept)}
    parent_of = [
        index_of[anchor[message.parent]] if message.parent is not None and anchor[message.parent] is not None else None
        for message in kept
    ]
    children: list[list[int]] = [[] for _ in kept]
    for n, parent in enumerate(parent_of):
        if parent is not None:
            children[parent].append(n)

    times = _times(thread, kept, parent_of, children)
    order = _order(not thread.exact, times, parent_of, children)
    new_index = {old: new for new, old in enumerate(order)}

    messages = [_planned(kept[old], parent_of[old], new_index, times[old]) for old in order]
    current = None
    if thread.current is not None and thread.current in by_key and anchor[thread.current] is not None:
        current = new_index[index_of[anchor[thread.current]]]
    if current is None and messages:
        current = _newest_leaf(messages)

    created_at = thread.created_at or min(times, default=None) or thread.updated_at
    updated_at = max(thread.updated_at or max(times, default=created_at), created_at)
    title = clean_name(thread.title, TITLE_MAX)
    if title is None and not thread.exact:
        first = next((m.content for m in messages if m.role == "user" and not is_blank(m.content)), "")
        title = clean_name(title_from_message(first), TITLE_MAX) if first else None
    return PlannedThread(
        source_id=thread.source_id,
        own_id=thread.own_id,
        title=title,
        model=clean_name(thread.model, MODEL_NAME_MAX),
        system_prompt=_system_prompt(thread.system_prompt),
        created_at=created_at,
        updated_at=updated_at,
        pinned=bool(thread.pinned),
        archived=bool(thread.archived),
        messages=messages,
        current=current,
    )


def _kept_anchors(by_key: dict[str, SourceMessage]) -> dict[str, str | None]:
    """For each message, itself if it is kept, else the nearest kept message
    above it (None if there is none). Refuses parents that loop."""
    anchor: dict[str, str | None] = {}
    for start in by_key:
        path: list[str] = []
        on_path: set[str] = set()
        key: str | None = start
        while key is not None and key not in anchor:
            if key in on_path:
                raise ThreadError(f"The messages' parents go round in a loop (through {describe(key)}).")
            on_path.add(key)
            path.append(key)
            key = by_key[key].parent
        above = anchor[key] if key is not None else None
        for key in reversed(path):
            if not by_key[key].hidden:
                above = key
            anchor[key] = above
    return anchor


def _times(
    thread: SourceThread, kept: list[SourceMessage], parent_of: list[int | None], children: list[list[int]]
) -> list[datetime]:
    """Each kept message's time; one without takes its parent's (a first
    message, the conversation's)."""
    known = [message.created_at for message in kept if message.created_at is not None]
    fallback = thread.created_at or (min(known) if known else None) or thread.updated_at
    if fallback is None:
        raise ThreadError("Neither the conversation nor any of its messages has a time.")
    times: list[datetime | None] = [message.created_at for message in kept]
    stack = [n for n, parent in enumerate(parent_of) if parent is None]
    while stack:
        n = stack.pop()
        if times[n] is None:
            parent = parent_of[n]
            times[n] = times[parent] if parent is not None else fallback
        stack.extend(children[n])
    return times  # type: ignore[return-value]


def _order(
    chronological: bool, times: list[datetime], parent_of: list[int | None], children: list[list[int]]
) -> list[int]:
    """The order to store the kept messages in: each after its parent,
    otherwise oldest first (ties, and ``chronological=False``: as given)."""

    def rank(n: int) -> tuple:
        return (times[n], n) if chronological else (n,)

    ready = [(rank(n), n) for n, parent in enumerate(parent_of) if parent is None]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for child in children[n]:
            heapq.heappush(ready, (rank(child), child))
    return order


def _planned(message: SourceMessage, parent: int | None, new_index: dict[int, int], time: datetime) -> PlannedMessage:
    if message.role not in MESSAGE_ROLES:
        raise ThreadError(f"Message {describe(message.key)} has the role {message.role!r}, which Parley does not know.")
    status = message.status
    if status in LIVE_STATUSES:
        # Nothing will ever finish writing it here.
        status = "stopped"
    if status not in MESSAGE_STATUSES:
        raise ThreadError(f"Message {describe(message.key)} has the status {status!r}, which Parley does not know.")
    if message.tool_calls is not None and not isinstance(message.tool_calls, list):
        raise ThreadError(f"Message {describe(message.key)} has tool calls that are not a list.")
    return PlannedMessage(
        parent=new_index[parent] if parent is not None else None,
        role=message.role,
        content=clean_text(message.content),
        created_at=time,
        status=status,
        error=clean_text(message.error) if message.error else None,
        tool_calls=message.tool_calls,
    )


def _newest_leaf(messages: list[PlannedMessage]) -> int:
    """Down from the newest first message through the newest reply at each step."""
    newest_child: dict[int | None, int] = {}
    for n, message in enumerate(messages):
        newest_child[message.parent] = n  # stored in order: the last one is the newest
    at = newest_child[None]
    while at in newest_child:
        at = newest_child[at]
    return at


def _system_prompt(prompt: Any) -> str | None:
    if not isinstance(prompt, str) or is_blank(prompt):
        return None
    return clean_text(prompt).strip()

"""The sidebar's grouping of threads: the pinned ones, then by when they
were last active."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from webapp.organising import PINNED_CURSOR
from webapp.pagination import decode_activity_cursor
from webapp.templating import viewer_timezone

PINNED = "Pinned"
GROUPS = ("Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older")


def group_of(when: datetime, today: date, tz: tzinfo) -> str:
    days = (today - when.astimezone(tz).date()).days
    if days <= 0:
        return GROUPS[0]
    if days == 1:
        return GROUPS[1]
    if days <= 7:
        return GROUPS[2]
    if days <= 30:
        return GROUPS[3]
    return GROUPS[4]


def grouped(conversations, after: str | None = None):
    """``[(label, [conversation, …]), …]`` in order; ``label`` is None for a
    run that continues the group of the page before (``after``, its cursor)."""
    tz = viewer_timezone()
    today = datetime.now(tz).date()
    current = _group_before(after, today, tz)
    groups: list[tuple[str | None, list]] = []
    for conversation in conversations:
        label = PINNED if conversation.pinned else group_of(conversation.updated_at, today, tz)
        if label == current and groups:
            groups[-1][1].append(conversation)
        elif label == current:  # carries on the last group of the page before
            groups.append((None, [conversation]))
        else:
            groups.append((label, [conversation]))
        current = label
    return groups


def _group_before(cursor: str | None, today: date, tz: tzinfo) -> str | None:
    """The group of the last thread of the page before this one."""
    if not cursor:
        return None
    if cursor.startswith(PINNED_CURSOR):
        return PINNED
    return group_of(decode_activity_cursor(cursor)[0], today, tz)

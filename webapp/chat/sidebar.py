"""The sidebar's grouping of threads by when they were last active."""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, request

GROUPS = ("Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older")


def viewer_timezone() -> tzinfo:
    """The browser's time zone, which parley.js keeps in the ``tz`` cookie;
    UTC without it. Worked out once per request: tables ask for every row."""
    if "viewer_timezone" not in g:
        g.viewer_timezone = _zone(request.cookies.get("tz", ""))
    return g.viewer_timezone


def _zone(name: str) -> tzinfo:
    if name and len(name) < 64:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.utc


def local_time(when: datetime) -> str:
    """Template filter: a time in the reader's time zone (the one the
    sidebar groups by)."""
    return when.astimezone(viewer_timezone()).strftime("%Y-%m-%d %H:%M")


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


def grouped(conversations, after: datetime | None = None):
    """``[(label, [conversation, …]), …]`` in order; ``label`` is None for a
    run that continues the group of ``after`` (the last item of the page before)."""
    tz = viewer_timezone()
    today = datetime.now(tz).date()
    current = group_of(after, today, tz) if after else None
    groups: list[tuple[str | None, list]] = []
    for conversation in conversations:
        label = group_of(conversation.updated_at, today, tz)
        if label == current and groups:
            groups[-1][1].append(conversation)
        elif label == current:  # carries on the last group of the page before
            groups.append((None, [conversation]))
        else:
            groups.append((label, [conversation]))
        current = label
    return groups

"""What every template may use: filters, and the limits forms show.

Bound to the app in ``create_app``; templates never do I/O of their own, so
anything else they need comes from the view.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime, tzinfo
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g, request, url_for
from flask_login import current_user
from markupsafe import Markup

from webapp.assistant import error_detail, public_error
from webapp.conversations import SYSTEM_PROMPT_MAX, USER_MESSAGE_MAX
from webapp.models import MODEL_NAME_MAX, TITLE_MAX, USERNAME_MAX
from webapp.organising import purge_date, trash_days
from webapp.rendering import mark_words, render_markdown
from webapp.search import MAX_QUERY as SEARCH_QUERY_MAX
from webapp.shares import sharing_enabled


def viewer_timezone() -> tzinfo:
    """The browser's time zone, which parley.js keeps in the ``tz`` cookie;
    UTC without it. Worked out once per request: tables ask for every row.
    parley.js writes the name URL-encoded ("Europe%2FLisbon")."""
    if "viewer_timezone" not in g:
        g.viewer_timezone = _zone(unquote(request.cookies.get("tz", "")))
    return g.viewer_timezone


_ANY_THREAD = uuid.UUID(int=0)
_ANY_MESSAGE = 987_654_321_987_654_321


def thread_url(endpoint: str, conversation_id: uuid.UUID, message_id: int | None = None, **values: str) -> str:
    """``url_for(endpoint, conversation_id=…[, message_id=…])`` for a list of
    threads or messages at the cost of one: the URL is built once per
    request with stand-in ids, which each call replaces (a sidebar page asks
    for 100 of these, a page of messages for 150)."""
    urls = g.setdefault("thread_urls", {})
    key = (endpoint, message_id is None, *sorted(values.items()))
    if key not in urls:
        ids = {"conversation_id": _ANY_THREAD} | ({} if message_id is None else {"message_id": _ANY_MESSAGE})
        urls[key] = url_for(endpoint, **ids, **values)
    url = urls[key].replace(str(_ANY_THREAD), str(conversation_id))
    return url if message_id is None else url.replace(str(_ANY_MESSAGE), str(message_id))


def _zone(name: str) -> tzinfo:
    if name and len(name) < 64:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def local_time(when: datetime) -> str:
    """A time in the reader's time zone (the one the sidebar groups by)."""
    return when.astimezone(viewer_timezone()).strftime("%Y-%m-%d %H:%M")


def full_time(when: datetime) -> str:
    """A message's time in full, as its tooltip shows it."""
    local = when.astimezone(viewer_timezone())
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({local.tzname()})"


def short_time(when: datetime) -> str:
    """A message's time, short: the hour today, the day too before then
    (parley.js says "5 min ago" for the last hour)."""
    local = when.astimezone(viewer_timezone())
    today = datetime.now(local.tzinfo).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if local.year == today.year:
        return f"{local.day} {local:%b, %H:%M}"
    return f"{local.day} {local:%b %Y, %H:%M}"


def activity_time(when: datetime, now: datetime | None = None, zone: tzinfo | None = None) -> str:
    """How long ago a thread was active, short, for the sidebar: "now",
    "5 min", "3 h", "Yesterday", "Mon", "12 Mar", "Mar 2024"; ``zone``: the
    reader's (``viewer_timezone()``, which a list works out once)."""
    zone = zone or viewer_timezone()
    local = when.astimezone(zone)
    now = (now or datetime.now(UTC)).astimezone(zone)
    seconds = (now - local).total_seconds()
    days = (now.date() - local.date()).days
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if days == 0:
        return f"{int(seconds // 3600)} h"
    if days == 1:
        return "Yesterday"
    if days < 7:
        return f"{local:%a}"
    if local.year == now.year:
        return f"{local.day} {local:%b}"
    return f"{local:%b %Y}"


def markdown(text: str) -> Markup:
    """Message text as safe HTML, for a message stored without its HTML."""
    return Markup(render_markdown(text))


def viewer_is_admin() -> bool:
    """Whether the person reading is an admin (macros, imported without the
    page's context, ask this rather than ``current_user``)."""
    return bool(current_user and current_user.is_authenticated and current_user.is_admin)


def page_id() -> str:
    """A name for the page in the browser, which its htmx requests send back
    (``X-Parley-Page``): a page's own changes are not echoed back to it. A
    part of the page rendered for one of its htmx requests keeps its name."""
    if "page_id" not in g:
        sent = request.headers.get("X-Parley-Page", "")
        g.page_id = sent if _PAGE_ID.fullmatch(sent) else secrets.token_urlsafe(9)
    return g.page_id


_PAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,32}")


def init_app(app: Flask) -> None:
    app.add_template_global(page_id)
    app.add_template_global(viewer_is_admin)
    app.add_template_global(sharing_enabled)
    app.add_template_global(trash_days)
    app.add_template_global(thread_url)
    app.add_template_global(purge_date)
    app.add_template_filter(local_time)
    app.add_template_filter(mark_words)
    app.add_template_filter(full_time)
    app.add_template_filter(short_time)
    app.add_template_filter(activity_time)
    app.add_template_filter(markdown)
    app.add_template_filter(public_error)
    app.add_template_filter(error_detail)
    for name, value in {
        "TITLE_MAX": TITLE_MAX,
        "USERNAME_MAX": USERNAME_MAX,
        "USER_MESSAGE_MAX": USER_MESSAGE_MAX,
        "MODEL_NAME_MAX": MODEL_NAME_MAX,
        "SYSTEM_PROMPT_MAX": SYSTEM_PROMPT_MAX,
        "SEARCH_QUERY_MAX": SEARCH_QUERY_MAX,
    }.items():
        app.add_template_global(value, name)

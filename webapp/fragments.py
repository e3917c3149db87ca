"""The parts of pages that most pages repeat, rendered once per process.

A thread page shows fifty messages and a sidebar of fifty threads; the next
page, and the one after, shows most of them again, exactly as before. A
finished message never changes (an edit or a new reply is a new row), and a
sidebar item changes only with its thread's title, activity or pin. So each
is rendered by its macro once, kept here by everything it shows, and given
again while that stays the same: a page costs a dictionary lookup for each
item it repeats instead of a macro call.

What a fragment shows beyond its row is in its key too: the reader's time
zone and today's date (message times), the label of the thread's activity
("5 min"), the app's URL prefix. The one thing that is the reader's own, the
CSRF token in a message's forms, is kept as a stand-in and put back on the
way out. A message still being written, one with an error (admins see more
of it), the one a link marked and the one being edited are always rendered.

The cache is an LRU of ``SIZE`` fragments per app (a few MB), in
``app.extensions["parley_fragments"]``; several instances each keep their
own, and as each key holds everything a fragment shows, none can serve a
stale one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime

from flask import Flask, current_app, g, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from webapp.branches import Versions
from webapp.extensions import db
from webapp.lru import LRU
from webapp.models import Message
from webapp.organising import SidebarThread
from webapp.templating import activity_time, viewer_timezone

SIZE = 10_000
_TOKEN = "\x00csrf-token\x00"  # stands in for the reader's CSRF token in a kept fragment
_CACHED_STATUSES = ("complete", "stopped")


def _page_key() -> tuple:
    """What every fragment of this request shares: the URL prefix, the time
    zone and the reader's today."""
    if "fragment_key" not in g:
        zone = viewer_timezone()
        g.fragment_key = (request.script_root, str(zone), datetime.now(zone).date())
    return g.fragment_key


def _store() -> LRU[str]:
    return current_app.extensions["parley_fragments"]


def _kept(fragments: LRU[str], key: Hashable, render: Callable[[], str]) -> str:
    """The fragment kept under ``key``, rendered (and kept) first if need be."""
    found = fragments.get(key)
    if found is None:
        found = str(render())
        fragments.put(key, found)
    return found


def _macro(template: str, name: str) -> Callable:
    return getattr(current_app.jinja_env.get_template(template).module, name)


def message_fragments(
    messages: Iterable,
    versions: dict[int, Versions] | None = None,
    marked: int | None = None,
    editing: dict | None = None,
) -> Markup:
    """``message_article`` of each of a page's messages, on their owner's
    page; each kept once it is final. ``messages``: messages, or rows of
    ``branches.MESSAGE_HEAD``, of which those to be rendered are read whole
    (in one query)."""
    page, token, versions, fragments = _page_key(), generate_csrf(), versions or {}, _store()
    messages = list(messages)
    keys = [_message_key(page, message, versions, marked, editing) for message in messages]
    found = [key and fragments.get(key) for key in keys]
    whole = _whole_messages([message for message, fragment in zip(messages, found, strict=True) if not fragment])
    article = _macro("_macros/message.html", "message_article") if whole else None
    parts = []
    for message, key, fragment in zip(messages, keys, found, strict=True):
        if not fragment:
            fragment = str(article(whole[message.id], versions=versions, marked=marked, editing=editing))
            if key:  # kept with a stand-in for the reader's CSRF token
                fragments.put(key, fragment.replace(token, _TOKEN))
        parts.append(fragment)
    return Markup("".join(parts).replace(_TOKEN, token))


def _message_key(page: tuple, message, versions: dict, marked: int | None, editing: dict | None) -> tuple | None:
    """What a message's fragment is kept by: everything it shows. None for
    one always rendered (being written, marked, edited)."""
    if message.status not in _CACHED_STATUSES or message.id == marked or (editing and editing.get("id") == message.id):
        return None
    return (
        "message",
        page,
        message.id,
        message.conversation_id,
        message.created_at,
        message.status,
        message.parent_id,
        message.role,
        message.content_length,
        message.html_missing,
        versions.get(message.id),
    )


def _whole_messages(messages: list) -> dict[int, Message]:
    """``messages`` (messages or their heads) as whole messages, by id: the
    heads read in one query."""
    whole = {message.id: message for message in messages if isinstance(message, Message)}
    if heads := [message.id for message in messages if message.id not in whole]:
        whole.update(
            (message.id, message) for message in db.session.scalars(select(Message).where(Message.id.in_(heads)))
        )
    return whole


def thread_item_fragments(threads: Iterable[SidebarThread], current_id: uuid.UUID | None, selecting: bool) -> Markup:
    """``thread_item`` of each of the sidebar's threads, each kept while it
    shows the same."""
    page, selecting, fragments = _page_key(), bool(selecting), _store()
    zone = viewer_timezone()
    now = datetime.now(zone)
    parts = []
    for thread in threads:
        when = thread.updated_at
        active = activity_time(when, now, zone)  # shown as the key says, even as the minute turns

        def render(thread: SidebarThread = thread, active: str = active) -> str:
            return _macro("_macros/thread.html", "thread_item")(thread, current_id, selecting, active)

        key = ("thread", page, thread.id, thread.display_title, when, active, thread.id == current_id, selecting)
        parts.append(_kept(fragments, key, render))
    return Markup("\n".join(parts))


def init_app(app: Flask) -> None:
    app.extensions["parley_fragments"] = LRU(SIZE)
    app.add_template_global(message_fragments)
    app.add_template_global(thread_item_fragments)

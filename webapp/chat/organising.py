"""Organising one's threads: pin, archive, the trash with Undo, and actions
on many threads at once (select mode). Each action works as a plain form
(a 303 back where it came from, with a notice) and with htmx (the sidebar,
and the header of the thread shown, swapped in place, with the notice)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from webapp import exports, organising
from webapp.assistant import provider_for
from webapp.chat import bp
from webapp.chat.routes import share_context, shown_thread_id, sidebar_context
from webapp.conversations import get_conversation, in_place
from webapp.error_pages import render_error
from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.htmx import is_htmx
from webapp.models import Conversation
from webapp.organising import list_archive, list_trash
from webapp.search import matching_threads, parse_query
from webapp.security import safe_next_url

LIST_PAGE = 50


def back(default: str) -> str:
    return safe_next_url(request.form.get("next")) or default


def flag(name: str) -> bool:
    value = request.form.get(name)
    if value not in ("1", "0"):
        raise InvalidInput(name, f"Say {name}=1 or {name}=0.")
    return value == "1"


def flash_notice(notice: str, undo_id: str | None = None) -> None:
    """The notice for the next page; after a move to the trash, with Undo
    (``_partials/flashes.html`` renders the "undo" category's form)."""
    if undo_id:
        flash({"text": notice, "undo": undo_id}, "undo")
    else:
        flash(notice, "success")


def answer(conversation: Conversation | None, notice: str, default: str, *, undo: Conversation | None = None):
    """A plain POST: back to ``next`` (or ``default``) with the notice. htmx:
    the sidebar, the header of the thread shown if it is this one, and the
    notice (with Undo after a move to the trash)."""
    undo_id = str(undo.id) if undo is not None else None
    if not is_htmx():
        flash_notice(notice, undo_id)
        return redirect(back(default), 303)
    shown = shown_thread_id()
    context = sidebar_context(shown)
    header = conversation is not None and shown == conversation.id and conversation.deleted_at is None
    if header:
        context.update(models=provider_for(current_app).list_models(), **share_context(conversation))
    return render_template(
        "chat/actions/organise.html",
        conversation=conversation,
        header=header,
        notice=notice,
        undo_id=undo_id,
        **context,
    )


@bp.post("/c/<uuid:conversation_id>/pin")
def pin(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    pinned = flag("pinned")
    organising.set_pinned(conversation, pinned)
    db.session.commit()
    verb = "pinned" if pinned else "unpinned"
    return answer(
        conversation,
        f"“{conversation.display_title}” is {verb}.",
        url_for(".thread", conversation_id=conversation.id),
    )


@bp.post("/c/<uuid:conversation_id>/archive")
def archive(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    archived = flag("archived")
    organising.set_archived(conversation, archived)
    db.session.commit()
    text = "archived" if archived else "back in the sidebar"
    return answer(conversation, f"“{conversation.display_title}” is {text}.", url_for(".index"))


@bp.post("/c/<uuid:conversation_id>/delete")
def delete(conversation_id: uuid.UUID):
    """To the trash, with Undo; with PARLEY_TRASH_DAYS=0, gone at once."""
    conversation = get_conversation(current_user, conversation_id)
    title, shown = conversation.display_title, shown_thread_id()
    restorable = organising.move_to_trash(conversation)
    db.session.commit()
    notice = f"“{title}” is in the trash." if restorable else f"“{title}” is deleted."
    undo = conversation if restorable else None
    if is_htmx() and shown == conversation_id:  # its page is gone: the new-chat page says so
        flash_notice(notice, str(conversation_id) if undo else None)
        return "", 200, {"HX-Redirect": url_for(".index")}
    return answer(None, notice, url_for(".index"), undo=undo)


@bp.post("/c/<uuid:conversation_id>/restore")
def restore(conversation_id: uuid.UUID):
    conversation = organising.get_trashed(current_user, conversation_id)
    organising.restore(conversation)
    db.session.commit()
    return answer(
        conversation,
        f"“{conversation.display_title}” is restored.",
        url_for(".thread", conversation_id=conversation.id),
    )


@bp.post("/c/<uuid:conversation_id>/purge")
def purge(conversation_id: uuid.UUID):
    conversation = organising.get_trashed(current_user, conversation_id)
    title = conversation.display_title
    organising.purge(conversation)
    db.session.commit()
    flash_notice(f"“{title}” is deleted for good.")
    return redirect(url_for(".trash"), 303)


@bp.post("/trash/empty")
def empty_trash():
    count = organising.empty_trash(current_user)
    db.session.commit()
    flash_notice(f"The trash is empty: {count} chat{'' if count == 1 else 's'} deleted for good.")
    return redirect(url_for(".trash"), 303)


@bp.get("/archive")
def archive_page():
    cursor = request.args.get("cursor") or None
    page = list_archive(current_user, cursor, LIST_PAGE)
    return render_template("chat/archive.html", page=page, cursor=cursor, **sidebar_context())


@bp.get("/trash")
def trash():
    cursor = request.args.get("cursor") or None
    page = list_trash(current_user, cursor, LIST_PAGE)
    return render_template(
        "chat/trash.html",
        page=page,
        cursor=cursor,
        trash_days=organising.trash_days(),
        **sidebar_context(),
    )


@bp.post("/c/bulk")
def bulk():
    """One action on many threads: those ticked (``ids``), or every search
    result (``all=1`` with ``q``), or the whole archive or trash (``all=1``
    with ``scope``). One transaction. ``action=export`` answers with their
    ZIP (as ``/c/export.zip``, without putting the form in a URL). What names no action or no chats is
    refused (400) with the reason, and nothing changes."""
    form = request.form  # reading it refuses NUL (422) before anything else
    try:
        exporting = form.get("action") == "export"
        action = "export" if exporting else organising.check_action(form.get("action"))
        if form.get("all") == "1":
            chosen = everything_chosen()
        else:
            chosen = organising.parse_ids(form.getlist("ids"))
            if not chosen:
                raise InvalidInput("ids", "Tick the chats to act on first.")
    except InvalidInput as refused:
        return render_error(400, refused.message, "Not done")
    if exporting:  # the chosen threads as one ZIP, the answer to this POST
        ids = chosen if isinstance(chosen, list) else list(db.session.scalars(chosen))
        return exports.zip_download(current_user, ids, filename=exports.chosen_filename(current_user))
    result = organising.bulk(current_user, action, chosen)
    db.session.commit()
    flash_notice(result.notice)
    target = back(url_for(".index"))
    if thread_gone(target):  # the thread the page showed went to the trash
        target = url_for(".index")
    return redirect(target, 303)


def thread_gone(url: str) -> bool:
    """Whether ``url`` (a path on this site) is the page of a thread that is
    no longer there to show: in the trash, or deleted for good."""
    path = urlsplit(url).path
    try:
        adapter = current_app.create_url_adapter(request)
        endpoint, args = adapter.match(path[len(request.script_root) :], method="GET")
    except HTTPException:
        return False
    if endpoint != "chat.thread":
        return False
    conversation = db.session.get(Conversation, args["conversation_id"])
    return conversation is None or conversation.deleted_at is not None


def everything_chosen():
    """``all=1``: every thread of the user's that the page offered to choose."""
    scope, q = request.form.get("scope"), request.form.get("q")
    if scope in ("archive", "trash"):
        state = "archived" if scope == "archive" else "trash"
        return select(Conversation.id).where(Conversation.user_id == current_user.id, in_place(state))
    query = parse_query(q)
    if not query:
        raise InvalidInput("q", "Say which chats: all=1 needs the search (q) or scope=archive|trash.")
    return matching_threads(current_user, query).with_only_columns(Conversation.id)

"""The chat pages. Each view answers a plain request with a full page (or a
303 after a POST) and an htmx request with the template that says what the
action swaps, so every action works with JavaScript off and is instant with
it on."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from webapp import branches, page_cache, replies
from webapp.assistant import provider_for
from webapp.branches import list_later, list_messages, messages_around, versions_of
from webapp.chat import bp
from webapp.chat.export import download
from webapp.chat.forms import BranchForm, EditForm, MessageForm, SettingsForm
from webapp.chat.sidebar import grouped
from webapp.chat.streaming import reply_stream, thread_stream
from webapp.conversations import (
    SHOWN,
    check_model_name,
    get_conversation,
    get_message,
    rename_conversation,
    set_thread_settings,
    start_conversation,
    start_reply,
)
from webapp.conversations import (
    post_message as add_message,
)
from webapp.error_pages import render_error
from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.forms import TitleForm, first_error
from webapp.htmx import is_htmx
from webapp.models import Conversation, Message
from webapp.organising import list_sidebar
from webapp.pagination import Page, decode_position_cursor
from webapp.search import parse_query
from webapp.search import search as search_threads
from webapp.shares import share_of, sharing_enabled

SIDEBAR_PAGE = 50
MESSAGES_PAGE = 50


@bp.before_request
@login_required
def require_login():
    """Every chat page is for a signed-in user."""


@bp.context_processor
def assistant_context() -> dict:
    """The assistant the chat pages talk to: they say when it is the demo,
    and the composer offers the models it lists (asked only when shown)."""
    provider = provider_for(current_app)
    return {"assistant": provider, "model_choices": provider.list_models}


def sidebar_context(current_id: uuid.UUID | None = None, cursor: str | None = None, *, selecting: bool = False) -> dict:
    """The sidebar's threads (pinned first), grouped; ``selecting``: with a
    checkbox each, for the select mode's actions."""
    page = list_sidebar(current_user, cursor, limit=SIDEBAR_PAGE)
    return {
        "threads": page,
        "thread_groups": grouped(page.items, after=cursor),
        "continued": cursor is not None,
        "current_id": current_id,
        "selecting": selecting,
    }


def pane_context(conversation: Conversation | None, *, before: str | None = None, around: int | None = None) -> dict:
    """What the message pane shows: the shown branch's latest messages (or
    those before ``before``, or the branch through message ``around``, that
    one marked), their versions, whether a reply is being written, and the
    models the thread's settings offer."""
    if conversation is None:
        return {"conversation": None, "messages": None, "replying": False}
    later = marked = None
    if around is not None:
        found = messages_around(conversation, around)
        messages, later, marked = Page(found.items, found.before.next_cursor), found.after.next_cursor, around
    else:
        messages = list_messages(conversation, before=before, limit=MESSAGES_PAGE, heads=True)
    replying = any(Message.status_is_live(message.status) for message in messages.items[-2:])
    if replying:
        page_cache.leave_out()  # the reply moves on without a write per word
    return {
        "conversation": conversation,
        "messages": messages,
        "later": later,
        "marked": marked,
        "versions": versions_of(conversation, messages.items),
        "replying": replying,
        # Where the composer's next message goes: after the last one shown
        # (not wherever another tab has moved the thread meanwhile).
        "tail": messages.items[-1].id if messages.items and later is None else None,
        "models": provider_for(current_app).list_models(),
        **share_context(conversation),
    }


def share_context(conversation: Conversation) -> dict:
    """The thread's share link, which its header shows."""
    return {"share": share_of(conversation) if sharing_enabled() else None}


def render_page(
    conversation: Conversation | None = None,
    *,
    before: str | None = None,
    around: int | None = None,
    editing: dict | None = None,
    sidebar_cursor: str | None = None,
    selecting: bool = False,
    form: MessageForm | None = None,
    rename_form: TitleForm | None = None,
    status: int = 200,
):
    """The whole chat page: the sidebar, and the new-chat pane or a thread."""
    return render_template(
        "chat/page.html",
        form=form or MessageForm(formdata=None),
        rename_form=rename_form,
        editing=editing,
        **pane_context(conversation, before=before, around=around),
        **sidebar_context(conversation.id if conversation else None, sidebar_cursor, selecting=selecting),
    ), status


def render_composer_error(form: MessageForm, conversation: Conversation | None):
    if is_htmx():
        return render_template("chat/_composer.html", form=form, conversation=conversation), 422
    return render_page(conversation, form=form, status=422)


def render_refusal(title: str, message: str):
    """An htmx form refused: a notice; without htmx, the error page."""
    if is_htmx():
        return render_template("errors/_notice.html", title=title, message=message), 422
    return render_error(422, message)


@bp.get("/")
@page_cache.kept
def index():
    return render_page()


@bp.get("/sidebar")
@page_cache.kept
def sidebar():
    """The next page of the sidebar (``cursor``), or its first page in select
    mode (``select=1``): htmx swaps it in; without JavaScript, the page."""
    cursor = request.args.get("cursor") or None
    selecting = request.args.get("select") == "1"
    if is_htmx():
        template = "chat/_thread_groups.html" if cursor else "chat/_sidebar_threads.html"
        # The open thread stays highlighted in and out of select mode.
        context = sidebar_context(shown_thread_id(), cursor=cursor, selecting=selecting)
        return render_template(template, oob=False, **context)
    return render_page(sidebar_cursor=cursor, selecting=selecting)


@bp.get("/search")
def search():
    """Threads whose title or messages hold every word; with a cursor, the
    next page (htmx: only its hits, appended to the list)."""
    query = parse_query(request.args.get("q"))
    cursor = request.args.get("cursor") or None
    context = {
        "query": query,
        "results": search_threads(current_user, query, cursor),
        "appending": bool(cursor),
        # The search page offers select mode (the sidebar's quick results do not).
        "select_hits": not is_htmx() or request.args.get("select") == "1",
    }
    if is_htmx():
        return render_template("chat/_search_results.html", **context)
    return render_template("chat/search.html", **context, **sidebar_context())


@bp.post("/c")
def create():
    form = MessageForm()
    if not form.validate_on_submit():
        return render_composer_error(form, None)
    conversation, _ = start_conversation(current_user, form.content.data)
    choose_model(conversation, form.model.data)
    reply = start_reply(conversation)
    db.session.commit()
    url = url_for(".thread", conversation_id=conversation.id)
    if not write_reply(reply):
        return redirect(url, 303)
    return (
        render_template(
            "chat/actions/create.html",
            form=MessageForm(formdata=None),
            **pane_context(conversation),
            **sidebar_context(conversation.id),
        ),
        200,
        {"HX-Push-Url": url},
    )


@bp.get("/c/<uuid:conversation_id>")
@page_cache.kept
def thread(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    marked = request.args.get("m")
    return render_page(conversation, around=decode_position_cursor(marked, "m") if marked else None)


@bp.get("/c/<uuid:conversation_id>/export.md", defaults={"kind": "md"})
@bp.get("/c/<uuid:conversation_id>/export.json", defaults={"kind": "json"})
def export(conversation_id: uuid.UUID, kind: str):
    return download(get_conversation(current_user, conversation_id), kind)


@bp.get("/c/<uuid:conversation_id>/menu")
def thread_menu(conversation_id: uuid.UUID):
    """The sidebar item's rename and delete forms, loaded when its menu opens."""
    conversation = get_conversation(current_user, conversation_id)
    if not is_htmx():
        return redirect(url_for(".thread", conversation_id=conversation.id))
    return render_template("chat/_thread_menu.html", conversation=conversation)


@bp.get("/c/<uuid:conversation_id>/messages")
def messages(conversation_id: uuid.UUID):
    """Earlier (``before``) or later (``after``) messages of the branch."""
    conversation = get_conversation(current_user, conversation_id)
    before, after = request.args.get("before") or None, request.args.get("after") or None
    if not is_htmx():  # without JavaScript: the page, from there
        if after:
            return render_page(conversation, around=decode_position_cursor(after, "after"))
        return render_page(conversation, before=before)
    if after:
        page = list_later(conversation, after, limit=MESSAGES_PAGE)
        context = {"messages": Page(page.items, None), "later": page.next_cursor}
    else:
        context = {
            "messages": list_messages(conversation, before=before, limit=MESSAGES_PAGE, heads=True),
            "later": None,
        }
    versions = versions_of(conversation, context["messages"].items)
    return render_template("chat/_messages.html", conversation=conversation, versions=versions, **context)


@bp.post("/c/<uuid:conversation_id>/messages")
def post_message(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return render_composer_error(form, conversation)
    parent = form.parent.data
    choose_model(conversation, form.model.data)
    message, reply = add_message(
        conversation, "user", form.content.data, reply=True, parent=int(parent) if parent else SHOWN
    )
    replies.announce(conversation.id, [message.id, reply.id], origin=page_sending())
    db.session.commit()
    if not write_reply(reply):
        return redirect(url_for(".thread", conversation_id=conversation.id), 303)
    return render_template(
        "chat/actions/post_message.html",
        message=message,
        reply=reply,
        tail=reply.id,
        conversation=conversation,
        form=MessageForm(formdata=None),
        **sidebar_context(conversation.id),
    )


@bp.post("/c/<uuid:conversation_id>/title")
def rename(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    form = TitleForm()
    if not form.validate_on_submit():
        if is_htmx():
            return render_refusal("Not renamed", first_error(form))
        return render_page(conversation, rename_form=form, status=422)
    rename_conversation(conversation, form.title.data)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for(".thread", conversation_id=conversation.id), 303)
    return render_template(
        "chat/actions/rename.html",
        conversation=conversation,
        models=provider_for(current_app).list_models(),
        **share_context(conversation),
        **sidebar_context(shown_thread_id()),
    )


@bp.get("/c/<uuid:conversation_id>/messages/<bigint:message_id>/stream")
def stream(conversation_id: uuid.UUID, message_id: int):
    conversation = get_conversation(current_user, conversation_id)
    return reply_stream(conversation, get_message(conversation, message_id))


@bp.get("/c/<uuid:conversation_id>/events")
def thread_events(conversation_id: uuid.UUID):
    """The thread's new messages as they are added, for the open page."""
    conversation = get_conversation(current_user, conversation_id)
    after = request.headers.get("Last-Event-ID") or request.args.get("after") or "0"
    return thread_stream(conversation, decode_position_cursor(after, "after"), request.args.get("page"))


@bp.post("/c/<uuid:conversation_id>/messages/<bigint:message_id>/stop")
def stop_reply(conversation_id: uuid.UUID, message_id: int):
    conversation = get_conversation(current_user, conversation_id)
    message = get_message(conversation, message_id)
    replies.stop(message)
    db.session.commit()
    db.session.refresh(message)  # as its writer ended it
    if not is_htmx():
        return redirect(url_for(".thread", conversation_id=conversation.id), 303)
    return render_template(
        "chat/_reply_final.html",
        message=message,
        conversation=conversation,
        versions=versions_of(conversation, [message]),
        in_place=True,
    )


@bp.post("/c/<uuid:conversation_id>/messages/<bigint:message_id>/regenerate")
def regenerate(conversation_id: uuid.UUID, message_id: int):
    """A new version of a reply, written now; the old one stays (also Retry)."""
    conversation = get_conversation(current_user, conversation_id)
    reply = branches.regenerate(conversation, get_message(conversation, message_id))
    return show_new_branch(conversation, reply)


@bp.get("/c/<uuid:conversation_id>/messages/<bigint:message_id>/edit")
def edit_form(conversation_id: uuid.UUID, message_id: int):
    """A message's edit form: loaded in place when Edit opens; without
    JavaScript, the thread around it with the form open."""
    conversation = get_conversation(current_user, conversation_id)
    message = get_message(conversation, message_id)
    if is_htmx():
        return render_template("chat/_edit_form.html", message=message)
    return render_page(conversation, around=message.id, editing={"id": message.id})


@bp.post("/c/<uuid:conversation_id>/messages/<bigint:message_id>/edit")
def edit(conversation_id: uuid.UUID, message_id: int):
    """A new version of a message; a user message's gets its own reply."""
    conversation = get_conversation(current_user, conversation_id)
    message = get_message(conversation, message_id)
    form = EditForm()
    try:
        if not form.validate_on_submit():
            raise InvalidInput("content", first_error(form))
        edited, reply = branches.edit_message(conversation, message, form.content.data)
    except InvalidInput as refused:
        if is_htmx():
            return render_refusal("Not saved", refused.message)
        # Without JavaScript: the form again, with what was typed and why not.
        editing = {"id": message.id, "error": refused.message, "text": form.content.data}
        return render_page(conversation, around=message.id, editing=editing, status=422)
    return show_new_branch(conversation, reply or edited)


@bp.post("/c/<uuid:conversation_id>/branch")
def branch(conversation_id: uuid.UUID):
    """Show the branch through a message (a version's ‹ › buttons)."""
    conversation = get_conversation(current_user, conversation_id)
    form = BranchForm()
    if not form.validate_on_submit():
        return render_refusal("Not shown", first_error(form))
    branches.show_branch(conversation, get_message(conversation, int(form.message.data)))
    replies.announce(conversation.id, [], origin=page_sending(), branch=True)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for(".thread", conversation_id=conversation.id), 303)
    return render_template("chat/actions/branch.html", **pane_context(conversation))


@bp.post("/c/<uuid:conversation_id>/messages/<bigint:message_id>/fork")
def fork(conversation_id: uuid.UUID, message_id: int):
    """A new thread holding the branch up to a message."""
    conversation = get_conversation(current_user, conversation_id)
    copy = branches.fork(current_user, conversation, get_message(conversation, message_id))
    db.session.commit()
    url = url_for(".thread", conversation_id=copy.id)
    if is_htmx():
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)


def show_new_branch(conversation: Conversation, newest: Message):
    """The answer to an edit or a regenerate: the thread's new branch, its
    reply being written; the thread on top of the sidebar (it is activity)."""
    replies.announce(conversation.id, [], origin=page_sending(), branch=True)
    db.session.commit()
    url = url_for(".thread", conversation_id=conversation.id)
    if newest.is_live and not write_reply(newest):
        return redirect(url, 303)
    if not is_htmx():
        return redirect(url, 303)
    return render_template(
        "chat/actions/branch.html",
        **pane_context(conversation),
        **sidebar_context(conversation.id),
    )


@bp.post("/c/<uuid:conversation_id>/settings")
def settings(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    form = SettingsForm()
    if not form.validate_on_submit():
        return render_refusal("Not saved", first_error(form))
    # The ⚙ menu has no model field when the composer's picker chooses it.
    model = form.model.data if "model" in request.form else conversation.model
    set_thread_settings(conversation, model, form.system_prompt.data)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for(".thread", conversation_id=conversation.id), 303)
    return render_template(
        "chat/actions/settings.html", conversation=conversation, models=provider_for(current_app).list_models()
    )


def choose_model(conversation: Conversation, model: str | None) -> None:
    """The composer's model picker: a model other than the one the thread
    answers with becomes the thread's, from this reply on (one the thread
    already uses, the server's default included, changes nothing)."""
    model = check_model_name(model)
    if model and model != (conversation.model or provider_for(current_app).default_model):
        set_thread_settings(conversation, model, conversation.system_prompt)


def write_reply(reply: Message) -> bool:
    """Start writing the reply. With htmx the page streams it while it is
    written (True); without JavaScript the request waits until it is done
    (False), so that the page it redirects to shows it whole."""
    writer = replies.start(reply.id)
    if is_htmx():
        return True
    if writer is not None:
        writer.join()
    return False


def page_sending() -> str | None:
    """The page that sent this htmx request (see ``templating.page_id``)."""
    return request.headers.get("X-Parley-Page") if is_htmx() else None


def shown_thread_id() -> uuid.UUID | None:
    """The thread that the page sending this htmx request shows, if any: a
    change elsewhere must keep its header and its highlight in the sidebar."""
    path = urlsplit(request.headers.get("HX-Current-URL", "")).path
    if not path.startswith(request.script_root + "/"):
        return None
    try:
        adapter = current_app.create_url_adapter(request)
        endpoint, args = adapter.match(path[len(request.script_root) :], method="GET")
    except HTTPException:
        return None
    return args["conversation_id"] if endpoint == "chat.thread" else None

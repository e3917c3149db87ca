"""The admin pages. Views stay thin: the rules and the audit log live in
``webapp.administration``. A plain POST answers ``303`` back to the page it
came from (its ``next`` field, kept inside the site); an htmx POST answers
the table row to swap in, and a notice out of band."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import administration, exports, organising, shares
from webapp.admin import bp
from webapp.admin.forms import ActionForm, ActiveForm, RoleForm, TitleForm
from webapp.audit import CLI_ACTOR, list_events
from webapp.branches import list_messages
from webapp.conversations import get_any_conversation
from webapp.error_pages import status_of
from webapp.errors import InvalidInput, NotFound, ParleyError
from webapp.extensions import db
from webapp.htmx import is_htmx
from webapp.models import Conversation, User
from webapp.security import safe_next_url

PAGE = 50
MESSAGES_PAGE = 50

ERROR_TITLES = {404: "Not found", 409: "Not done", 422: "Not valid"}


def this_page() -> str:
    return request.full_path if request.query_string else request.path


def back_to(form: ActionForm, default: str) -> str:
    return safe_next_url(form.next.data) or default


def check(form: ActionForm) -> None:
    """Validate a form whose only errors can be bad hidden values."""
    if not form.validate_on_submit():
        field, errors = next(iter(form.errors.items()))
        raise InvalidInput(field, " ".join(errors))


@bp.context_processor
def helpers() -> dict:
    return {"cli_actor": CLI_ACTOR}


@bp.errorhandler(ParleyError)
def admin_error(error: ParleyError):
    """Refused: say why, change nothing, and offer the way back."""
    db.session.rollback()
    status = status_of(error)
    title = ERROR_TITLES.get(status, "Not done")
    if is_htmx():
        return render_template("errors/_notice.html", title=title, message=error.message), status
    back = safe_next_url(request.form.get("next")) or url_for(".index")
    return render_template("admin/error.html", title=title, message=error.message, back=back), status


def done(message: str, form: ActionForm, default: str, template: str, **context):
    """The answer to a successful POST: back to the page it came from with a
    notice; with htmx, ``template`` (what the action swaps) and the notice."""
    if is_htmx():
        return render_template(template, notice=message, **context)
    flash(message, "success")
    return redirect(back_to(form, default), 303)


# --- conversations ----------------------------------------------------------------------


@bp.get("/")
def index():
    return conversations_page()


@bp.get("/conversations")
def conversations():
    return conversations_page()


STATES = {"active": "Active", "archived": "Archived", "trash": "Trash"}


def conversations_page():
    q = request.args.get("q", "").strip()
    username = request.args.get("user", "").strip()
    state = request.args.get("state") or "active"
    if state not in STATES:
        raise InvalidInput("state", f"The state must be one of {', '.join(STATES)}.")
    cursor = request.args.get("cursor") or None
    page, owner = administration.list_threads_of(
        username, cursor, words=administration.title_words(q), state=state, limit=PAGE
    )
    return render_template(
        "admin/conversations.html",
        page=page,
        q=q,
        username=username,
        owner=owner,
        state=state,
        states=STATES,
        cursor=cursor,
        list_url=this_page(),
    )


def render_conversation(
    conversation: Conversation, *, before: str | None = None, form: TitleForm | None = None, status: int = 200
):
    return render_template(
        "admin/conversation.html",
        conversation=conversation,
        messages=list_messages(conversation, before=before, limit=MESSAGES_PAGE),
        form=form,
    ), status


@bp.get("/conversations/<uuid:conversation_id>")
def conversation(conversation_id: uuid.UUID):
    return render_conversation(get_any_conversation(conversation_id))


@bp.get("/conversations/<uuid:conversation_id>/messages")
def messages(conversation_id: uuid.UUID):
    conversation = get_any_conversation(conversation_id)
    before = request.args.get("before") or None
    if not is_htmx():
        return render_conversation(conversation, before=before)
    page = list_messages(conversation, before=before, limit=MESSAGES_PAGE)
    return render_template("admin/_messages.html", conversation=conversation, messages=page)


@bp.post("/conversations/<uuid:conversation_id>/title")
def rename(conversation_id: uuid.UUID):
    conversation = get_any_conversation(conversation_id)
    form = TitleForm()
    list_url = back_to(form, url_for(".conversations"))
    if not form.validate_on_submit():
        if is_htmx():
            row = {"conversation": conversation, "owner_name": conversation.user.username, "list_url": list_url}
            return render_template("admin/_conversation_row.html", form=form, **row), 422
        return render_conversation(conversation, form=form, status=422)
    old = conversation.display_title
    event = administration.rename_thread(current_user, conversation, form.title.data)
    db.session.commit()
    return done(
        f"Renamed “{old}” to “{conversation.title}”." if event else "The title is unchanged.",
        form,
        url_for(".conversation", conversation_id=conversation.id),
        "admin/actions/rename.html",
        conversation=conversation,
        owner_name=conversation.user.username,
        list_url=list_url,
        focus=True,
    )


@bp.post("/conversations/<uuid:conversation_id>/delete")
def delete(conversation_id: uuid.UUID):
    """To the trash (audited); the owner, or an admin, can restore it."""
    conversation = get_any_conversation(conversation_id, trashed=False)
    form = ActionForm()
    check(form)
    removed = {
        "conversation_id": conversation.id,
        "title": conversation.display_title,
        "owner_name": conversation.user.username,
        "message_count": conversation.message_count,
        "restorable": organising.trash_days() > 0,
    }
    administration.delete_thread(current_user, conversation)
    db.session.commit()
    where = "to the trash" if removed["restorable"] else "for good"
    return done(
        f"Moved “{removed['title']}” of {removed['owner_name']} {where}."
        if removed["restorable"]
        else f"Deleted “{removed['title']}” of {removed['owner_name']}.",
        form,
        url_for(".conversations"),
        "admin/actions/delete.html",
        **removed,
    )


@bp.post("/conversations/<uuid:conversation_id>/restore")
def restore(conversation_id: uuid.UUID):
    return act_on_trashed(conversation_id, administration.restore_thread, "Restored “{title}” of {owner}.")


@bp.post("/conversations/<uuid:conversation_id>/purge")
def purge(conversation_id: uuid.UUID):
    return act_on_trashed(conversation_id, administration.purge_thread, "Deleted “{title}” of {owner} for good.")


def act_on_trashed(conversation_id: uuid.UUID, act, notice: str):
    """Restore or purge a thread in the trash (audited), then back to the list."""
    conversation = organising.get_trashed(None, conversation_id)
    form = ActionForm()
    check(form)
    title, owner = conversation.display_title, conversation.user.username
    act(current_user, conversation)
    db.session.commit()
    flash(notice.format(title=title, owner=owner), "success")
    return redirect(back_to(form, url_for(".conversations", state="trash")), 303)


@bp.post("/conversations/bulk")
def bulk():
    """One action (delete, restore, purge) on the ticked threads, each audited."""
    form = ActionForm()
    check(form)
    try:
        ids = organising.parse_ids(request.form.getlist("ids"))
        if not ids:
            raise InvalidInput("ids", "Tick the threads to act on first.")
        result = administration.bulk_threads(current_user, request.form.get("action"), ids)
    except InvalidInput as refused:  # names no action or no threads: 400, nothing done
        db.session.rollback()
        back = back_to(form, url_for(".conversations"))
        return render_template("admin/error.html", title="Not done", message=refused.message, back=back), 400
    db.session.commit()
    flash(result.notice, "success")
    return redirect(back_to(form, url_for(".conversations")), 303)


# --- accounts ------------------------------------------------------------------------------


def account_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("That account does not exist.")
    return user


def user_row(user: User, list_url: str, focus: str) -> dict:
    """What the account's row shows after an htmx change, with keyboard focus
    back on the ``focus`` button (the one pressed was disabled while its
    request ran)."""
    return {"row": administration.account_row(user), "list_url": list_url, "focus": focus}


@bp.get("/users")
def users():
    q = request.args.get("q", "").strip()
    cursor = request.args.get("cursor") or None
    page = administration.list_accounts(cursor, q=q, limit=PAGE)
    return render_template("admin/users.html", page=page, q=q, cursor=cursor, list_url=this_page())


@bp.post("/users/<int:user_id>/role")
def set_role(user_id: int):
    user = account_or_404(user_id)
    form = RoleForm()
    check(form)
    event = administration.set_role(current_user, user, form.role.data)
    db.session.commit()
    if event is None:
        message = f"{user.username} is already {'an admin' if user.is_admin else 'a user'}."
    elif user.is_admin:
        message = f"{user.username} is now an admin."
    else:
        message = f"{user.username} is no longer an admin."
    list_url = back_to(form, url_for(".users"))
    return done(message, form, list_url, "admin/actions/user.html", **user_row(user, list_url, "role"))


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    user = account_or_404(user_id)
    form = ActiveForm()
    check(form)
    active = administration.parse_active(form.active.data)
    event = administration.set_active(current_user, user, active)
    db.session.commit()
    if event is None:
        message = f"{user.username} is already {'enabled' if active else 'disabled'}."
    elif active:
        message = f"{user.username} is enabled and can sign in again."
    else:
        message = f"{user.username} is disabled and signed out everywhere."
    list_url = back_to(form, url_for(".users"))
    return done(message, form, list_url, "admin/actions/user.html", **user_row(user, list_url, "active"))


@bp.post("/users/<int:user_id>/export")
def export_user(user_id: int):
    """Every thread of the account (not its trash) as the ZIP its owner would
    download; the audit log records who took it."""
    user = account_or_404(user_id)
    check(ActionForm())
    exports.record_account_export(current_user, user)
    db.session.commit()
    return exports.zip_download(user)


@bp.get("/users/<int:user_id>/delete")
def confirm_delete_user(user_id: int):
    """The confirmation step: it says what goes with the account."""
    user = account_or_404(user_id)
    threads, messages_ = administration.account_footprint(user)
    return render_template(
        "admin/user_delete.html",
        user=user,
        threads=threads,
        messages=messages_,
        refusal=administration.removal_refusal(current_user, user, "delete", "deleted"),
        back=safe_next_url(request.args.get("next")) or url_for(".users"),
    )


@bp.post("/users/<int:user_id>/delete")
def delete_user(user_id: int):
    user = account_or_404(user_id)
    form = ActionForm()
    check(form)
    username = user.username
    event = administration.delete_account(current_user, user)
    db.session.commit()
    flash(f"Deleted the account {username}: {event.detail}.", "success")
    return redirect(back_to(form, url_for(".users")), 303)


# --- shared links ----------------------------------------------------------------------------


@bp.get("/shares", endpoint="shares")
def shares_page():
    if not shares.sharing_enabled():
        raise NotFound("Sharing is turned off on this site.")
    cursor = request.args.get("cursor") or None
    return render_template(
        "admin/shares.html", page=shares.list_all_shares(cursor, limit=PAGE), cursor=cursor, list_url=this_page()
    )


@bp.post("/shares/<int:share_id>/delete")
def revoke_share(share_id: int):
    if not shares.sharing_enabled():
        raise NotFound("Sharing is turned off on this site.")
    form = ActionForm()
    check(form)
    event = shares.admin_revoke(current_user, share_id)
    db.session.commit()
    flash(f"Turned off the link to “{event.old_value or 'Untitled chat'}” of {event.target_owner_name}.", "success")
    return redirect(back_to(form, url_for(".shares")), 303)


# --- audit log -----------------------------------------------------------------------------


@bp.get("/audit")
def audit():
    cursor = request.args.get("cursor") or None
    return render_template("admin/audit.html", page=list_events(cursor, limit=PAGE), cursor=cursor)

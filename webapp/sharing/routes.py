"""The share routes. The owner's (make, refresh, revoke) answer a plain
POST with ``303`` back to the thread and an htmx one with the share panel
to swap; the link's page is open to anyone, signed in or not, and tells
search engines and other sites nothing."""

from __future__ import annotations

import uuid

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp import shares
from webapp.conversations import get_conversation
from webapp.extensions import db, limiter
from webapp.htmx import is_htmx
from webapp.security import safe_next_url
from webapp.sharing import bp

SNAPSHOT_PAGE = 200
# The pages a link opens: kept out of search engines, and their address
# (which is the secret) out of the Referer header of any link followed from them.
LINK_PAGES = {"sharing.shared", "sharing.fork"}


@bp.after_request
def keep_links_private(response):
    if request.endpoint in LINK_PAGES:
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def share_url(share) -> str:
    return url_for("sharing.shared", token=share.token, _external=True)


def answer_owner(conversation, share, notice: str, *, short_notice: str | None = None, just_made: bool = False):
    """After the owner's change: the share panel, open, and ``short_notice``
    (htmx: the panel says the rest), else back to the thread (or ``next``)
    with ``notice``."""
    if is_htmx():
        return render_template(
            "sharing/actions/share.html",
            conversation=conversation,
            share=share,
            just_made=just_made,
            notice=short_notice or notice,
        )
    flash(notice, "success")
    back = safe_next_url(request.form.get("next")) or url_for("chat.thread", conversation_id=conversation.id)
    return redirect(back, 303)


@bp.post("/c/<uuid:conversation_id>/share")
@login_required
def share(conversation_id: uuid.UUID):
    """Make the thread's link, or refresh what it shows (same link)."""
    conversation = get_conversation(current_user, conversation_id)
    refreshed = shares.share_of(conversation) is not None
    made = shares.share_thread(conversation)
    db.session.commit()
    url = share_url(made)
    if refreshed:
        notice, short = f"The link now shows the chat as it is now: {url}", "The link is updated."
    else:
        notice, short = f"People with this link can see the chat as it is now: {url}", "The link is ready to copy."
    return answer_owner(conversation, made, notice, short_notice=short, just_made=True)


@bp.post("/c/<uuid:conversation_id>/share/delete")
@login_required
def stop_sharing(conversation_id: uuid.UUID):
    conversation = get_conversation(current_user, conversation_id)
    shares.revoke(conversation)
    db.session.commit()
    return answer_owner(conversation, None, "The link is turned off: nobody can open it any more.")


@bp.get("/s/<token>")
@limiter.limit(lambda: current_app.config["SHARE_RATE_LIMIT"])
def shared(token: str):
    """The snapshot, read-only, for anyone with the link."""
    link = shares.find_share(token)
    page = shares.snapshot_messages(link, request.args.get("after") or None, limit=SNAPSHOT_PAGE)
    context = {"share": link, "messages": page, "continued": bool(request.args.get("after"))}
    if is_htmx():
        return render_template("sharing/_shared_messages.html", **context)
    return render_template("sharing/shared.html", **context)


@bp.post("/s/<token>/fork")
@login_required
def fork(token: str):
    """Continue the shared chat: a thread of the visitor's own holding a copy."""
    copy = shares.fork_snapshot(current_user, shares.find_share(token))
    db.session.commit()
    url = url_for("chat.thread", conversation_id=copy.id)
    if is_htmx():
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)

"""The JSON API's endpoints (the contract's "JSON API" table), with the
auth hook and the JSON error handlers they run under.

Each view reads its input, calls the data layer (every read scoped to the
caller by ``get_conversation``), and commits. Responses are serialised before
the commit: committing expires the objects, and reading them back would
cost a query each.
"""

from __future__ import annotations

from flask import current_app, request, url_for

from webapp import branches, conversations, exports, imports, organising, replies, shares
from webapp.api import bp
from webapp.api.auth import authenticate, commit_token_use, current_api_user, public, write_limit
from webapp.api.errors import register_error_handlers
from webapp.api.inputs import (
    CONVERSATIONS_PER_PAGE,
    MESSAGES_PER_PAGE,
    read_cursor,
    read_flag,
    read_json_object,
    read_limit,
    read_message_id,
    read_query_flag,
)
from webapp.api.openapi import openapi_document
from webapp.conversations import SHOWN
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.inputs import accepts_upload
from webapp.search import parse_query
from webapp.search import search as search_threads
from webapp.serialize import conversation_json, message_json, timestamp

bp.before_request(authenticate)
bp.after_request(commit_token_use)
register_error_handlers(bp)


@bp.post("/conversations")
@write_limit
def create_conversation():
    body = read_json_object(("title",), body_optional=True)
    conversation = conversations.create_conversation(current_api_user(), body.get("title"))
    data = conversation_json(conversation)
    db.session.commit()
    return data, 201, {"Location": url_for(".get_conversation", conversation_id=data["id"])}


@bp.get("/conversations")
def list_conversations():
    page = conversations.list_conversations(
        current_api_user(),
        read_cursor("cursor"),
        read_limit(CONVERSATIONS_PER_PAGE),
        state=request.args.get("state", "active"),
    )
    return {"items": [conversation_json(c) for c in page.items], "next_cursor": page.next_cursor}


@bp.get("/conversations/<conversation_id>")
def get_conversation(conversation_id: str):
    return conversation_json(conversations.get_conversation(current_api_user(), conversation_id))


@bp.patch("/conversations/<conversation_id>")
@write_limit
def update_conversation(conversation_id: str):
    """Rename (activity); switch the shown branch, pin, archive (not activity)."""
    conversation = conversations.get_conversation(current_api_user(), conversation_id)
    fields = ("title", "current_message_id", "pinned", "archived")
    body = read_json_object(fields, required_one_of=fields)
    pinned = read_flag(body, "pinned") if "pinned" in body else None
    archived = read_flag(body, "archived") if "archived" in body else None
    if "current_message_id" in body:
        branches.set_current_message(conversation, body["current_message_id"])
    if pinned is not None:
        organising.set_pinned(conversation, pinned)
    if archived is not None:
        organising.set_archived(conversation, archived)
    if "title" in body:
        conversations.rename_conversation(conversation, body["title"])
    data = conversation_json(conversation)
    db.session.commit()
    return data


@bp.delete("/conversations/<conversation_id>")
@write_limit
def delete_conversation(conversation_id: str):
    """To the trash; with ``?permanent=1``, for good (from the trash too)."""
    if read_query_flag("permanent"):
        organising.delete_for_good(organising.get_trashed(current_api_user(), conversation_id))
    else:
        organising.move_to_trash(conversations.get_conversation(current_api_user(), conversation_id))
    db.session.commit()
    return "", 204


@bp.post("/conversations/<conversation_id>/restore")
@write_limit
def restore_conversation(conversation_id: str):
    """Back from the trash, where it was; its ``updated_at`` unchanged."""
    conversation = organising.get_trashed(current_api_user(), conversation_id)
    organising.restore(conversation)
    data = conversation_json(conversation)
    db.session.commit()
    return data


@bp.post("/conversations/<conversation_id>/messages")
@write_limit
def append_message(conversation_id: str):
    conversation = conversations.get_conversation(current_api_user(), conversation_id)
    body = read_json_object(("role", "content", "tool_calls", "reply", "parent_id"), required=("role", "content"))
    message, pending = conversations.post_message(
        conversation,
        body["role"],
        body["content"],
        tool_calls=body.get("tool_calls"),
        reply=read_flag(body, "reply"),
        parent=read_message_id(body, "parent_id") if "parent_id" in body else SHOWN,
    )
    data = message_json(message)
    if pending is not None:
        data["reply"] = message_json(pending)
    replies.announce(conversation.id, [message.id] + ([pending.id] if pending else []))
    db.session.commit()
    if pending is not None:
        replies.start(pending.id)
    return data, 201


@bp.get("/conversations/<conversation_id>/messages")
def list_messages(conversation_id: str):
    """The shown branch, or with ``all=1`` every message in the order added."""
    conversation = conversations.get_conversation(current_api_user(), conversation_id)
    listing = branches.list_all_messages if read_query_flag("all") else branches.list_messages
    page = listing(conversation, read_cursor("before"), read_limit(MESSAGES_PER_PAGE))
    return {"items": [message_json(m) for m in page.items], "next_cursor": page.next_cursor}


@bp.post("/conversations/<conversation_id>/share")
@write_limit
def share_conversation(conversation_id: str):
    """Make the thread's share link (201), or refresh its snapshot (200)."""
    conversation = shared_conversation(conversation_id)
    made = shares.share_of(conversation) is None
    share = shares.share_thread(conversation)
    data = {
        "url": url_for("sharing.shared", token=share.token, _external=True),
        "created_at": timestamp(share.created_at),
    }
    db.session.commit()
    return data, 201 if made else 200


@bp.delete("/conversations/<conversation_id>/share")
@write_limit
def stop_sharing(conversation_id: str):
    shares.revoke(shared_conversation(conversation_id))
    db.session.commit()
    return "", 204


def shared_conversation(conversation_id: str):
    """The caller's thread, when sharing is on; else as missing as any."""
    if not shares.sharing_enabled():
        raise NotFound()
    return conversations.get_conversation(current_api_user(), conversation_id)


@bp.get("/search")
def search():
    """The caller's threads whose title or messages hold every word of ``q``."""
    query = parse_query(request.args.get("q"), refuse_long=True)
    page = search_threads(current_api_user(), query, read_cursor("cursor"))
    return {
        "items": [
            {
                "conversation": conversation_json(hit.conversation),
                "messages": [{**message_json(found.message), "snippet": found.snippet} for found in hit.messages],
            }
            for hit in page.items
        ],
        "next_cursor": page.next_cursor,
    }


@bp.get("/export")
def export_account():
    """The caller's export ZIP, as the settings page downloads it."""
    return exports.zip_download(current_api_user())


@bp.post("/import")
@accepts_upload("PARLEY_IMPORT_MAX_MB")
@write_limit
def start_import():
    """Start importing the uploaded ``file`` (or files); 202 with the job."""
    job = imports.create_job(current_api_user(), request.files.getlist("file"))
    data = {"job": imports.job_json(job)}
    db.session.commit()
    imports.start(job.id)
    return data, 202, {"Location": url_for(".import_job", job_id=data["job"]["id"])}


@bp.get("/import/<job_id>")
def import_job(job_id: str):
    """The job itself (``POST /api/import`` answers it inside ``{"job": …}``)."""
    return imports.job_json(imports.get_job(current_api_user(), job_id))


@bp.get("/openapi.json")
@public
def openapi():
    return openapi_document(session_cookie=current_app.config["SESSION_COOKIE_NAME"])

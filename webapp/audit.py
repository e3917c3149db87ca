"""The audit log: a record of every admin action, written in the same
transaction as the action itself, so the two are committed together or not
at all.

Events name their target by id and by a snapshot of its name, so they are
kept, still readable, after the thread or account is deleted.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, User, utcnow
from webapp.pagination import Page, check_limit, decode_position_cursor, keyset_page

# What the log names as the actor of a change made with `flask set-role`:
# it has a space, so no account can be called that.
CLI_ACTOR = "command line"


def record(actor: User | None, action: str, target: Conversation | User, **values: str | None) -> AuditEvent:
    """Add an event for ``actor`` (None: the command line) doing ``action``
    (``values``: ``old_value``, ``new_value``, ``detail``)."""
    event = new_event(actor, action, target, **values)
    db.session.add(event)
    db.session.flush()
    return event


def new_event(
    actor: User | None,
    action: str,
    target: Conversation | User,
    *,
    old_value: str | None = None,
    new_value: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """The event, not yet added (many at once: ``db.session.add_all``)."""
    if isinstance(target, Conversation):
        target_type, owner_name = "conversation", target.user.username
    else:
        target_type, owner_name = "user", target.username
    return AuditEvent(
        created_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.username if actor is not None else CLI_ACTOR,
        action=action,
        target_type=target_type,
        target_id=str(target.id),
        target_owner_name=owner_name,
        old_value=old_value,
        new_value=new_value,
        detail=detail,
    )


def list_events(cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
    """The newest events first. Ids grow in the order events are written,
    so the primary key alone pages them."""
    check_limit(limit, 200)
    query = select(AuditEvent)
    if cursor:
        before = decode_position_cursor(cursor, "cursor", "That cursor is not valid; start again from the first page.")
        query = query.where(AuditEvent.id < before)
    return keyset_page(query.order_by(AuditEvent.id.desc()), limit, lambda event: str(event.id))

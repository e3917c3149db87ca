"""The JSON shapes of conversations and messages (the contract's), used by
the API and by exports alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from webapp.models import Conversation, Message


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, always to the microsecond (fixed width)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "user_id": conversation.user_id,
        "created_at": timestamp(conversation.created_at),
        "updated_at": timestamp(conversation.updated_at),
        "message_count": conversation.message_count,
        "current_message_id": conversation.current_message_id,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "deleted_at": timestamp(conversation.deleted_at) if conversation.deleted_at else None,
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": str(message.conversation_id),
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "tool_calls": message.tool_calls,
        "status": message.status,
        "created_at": timestamp(message.created_at),
    }

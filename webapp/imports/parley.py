"""Parley's own export (``webapp.exports``): a list of
``{"conversation": {...}, "messages": [...]}`` in the API's shapes, every
branch, in the order the messages were added; a single thread's
``export.json`` is one of them.

Imported exactly: every message with its role, text, tool calls, status,
error and time, in the same order and tree (a thread with none too); the
shown branch; the title (or none), times, model and system prompt; pinned
and archived. A reply that was still being written when the export was
made is imported as stopped. The thread keeps the source id it had (a thread imported from ChatGPT stays
that ChatGPT thread), else takes ``parley:<its id>``; importing an export
back into the account it came from skips the threads still there.
"""

from __future__ import annotations

import uuid
from typing import Any

from webapp.imports.threads import SourceMessage, SourceThread, ThreadError, describe, key_of, source_id, to_time

NAME = "Parley"


def matches(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("conversation"), dict) and "messages" in item


def convert(item: dict[str, Any]) -> SourceThread:
    conversation = item["conversation"]
    raw = item.get("messages")
    if not isinstance(raw, list):
        raise ThreadError('Its "messages" are not a list.')
    messages = []
    for message in raw:
        if not isinstance(message, dict):
            raise ThreadError("A message is not an object.")
        key = key_of(message.get("id"))
        if key is None:
            raise ThreadError("A message has no id.")
        content = message.get("content")
        if not isinstance(content, str):
            raise ThreadError(f"The content of message {describe(key)} is not text.")
        error = message.get("error")
        messages.append(
            SourceMessage(
                key,
                key_of(message.get("parent_id")),
                message.get("role"),
                content,
                to_time(message.get("created_at"), f"The created_at of message {describe(key)}"),
                status=message.get("status", "complete"),
                error=error if isinstance(error, str) else None,
                tool_calls=message.get("tool_calls"),
            )
        )
    try:
        own_id = uuid.UUID(str(conversation.get("id")))
    except ValueError:
        own_id = None
    kept = conversation.get("source_id")
    return SourceThread(
        source_id=source_id(*kept.split(":", 1))
        if isinstance(kept, str) and ":" in kept
        else source_id("parley", str(own_id or "")),
        own_id=own_id,
        title=conversation.get("title"),
        messages=messages,
        created_at=to_time(conversation.get("created_at"), "The conversation's created_at"),
        updated_at=to_time(conversation.get("updated_at"), "The conversation's updated_at"),
        current=key_of(conversation.get("current_message_id")),
        model=conversation.get("model"),
        system_prompt=conversation.get("system_prompt"),
        pinned=conversation.get("pinned") is True,
        archived=conversation.get("archived") is True,
        exact=True,
    )

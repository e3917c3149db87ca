"""Open WebUI's chat export: a list of chats (one, or "Export All Chats"),
each ``{"id", "title", "chat": {"history": {"messages", "currentId"}, "models"}, "created_at", "updated_at", …}``.

``chat.history.messages`` is a tree (``parentId``, ``childrenIds``);
``currentId`` ends the shown branch, which need not be the newest. Each
message keeps its ``timestamp`` (seconds); the thread's model is the shown
reply's ``model``, else the chat's first of ``models``; its system prompt,
``chat.system`` (or ``chat.params.system``). Attached files and images
become a short placeholder naming them. The ``<details>`` blocks Open WebUI
writes into a reply for its reasoning and tool calls become Markdown
quotes headed by their summary, so that they read as text here rather
than as HTML tags. Older exports hold only a flat ``chat.messages`` list.
"""

from __future__ import annotations

import html
import re
from typing import Any

from webapp.imports.chatgpt import quoted
from webapp.imports.threads import SourceMessage, SourceThread, ThreadError, describe, key_of, source_id, to_time

NAME = "Open WebUI"

_ROLES = {"user", "assistant", "tool"}
_DETAILS = re.compile(r"<details\b([^>]*)>\s*(?:<summary>(.*?)</summary>)?(.*?)</details>", re.DOTALL | re.IGNORECASE)
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def matches(item: Any) -> bool:
    """Whether ``item`` looks like an Open WebUI chat (or a chat's body)."""
    if not isinstance(item, dict):
        return False
    chat = item.get("chat")
    return isinstance(chat, dict) or isinstance(item.get("history"), dict)


def convert(item: dict[str, Any]) -> SourceThread:
    chat = item.get("chat") if isinstance(item.get("chat"), dict) else item
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        raw = [(key, message) for key, message in history["messages"].items()]
        current = key_of(history.get("currentId"))
    elif isinstance(chat.get("messages"), list):
        raw = [(message.get("id") if isinstance(message, dict) else None, message) for message in chat["messages"]]
        current = None
    else:
        raise ThreadError('It has no messages: "chat.history.messages" is missing.')
    messages = []
    previous = None
    for key, message in raw:
        if not isinstance(message, dict):
            raise ThreadError(f"Message {describe(str(key))} is not an object.")
        key = key_of(key if key is not None else message.get("id"))
        if key is None:
            raise ThreadError("A message has no id.")
        # The flat list of old exports: each follows the one before unless it says otherwise.
        parent = key_of(message["parentId"]) if "parentId" in message else previous
        messages.append(_message(key, parent, message))
        previous = key
    models = chat.get("models") if isinstance(chat.get("models"), list) else []
    shown = history.get("messages", {}).get(current) if isinstance(history, dict) and current else None
    model = (shown or {}).get("model") if isinstance(shown, dict) else None
    params = chat.get("params") if isinstance(chat.get("params"), dict) else {}
    return SourceThread(
        source_id=source_id("openwebui", item.get("id") or chat.get("id")),
        title=item.get("title") or chat.get("title"),
        messages=messages,
        created_at=to_time(item.get("created_at") or chat.get("timestamp"), "The chat's created_at"),
        updated_at=to_time(item.get("updated_at"), "The chat's updated_at"),
        current=current,
        model=model if isinstance(model, str) else next((m for m in models if isinstance(m, str)), None),
        system_prompt=chat.get("system") or params.get("system"),
        pinned=item.get("pinned") is True,
        archived=item.get("archived") is True,
    )


def _message(key: str, parent: str | None, message: dict[str, Any]) -> SourceMessage:
    role = message.get("role")
    created_at = to_time(message.get("timestamp"), f"The timestamp of message {describe(key)}")
    if role not in _ROLES:
        return SourceMessage(key, parent, "user", "", created_at, hidden=True)
    content = message.get("content", "")
    if content is None:
        content = ""
    if isinstance(content, list):  # the OpenAI shape: [{"type": "text", "text"}, {"type": "image_url"}]
        content = "\n\n".join(_content_part(key, part) for part in content)
    if not isinstance(content, str):
        raise ThreadError(f"The content of message {describe(key)} is not text.")
    pieces = [readable(content)] + [_file(file) for file in message.get("files") or [] if isinstance(file, dict)]
    text = "\n\n".join(piece for piece in pieces if piece.strip())
    status, error = "complete", None
    if role == "assistant":
        failure = message.get("error")
        if failure:
            status = "error"
            error = failure.get("content") if isinstance(failure, dict) else None
            error = error if isinstance(error, str) and error.strip() else "The reply failed in Open WebUI."
        elif message.get("done") is False:
            status = "stopped"
    return SourceMessage(
        key, parent, role, text, created_at, status=status, error=error, hidden=not text.strip() and status != "error"
    )


def _content_part(key: str, part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        if part.get("type") == "text":
            return part.get("text") if isinstance(part.get("text"), str) else ""
        if part.get("type") == "image_url":
            return "[Image]"
        return f"[{str(part.get('type') or 'Attachment').replace('_', ' ').capitalize()}]"
    raise ThreadError(f"Message {describe(key)} has a part that is neither text nor an attachment.")


def _file(file: dict[str, Any]) -> str:
    inner = file.get("file") if isinstance(file.get("file"), dict) else {}
    meta = inner.get("meta") if isinstance(inner.get("meta"), dict) else {}
    name = next(
        (
            value
            for value in (file.get("name"), inner.get("filename"), meta.get("name"))
            if isinstance(value, str) and value.strip()
        ),
        "",
    )
    if file.get("type") == "image":
        return f"[Image{': ' + name if name else ''}]"
    return f"[File: {name or 'unnamed'}]"


def readable(content: str) -> str:
    """Open WebUI's ``<details>`` blocks (reasoning, tool calls, code
    output) as Markdown quotes headed by their summary."""
    if "<details" not in content:
        return content

    def quote(match: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(1)))
        summary = html.unescape(match.group(2) or "").strip() or attributes.get("type", "Details").capitalize()
        body = html.unescape(match.group(3) or "").strip()
        if not body and attributes.get("name"):
            call = f"{html.unescape(attributes['name'])}({html.unescape(attributes.get('arguments', ''))})"
            result = html.unescape(attributes.get("result", ""))
            body = f"`{call}`" + (f"\n\n{result}" if result else "")
        return "\n\n" + quoted(f"**{summary}**" + (f"\n\n{body}" if body else "")) + "\n\n"

    return _DETAILS.sub(quote, content).strip()

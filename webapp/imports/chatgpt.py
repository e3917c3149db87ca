"""ChatGPT's data export: ``conversations.json`` (or ``conversations-000.json``…),
a list of conversations, each a tree of nodes in ``mapping``.

Each node has ``parent`` and ``children`` ids and a ``message`` (none for
the root). ``current_node`` ends the branch the user last saw. What is kept:

- the text of every text part, joined; code as a fenced block, its output
  too; a quote from the web as a quote; an image, a file or a recording as
  a short placeholder saying what was there (``[Image 1024×768: file-…]``),
  never dropped without a word;
- each message's ``create_time``; the conversation's title and times;
- the model: ``metadata.model_slug`` of the shown branch's last reply,
  else the conversation's ``default_model_slug``.

Left out (their children follow the message above them): the root, system
messages, nodes hidden from the conversation (``is_visually_hidden_from_
conversation``: the custom instructions of ``user_editable_context``, for
one), and messages with no text.
"""

from __future__ import annotations

import re
from typing import Any

from webapp.imports.threads import SourceMessage, SourceThread, ThreadError, describe, key_of, source_id, to_time

NAME = "ChatGPT"

# Content types that are never shown in ChatGPT's own conversation view.
_HIDDEN_CONTENT = {"user_editable_context", "model_editable_context", "reasoning_recap"}
_ROLES = {"user": "user", "assistant": "assistant", "tool": "tool"}
# Replies ChatGPT had not finished.
_UNFINISHED = {"in_progress", "finished_partial_completion"}
_BACKTICKS = re.compile("`+")


def matches(item: Any) -> bool:
    """Whether ``item`` looks like a ChatGPT conversation."""
    return isinstance(item, dict) and ("mapping" in item or "current_node" in item or "conversation_id" in item)


def convert(item: dict[str, Any]) -> SourceThread:
    mapping = item.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        raise ThreadError('It has no messages: its "mapping" is missing or empty.')
    messages = []
    models: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    for raw_key, node in mapping.items():
        if not isinstance(node, dict):
            raise ThreadError(f"Node {describe(raw_key)} is not an object.")
        key = raw_key
        parent = key_of(node.get("parent"))
        parents[key] = parent
        message = node.get("message")
        if message is None:
            messages.append(SourceMessage(key, parent, "user", "", hidden=True))
            continue
        if not isinstance(message, dict):
            raise ThreadError(f"The message of node {describe(key)} is not an object.")
        converted = _message(key, parent, message)
        messages.append(converted)
        metadata = message.get("metadata")
        slug = metadata.get("model_slug") if isinstance(metadata, dict) else None
        if isinstance(slug, str) and slug.strip():
            models[key] = slug
    current = key_of(item.get("current_node"))
    return SourceThread(
        source_id=source_id("chatgpt", item.get("conversation_id") or item.get("id")),
        title=item.get("title"),
        messages=messages,
        created_at=to_time(item.get("create_time"), "The conversation's create_time"),
        updated_at=to_time(item.get("update_time"), "The conversation's update_time"),
        current=current,
        model=_model(current, parents, models) or item.get("default_model_slug"),
    )


def _model(current: str | None, parents: dict[str, str | None], models: dict[str, str]) -> str | None:
    """The model of the last reply on the branch to ``current``, else the newest one anywhere."""
    key, steps = current, 0
    while key is not None and key in parents and steps <= len(parents):
        if key in models:
            return models[key]
        key, steps = parents[key], steps + 1
    return next(reversed(models.values()), None)


def _message(key: str, parent: str | None, message: dict[str, Any]) -> SourceMessage:
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    content = message.get("content") if isinstance(message.get("content"), dict) else {}
    created_at = to_time(message.get("create_time"), f"The create_time of message {describe(key)}")
    kind = content.get("content_type")
    hidden = (
        author.get("role") not in _ROLES
        or bool(metadata.get("is_visually_hidden_from_conversation"))
        or bool(metadata.get("is_user_system_message"))
        or kind in _HIDDEN_CONTENT
    )
    role = _ROLES.get(author.get("role"), "tool")
    if hidden:
        return SourceMessage(key, parent, role, "", created_at, hidden=True)
    text = message_text(key, content, metadata, message.get("recipient"))
    status = "stopped" if role == "assistant" and message.get("status") in _UNFINISHED else "complete"
    return SourceMessage(key, parent, role, text, created_at, status=status, hidden=not text.strip())


def message_text(key: str, content: dict[str, Any], metadata: dict[str, Any], recipient: Any = "all") -> str:
    """What a message says, as Markdown."""
    kind = content.get("content_type")
    pieces: list[str] = []
    attachments = [a for a in metadata.get("attachments") or [] if isinstance(a, dict)]
    names = {a.get("id"): _text(a.get("name")) for a in attachments}
    shown: set[str] = set()
    if kind in ("text", "multimodal_text") or (kind is None and "parts" in content):
        parts = content.get("parts")
        if parts is None:
            parts = []
        if not isinstance(parts, list):
            raise ThreadError(f'The "parts" of message {describe(key)} are not a list.')
        pieces.extend(_part(key, part, names, shown) for part in parts)
        if kind == "text" and recipient not in (None, "all"):
            # The model calling a tool (DALL·E, a plugin) with what it wrote.
            pieces = [f"To {recipient}:", fenced("\n\n".join(pieces))]
    elif kind == "code":
        pieces.append(fenced(_text(content.get("text")), _text(content.get("language"))))
    elif kind == "execution_output":
        pieces.append("Output:\n\n" + fenced(_text(content.get("text"))))
    elif kind == "tether_quote":
        quote = quoted(_text(content.get("text")))
        source = _text(content.get("title")) or _text(content.get("domain")) or _text(content.get("url"))
        url = _text(content.get("url"))
        pieces.append(quote + (f"\n\n— [{source}]({url})" if url else f"\n\n— {source}" if source else ""))
    elif kind == "tether_browsing_display":
        pieces.append(_text(content.get("result")) or _text(content.get("summary")))
    elif kind == "system_error":
        pieces.append(f"Error: {_text(content.get('name'))} {_text(content.get('text'))}".strip())
    elif kind == "thoughts":
        thoughts = content.get("thoughts") if isinstance(content.get("thoughts"), list) else []
        for thought in thoughts:
            if isinstance(thought, dict):
                summary, body = _text(thought.get("summary")), _text(thought.get("content"))
                pieces.append(quoted(f"**{summary}**\n\n{body}" if summary else body))
    else:
        text = _text(content.get("text")) or "\n\n".join(p for p in content.get("parts") or [] if isinstance(p, str))
        pieces.append(f"[{_kind_name(kind)}]" + (f"\n\n{text}" if text else ""))
    for attachment in attachments:
        if attachment.get("id") not in shown:
            pieces.append(_attachment(attachment))
    return "\n\n".join(piece.strip("\n") for piece in pieces if piece and piece.strip())


def _part(key: str, part: Any, names: dict[Any, str], shown: set[str]) -> str:
    if isinstance(part, str):
        return part
    if part is None:
        return ""
    if not isinstance(part, dict):
        raise ThreadError(f"Message {describe(key)} has a part that is neither text nor an attachment ({_a(part)}).")
    kind = part.get("content_type")
    if kind == "audio_transcription":
        return _text(part.get("text"))
    pointer = _text(part.get("asset_pointer"))
    asset = pointer.rsplit("/", 1)[-1] if pointer else ""
    shown.add(asset)
    label = names.get(asset) or asset
    if kind == "image_asset_pointer":
        metadata = part.get("metadata") if isinstance(part.get("metadata"), dict) else {}
        dalle = metadata.get("dalle") if isinstance(metadata.get("dalle"), dict) else {}
        prompt = _text(dalle.get("prompt"))
        size = f" {part['width']}×{part['height']}" if isinstance(part.get("width"), int) and part.get("height") else ""
        if prompt:
            return f"[Generated image{size}: {prompt}]"
        return f"[Image{size}{': ' + label if label else ''}]"
    if kind in ("audio_asset_pointer", "real_time_user_audio_video_asset_pointer"):
        return f"[Recording{': ' + label if label else ''}]"
    return f"[{_kind_name(kind)}{': ' + label if label else ''}]"


def _a(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


def _attachment(attachment: dict[str, Any]) -> str:
    name = _text(attachment.get("name")) or _text(attachment.get("id")) or "a file"
    kind = _text(attachment.get("mime_type") or attachment.get("mimeType"))
    return f"[File: {name}{f' ({kind})' if kind else ''}]"


def _kind_name(kind: Any) -> str:
    if not isinstance(kind, str) or not kind:
        return "Content of an unknown kind"
    return kind.replace("_", " ").capitalize()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def fenced(code: str, language: str = "") -> str:
    """``code`` as a fenced block that no run of backticks in it can close."""
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    fence = "`" * max(3, longest + 1)
    language = language if language and language != "unknown" and language.isprintable() else ""
    return f"{fence}{language.split()[0] if language.strip() else ''}\n{code.rstrip()}\n{fence}"


def quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())

"""A thread as a Markdown or JSON download (``webapp.exports`` writes them),
streamed message by message so that a long thread costs no more memory
than a short one."""

from __future__ import annotations

import re

from flask import Response, stream_with_context

from webapp.exports import json_chunks, markdown_lines
from webapp.models import Conversation


def filename(conversation: Conversation, extension: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", conversation.title or "chat").strip("-").lower()[:60] or "chat"
    return f"{slug}.{extension}"


def download(conversation: Conversation, kind: str) -> Response:
    chunks, mimetype = {
        # Werkzeug adds "; charset=utf-8" to text types itself.
        "md": (markdown_lines, "text/markdown"),
        "json": (json_chunks, "application/json"),
    }[kind]
    return Response(
        stream_with_context(chunks(conversation)),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename(conversation, kind)}"'},
    )

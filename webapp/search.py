"""Search over one user's own thread titles and message text.

Matching is by substring (every word must appear, any case), which scans the
user's messages: quick for a personal history, and the same on SQLite and
PostgreSQL. Results link to their thread, with the matching words marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import and_, select

from webapp.extensions import db
from webapp.models import Conversation, Message, User

MAX_WORDS = 8
MAX_QUERY = 200
RESULTS = 20
SNIPPET_RADIUS = 70


@dataclass
class SearchHit:
    conversation: Conversation
    snippet: Markup  # escaped text with <mark> around the words
    in_title: bool


def words_of(query: str) -> list[str]:
    return list(dict.fromkeys(query[:MAX_QUERY].lower().split()))[:MAX_WORDS]


def escape_like(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _all_words(column, words: list[str]):
    return and_(*(column.ilike(f"%{escape_like(word)}%", escape="\\") for word in words))


def highlight(text: str, words: list[str], radius: int = SNIPPET_RADIUS) -> Markup:
    """A window of ``text`` around the first match, escaped, words marked."""
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)), re.I)
    text = " ".join(text.split())
    first = pattern.search(text)
    start = max(0, (first.start() if first else 0) - radius)
    end = min(len(text), (first.end() if first else 0) + radius)
    window = text[start:end]
    parts, last = [], 0
    for match in pattern.finditer(window):
        parts.append(escape(window[last:match.start()]))
        parts.append(Markup("<mark>%s</mark>") % match.group())
        last = match.end()
    parts.append(escape(window[last:]))
    return Markup("").join([Markup("…") if start else Markup(""), *parts, Markup("…") if end < len(text) else Markup("")])


def search(user: User, query: str) -> list[SearchHit]:
    words = words_of(query)
    if not words:
        return []
    hits: dict = {}
    titled = db.session.scalars(
        select(Conversation)
        .where(Conversation.user_id == user.id, _all_words(Conversation.title, words))
        .order_by(Conversation.updated_at.desc())
        .limit(RESULTS)
    )
    for conversation in titled:
        hits[conversation.id] = SearchHit(conversation, highlight(conversation.title, words), True)
    rows = db.session.execute(
        select(Conversation, Message.content)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.user_id == user.id, _all_words(Message.content, words))
        .order_by(Conversation.updated_at.desc(), Message.position.desc())
        .limit(RESULTS * 5)
    )
    for conversation, content in rows:
        if conversation.id not in hits and len(hits) < RESULTS:
            hits[conversation.id] = SearchHit(conversation, highlight(content, words), False)
    return sorted(hits.values(), key=lambda hit: hit.conversation.updated_at, reverse=True)

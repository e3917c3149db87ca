"""Search over one user's own thread titles and message text.

Matching is by substring (every word must appear, any case), which scans the
user's messages: quick for a personal history, and the same on SQLite and
PostgreSQL. Each hit carries a window of plain text around the first match;
marking the words in it is the templates' job (``mark_words``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, select

from webapp.extensions import db
from webapp.models import Conversation, Message, User
from webapp.text import contains

MAX_WORDS = 8
MAX_QUERY = 200
RESULTS = 20
SNIPPET_RADIUS = 70


@dataclass
class SearchHit:
    conversation: Conversation
    snippet: str  # plain text around the first match
    in_title: bool


def words_of(query: str) -> list[str]:
    """The words to find: a longer query is cut rather than refused, since
    the page shows what was searched for."""
    return list(dict.fromkeys(query[:MAX_QUERY].lower().split()))[:MAX_WORDS]


def _all_words(column, words: list[str]):
    return and_(*(contains(column, word) for word in words))


def snippet(text: str, words: list[str], radius: int = SNIPPET_RADIUS) -> str:
    """A window of ``text`` around the first match of any of ``words``,
    with white space folded and ``…`` where it was cut."""
    pattern = re.compile("|".join(re.escape(word) for word in words), re.I)
    text = " ".join(text.split())
    first = pattern.search(text)
    start = max(0, (first.start() if first else 0) - radius)
    end = min(len(text), (first.end() if first else 0) + radius)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


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
        hits[conversation.id] = SearchHit(conversation, snippet(conversation.title, words), True)
    rows = db.session.execute(
        select(Conversation, Message.content)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.user_id == user.id, _all_words(Message.content, words))
        .order_by(Conversation.updated_at.desc(), Message.position.desc())
        .limit(RESULTS * 5)
    )
    for conversation, content in rows:
        if conversation.id not in hits and len(hits) < RESULTS:
            hits[conversation.id] = SearchHit(conversation, snippet(content, words), False)
    return sorted(hits.values(), key=lambda hit: hit.conversation.updated_at, reverse=True)

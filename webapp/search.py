"""Search over one user's own threads: their titles and every message of
every branch, on the database's full-text index (``webapp.search_index``).

What a query means (the contract's *Search*): every word must be found,
each as the start of a word, in any case, accents ignored (``ollam`` finds
"Ollama", ``cafe`` finds "Café"); ``"words in quotes"`` must stand together
in that order. A word of one letter or digit matches only itself (as a
prefix it would match nearly everything). A thread is a hit when its title,
or one of its messages, holds every word; it is shown once, with up to 3 of
its matching messages, newest first.

The query is never handed to the database as syntax: it is cut into words
here (letters and digits; everything else separates them), and each word is
passed quoted, so ``*``, ``"``, ``-``, ``NEAR``, ``:``, ``&``, ``|``, ``!``
and ``(`` are only ever text.

Results come newest activity first, 20 a page, by keyset cursor. The data
comes back plain; marking the words is the templates' job (``mark_words``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
)

from webapp.conversations import activity_cursor, by_recent_activity
from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.models import Conversation, Message, User
from webapp.pagination import Page, keyset_page
from webapp.search_index import TS_CONFIG, WORDS_COLUMN, words_expression
from webapp.text import WORD, word_matches

MAX_QUERY = 200  # characters; a longer query is cut (the page says so; the API refuses it)
MAX_TERMS = 32  # words and phrases; more add nothing a person types
RESULTS = 20  # threads a page
SNIPPETS = 3  # matching messages shown for each thread
SNIPPET_RADIUS = 70  # characters of context each side of the first match

_TITLE_WORDS = words_expression("coalesce(conversations.title, '')")
_PHRASE = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Query:
    """A search as the user typed it, and what it looks for: each term is a
    word, or the words of a phrase in order."""

    text: str
    terms: tuple[tuple[str, ...], ...]
    trimmed: bool = False

    @property
    def words(self) -> list[str]:
        """Every word, for marking them in what is shown."""
        return list(dict.fromkeys(word for term in self.terms for word in term))

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_query(raw: str | None, *, refuse_long: bool = False) -> Query:
    """The terms of a query. Over ``MAX_QUERY`` characters, the query is cut
    (``trimmed``), or with ``refuse_long`` (the API) refused; quotes that
    pair up make phrases, a quote left over is only a separator."""
    if refuse_long and len(raw or "") > MAX_QUERY:
        raise InvalidInput("q", f"Search for at most {MAX_QUERY} characters.")
    raw = unicodedata.normalize("NFC", " ".join((raw or "").split()))
    trimmed = len(raw) > MAX_QUERY
    raw = raw[:MAX_QUERY].strip()
    terms: list[tuple[str, ...]] = []
    for phrase in _PHRASE.findall(raw):
        terms.append(tuple(WORD.findall(phrase)))
    terms.extend((word,) for word in WORD.findall(_PHRASE.sub(" ", raw)))
    terms = [term for term in dict.fromkeys(terms) if term]
    return Query(raw, tuple(terms[:MAX_TERMS]), trimmed)


# --- the index, per database ----------------------------------------------------------------


def _prefix(word: str) -> bool:
    return len(word) > 1


def _fts5_query(query: Query) -> str:
    """FTS5 syntax, every word a quoted string: ``"big"* + "red"* AND "box"*``."""

    def term(words: tuple[str, ...]) -> str:
        return " + ".join(f'"{word}"' + ("*" if _prefix(word) else "") for word in words)

    return " AND ".join(f"({term(words)})" for words in query.terms)


def _tsquery(query: Query) -> str:
    """``to_tsquery`` syntax, every word quoted: ``'big':* <-> 'red':* & 'box':*``."""

    def term(words: tuple[str, ...]) -> str:
        return " <-> ".join(f"'{word}'" + (":*" if _prefix(word) else "") for word in words)

    return " & ".join(f"({term(words)})" for words in query.terms)


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _message_matches(query: Query) -> ColumnElement[bool]:
    """The messages (of anyone: callers scope it) that hold every term; on
    PostgreSQL also a test of one row at a time."""
    if not query:
        return false()
    if _is_sqlite():
        ids = (
            select(literal_column("rowid"))
            .select_from(text("message_search"))
            .where(text("message_search MATCH :message_terms").bindparams(message_terms=_fts5_query(query)))
        )
        return Message.id.in_(ids)
    # The stored words (null while a reply is being written), as indexed.
    return text(f"messages.{WORDS_COLUMN} @@ to_tsquery('{TS_CONFIG}', :message_terms)").bindparams(
        message_terms=_tsquery(query)
    )


def title_matches(query: Query) -> ColumnElement[bool]:
    """The threads (of anyone) whose title holds every term (none, for a
    query without a word)."""
    if not query:
        return false()
    if _is_sqlite():
        ids = (
            select(literal_column("conversation_id"))
            .select_from(text("conversation_search"))
            .where(
                text("conversation_search MATCH :title_terms").bindparams(
                    title_terms="{title} : (" + _fts5_query(query) + ")"
                )
            )
        )
        return Conversation.id.in_(ids)
    return text(f"{_TITLE_WORDS} @@ to_tsquery('{TS_CONFIG}', :title_terms)").bindparams(title_terms=_tsquery(query))


# --- searching -------------------------------------------------------------------------------


def searchable_threads(user: User) -> Select:
    """The threads a search of ``user``'s looks in: their own, never anyone
    else's, and never one in the trash (archived ones are found, and marked)."""
    return select(Conversation).where(Conversation.user_id == user.id, Conversation.deleted_at.is_(None))


@dataclass(frozen=True)
class MessageHit:
    message: Message
    snippet: str  # plain text around the first match


@dataclass(frozen=True)
class ThreadHit:
    conversation: Conversation
    in_title: bool
    messages: list[MessageHit] = field(default_factory=list)


def search(user: User, query: Query | str, cursor: str | None = None, limit: int = RESULTS) -> Page[ThreadHit]:
    """The user's threads matching ``query``, newest activity first, one
    page from ``cursor`` on. An empty query finds nothing.

    Two ways to the same page:

    - the index lists every match, and their threads are sorted: the cost
      follows the number of matching messages;
    - PostgreSQL, when more than ``MANY`` of the user's messages match (a
      common word): the user's threads are walked newest activity first,
      each asked, message by message, whether it holds a match, until the
      page is full; most threads do, so the cost follows the page, not the
      account. Not on SQLite: FTS5 builds a prefix query's list of matches
      anew for every row it is asked about, which costs more than sorting.
    """
    if isinstance(query, str):
        query = parse_query(query)
    if not query:
        return Page([], None)
    common = not _is_sqlite() and _has_many_matches(user, query)
    threads = matching_threads(user, query, walk=common)
    page = keyset_page(by_recent_activity(threads, cursor), limit, activity_cursor)
    if not page.items:
        return Page([], page.next_cursor)
    ids = [conversation.id for conversation in page.items]
    titled = set(db.session.scalars(select(Conversation.id).where(Conversation.id.in_(ids), title_matches(query))))
    found = {c.id: newest_matches(c.id, query) for c in page.items} if common else matching_messages(ids, query)
    return Page(
        [ThreadHit(c, c.id in titled, found.get(c.id, [])) for c in page.items],
        page.next_cursor,
    )


MANY = 2_000  # matching messages above which a search walks the threads


def matching_threads(user: User, query: Query, *, walk: bool = False) -> Select:
    """Every thread of ``user``'s that ``query`` finds (all the results, not
    a page: select mode's "all results"). ``walk``: ask each thread whether
    it holds a match, rather than list the matches (see ``search``)."""
    in_messages = (
        exists().where(Message.conversation_id == Conversation.id, _message_matches(query))
        if walk
        else Conversation.id.in_(select(Message.conversation_id).where(_message_matches(query)))
    )
    return searchable_threads(user).where(or_(in_messages, title_matches(query)))


def _has_many_matches(user: User, query: Query) -> bool:
    """Whether more than ``MANY`` of the user's messages match (PostgreSQL)."""
    matches = (
        select(literal_column("1"))
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.user_id == user.id, _message_matches(query))
        .limit(MANY + 1)
    )
    return db.session.scalar(select(func.count()).select_from(matches.subquery())) > MANY


def newest_matches(conversation_id, query: Query, per_thread: int = SNIPPETS) -> list[MessageHit]:
    """Up to ``per_thread`` matching messages of one thread, newest first,
    asked message by message (a common word: the first few match)."""
    rows = db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, _message_matches(query))
        .order_by(Message.id.desc())
        .limit(per_thread)
    )
    return [MessageHit(message, snippet(message.content, query.words)) for message in rows]


def matching_messages(conversation_ids: list, query: Query, per_thread: int = SNIPPETS) -> dict:
    """Up to ``per_thread`` matching messages of each thread, newest first,
    each with its snippet: ``{conversation id: [MessageHit, ...]}``."""
    ranked = (
        select(
            Message.id,
            func.row_number().over(partition_by=Message.conversation_id, order_by=Message.id.desc()).label("rank"),
        )
        .where(Message.conversation_id.in_(conversation_ids), _message_matches(query))
        .subquery()
    )
    rows = db.session.scalars(
        select(Message)
        .join(ranked, Message.id == ranked.c.id)
        .where(ranked.c.rank <= per_thread)
        .order_by(Message.id.desc())
    )
    found: dict = {}
    for message in rows:
        found.setdefault(message.conversation_id, []).append(MessageHit(message, snippet(message.content, query.words)))
    return found


def snippet(content: str, words: list[str], radius: int = SNIPPET_RADIUS) -> str:
    """A window of ``content`` around the first word that matches, cut at
    spaces, white space folded, with ``…`` where it was cut."""
    content = " ".join(content.split())
    spans = word_matches(content, words)
    start, end = spans[0] if spans else (0, 0)
    left = max(0, start - radius)
    right = min(len(content), end + radius)
    if left > 0:
        space = content.find(" ", left, start)
        left = space + 1 if space != -1 else start
    if right < len(content):
        space = content.rfind(" ", end, right)
        right = space if space != -1 else end
    return ("…" if left else "") + content[left:right] + ("…" if right < len(content) else "")

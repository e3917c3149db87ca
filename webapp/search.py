"""Search over one user's own threads: their titles and every message of
every branch, on the database's full-text index (``webapp.search_index``).

What a query means (the contract's *Search*): every word must be found,
each as the start of a word, in any case, accents ignored (``ollam`` finds
"Ollama", ``cafe`` finds "Café"); ``"words in quotes"`` must stand together
in that order (in typographic quotes too: “…”, „…“, «…»). A word of one letter or digit matches only itself (as a
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
    Integer,
    Select,
    any_,
    bindparam,
    column,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import aliased

from webapp.conversations import activity_cursor, by_recent_activity, in_place
from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.models import Conversation, Message, User
from webapp.pagination import Page, encode_activity_cursor
from webapp.search_index import MESSAGE_WORDS_CHARS, TS_CONFIG, WORDS_COLUMN, words_expression
from webapp.text import WORD, first_term_match

MAX_QUERY = 200  # characters; a longer query is cut (the page says so; the API refuses it); so at most 100 words
RESULTS = 20  # threads a page
SNIPPETS = 3  # matching messages shown for each thread
SNIPPET_RADIUS = 70  # characters of context each side of the first match
#: A snippet's match is looked for in the first this many characters of a
#: message that is not plain ASCII (folding such text costs a step a
#: character); PostgreSQL takes a message's words from as many.
SNIPPET_SCAN = MESSAGE_WORDS_CHARS

_TITLE_WORDS = words_expression("coalesce(conversations.title, '')")
_PHRASE = re.compile(r'"([^"]*)"')
#: Typographic double quotes, as phones and word processors type them: quotes too.
_QUOTES = str.maketrans(dict.fromkeys("“”„‟«»", '"'))
_MESSAGE_SEARCH = table("message_search", column("rowid", Integer))  # SQLite's index of messages


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
    pair up (``"``, or typographic ones) make phrases, a quote left over is
    only a separator."""
    if refuse_long and len(raw or "") > MAX_QUERY:
        raise InvalidInput("q", f"Search for at most {MAX_QUERY} characters.")
    raw = unicodedata.normalize("NFC", " ".join((raw or "").split()))
    trimmed = len(raw) > MAX_QUERY
    raw = raw[:MAX_QUERY].strip()
    quoted = raw.translate(_QUOTES)
    terms: list[tuple[str, ...]] = []
    for phrase in _PHRASE.findall(quoted):
        terms.append(tuple(WORD.findall(phrase)))
    terms.extend((word,) for word in WORD.findall(_PHRASE.sub(" ", quoted)))
    terms = [term for term in dict.fromkeys(terms) if term]
    return Query(raw, tuple(terms), trimmed)


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


def _thread_matches(conversation_id: ColumnElement, query: Query) -> Select:
    """The ids of the messages of one thread that hold every term, asked of
    that thread alone (``conversation_id``: the thread, or a column of the
    outer query's). On SQLite the index is asked for the matches between
    the thread's first and last message ids: FTS5 seeks there in its lists
    rather than reading them whole; the thread is then checked, as other
    threads' messages may lie between."""
    if not _is_sqlite():
        return select(Message.id).where(Message.conversation_id == conversation_id, _message_matches(query))
    bounds = aliased(Message)
    first, last = (
        select(bound(bounds.id))
        .where(bounds.conversation_id == conversation_id)
        .correlate_except(bounds)
        .scalar_subquery()
        for bound in (func.min, func.max)
    )
    rowid = _MESSAGE_SEARCH.c.rowid
    return (
        select(Message.id)
        .select_from(_MESSAGE_SEARCH)
        .join(Message, Message.id == rowid)
        .where(
            text("message_search MATCH :message_terms").bindparams(message_terms=_fts5_query(query)),
            rowid.between(first, last),
            Message.conversation_id == conversation_id,
        )
    )


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


#: A search asks the threads of most recent activity one by one, ``WINDOW``
#: at a time (see ``search``): enough to fill a page of a word that most
#: threads hold, few enough that a rare word, which all of them are asked
#: about in vain, costs about a millisecond (100 messages a thread). It asks
#: the next ``WINDOW`` while the last held ``DENSE`` hits or more, up to
#: ``WINDOWS`` of them, before the index lists the rest.
WINDOW = 50
DENSE = 5
WINDOWS = 4


def search(user: User, query: Query | str, cursor: str | None = None, limit: int = RESULTS) -> Page[ThreadHit]:
    """The user's threads matching ``query``, newest activity first, one
    page from ``cursor`` on. An empty query finds nothing.

    A page is found in two steps, so that it costs what the page holds, not
    what the account holds:

    - the ``WINDOW`` threads of most recent activity (from the cursor on)
      are asked one by one, each through its own messages, whether they
      hold a match: a common word fills the page there, whatever the size of
      the account (listing its matches would cost as many rows as it has);
      the next ``WINDOW`` too while they find enough (``DENSE``);
    - when the windows do not fill the page (a rarer word), the index lists
      the matches in the older threads: few, exactly when this step is needed.

    Snippets are then looked up thread by thread, the newest matches first.
    What still costs more than a page: a word that the recent threads hold
    too seldom to fill it but the index holds often (older threads, other
    accounts), whose matches the index then lists; and on SQLite, a word of
    more than six letters (``search_index``).
    """
    if isinstance(query, str):
        query = parse_query(query)
    if not query:
        return Page([], None)
    if not _is_sqlite():
        # Plans for these values, never a prepared statement's generic plan:
        # not knowing the words, it may read the whole index of a word (to
        # combine it with a thread's messages) where a thread's hundred
        # messages were cheaper to check. Until the transaction ends.
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    found: list[Conversation] = []
    after, windows = cursor, 0
    while len(found) <= limit:
        window = _recent_window(user, after)
        hits = list(db.session.scalars(_in_window(window, query).limit(limit + 1 - len(found))))
        found += hits
        windows += 1
        if len(found) > limit:
            break
        last = db.session.execute(
            select(window.c.updated_at, window.c.id)
            .order_by(window.c.updated_at.desc(), window.c.id.desc())
            .offset(WINDOW - 1)
            .limit(1)
        ).first()
        if last is None:  # a window short of its size: no thread is older
            break
        after = encode_activity_cursor(last.updated_at, last.id)
        if len(hits) < DENSE or windows == WINDOWS:
            # Sparse: the index lists the matches in the older threads.
            older = by_recent_activity(matching_threads(user, query), after)
            found += db.session.scalars(older.limit(limit + 1 - len(found)))
            break
    page = Page(found[:limit], activity_cursor(found[limit - 1]) if len(found) > limit else None)
    if not page.items:
        return page
    ids = [conversation.id for conversation in page.items]
    titled = set(db.session.scalars(select(Conversation.id).where(Conversation.id.in_(ids), title_matches(query))))
    snippets = newest_matches(ids, query)
    return Page(
        [ThreadHit(c, c.id in titled, snippets.get(c.id, [])) for c in page.items],
        page.next_cursor,
    )


def _recent_window(user: User, cursor: str | None):
    """The ``WINDOW`` searchable threads of most recent activity from
    ``cursor`` on: the active ones and the archived ones, each walked on its
    own index of the user's threads by activity, merged."""

    def walk(place: str) -> Select:
        threads = select(Conversation.id, Conversation.updated_at).where(
            Conversation.user_id == user.id, in_place(place)
        )
        return by_recent_activity(threads, cursor).limit(WINDOW).subquery()

    active, archived = walk("active"), walk("archived")
    merged = union_all(select(active.c.id, active.c.updated_at), select(archived.c.id, archived.c.updated_at))
    return (
        merged.order_by(literal_column("updated_at").desc(), literal_column("id").desc())
        .limit(WINDOW)
        .subquery("recent_window")
    )


def _in_window(window, query: Query) -> Select:
    """The threads of ``window`` that ``query`` finds, newest activity first:
    each asked through its own messages, stopping at its first match."""
    in_messages = exists(_thread_matches(Conversation.id, query))
    return by_recent_activity(
        select(Conversation).join(window, window.c.id == Conversation.id).where(or_(in_messages, title_matches(query))),
        None,
    )


def matching_threads(user: User, query: Query) -> Select:
    """Every thread of ``user``'s that ``query`` finds (all the results, not
    a page: select mode's "all results"), from the index: the threads of the
    matching messages, and those of the matching titles."""
    hits = union(
        select(Message.conversation_id).where(_message_matches(query)),
        select(Conversation.id).where(title_matches(query)),
    )
    if _is_sqlite():
        return searchable_threads(user).where(Conversation.id.in_(hits))
    # PostgreSQL: the hits made first, then looked up by key. As ``IN``, the
    # planner (guessing the hits from the index's statistics: thousands for
    # any rare word) would rather read every thread of the user's to join.
    return searchable_threads(user).where(Conversation.id == any_(func.array(hits.scalar_subquery())))


def newest_matches(conversation_ids: list, query: Query, per_thread: int = SNIPPETS) -> dict:
    """Up to ``per_thread`` matching messages of each thread, newest first,
    each with its snippet: ``{conversation id: [MessageHit, ...]}``. Each
    thread is asked on its own, newest first, so a common word costs the few
    messages shown (one statement, run for each thread).

    Newest is by position, which follows the ids within a thread: on
    PostgreSQL the thread's messages are then read in that order, from the
    index of positions, until enough match; FTS5 lists its matches in id
    order."""
    thread = bindparam("thread", type_=Conversation.id.type)
    newest = Message.id.desc() if _is_sqlite() else Message.position.desc()
    statement = _thread_matches(thread, query).order_by(newest).limit(per_thread)
    ids = [
        found
        for conversation_id in conversation_ids
        for found in db.session.scalars(statement, {"thread": conversation_id})
    ]
    rows = db.session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id.desc()))
    found: dict = {}
    for message in rows:
        found.setdefault(message.conversation_id, []).append(MessageHit(message, snippet(message.content, query.terms)))
    return found


def snippet(content: str, terms, radius: int = SNIPPET_RADIUS) -> str:
    """A window of ``content`` around the first of ``terms`` that matches (a
    word, or a phrase whole: not one of its words alone; in text that is not
    plain ASCII, within its first ``SNIPPET_SCAN`` characters, else the
    start), cut at spaces, white space folded, with ``…`` where it was cut."""
    content = " ".join(content.split())
    scanned = content if content.isascii() else content[:SNIPPET_SCAN]
    start, end = first_term_match(scanned, terms) or (0, 0)
    left = max(0, start - radius)
    right = min(len(content), end + radius)
    if left > 0:
        space = content.find(" ", left, start)
        left = space + 1 if space != -1 else start
    if right < len(content):
        space = content.rfind(" ", end, right)
        right = space if space != -1 else end
    return ("…" if left else "") + content[left:right] + ("…" if right < len(content) else "")

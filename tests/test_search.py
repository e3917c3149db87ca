"""Search over one's own titles and messages, on the full-text index: what
a query finds, that every way of writing keeps the index in step, and that
no query is ever syntax. Run on SQLite and, with ``--db=postgres``, on
PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.orm import load_only

from tests.factories import HTMX, add_thread, add_user, insert_old_user, raw_uuid
from tests.html import parse
from webapp import branches, replies
from webapp import search as search_module
from webapp.conversations import (
    append_message,
    create_conversation,
    rename_conversation,
    start_reply,
)
from webapp.extensions import db
from webapp.models import Conversation, Message, User, utcnow
from webapp.organising import delete_for_good
from webapp.rendering import mark_words
from webapp.search import MAX_QUERY, parse_query, search, snippet
from webapp.search_index import MESSAGE_WORDS_CHARS, words_expression


def titles(user, query: str) -> list[str]:
    return [hit.conversation.title for hit in search(user, query).items]


def every_hit(user, query: str) -> list:
    """Every page of a search, followed by its cursors."""
    hits, cursor = [], None
    while True:
        page = search(user, query, cursor)
        hits.extend(page.items)
        if page.next_cursor is None:
            return hits
        cursor = page.next_cursor


@pytest.fixture
def library(ctx, user, other_user):
    trip = create_conversation(user, "Trip to Lisbon")
    append_message(trip, "user", "Which tram goes to Belém? Also pastel de nata at the Café.")
    code = create_conversation(user, "Python help")
    append_message(code, "user", "How do I sort a list of dicts by KEY in Python?")
    append_message(code, "assistant", "Use sorted(items, key=lambda d: d['key']). 100% safe_name with Ollama")
    secret = create_conversation(other_user, "Bob's Lisbon secrets")
    append_message(secret, "user", "nata recipe from Ollama")
    db.session.commit()
    return {"trip": trip, "code": code}


# --- what a query finds --------------------------------------------------------------------


def test_titles_and_messages_of_the_user_only(library, user):
    assert titles(user, "lisbon") == ["Trip to Lisbon"]
    assert titles(user, "nata") == ["Trip to Lisbon"]
    assert titles(user, "recipe") == []  # bob's


@pytest.mark.parametrize(
    "query, found",
    [
        ("ollam", ["Python help"]),  # the start of a word
        ("llama", []),  # ... never its middle
        ("OLLAMA", ["Python help"]),  # any case
        ("cafe", ["Trip to Lisbon"]),  # accents ignored
        ("CAFÉ belem", ["Trip to Lisbon"]),
        ("sort key", ["Python help"]),  # every word, anywhere in one message
        ("sort lisbon", []),  # ... not spread over a title and a message
        ('"list of dicts"', ["Python help"]),  # a phrase
        ('"dicts of list"', []),  # ... in its order
        ("“dicts of list”", []),  # ... in typographic quotes too (as phones type them)
        ("„dicts of list“", []),
        ("«dicts of list»", []),
        ("«list of dicts»", ["Python help"]),
        ('"of dic"', ["Python help"]),  # ... its words are word starts too
        ("safe_name", ["Python help"]),  # "_" separates words, as in the index
        ("100%", ["Python help"]),
        ("d", ["Python help"]),  # a word of one letter matches only itself
        ("t", []),
    ],
)
def test_query_semantics(library, user, either_way, query, found):
    assert titles(user, query) == found


def test_every_word_counts_however_many_there_are(ctx, user):
    """A query of as many words as 200 characters hold (a pasted sentence,
    an error message) still needs every one of them: none is dropped."""
    words = [f"w{n:02d}" for n in range(50)]
    append_message(create_conversation(user, "Many words"), "user", " ".join(words))
    query = " ".join(words[:45]) + " absent"
    assert len(query) <= MAX_QUERY
    assert titles(user, " ".join(words[:45])) == ["Many words"]
    assert titles(user, query) == []
    assert titles(user, '"absent" ' + " ".join(words[:45])) == []


@pytest.fixture(params=["few matches", "many matches"])
def either_way(request, monkeypatch):
    """Search both ways: sorting every match, and (a common word) walking
    the threads; both must give the same pages."""
    if request.param == "many matches":
        monkeypatch.setattr(search_module, "WINDOW", 2)


def test_a_long_thread_does_not_hide_the_others(ctx, user, either_way):
    """The issue's case: one 150-message thread and 60 other chats mention
    "ollama"; every one of the 61 is found, once, newest activity first."""
    long = create_conversation(user, "Long one")
    for n in range(150):
        append_message(long, "user", f"ollama question {n}")
    for n in range(60):
        thread = add_thread(user, f"Chat {n:02d}", ago=timedelta(minutes=n + 1))
        append_message(thread, "user", f"does ollama run on a phone? ({n})")
        thread.updated_at = utcnow() - timedelta(minutes=n + 1)
    db.session.commit()
    first = search(user, "ollama")
    assert len(first.items) == 20 and first.next_cursor
    hits = every_hit(user, "ollama")
    assert [hit.conversation.title for hit in hits] == ["Long one"] + [f"Chat {n:02d}" for n in range(60)]
    long_hit = hits[0]
    assert [found.message.content for found in long_hit.messages] == [
        "ollama question 149",
        "ollama question 148",
        "ollama question 147",
    ]


@pytest.fixture
def shelf(ctx, user, other_user):
    """Thirty threads of alice's, a minute apart, thread 0 the newest: each
    says "biscuits"; every third also says "kettle" (thread 12 in its
    title only); thread 9 is archived (still found), thread 6 in the trash
    (never found), and bob has a kettle too. What each query must find, as
    the titles of the threads, newest activity first."""
    for n in range(30):
        thread = add_thread(user, "Kettle corner" if n == 12 else f"Chat {n:02d}", ago=timedelta(minutes=n))
        append_message(thread, "user", f"tea and biscuits {n}")
        if n % 3 == 0 and n != 12:
            append_message(thread, "assistant", f"the kettle whistles {n}")
            append_message(thread, "user", "more biscuits")
        thread.updated_at = utcnow() - timedelta(minutes=n)
        if n == 9:
            thread.archived = True
        if n == 6:
            thread.deleted_at = utcnow()
    append_message(create_conversation(other_user, "Bob's kettle"), "user", "kettle biscuits")
    db.session.commit()
    kettles = [n for n in range(0, 30, 3) if n != 6]
    return {
        "biscuits": [("Kettle corner" if n == 12 else f"Chat {n:02d}") for n in range(30) if n != 6],
        "kettle": [("Kettle corner" if n == 12 else f"Chat {n:02d}") for n in kettles],
        "whistles 27": ["Chat 27"],
        "nothing": [],
    }


def paged(user, query: str, limit: int) -> list[tuple]:
    """Every page of ``limit`` hits, followed by its cursors: for each hit
    its title, whether the title matched, archived, and its messages."""
    hits, cursor = [], None
    while True:
        page = search(user, query, cursor, limit)
        assert len(page.items) <= limit
        hits.extend(
            (hit.conversation.title, hit.in_title, hit.conversation.archived, [m.message.id for m in hit.messages])
            for hit in page.items
        )
        if page.next_cursor is None:
            return hits
        assert len(page.items) == limit  # a cursor only after a full page
        cursor = page.next_cursor


@pytest.mark.parametrize("query", ["biscuits", "kettle", "whistles 27", "nothing"])
@pytest.mark.parametrize("limit", [1, 3, 20])
def test_the_window_and_the_index_find_the_same_pages(shelf, user, monkeypatch, query, limit):
    """A search asks the most recently active threads first, a window at a
    time, then the index for the older ones: whether the windows fill the
    page ("biscuits") or not ("kettle", one thread in three; a word of one
    thread), and wherever the page boundaries fall against the windows',
    the pages are those of asking every thread, and the expected ones."""
    results = {}
    ways = [
        (1000, 1, 1),  # every thread in the one window
        (4, 1, 3),  # windows of 4 while they hold a hit, up to 3, then the index
        (4, 2, 8),  # ... while they hold 2: "kettle" (one in three) goes to the index after the first
        (2, 3, 5),  # the index after the first window, always
        (1, 1, 30),  # windows of one thread, until one holds nothing
    ]
    for window, dense, windows in ways:
        monkeypatch.setattr(search_module, "WINDOW", window)
        monkeypatch.setattr(search_module, "DENSE", dense)
        monkeypatch.setattr(search_module, "WINDOWS", windows)
        results[window, dense, windows] = paged(user, query, limit)
    expected = results[ways[0]]
    assert [title for title, *_ in expected] == shelf[query]
    assert all(found == expected for found in results.values())
    results = {1000: expected}
    in_title = [title for title, matched, *_ in results[1000] if matched]
    assert in_title == (["Kettle corner"] if query == "kettle" else [])
    assert [title for title, _, archived, _ in results[1000] if archived] == [
        title for title in shelf[query] if title == "Chat 09"
    ]
    snippets = {title: found for title, _, _, found in results[1000]}
    if query == "kettle":
        assert snippets["Kettle corner"] == []  # a title hit shows no message
        assert all(len(found) == 1 for title, found in snippets.items() if title != "Kettle corner")
    if query == "biscuits":
        # The newest first, up to three: "more biscuits" after "tea and biscuits".
        assert all(found == sorted(found, reverse=True) for found in snippets.values())
        assert len(snippets["Chat 03"]) == 2 and len(snippets["Chat 01"]) == 1


def test_an_empty_query_finds_nothing(library, user):
    assert search(user, "   ").items == []
    assert search(user, '"" * -').items == []


def test_a_query_over_the_limit_is_cut_and_says_so():
    query = parse_query("word " * 100)
    assert query.trimmed and len(query.text) <= MAX_QUERY
    assert not parse_query("word").trimmed


@pytest.mark.parametrize(
    "query",
    [
        "*",
        '"',
        '"unbalanced',
        "-",
        "-python",
        "NEAR",
        "NEAR(a b)",
        ":",
        "title:python",
        "&",
        "|",
        "!",
        "(",
        ")",
        "python AND",
        "OR python",
        "NOT",
        "'",
        "\\",
        "^python",
        "python*",
        "{title}: x",
        "a <-> b",
        "a:*",
        "+",
        "%",
        "_",
    ],
)
def test_syntax_characters_are_only_text(library, user, query):
    search(user, query)  # never an error
    assert db.session.scalar(select(Message.id).limit(1))  # the transaction is still usable


_FUZZ_WORDS = [
    "python",
    "lisbon",
    "nata",
    "café",
    "ollam",
    "*",
    '"',
    "-",
    "NEAR",
    ":",
    "&",
    "|",
    "!",
    "(",
    ")",
    "'",
    "\\",
    "AND",
    "OR",
    "NOT",
    "^",
    "+",
    "{title}",
    "<->",
    ":*",
    "\x00",
]


# The same examples each run (as the API fuzz tests): CI fails on a query, never on a draw.
@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=220),
        st.lists(st.sampled_from(_FUZZ_WORDS), max_size=12).map(" ".join),
        st.lists(st.sampled_from(_FUZZ_WORDS), max_size=12).map("".join),
    )
)
def test_no_query_is_an_error(library, user, query):
    page = search(user, query)
    assert {hit.conversation.user_id for hit in page.items} <= {user.id}


# --- every write keeps the index in step --------------------------------------------------------


def test_appending_indexes_the_message(ctx, user):
    thread = create_conversation(user, "t")
    append_message(thread, "user", "zeppelin")
    assert titles(user, "zeppelin") == ["t"]  # in the same transaction, before any commit


def test_an_edit_is_a_new_version_and_both_are_found(ctx, user):
    thread = create_conversation(user, "t")
    first = append_message(thread, "user", "zeppelin")
    edited, _reply = branches.edit_message(thread, first, "airship")
    db.session.commit()
    assert titles(user, "airship") == ["t"] and titles(user, "zeppelin") == ["t"]
    assert [m.message.id for m in search(user, "airship").items[0].messages] == [edited.id]


def test_a_reply_is_indexed_when_it_ends_not_while_it_streams(app, ctx, user):
    thread = create_conversation(user, "t")
    append_message(thread, "user", "tell me about zeppelins")
    reply = start_reply(thread)
    db.session.commit()
    eng = replies.engine(app)
    assert replies.claim(reply.id, eng.owner)
    db.session.execute(update(Message).where(Message.id == reply.id).values(content="airship so far"))
    db.session.commit()
    assert titles(user, "airship") == []  # streaming: not yet
    user_id = user.id
    replies.finish(eng, reply.id, "airship, whole", "complete")  # on a session of its own, which it closes
    user = db.session.get(User, user_id)
    assert titles(user, "whole") == ["t"] and titles(user, "so far") == []


def test_a_reply_written_by_the_writer_is_found(app, ctx, user):
    thread = create_conversation(user, "t")
    append_message(thread, "user", "zeppelin")
    reply = start_reply(thread)
    db.session.commit()
    replies.start(reply.id, app).join()
    hit = search(user, "zeppelin").items[0]
    assert [m.message.role for m in hit.messages] == ["assistant", "user"]  # the demo quotes you


def _streaming(thread, content: str, lapsed: bool) -> Message:
    reply = append_message(thread, "assistant", "", status="pending")
    reply.status, reply.content, reply.lease_owner = "streaming", content, "elsewhere:1:abc"
    reply.lease_until = utcnow() + (timedelta(seconds=-1) if lapsed else timedelta(seconds=60))
    db.session.commit()
    return reply


def test_an_interrupted_reply_is_found_with_its_saved_text(app, ctx, user):
    thread = create_conversation(user, "t")
    reply = _streaming(thread, "half an airship", lapsed=True)
    assert titles(user, "airship") == []
    assert replies.interrupt(replies.engine(app), reply.id)
    assert titles(user, "airship") == ["t"]


def test_a_stopped_reply_is_found_with_its_saved_text(app, ctx, user):
    thread = create_conversation(user, "t")
    reply = _streaming(thread, "half an airship", lapsed=False)
    assert replies.stop(reply)  # no writer answers: it is ended here
    db.session.commit()
    assert titles(user, "airship") == ["t"]


def many_different_words(count: int) -> str:
    """A text like a log or a list of ids: ``count`` different words."""
    return " ".join(hashlib.sha1(str(n).encode()).hexdigest() for n in range(count))


def test_a_message_of_more_words_than_postgresql_keeps_is_stored_and_found(ctx, user):
    """A tsvector holds at most 1 MB of words: a long text of different
    words (28,000 of them: a log, a list of ids) made more, and on
    PostgreSQL the message could not be written at all. Its words are taken
    from the first ``MESSAGE_WORDS_CHARS`` characters there: it is stored,
    and found by them."""
    thread = create_conversation(user, "Logs")
    content = "zeppelin " + many_different_words(28_000)
    assert len(content) > 1_000_000
    append_message(thread, "assistant", content)
    db.session.commit()
    assert titles(user, "zeppelin") == ["Logs"]
    assert titles(user, content[9:49]) == ["Logs"]


def test_rename_delete_and_fork_keep_the_index_in_step(ctx, user):
    thread = create_conversation(user, "Zeppelin notes")
    message = append_message(thread, "user", "airship")
    db.session.commit()
    rename_conversation(thread, "Blimp notes")
    assert titles(user, "zeppelin") == [] and titles(user, "blimp") == ["Blimp notes"]
    rename_conversation(thread, None)
    assert titles(user, "blimp") == []
    copy = branches.fork(user, thread, message)
    copy.title = "Copy"
    db.session.flush()
    assert sorted(titles(user, "airship"), key=str) == sorted(["Copy", None], key=str)
    delete_for_good(thread)
    db.session.commit()
    assert titles(user, "airship") == ["Copy"]


# --- what is shown ----------------------------------------------------------------------------------


def test_snippet_is_a_window_cut_at_spaces():
    window = snippet("x " * 100 + "<script>alert(1)</script> needle " + "y " * 100, [("needle",)])
    assert window.startswith("…x ") and window.endswith(" y…")
    assert "needle" in window


def test_a_snippet_shows_where_the_phrase_stands(ctx, user):
    """A phrase's words may each stand alone earlier in the message ("of"):
    the snippet is cut around the phrase, which the message matched by."""
    thread = create_conversation(user, "t")
    append_message(thread, "user", "Out of the box it works. " + "filler " * 30 + "Then sort a list of dicts by key.")
    [found] = search(user, '"list of DICTS"').items[0].messages
    assert found.snippet.endswith("sort a list of dicts by key.")
    [found] = search(user, "dicts box").items[0].messages  # words: the first that stands in the message
    assert found.snippet.startswith("Out of the box")


def test_a_snippet_of_a_long_message_is_found_in_a_moment():
    """A reply or an import can hold a megabyte (a log): its snippet took
    over a second, folding it a character at a time, and a page shows up to
    60. Plain ASCII is folded at once; other text is looked at in its first
    ``SNIPPET_SCAN`` characters (where a word found on PostgreSQL stands)."""
    log = many_different_words(25_000) + " the needle"
    start = time.perf_counter()
    assert snippet(log, [("needle",)]).endswith("the needle")
    assert time.perf_counter() - start < 0.2
    words = "ёлка " * 200_000 + "игла"
    start = time.perf_counter()
    assert snippet(words, [("игла",)]).startswith("ёлка")  # past what is looked at: the start
    assert time.perf_counter() - start < 1


def test_marking_is_escaped_and_marks_word_starts_only():
    marked = mark_words("<b>Café</b> ollama llama cafeteria", ["cafe", "ollam"])
    assert marked == "&lt;b&gt;<mark>Café</mark>&lt;/b&gt; <mark>ollama</mark> llama <mark>cafeteria</mark>"


# --- the pages ------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, auth, user):
    auth.login()
    return client


def test_search_page_marks_the_words_escaped_and_links_each_snippet_to_its_message(app, signed_in, user, seed):
    with seed():
        conversation = create_conversation(db.session.get(User, user.id), "<b>Bold</b> plans")
        message = append_message(conversation, "user", "remember the <img src=x onerror=alert(1)> thing")
        thread, message_id = conversation.id, message.id
    page = signed_in.get("/search?q=REMEMBER")
    assert page.status_code == 200
    html = parse(page.text)
    assert html.one("search", "Search").by_label("Words to find")["value"] == "REMEMBER"
    assert "<mark>remember</mark> the &lt;img src=x onerror=alert(1)&gt; thing" in page.text
    results = html.by_id("search-results")
    assert results.one("link", "<b>Bold</b> plans")["href"] == f"/c/{thread}"
    snippet_link = results.one("link", re.compile("^You: remember"))
    assert snippet_link["href"] == f"/c/{thread}?m={message_id}#message-{message_id}"
    opened = parse(signed_in.get(snippet_link["href"]).text)
    assert "marked" in opened.by_id(f"message-{message_id}").classes


def test_more_results_appends_with_htmx_and_is_a_link_without(signed_in, user, make_thread):
    for n in range(25):
        make_thread(user, f"airship {n:02d}")
    page = parse(signed_in.get("/search?q=airship").text)
    hits = page.by_id("search-results").one("list")
    assert len(hits.having(**{"class": "search-hit"})) == 20
    more = hits.one("link", "More results")
    assert more["href"].startswith("/search?q=airship&cursor=") and more["hx-get"] == more["href"]
    assert more["hx-target"] == "closest li" and more["hx-swap"] == "outerHTML"
    appended = parse(signed_in.get(more["href"], headers=HTMX).text)
    assert appended.texts("link") == [f"airship {n:02d}" for n in range(4, -1, -1)]
    plain = parse(signed_in.get(more["href"]).text)  # without JavaScript: the page, from there
    assert plain.by_id("search-results").texts("link") == [f"airship {n:02d}" for n in range(4, -1, -1)]


def test_nothing_found_empty_query_and_a_long_query(signed_in, user, make_thread):
    make_thread(user, "zeppelin")
    empty = parse(signed_in.get("/search?q=nothing-like-this", headers=HTMX).text).top
    assert (empty.role, empty.text) == ("paragraph", "Nothing in your chats matches “nothing-like-this”.")
    assert signed_in.get("/search?q=", headers=HTMX).text.strip() == ""  # as you type: cleared
    hint = parse(signed_in.get("/search").text).by_id("search-results")
    assert hint.has_text(re.compile("^Type words to find"))
    long = parse(signed_in.get("/search", query_string={"q": "zeppelin " * 40}).text).by_id("search-results")
    assert long.one("status").text == f"Only the first {MAX_QUERY} characters were searched for."
    assert long.texts("link") == ["zeppelin"]


def test_every_chat_page_has_the_search_box_with_its_shortcut(signed_in):
    box = (
        parse(signed_in.get("/").text)
        .one("navigation", "Chats")
        .one("search", "Quick search")
        .by_label("Search your chats")
    )
    assert box["aria-keyshortcuts"] == "Control+K Meta+K"
    assert box["hx-get"] == "/search" and box["hx-target"] == "#sidebar-search-results"
    assert box["hx-trigger"] == "input changed delay:200ms" and box["hx-sync"] == "this:replace"
    assert box.closest("search")["action"] == "/search"  # Enter: the results page


def test_postgresql_keeps_message_words_in_a_stored_column_after_the_upgrade(make_app):
    """A database whose index was made on the expression of message words
    (as it first was) gets the stored column, filled from what is there."""
    from flask_migrate import upgrade

    app = make_app()
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite's index is FTS5; the stored column is PostgreSQL's")
        upgrade()
        alice = add_user("alice")
        add_thread(alice, "Old", messages=1)
        append_message(create_conversation(alice, "Blimps"), "user", "an airship from before")
        db.session.commit()
        with db.engine.begin() as connection:  # back to the index as 0008 first made it
            connection.exec_driver_sql("ALTER TABLE messages DROP COLUMN search_words")
            connection.exec_driver_sql(
                f"CREATE INDEX ix_messages_search ON messages USING gin ({words_expression('content')})"
                " WHERE status NOT IN ('pending', 'streaming')"
            )
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0010'")
        upgrade(revision="0011")  # that migration alone: the later ones ran already
        assert titles(db.session.get(User, alice.id), "airship") == ["Blimps"]


def test_postgresql_makes_message_words_from_their_start_after_the_upgrade(make_app):
    """0014: a database whose column of message words was made from the
    whole text (as 0011 made it) gets it made from the first
    ``MESSAGE_WORDS_CHARS`` characters, from what is there; then a message
    of more words than a tsvector holds can be written. Downgrading goes back."""
    from flask_migrate import downgrade, upgrade

    def stored_from() -> str:
        return db.session.scalar(
            text(
                "SELECT generation_expression FROM information_schema.columns"
                " WHERE table_name = 'messages' AND column_name = 'search_words'"
            )
        )

    app = make_app()
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite's index is FTS5; the stored column is PostgreSQL's")
        upgrade()
        alice_id = add_user("alice").id
        append_message(create_conversation(db.session.get(User, alice_id), "Blimps"), "user", "an airship")
        db.session.commit()
        db.session.remove()
        downgrade(revision="0013")
        assert "left" not in stored_from()
        db.session.remove()
        upgrade()
        assert f"(content, {MESSAGE_WORDS_CHARS})" in stored_from()
        alice = db.session.get(User, alice_id)
        assert titles(alice, "airship") == ["Blimps"]
        append_message(create_conversation(alice, "Logs"), "assistant", "zeppelin " + many_different_words(28_000))
        db.session.commit()
        assert titles(alice, "zeppelin") == ["Logs"]


def test_the_migration_indexes_what_was_there(make_app):
    """Rows written before the index existed are found once it is built."""
    from flask_migrate import upgrade

    app = make_app()
    with app.app_context():
        upgrade(revision="0006")
        # Written as the schema of then stood, not as the models now are.
        thread = uuid.uuid4()
        with db.engine.begin() as connection:
            insert_old_user(connection)
            key = raw_uuid(connection, thread)
            connection.execute(
                text(
                    "INSERT INTO conversations (id, user_id, title, message_count, created_at, updated_at)"
                    " VALUES (:id, 1, 'Old zeppelin', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": key},
            )
            connection.execute(
                text(
                    "INSERT INTO messages (conversation_id, position, role, content, status, created_at)"
                    " VALUES (:id, 1, 'user', 'an airship from before', 'complete', CURRENT_TIMESTAMP)"
                ),
                {"id": key},
            )
        upgrade()
        alice = db.session.get(User, 1)
        thread = db.session.get(Conversation, thread)
        assert titles(alice, "zeppelin") == ["Old zeppelin"] and titles(alice, "airship") == ["Old zeppelin"]
        rename_conversation(db.session.get(type(thread), thread.id), "New blimp")  # and kept in step after
        assert titles(alice, "blimp") == ["New blimp"]


def test_the_prefix_migration_makes_the_message_index_anew(make_app):
    """0012: SQLite's index of messages is made anew with lists of word
    starts of 2 to 6 characters, from the messages there, and kept in step
    after; downgrading goes back to 2 and 3 (as 0008 first made it). Nothing
    changes on PostgreSQL: the same searches find the same threads."""
    from flask_migrate import downgrade, upgrade

    def prefixes() -> str | None:
        if db.engine.dialect.name != "sqlite":
            return None
        made = db.session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'message_search'"))
        return re.search(r"prefix = '([^']*)'", made).group(1)

    app = make_app()
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        upgrade()
        alice_id = add_user("alice").id
        append_message(create_conversation(db.session.get(User, alice_id), "Local"), "user", "which local model?")
        db.session.commit()
        db.session.remove()
        downgrade(revision="0011")
        assert prefixes() == ("2 3" if sqlite else None)
        # Only the id: the account's later columns are not there at 0011.
        assert titles(db.session.get(User, alice_id, options=[load_only(User.id)]), "model") == ["Local"]
        db.session.remove()
        upgrade()
        assert prefixes() == ("2 3 4 5 6" if sqlite else None)
        alice = db.session.get(User, alice_id)
        assert titles(alice, "model") == ["Local"] and titles(alice, '"local mod"') == ["Local"]
        later = create_conversation(alice, "Later")
        append_message(later, "user", "modelling clay")
        db.session.commit()
        assert titles(alice, "model") == ["Later", "Local"]
        delete_for_good(later)
        db.session.commit()
        assert titles(alice, "modell") == [] and titles(alice, "model") == ["Local"]


def test_postgresql_builds_the_index_in_each_schema_of_one_database(app, make_app, ctx):
    """Two Parley databases as two schemas of one PostgreSQL database (as
    the benchmarks make them): the second gets an index of its own though
    the first has one, and finds ``unaccent`` in the schema where the
    extension was created, which is not on its search path."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's schemas")
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS second_parley CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA second_parley")
        assert connection.exec_driver_sql("SELECT to_regclass('public.ix_messages_search')").scalar()
    second = make_app(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"options": "-c search_path=second_parley"}}
    )
    try:
        with second.app_context():
            db.create_all()
            assert db.session.scalar(text("SELECT to_regclass('second_parley.ix_messages_search')"))
            alice = add_user("alice")
            append_message(create_conversation(alice, "Trip"), "user", "a Café by the zeppelin field")
            db.session.commit()
            assert titles(alice, "cafe zepp") == ["Trip"]
            db.session.remove()
            db.engine.dispose()
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA second_parley CASCADE")

"""Search over one's own titles and messages."""

from __future__ import annotations

import pytest

from tests.factories import HTMX
from tests.html import parse
from webapp.conversations import append_message, create_conversation
from webapp.extensions import db
from webapp.models import User
from webapp.rendering import mark_words
from webapp.search import search, snippet


@pytest.fixture
def library(ctx, user, other_user):
    trip = create_conversation(user, "Trip to Lisbon")
    append_message(trip, "user", "Which tram goes to Belém? Also pastel de nata.")
    code = create_conversation(user, "Python help")
    append_message(code, "user", "How do I sort a list of dicts by KEY in Python?")
    append_message(code, "assistant", "Use sorted(items, key=lambda d: d['key']). 100% safe_name")
    secret = create_conversation(other_user, "Bob's Lisbon secrets")
    append_message(secret, "user", "nata recipe")
    db.session.commit()
    return {"trip": trip, "code": code}


def test_search_finds_titles_and_messages_of_the_user_only(library, user):
    assert [hit.conversation.title for hit in search(user, "lisbon")] == ["Trip to Lisbon"]
    hits = search(user, "nata")
    assert [hit.conversation.title for hit in hits] == ["Trip to Lisbon"]
    assert "nata" in hits[0].snippet


def test_every_word_must_match_in_any_case(library, user):
    assert [h.conversation.title for h in search(user, "SORT key")] == ["Python help"]
    assert search(user, "sort lisbon") == []


@pytest.mark.parametrize("query", ["100%", "safe_name", "_", "%"])
def test_like_wildcards_match_themselves(library, user, query):
    hits = search(user, query)
    assert [h.conversation.title for h in hits] == ["Python help"]


def test_empty_query_finds_nothing(library, user):
    assert search(user, "   ") == []


def test_snippet_is_escaped_and_marked():
    window = snippet("x " * 100 + "<script>alert(1)</script> needle " + "y " * 100, ["needle"])
    assert window.startswith("…") and window.endswith("…")
    marked = mark_words(window, ["needle"])
    assert "&lt;script&gt;" in marked
    assert "<mark>needle</mark>" in marked


def test_search_page_and_partial(client, auth, user, seed):
    with seed():
        conversation = create_conversation(db.session.get(User, user.id), "<b>Bold</b> plans")
        append_message(conversation, "user", "remember the <img src=x onerror=alert(1)> thing")
        thread = conversation.id
    auth.login()
    page = client.get("/search?q=remember")
    assert page.status_code == 200
    html = parse(page.text)
    assert html.one("search").by_label("Words to find")["value"] == "remember"
    assert "<mark>remember</mark> the &lt;img src=x onerror=alert(1)&gt; thing" in page.text
    assert "&lt;b&gt;Bold&lt;/b&gt; plans" in page.text
    assert html.by_id("search-results").one("link", "<b>Bold</b> plans")["href"] == f"/c/{thread}"
    partial = client.get("/search?q=nothing-like-this", headers=HTMX)
    empty = parse(partial.text).top
    assert (empty.role, empty.text) == ("paragraph", "Nothing in your chats matches “nothing-like-this”.")
    assert client.get("/search").status_code == 200

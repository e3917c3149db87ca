"""Messages and sidebar items rendered once and given again
(``webapp/fragments.py``): a kept fragment is never the wrong one: not
another reader's CSRF token, not an old title, time zone, day or set of
versions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.factories import HTMX, sign_in
from tests.html import csrf_token, parse
from webapp.extensions import db
from webapp.lru import LRU
from webapp.models import Message, utcnow


def articles(markup: str) -> list[str]:
    return [str(article.tag) for article in parse(markup).by_role("article")]


def sidebar_titles(markup: str) -> list[str]:
    items = [item for item in parse(markup).by_role("listitem") if item.get("id", "").startswith("thread-")]
    return [item.by_role("link")[0].text for item in items]


def session_secret(token: str) -> str:
    """The reader's secret a signed CSRF token carries; the signature beside it
    holds the second it was signed in, so two pages a second apart differ there."""
    return token.split(".")[0]


def without_token(markup: str) -> list[str]:
    return [article.replace(csrf_token(markup), "TOKEN") for article in articles(markup)]


def test_a_page_shown_again_is_the_same_with_each_readers_own_token(csrf_app, user, make_thread):
    thread = make_thread(user, messages=4)
    first, second = csrf_app.test_client(), csrf_app.test_client()
    sign_in(first, user)
    sign_in(second, user)
    page, again, elsewhere = (client.get(f"/c/{thread}").text for client in (first, first, second))
    assert without_token(page) == without_token(again) and len(articles(page)) == 4
    # csrf_token() also checks that every form of the page, the messages'
    # included, carries one and the same token: the reader's own.
    assert session_secret(csrf_token(page)) == session_secret(csrf_token(again))
    assert session_secret(csrf_token(elsewhere)) != session_secret(csrf_token(page))
    assert all(csrf_token(page) in article for article in articles(page) if "<form" in article)
    # The messages' own buttons post the pane's one form, which carries it.
    assert csrf_token(str(parse(page).by_id("message-form").tag)) == csrf_token(page)
    assert all('form="message-form"' in article for article in articles(page))
    response = second.post(f"/c/{thread}/title", data={"title": "Renamed", "csrf_token": csrf_token(elsewhere)})
    assert response.status_code == 303


def test_the_sidebar_shows_a_new_title_and_new_activity(client, user, make_thread):
    sign_in(client, user)
    # Minutes, not hours: "2 h" says "Yesterday" in the first hours of a day (UTC).
    older = make_thread(user, "Older", messages=2, ago=timedelta(minutes=5))
    make_thread(user, "Newer", messages=2)
    page = parse(client.get("/").text)
    assert sidebar_titles(str(page.tag)) == ["Newer", "Older"]
    assert page.by_id(f"thread-{older}").one("time").text == "5 min"
    client.post(f"/c/{older}/title", data={"title": "Renamed"})  # a rename is activity too
    page = parse(client.get("/").text)
    assert sidebar_titles(str(page.tag)) == ["Renamed", "Newer"]
    assert page.by_id(f"thread-{older}").one("time").text == "now"


def test_the_current_thread_is_marked_whichever_page_came_first(client, user, make_thread):
    sign_in(client, user)
    one, two = make_thread(user, "One", messages=2), make_thread(user, "Two", messages=2)
    for shown, other in [(one, two), (two, one)]:
        page = parse(client.get(f"/c/{shown}").text)
        assert page.by_id(f"thread-{shown}").by_role("link")[0]["aria-current"] == "page"
        assert not page.by_id(f"thread-{other}").by_role("link")[0].has("aria-current")


def test_message_times_follow_the_readers_time_zone(client, user, make_thread, app):
    thread = make_thread(user, messages=1)
    with app.app_context():
        message = db.session.scalars(select(Message)).one()
        message.created_at = utcnow().replace(year=2024, month=7, day=1, hour=22, minute=30, second=0, microsecond=0)
        db.session.commit()
    sign_in(client, user)
    assert parse(client.get(f"/c/{thread}").text).having(class_="message-time")[0].text == "1 Jul 2024, 22:30"
    client.set_cookie("tz", "Europe/Paris")
    assert parse(client.get(f"/c/{thread}").text).having(class_="message-time")[0].text == "2 Jul 2024, 00:30"


def test_a_message_given_another_version_shows_its_versions(client, user, make_thread, app):
    thread = make_thread(user, messages=2)
    sign_in(client, user)
    with app.app_context():
        reply = db.session.scalars(select(Message).where(Message.role == "assistant")).one().id
    before = parse(client.get(f"/c/{thread}").text).by_id(f"message-{reply}")
    assert not before.having(class_="version-count")
    client.post(f"/c/{thread}/messages/{reply}/edit", data={"content": "A better reply"})
    client.post(f"/c/{thread}/branch", data={"message": reply}, headers=HTMX)
    after = parse(client.get(f"/c/{thread}").text).by_id(f"message-{reply}")
    assert after.having(class_="version-count")[0].text == "1 / 2"


def test_the_least_recently_used_fragment_goes_first():
    fragments = LRU(2)
    fragments.put("a", "A")
    fragments.put("b", "B")
    assert fragments.get("a") == "A"  # now the most recently used
    fragments.put("c", "C")
    assert (fragments.get("a"), fragments.get("b"), fragments.get("c")) == ("A", None, "C")


def test_kept_and_new_messages_make_the_page_that_none_kept_makes(client, user, make_thread, app):
    """A page finds most of its messages kept and reads the rest whole: in
    order, each as if none were kept."""
    from webapp.conversations import append_message
    from webapp.fragments import SIZE
    from webapp.models import Conversation

    thread = make_thread(user, messages=4)
    sign_in(client, user)
    assert len(articles(client.get(f"/c/{thread}").text)) == 4
    with app.app_context():
        conversation = db.session.get(Conversation, thread)
        append_message(conversation, "user", "A fifth, <b>not bold</b>")
        append_message(conversation, "assistant", "And a sixth, *emphasised*")
        db.session.commit()
    mixed = client.get(f"/c/{thread}").text
    app.extensions["parley_fragments"] = LRU(SIZE)
    fresh = client.get(f"/c/{thread}").text
    assert without_token(mixed) == without_token(fresh)
    shown = articles(mixed)
    assert len(shown) == 6 and "A fifth, &lt;b&gt;not bold&lt;/b&gt;" in shown[4] and "<em>emphasised</em>" in shown[5]

"""The chat page's finish over HTTP: the composer's hint and focus, message
times and copy buttons, renaming to nothing, the ⚙ menu closing, the first
sign-in counted at registration, and where ``make run`` listens."""

from __future__ import annotations

import importlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories import HTMX, PASSWORD, add_user
from tests.fake_llm import FakeLLM
from tests.html import parse
from webapp.extensions import db
from webapp.models import Conversation, Message, User, utcnow
from webapp.templating import activity_time


@pytest.fixture
def signed_in(client, auth, user):
    auth.login()
    return user


def test_without_javascript_the_hint_says_send_sends(client, signed_in, make_thread):
    thread = make_thread(signed_in, messages=2)
    composer = parse(client.get(f"/c/{thread}").text).by_id("composer")
    hint = composer.by_id("composer-hint")
    # Without the script, Enter starts a new line; the script puts its words in.
    assert hint.has_text("Send posts your message; Enter starts a new line.")
    assert hint.having(data_js_text="Enter sends; Shift+Enter starts a new line.")
    assert composer.by_label("Message")["aria-describedby"].split()[0] == "composer-hint"


@pytest.mark.parametrize("path", ["/", "/c/{thread}"])
def test_the_composer_takes_the_focus_on_a_new_chat_and_on_a_thread(client, signed_in, make_thread, path):
    thread = make_thread(signed_in, messages=2)
    page = parse(client.get(path.format(thread=thread)).text)
    assert page.one("textbox", "Message").has("autofocus")
    assert [element.tag.name for element in page.having(autofocus=True)] == ["textarea"]


def test_each_message_shows_its_time_and_a_copy_button(client, signed_in, make_thread, app):
    thread = make_thread(signed_in, messages=2)
    with app.app_context():
        first = db.session.scalars(select(Message).order_by(Message.id)).first()
        first.created_at = utcnow().replace(year=2024, month=3, day=5, hour=14, minute=7, second=0, microsecond=0)
        db.session.commit()
    articles = parse(client.get(f"/c/{thread}").text).by_role("article")
    assert len(articles) == 2
    old, new = (article.having(class_="message-time")[0] for article in articles)
    assert old["datetime"] == "2024-03-05T14:07:00+00:00"
    assert old.text == "5 Mar 2024, 14:07"
    assert old["data-full"] == "Tuesday 5 March 2024, 14:07 (UTC)"
    assert re.fullmatch(r"\d\d:\d\d", new.text)
    for article, named in zip(articles, ["Copy your message", "Copy this reply"], strict=True):
        button = article.one("button", named)
        assert button["type"] == "button" and button.has("data-copy-message")


def test_times_are_in_the_readers_time_zone(client, signed_in, make_thread, app):
    thread = make_thread(signed_in, messages=1)
    with app.app_context():
        message = db.session.scalars(select(Message)).one()
        message.created_at = utcnow().replace(year=2024, month=7, day=1, hour=22, minute=30, second=0, microsecond=0)
        db.session.commit()
    client.set_cookie("tz", "Europe/Paris")
    time = parse(client.get(f"/c/{thread}").text).having(class_="message-time")[0]
    assert time.text == "2 Jul 2024, 00:30"
    assert time["data-full"] == "Tuesday 2 July 2024, 00:30 (CEST)"


def test_a_user_message_is_markdown_as_safe_as_a_reply(client, signed_in, make_thread):
    thread = make_thread(signed_in)
    text = "Look:\n\n```python\nprint('<script>')\n```\n\n- one\n- two\n\n<img src=x onerror=alert(1)> [x](javascript:alert(1))"
    client.post(f"/c/{thread}/messages", data={"content": text})
    mine = parse(client.get(f"/c/{thread}").text).by_role("article")[0]
    body = mine.having(class_="body")[0]
    assert body.having(class_="code-lang")[0].text == "python"
    assert body.one("code").text == "print('<script>')"
    assert body.texts("listitem") == ["one", "two"]
    assert body.having(src=True) == [] and body.having(onerror=True) == []
    assert [link.get("href") for link in body.by_role("link")] == []
    assert body.has_text("<img src=x onerror=alert(1)>")


def test_a_title_of_spaces_is_refused_with_words_not_a_pattern(client, signed_in, make_thread):
    thread = make_thread(signed_in, "Keep me")
    page = parse(client.get(f"/c/{thread}").text)
    field = page.by_id("pane-header").by_label("Rename")
    assert not field.has("pattern")  # the browser's "match the requested format" says nothing useful
    assert field.has("data-title") and field.has("required")
    refused = client.post(f"/c/{thread}/title", data={"title": "   "}, headers=HTMX)
    assert refused.status_code == 422
    assert parse(refused.text).one("alert").has_text("Not renamed. The title cannot be empty.")
    plain = client.post(f"/c/{thread}/title", data={"title": "   "})
    assert plain.status_code == 422
    header = parse(plain.text).by_id("pane-header")
    assert header.one("alert").text == "The title cannot be empty."
    assert header.by_label("Rename")["aria-invalid"] == "true"


def test_saving_the_chat_settings_closes_the_menu(client, signed_in, make_thread):
    thread = make_thread(signed_in, messages=2)
    page = parse(client.get(f"/c/{thread}").text)
    menu = page.by_id("thread-settings")
    assert menu["data-slot"] == "header:settings"
    response = client.post(f"/c/{thread}/settings", data={"model": "m1", "system_prompt": "Be brief."}, headers=HTMX)
    assert response.status_code == 200
    answer = parse(response.text)
    assert answer.by_id("flashes").has_text("Chat settings saved.")
    closed = answer.by_id("thread-settings")
    assert closed["hx-swap-oob"] == "true" and not closed.has("open")
    assert closed.by_label("Model")["value"] == "m1"
    assert closed.by_label("System prompt").text == "Be brief."


def test_the_header_menu_names_its_place_for_the_focus_after_a_rename(client, signed_in, make_thread):
    thread = make_thread(signed_in, "Old name")
    response = client.post(
        f"/c/{thread}/title",
        data={"title": "New name"},
        headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{thread}"},
    )
    header = parse(response.text).by_id("pane-header")
    assert header.one("heading", "New name")
    (menu,) = header.having(data_slot="header:menu")
    assert menu.tag.name == "details" and not menu.has("open")


def test_registering_counts_as_the_first_sign_in(app, client, admin_user):
    before = utcnow()
    response = client.post(
        "/register",
        data={"username": "newcomer", "password": "a long enough pass", "password_confirm": "a long enough pass"},
    )
    assert response.status_code == 303
    with app.app_context():
        newcomer = db.session.scalar(select(User).where(User.username == "newcomer"))
        assert newcomer.last_login_at is not None
        assert before - timedelta(seconds=1) <= newcomer.last_login_at <= utcnow()


def test_the_admin_sees_when_a_registered_user_last_signed_in(app, client, auth, admin_user):
    client.post(
        "/register",
        data={"username": "newcomer", "password": "a long enough pass", "password_confirm": "a long enough pass"},
    )
    client.post("/logout")
    auth.login("root")
    row = parse(client.get("/admin/users").text).one("row", re.compile("newcomer"))
    assert row.columns["Last sign-in"].text != "never"
    assert row.columns["Last sign-in"].one("time")


@pytest.mark.parametrize(
    ("environment", "bind"),
    [
        ({}, "127.0.0.1:5000"),
        ({"PORT": "8080"}, "127.0.0.1:8080"),
        ({"HOST": "0.0.0.0", "PORT": "9000"}, "0.0.0.0:9000"),
        ({"HOST": "::1"}, "[::1]:5000"),
        ({"BIND": "unix:/tmp/parley.sock", "PORT": "1"}, "unix:/tmp/parley.sock"),
    ],
)
def test_make_run_listens_where_host_and_port_say(monkeypatch, environment, bind):
    for name in ("BIND", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    import webapp.gunicorn_conf as settings

    assert importlib.reload(settings).bind == bind


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_a_bad_port_stops_make_run_with_a_message(monkeypatch, port):
    monkeypatch.delenv("BIND", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    import webapp.gunicorn_conf as settings  # read first as it would be without PORT: this test may run first

    monkeypatch.setenv("PORT", port)
    with pytest.raises(SystemExit, match="PORT must be a port number from 1 to 65535"):
        importlib.reload(settings)


# --- the model picker ---------------------------------------------------------------------


@pytest.fixture
def fake_llm():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def llm_client(make_app, fake_llm, client_for):
    app = make_app(PARLEY_LLM_BASE_URL=fake_llm.base_url, PARLEY_LLM_MODEL="fake-small", PARLEY_LLM_TIMEOUT=2)
    client = client_for(app)
    with app.app_context():
        add_user("alice")
        db.session.commit()
    client.post("/login", data={"username": "alice", "password": PASSWORD})
    return app, client


def picker(html: str):
    return parse(html).by_id("composer").by_label("Model")


def test_the_composer_offers_the_servers_models_with_the_threads_chosen(llm_client, fake_llm):
    app, client = llm_client
    new_chat = picker(client.get("/").text)
    options = new_chat.tag.find_all("option")
    assert [option.get_text() for option in options] == ["fake-large", "fake-small"]
    assert [option.get_text() for option in options if option.has_attr("selected")] == ["fake-small"]  # the default
    # The ⚙ menu keeps the system prompt; the model is the composer's.
    response = client.post("/c", data={"content": "Hello", "model": "fake-large"})
    thread = response.headers["Location"].rsplit("/", 1)[1]
    page = parse(client.get(f"/c/{thread}").text)
    assert page.by_id("thread-settings").having(name="model") == []
    chosen = [
        o.get_text() for o in page.by_id("composer").by_label("Model").tag.find_all("option") if o.has_attr("selected")
    ]
    assert chosen == ["fake-large"]
    assert fake_llm.requests[-1]["model"] == "fake-large"


def test_a_model_picked_in_the_composer_answers_from_the_next_reply(llm_client, fake_llm):
    app, client = llm_client
    thread = client.post("/c", data={"content": "First"}).headers["Location"].rsplit("/", 1)[1]
    assert fake_llm.requests[-1]["model"] == "fake-small"
    with app.app_context():
        assert db.session.get(Conversation, uuid.UUID(thread)).model is None  # the server's default, not pinned
    client.post(f"/c/{thread}/messages", data={"content": "Second", "model": "fake-large"})
    assert fake_llm.requests[-1]["model"] == "fake-large"
    with app.app_context():
        assert db.session.get(Conversation, uuid.UUID(thread)).model == "fake-large"
    client.post(f"/c/{thread}/messages", data={"content": "Third"})  # without the picker: the thread's model
    assert fake_llm.requests[-1]["model"] == "fake-large"


def test_a_bad_model_name_is_refused_and_stores_nothing(llm_client):
    app, client = llm_client
    response = client.post("/c", data={"content": "Hello", "model": "m" * 201})
    assert response.status_code == 422
    assert "at most 200 characters" in response.text
    with app.app_context():
        assert db.session.scalars(select(Conversation)).all() == []


# --- the sidebar's activity times -------------------------------------------------------------

NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(seconds=20), "now"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=15, minutes=30), "Yesterday"),  # 23:30 the day before
        (timedelta(days=3), "Sun"),
        (timedelta(days=20), "21 May"),
        (timedelta(days=400), "May 2025"),
    ],
)
def test_activity_is_said_shortly_and_relatively(app, ago, shown):
    with app.test_request_context():
        assert activity_time(NOW - ago, now=NOW) == shown


def test_activity_counts_days_in_the_readers_time_zone(app):
    # 23:30 UTC on the 9th is 00:30 on the 10th in Lisbon: today there, hours ago.
    with app.test_request_context(headers={"Cookie": "tz=Europe/Lisbon"}):
        assert activity_time(NOW - timedelta(hours=15, minutes=30), now=NOW) == "15 h"


def test_each_sidebar_item_shows_when_it_was_last_active(client, signed_in, make_thread):
    # Minutes, not hours: "2 h" says "Yesterday" in the first hours of a day (UTC).
    make_thread(signed_in, "Older", ago=timedelta(minutes=5))
    make_thread(signed_in, "Newer")
    items = [
        item for item in parse(client.get("/").text).by_role("listitem") if item.get("id", "").startswith("thread-")
    ]
    times = [item.one("time") for item in items]
    assert [time.text for time in times] == ["now", "5 min"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", time["datetime"]) for time in times)
    assert times[1]["title"].endswith("(UTC)")
    assert [item.by_role("link")[0].text for item in items] == ["Newer", "Older"]  # the title stays the link's name

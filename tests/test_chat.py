"""The chat pages over HTTP, as a browser and as htmx ask for them."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, update

from webapp.conversations import append_message, create_conversation, title_from_message
from webapp.extensions import db
from webapp.models import Conversation, Message, User

HTMX = {"HX-Request": "true"}


@pytest.fixture
def signed_in(client, auth, make_user):
    """alice, signed in; returns her id."""
    alice = make_user("alice")
    auth.login()
    return alice.id


def make_thread(seed, user_id: int, title: str = "A thread", messages: int = 0) -> uuid.UUID:
    with seed():
        conversation = create_conversation(db.session.get(User, user_id), title)
        for i in range(1, messages + 1):
            append_message(conversation, "user" if i % 2 else "assistant", f"message {i}")
        return conversation.id


def sidebar_titles(html: str) -> list[str]:
    return re.findall(r'<li class="thread-item[^"]*" id="thread-[^"]+">\s*<a href="[^"]+"[^>]*>([^<]*)</a>', html)


def thread_id_from(location: str) -> uuid.UUID:
    return uuid.UUID(location.rsplit("/", 1)[1])


# --- access -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/"),
        ("get", "/sidebar"),
        ("post", "/c"),
        ("get", f"/c/{uuid.uuid4()}"),
        ("post", f"/c/{uuid.uuid4()}/messages"),
        ("get", f"/c/{uuid.uuid4()}/messages"),
        ("post", f"/c/{uuid.uuid4()}/title"),
        ("post", f"/c/{uuid.uuid4()}/delete"),
    ],
)
def test_chat_routes_need_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    response = getattr(client, method)(path, headers=HTMX)
    assert response.status_code == 401
    assert "HX-Redirect" in response.headers


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("get", "", None),
        ("get", "/messages", None),
        ("post", "/messages", {"content": "sneaky"}),
        ("post", "/title", {"title": "mine now"}),
        ("post", "/delete", {}),
    ],
)
def test_another_users_thread_is_404_and_untouched(app, client, signed_in, make_user, seed, method, suffix, data):
    bob = make_user("bob")
    theirs = make_thread(seed, bob.id, "Bob's", messages=1)
    response = getattr(client, method)(f"/c/{theirs}{suffix}", data=data)
    assert response.status_code == 404
    assert "Not found" in response.text
    with app.app_context():
        conversation = db.session.get(Conversation, theirs)
        assert (conversation.title, conversation.message_count) == ("Bob's", 1)


@pytest.mark.parametrize("bad_id", ["nope", "123", "0" * 31, "<script>"])
def test_malformed_thread_id_is_404(client, signed_in, bad_id):
    assert client.get(f"/c/{bad_id}").status_code == 404
    assert client.post(f"/c/{bad_id}/messages", data={"content": "hi"}).status_code == 404


def test_deleted_thread_is_404_and_htmx_gets_an_inline_notice(client, signed_in, seed):
    thread = make_thread(seed, signed_in)
    client.post(f"/c/{thread}/delete")
    assert client.get(f"/c/{thread}").status_code == 404
    response = client.post(f"/c/{thread}/messages", data={"content": "hello?"}, headers=HTMX)
    assert response.status_code == 404
    assert 'class="notice notice-error"' in response.text
    assert "<html" not in response.text


# --- new chat --------------------------------------------------------------------------


def test_new_chat_page_has_an_empty_pane_and_a_composer(client, signed_in):
    page = client.get("/")
    assert page.status_code == 200
    assert "No chats yet" in page.text
    assert '<form id="composer" method="post" action="/c"' in page.text
    assert 'name="content"' in page.text


def test_first_message_creates_the_thread_and_titles_it(app, client, signed_in):
    response = client.post("/c", data={"content": "Plan a weekend in Lisbon\nwith two kids"})
    assert response.status_code == 303
    thread = thread_id_from(response.headers["Location"])
    page = client.get(response.headers["Location"]).text
    assert "<h1 id=\"pane-title\">Plan a weekend in Lisbon</h1>" in page
    assert "Plan a weekend in Lisbon\nwith two kids" in page
    assert sidebar_titles(page) == ["Plan a weekend in Lisbon"]
    assert f'id="thread-{thread}"' in page and 'aria-current="page"' in page


def test_first_message_over_htmx_swaps_in_the_thread_and_pushes_its_url(app, client, signed_in):
    response = client.post("/c", data={"content": "Hello there"}, headers=HTMX)
    assert response.status_code == 200
    with app.app_context():
        thread = db.session.scalar(select(Conversation.id))
    assert response.headers["HX-Push-Url"] == f"/c/{thread}"
    assert response.text.lstrip().startswith('<section id="pane"')
    assert f'action="/c/{thread}/messages"' in response.text
    assert '<div id="thread-groups" class="sidebar-scroll" hx-swap-oob="true">' in response.text
    assert sidebar_titles(response.text) == ["Hello there"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "Write a message before sending."),
        ("   \n\t ", "Write a message before sending."),
        ("x" * 16_001, "at most 16,000 characters; this one has 16,001"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_first_message_is_refused_keeps_the_text_and_stores_nothing(app, client, signed_in, content, message, headers):
    response = client.post("/c", data={"content": content}, headers=headers)
    assert response.status_code == 422
    assert message in response.text
    if content.strip():
        assert content in response.text
    if headers:
        assert response.text.lstrip().startswith('<form id="composer"')
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0


# --- posting -----------------------------------------------------------------------------


def test_posting_appends_and_moves_the_thread_to_the_top(app, client, signed_in, seed):
    older = make_thread(seed, signed_in, "Older", messages=1)
    make_thread(seed, signed_in, "Newer")
    assert sidebar_titles(client.get("/").text) == ["Newer", "Older"]
    response = client.post(f"/c/{older}/messages", data={"content": "Back to this one"})
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{older}")
    page = client.get(f"/c/{older}").text
    assert sidebar_titles(page) == ["Older", "Newer"]
    assert "Back to this one" in page


def test_posting_over_htmx_returns_the_message_a_fresh_composer_and_the_sidebar(app, client, signed_in, seed):
    older = make_thread(seed, signed_in, "Older")
    make_thread(seed, signed_in, "Newer")
    response = client.post(f"/c/{older}/messages", data={"content": "**bold** <b>tag</b>"}, headers=HTMX)
    assert response.status_code == 200
    html = response.text
    assert html.lstrip().startswith('<article id="message-')
    assert "**bold** &lt;b&gt;tag&lt;/b&gt;" in html  # a user's text is shown as typed
    assert '<form id="composer"' in html and 'hx-swap-oob="true"' in html
    assert "></textarea>" in html  # emptied
    assert sidebar_titles(html) == ["Older", "Newer"]


def test_a_100_kb_message_is_refused_and_kept_in_the_composer(app, client, signed_in, seed):
    thread = make_thread(seed, signed_in)
    text = "y" * 100_000
    response = client.post(f"/c/{thread}/messages", data={"content": text}, headers=HTMX)
    assert response.status_code == 422
    assert "at most 16,000 characters; this one has 100,000" in response.text
    assert text in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


# --- the message pane ---------------------------------------------------------------------


def test_thread_page_shows_the_latest_50_oldest_first_with_load_earlier(client, signed_in, seed):
    thread = make_thread(seed, signed_in, messages=120)
    page = client.get(f"/c/{thread}").text
    shown = [int(n) for n in re.findall(r">message (\d+)<", page)]
    assert shown == list(range(71, 121))
    assert f'href="/c/{thread}/messages?before=71"' in page


def test_load_earlier_over_htmx_returns_the_page_above(client, signed_in, seed):
    thread = make_thread(seed, signed_in, messages=120)
    response = client.get(f"/c/{thread}/messages?before=71", headers=HTMX)
    shown = [int(n) for n in re.findall(r">message (\d+)<", response.text)]
    assert shown == list(range(21, 71))
    assert response.text.lstrip().startswith('<a class="load-earlier')
    last = client.get(f"/c/{thread}/messages?before=21", headers=HTMX).text
    assert [int(n) for n in re.findall(r">message (\d+)<", last)] == list(range(1, 21))
    assert "load-earlier" not in last


def test_load_earlier_without_javascript_is_a_full_page(client, signed_in, seed):
    thread = make_thread(seed, signed_in, messages=60)
    page = client.get(f"/c/{thread}/messages?before=11")
    assert page.status_code == 200
    assert "<html" in page.text
    assert [int(n) for n in re.findall(r">message (\d+)<", page.text)] == list(range(1, 11))


def test_bad_message_cursor_is_422(client, signed_in, seed):
    thread = make_thread(seed, signed_in, messages=2)
    response = client.get(f"/c/{thread}/messages?before=abc")
    assert response.status_code == 422
    assert "cursor is not valid" in response.text


def test_assistant_markdown_renders_and_hostile_input_stays_inert(client, signed_in, seed):
    with seed():
        conversation = create_conversation(db.session.get(User, signed_in), "<img src=x onerror=alert(1)>")
        append_message(conversation, "assistant", "# Hi\n\n[x](javascript:alert(1)) [ok](https://example.org)\n\n<script>alert(1)</script>\n\n```python\nprint(1)\n```")
        append_message(conversation, "user", "<img src=x onerror=alert(1)> [x](javascript:alert(1))")
        thread = conversation.id
    page = client.get(f"/c/{thread}").text
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert 'href="javascript' not in page
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in page
    assert '<span class="hl-nb">print</span>' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- rename -------------------------------------------------------------------------------


def test_rename_moves_the_thread_to_the_top(client, signed_in, seed):
    first = make_thread(seed, signed_in, "First")
    make_thread(seed, signed_in, "Second")
    response = client.post(f"/c/{first}/title", data={"title": "  Renamed  "})
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{first}")
    assert sidebar_titles(client.get("/").text) == ["Renamed", "Second"]


def test_rename_over_htmx_updates_header_and_sidebar(client, signed_in, seed):
    thread = make_thread(seed, signed_in, "Old")
    response = client.post(
        f"/c/{thread}/title", data={"title": "New <b>name</b>"},
        headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{thread}"},
    )
    assert response.status_code == 200
    assert '<header id="pane-header" class="pane-header" hx-swap-oob="true">' in response.text
    assert "New &lt;b&gt;name&lt;/b&gt;" in response.text
    assert 'aria-current="page"' in response.text


def test_rename_over_htmx_of_another_thread_leaves_the_open_one_alone(client, signed_in, seed):
    shown = make_thread(seed, signed_in, "Open")
    other = make_thread(seed, signed_in, "Other")
    response = client.post(
        f"/c/{other}/title", data={"title": "Renamed"},
        headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{shown}"},
    )
    assert response.status_code == 200
    assert 'id="pane-header"' not in response.text  # the header shows "Open", and stays
    assert sidebar_titles(response.text) == ["Renamed", "Open"]
    assert f'<li class="thread-item current" id="thread-{shown}">' in response.text


@pytest.mark.parametrize("title", ["", "   ", "z" * 256])
def test_bad_rename_is_refused_and_keeps_the_title(app, client, signed_in, seed, title):
    thread = make_thread(seed, signed_in, "Keep me")
    response = client.post(f"/c/{thread}/title", data={"title": title})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    htmx = client.post(f"/c/{thread}/title", data={"title": title}, headers=HTMX)
    assert htmx.status_code == 422
    assert 'class="notice notice-error"' in htmx.text
    with app.app_context():
        assert db.session.get(Conversation, thread).title == "Keep me"


# --- delete --------------------------------------------------------------------------------


def test_delete_removes_the_thread_and_its_messages(app, client, signed_in, seed):
    thread = make_thread(seed, signed_in, "Doomed", messages=3)
    response = client.post(f"/c/{thread}/delete")
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert "Doomed" not in client.get("/").text


def test_delete_over_htmx_of_the_open_thread_returns_home(client, signed_in, seed):
    thread = make_thread(seed, signed_in)
    response = client.post(
        f"/c/{thread}/delete", headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{thread}"}
    )
    assert response.headers["HX-Redirect"] == "/"


def test_delete_over_htmx_from_another_page_updates_the_sidebar(client, signed_in, seed):
    doomed = make_thread(seed, signed_in, "Doomed")
    make_thread(seed, signed_in, "Kept")
    response = client.post(f"/c/{doomed}/delete", headers={**HTMX, "HX-Current-URL": "http://localhost/"})
    assert "HX-Redirect" not in response.headers
    assert sidebar_titles(response.text) == ["Kept"]
    assert "The chat is deleted." in response.text


def test_delete_over_htmx_from_another_thread_keeps_it_highlighted(client, signed_in, seed):
    doomed = make_thread(seed, signed_in, "Doomed")
    shown = make_thread(seed, signed_in, "Open")
    response = client.post(
        f"/c/{doomed}/delete", headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{shown}?x=1"}
    )
    assert sidebar_titles(response.text) == ["Open"]
    assert f'<li class="thread-item current" id="thread-{shown}">' in response.text


# --- sidebar -----------------------------------------------------------------------------------


def test_sidebar_pages_by_cursor_until_the_end(app, client, signed_in, seed):
    with seed():
        user = db.session.get(User, signed_in)
        for i in range(120):
            create_conversation(user, f"t{i:03}")
    page = client.get("/").text
    first = sidebar_titles(page)
    assert len(first) == 50
    cursor = re.search(r'hx-get="/sidebar\?cursor=([^"]+)"', page).group(1)
    second = client.get(f"/sidebar?cursor={cursor}", headers=HTMX).text
    assert len(sidebar_titles(second)) == 50
    cursor = re.search(r'hx-get="/sidebar\?cursor=([^"]+)"', second).group(1)
    third = client.get(f"/sidebar?cursor={cursor}", headers=HTMX).text
    assert len(sidebar_titles(third)) == 20
    assert "/sidebar?cursor=" not in third
    everything = first + sidebar_titles(second) + sidebar_titles(third)
    assert sorted(everything) == sorted(f"t{i:03}" for i in range(120))
    assert len(set(everything)) == 120
    # The continuing group does not repeat its heading.
    assert "<h2>" not in second


def test_sidebar_next_page_without_javascript_is_a_full_page(client, signed_in, seed):
    with seed():
        user = db.session.get(User, signed_in)
        for i in range(55):
            create_conversation(user, f"t{i:03}")
    cursor = re.search(r'href="/sidebar\?cursor=([^"]+)"', client.get("/").text).group(1)
    page = client.get(f"/sidebar?cursor={cursor}")
    assert "<html" in page.text
    assert len(sidebar_titles(page.text)) == 5


def test_sidebar_groups_threads_by_last_activity(app, client, signed_in, seed):
    now = datetime.now(timezone.utc)
    ages = {"today": 0, "yesterday": 1, "week": 5, "month": 20, "old": 90}
    with seed():
        user = db.session.get(User, signed_in)
        for title, days in ages.items():
            conversation = create_conversation(user, title)
            db.session.execute(
                update(Conversation).where(Conversation.id == conversation.id)
                .values(updated_at=now - timedelta(days=days))
            )
    sidebar = client.get("/").text.split('id="thread-groups"')[1].split("</nav>")[0]
    headings = re.findall(r"<h2>([^<]+)</h2>", sidebar)
    assert headings == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older"]


@pytest.mark.parametrize(
    ("when", "zone", "group"),
    [
        # 22:00 UTC on 1 March is 12:00 on 2 March in Kiritimati (UTC+14).
        (datetime(2026, 3, 1, 22, tzinfo=timezone.utc), "Pacific/Kiritimati", "Today"),
        (datetime(2026, 3, 1, 22, tzinfo=timezone.utc), "UTC", "Yesterday"),
        (datetime(2026, 2, 23, 12, tzinfo=timezone.utc), "UTC", "Previous 7 days"),
        (datetime(2026, 2, 1, 12, tzinfo=timezone.utc), "UTC", "Previous 30 days"),
        (datetime(2025, 12, 1, 12, tzinfo=timezone.utc), "UTC", "Older"),
    ],
)
def test_group_of_counts_days_in_the_viewers_time_zone(when, zone, group):
    from zoneinfo import ZoneInfo

    from webapp.chat.sidebar import group_of

    assert group_of(when, date(2026, 3, 2), ZoneInfo(zone)) == group


@pytest.mark.parametrize(
    ("cookie", "zone"),
    [("Europe/Lisbon", "Europe/Lisbon"), ("Not/AZone", "UTC"), ("../../etc/passwd", "UTC"), ("", "UTC")],
)
def test_viewer_time_zone_comes_from_the_cookie(app, cookie, zone):
    from webapp.templating import viewer_timezone

    with app.test_request_context(headers={"Cookie": f"tz={cookie}"}):
        assert str(viewer_timezone()) == zone


def test_sidebar_only_ever_lists_the_viewers_threads(client, signed_in, make_user, seed):
    bob = make_user("bob")
    make_thread(seed, bob.id, "Bob's secret")
    make_thread(seed, signed_in, "Mine")
    assert sidebar_titles(client.get("/").text) == ["Mine"]
    assert "Bob's secret" not in client.get("/sidebar", headers=HTMX).text


# --- cost is flat -------------------------------------------------------------------------------


@contextmanager
def count_queries(app):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("size", [3, 150])
def test_thread_page_and_sidebar_run_a_fixed_number_of_queries(app, client, signed_in, seed, size):
    with seed():
        user = db.session.get(User, signed_in)
        for i in range(size):
            create_conversation(user, f"t{i}")
    thread = make_thread(seed, signed_in, "big", messages=size)
    with count_queries(app) as thread_page:
        assert client.get(f"/c/{thread}").status_code == 200
    with count_queries(app) as sidebar:
        assert client.get("/sidebar", headers=HTMX).status_code == 200
    # user, thread, messages, sidebar page; user, sidebar page
    assert len(thread_page) == 4, thread_page
    assert len(sidebar) == 2, sidebar


# --- titles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("Short question", "Short question"),
        ("\n\n  First line  \nsecond line", "First line"),
        ("word " * 30, "word word word word word word word word word word word word…"),
        ("x" * 100, "x" * 60 + "…"),
        ("tabs\tand   spaces", "tabs and spaces"),
    ],
)
def test_title_from_message(content, title):
    assert title_from_message(content) == title
    assert len(title) <= 61


# --- thread settings ----------------------------------------------------------------------------


def test_thread_settings_are_saved_and_validated(app, client, signed_in, make_user, seed):
    thread = make_thread(seed, signed_in)
    response = client.post(f"/c/{thread}/settings", data={"model": "m" * 201, "system_prompt": ""})
    assert response.status_code == 422
    assert "at most 200 characters" in response.text
    response = client.post(f"/c/{thread}/settings", data={"model": " llama3 ", "system_prompt": "Be kind."}, headers=HTMX)
    assert response.status_code == 200
    assert "Chat settings saved." in response.text
    with app.app_context():
        conversation = db.session.get(Conversation, thread)
        assert (conversation.model, conversation.system_prompt) == ("llama3", "Be kind.")
    bob = make_user("bob")
    theirs = make_thread(seed, bob.id)
    assert client.post(f"/c/{theirs}/settings", data={"model": "x"}).status_code == 404


def test_sidebar_menus_load_their_forms_when_opened(client, signed_in, make_user, seed):
    thread = make_thread(seed, signed_in, "Menu me")
    page = client.get("/").text
    assert f'hx-get="/c/{thread}/menu"' in page
    assert f'action="/c/{thread}/title"' not in page  # not on the page until asked for
    menu = client.get(f"/c/{thread}/menu", headers=HTMX)
    assert f'action="/c/{thread}/title"' in menu.text and f'action="/c/{thread}/delete"' in menu.text
    assert client.get(f"/c/{thread}/menu").headers["Location"] == f"/c/{thread}"
    bob = make_user("bob")
    assert client.get(f"/c/{make_thread(seed, bob.id)}/menu", headers=HTMX).status_code == 404


# --- export -------------------------------------------------------------------------------------


def test_export_markdown_and_json_in_order(client, signed_in, make_user, seed):
    import json

    thread = make_thread(seed, signed_in, "Trip: Lisbon/Porto", messages=3)
    page = client.get(f"/c/{thread}").text
    assert f'href="/c/{thread}/export.md"' in page and f'href="/c/{thread}/export.json"' in page
    md = client.get(f"/c/{thread}/export.md")
    assert md.status_code == 200
    assert md.headers["Content-Disposition"] == 'attachment; filename="trip-lisbon-porto.md"'
    text = md.get_data(as_text=True)
    assert text.startswith("# Trip: Lisbon/Porto\n")
    assert text.index("message 1") < text.index("message 2") < text.index("message 3")
    assert "## Assistant, " in text
    data = json.loads(client.get(f"/c/{thread}/export.json").get_data(as_text=True))
    assert data["conversation"]["id"] == str(thread)
    assert [m["content"] for m in data["messages"]] == ["message 1", "message 2", "message 3"]
    bob = make_user("bob")
    theirs = make_thread(seed, bob.id)
    assert client.get(f"/c/{theirs}/export.md").status_code == 404
    assert client.get(f"/c/{theirs}/export.json").status_code == 404

"""The chat pages over HTTP, as a browser and as htmx ask for them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.factories import HTMX
from tests.html import message_numbers, parse, sidebar_titles
from webapp.conversations import append_message, create_conversation, title_from_message
from webapp.extensions import db
from webapp.models import Conversation, Message, User

SHOW_OLDER = re.compile(r"^/sidebar\?cursor=")


@pytest.fixture
def signed_in(client, auth, user):
    """alice, signed in through the form."""
    auth.login()
    return user


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
def test_another_users_thread_is_404_and_untouched(
    app, client, signed_in, other_user, make_thread, method, suffix, data
):
    theirs = make_thread(other_user, "Bob's", messages=1)
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


def test_deleted_thread_is_404_and_htmx_gets_an_inline_notice(client, signed_in, make_thread):
    thread = make_thread(signed_in)
    client.post(f"/c/{thread}/delete")
    assert client.get(f"/c/{thread}").status_code == 404
    response = client.post(f"/c/{thread}/messages", data={"content": "hello?"}, headers=HTMX)
    assert response.status_code == 404
    assert parse(response.text).one("alert").text.startswith("Not found.")
    assert "<html" not in response.text


# --- new chat --------------------------------------------------------------------------


def test_new_chat_page_has_an_empty_pane_and_a_composer(client, signed_in):
    page = client.get("/")
    assert page.status_code == 200
    assert "No chats yet" in page.text
    composer = parse(page.text).by_id("composer")
    assert (composer["method"], composer["action"]) == ("post", "/c")
    assert composer.by_label("Message")["name"] == "content"


def test_first_message_creates_the_thread_and_titles_it(app, client, signed_in):
    response = client.post("/c", data={"content": "Plan a weekend in Lisbon\nwith two kids"})
    assert response.status_code == 303
    thread = thread_id_from(response.headers["Location"])
    page = client.get(response.headers["Location"]).text
    html = parse(page)
    assert html.one("region", "Plan a weekend in Lisbon").one("heading", level=1).text == "Plan a weekend in Lisbon"
    assert "Plan a weekend in Lisbon\nwith two kids" in page
    assert sidebar_titles(page) == ["Plan a weekend in Lisbon"]
    assert html.by_id(f"thread-{thread}").one("link", "Plan a weekend in Lisbon")["aria-current"] == "page"


def test_first_message_over_htmx_swaps_in_the_thread_and_pushes_its_url(app, client, signed_in):
    response = client.post("/c", data={"content": "Hello there"}, headers=HTMX)
    assert response.status_code == 200
    with app.app_context():
        thread = db.session.scalar(select(Conversation.id))
    assert response.headers["HX-Push-Url"] == f"/c/{thread}"
    html = parse(response.text)
    assert html.top["id"] == "pane"
    assert html.by_id("composer")["action"] == f"/c/{thread}/messages"
    assert html.by_id("thread-groups")["hx-swap-oob"] == "true"
    assert sidebar_titles(response.text) == ["Hello there"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "Write a message before sending."),
        ("   \n\t ", "Write a message before sending."),
        # Zero-width space and joiner, soft hyphen: nothing to see.
        ("\u200b\u200d\u00ad", "Write a message before sending."),
        ("x" * 16_001, "at most 16,000 characters; this one has 16,001"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_first_message_is_refused_keeps_the_text_and_stores_nothing(
    app, client, signed_in, content, message, headers
):
    response = client.post("/c", data={"content": content}, headers=headers)
    assert response.status_code == 422
    assert message in response.text
    if content.strip():
        assert content in response.text
    if headers:
        assert parse(response.text).top["id"] == "composer"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0


# --- posting -----------------------------------------------------------------------------


def test_posting_appends_and_moves_the_thread_to_the_top(app, client, signed_in, make_thread):
    older = make_thread(signed_in, "Older", messages=1)
    make_thread(signed_in, "Newer")
    assert sidebar_titles(client.get("/").text) == ["Newer", "Older"]
    response = client.post(f"/c/{older}/messages", data={"content": "Back to this one"})
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{older}")
    page = client.get(f"/c/{older}").text
    assert sidebar_titles(page) == ["Older", "Newer"]
    assert "Back to this one" in page


def test_posting_over_htmx_returns_the_message_a_fresh_composer_and_the_sidebar(app, client, signed_in, make_thread):
    older = make_thread(signed_in, "Older")
    make_thread(signed_in, "Newer")
    response = client.post(f"/c/{older}/messages", data={"content": "**bold** <b>tag</b>"}, headers=HTMX)
    assert response.status_code == 200
    html = parse(response.text)
    assert html.top.role == "article"
    # A user's text is Markdown, as safe as a reply's: HTML in it is shown as typed.
    assert html.top.one("strong").text == "bold"
    assert html.top.has_text("bold <b>tag</b>")
    assert "&lt;b&gt;tag&lt;/b&gt;" in response.text and "<b>" not in response.text
    composer = html.by_id("composer")
    assert composer["hx-swap-oob"] == "true"
    assert composer.by_label("Message").text == ""  # emptied
    assert sidebar_titles(response.text) == ["Older", "Newer"]


def test_a_100_kb_message_is_refused_and_kept_in_the_composer(app, client, signed_in, make_thread):
    thread = make_thread(signed_in)
    text = "y" * 100_000
    response = client.post(f"/c/{thread}/messages", data={"content": text}, headers=HTMX)
    assert response.status_code == 422
    assert "at most 16,000 characters; this one has 100,000" in response.text
    assert text in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


# --- the message pane ---------------------------------------------------------------------


def test_thread_page_shows_the_latest_50_oldest_first_with_load_earlier(client, signed_in, make_thread):
    thread = make_thread(signed_in, messages=120)
    page = client.get(f"/c/{thread}").text
    assert message_numbers(page) == list(range(71, 121))
    load = parse(page).one("link", "Load earlier messages")
    assert re.fullmatch(rf"/c/{thread}/messages\?before=\w+", load["href"])


def test_load_earlier_over_htmx_returns_the_page_above(client, signed_in, make_thread):
    thread = make_thread(signed_in, messages=120)
    load = parse(client.get(f"/c/{thread}").text).one("link", "Load earlier messages")
    response = client.get(load["href"], headers=HTMX)
    assert message_numbers(response.text) == list(range(21, 71))
    load = parse(response.text).top
    assert (load.role, load.name) == ("link", "Load earlier messages")
    last = client.get(load["href"], headers=HTMX).text
    assert message_numbers(last) == list(range(1, 21))
    assert parse(last).by_role("link", "Load earlier messages") == []


def test_load_earlier_without_javascript_is_a_full_page(client, signed_in, make_thread):
    thread = make_thread(signed_in, messages=60)
    load = parse(client.get(f"/c/{thread}").text).one("link", "Load earlier messages")
    page = client.get(load["href"])
    assert page.status_code == 200
    assert "<html" in page.text
    assert message_numbers(page.text) == list(range(1, 11))


def test_bad_message_cursor_is_422(client, signed_in, make_thread):
    thread = make_thread(signed_in, messages=2)
    response = client.get(f"/c/{thread}/messages?before=abc")
    assert response.status_code == 422
    assert "cursor is not valid" in response.text


def test_assistant_markdown_renders_and_hostile_input_stays_inert(client, signed_in, seed):
    with seed():
        conversation = create_conversation(db.session.get(User, signed_in.id), "<img src=x onerror=alert(1)>")
        append_message(
            conversation,
            "assistant",
            "# Hi\n\n[x](javascript:alert(1)) [ok](https://example.org)\n\n<script>alert(1)</script>\n\n```python\nprint(1)\n```",
        )
        append_message(conversation, "user", "<img src=x onerror=alert(1)> [x](javascript:alert(1))")
        thread = conversation.id
    page = client.get(f"/c/{thread}").text
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert 'href="javascript' not in page
    html = parse(page)
    assert html.having(href=re.compile(r"(?i)^\s*javascript:")) == []
    link = html.one("link", "ok")
    assert (link["href"], link["rel"]) == ("https://example.org", "noopener noreferrer nofollow")
    assert [word.classes for word in html.by_text("print")] == [{"hl-nb"}]  # highlighted as a builtin
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- rename -------------------------------------------------------------------------------


def test_rename_moves_the_thread_to_the_top(client, signed_in, make_thread):
    first = make_thread(signed_in, "First")
    make_thread(signed_in, "Second")
    response = client.post(f"/c/{first}/title", data={"title": "  Renamed  "})
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{first}")
    assert sidebar_titles(client.get("/").text) == ["Renamed", "Second"]


def test_rename_over_htmx_updates_header_and_sidebar(client, signed_in, make_thread):
    thread = make_thread(signed_in, "Old")
    response = client.post(
        f"/c/{thread}/title",
        data={"title": "New <b>name</b>"},
        headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{thread}"},
    )
    assert response.status_code == 200
    html = parse(response.text)
    header = html.by_id("pane-header")
    assert header["hx-swap-oob"] == "true"
    assert header.one("heading", level=1).text == "New <b>name</b>"
    assert "New &lt;b&gt;name&lt;/b&gt;" in response.text
    assert html.texts("link", aria_current="page") == ["New <b>name</b>"]


def test_rename_over_htmx_of_another_thread_leaves_the_open_one_alone(client, signed_in, make_thread):
    shown = make_thread(signed_in, "Open")
    other = make_thread(signed_in, "Other")
    response = client.post(
        f"/c/{other}/title",
        data={"title": "Renamed"},
        headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{shown}"},
    )
    assert response.status_code == 200
    html = parse(response.text)
    assert html.find_id("pane-header") is None  # the header shows "Open", and stays
    assert sidebar_titles(response.text) == ["Renamed", "Open"]
    assert "current" in html.by_id(f"thread-{shown}").classes
    assert html.texts("link", aria_current="page") == ["Open"]


@pytest.mark.parametrize("title", ["", "   ", "\u200b\u2060", "z" * 256])
def test_bad_rename_is_refused_and_keeps_the_title(app, client, signed_in, make_thread, title):
    thread = make_thread(signed_in, "Keep me")
    response = client.post(f"/c/{thread}/title", data={"title": title})
    assert response.status_code == 422
    assert parse(response.text).one("textbox", "Rename")["aria-invalid"] == "true"
    htmx = client.post(f"/c/{thread}/title", data={"title": title}, headers=HTMX)
    assert htmx.status_code == 422
    assert parse(htmx.text).one("alert")
    with app.app_context():
        assert db.session.get(Conversation, thread).title == "Keep me"


# --- delete --------------------------------------------------------------------------------


def test_delete_moves_the_thread_to_the_trash_with_undo(app, client, signed_in, make_thread):
    thread = make_thread(signed_in, "Doomed", messages=3)
    response = client.post(f"/c/{thread}/delete")
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 3  # kept, in the trash
    home = parse(client.get("/").text)
    assert sidebar_titles(str(home)) == []
    notice = home.by_id("flashes")
    assert notice.has_text("“Doomed” is in the trash.")
    assert notice.one("form", action=f"/c/{thread}/restore").one("button", "Undo")
    assert client.get(f"/c/{thread}").status_code == 404


def test_delete_over_htmx_of_the_open_thread_returns_home(client, signed_in, make_thread):
    thread = make_thread(signed_in)
    response = client.post(f"/c/{thread}/delete", headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{thread}"})
    assert response.headers["HX-Redirect"] == "/"


def test_delete_over_htmx_from_another_page_updates_the_sidebar(client, signed_in, make_thread):
    doomed = make_thread(signed_in, "Doomed")
    make_thread(signed_in, "Kept")
    response = client.post(f"/c/{doomed}/delete", headers={**HTMX, "HX-Current-URL": "http://localhost/"})
    assert "HX-Redirect" not in response.headers
    assert sidebar_titles(response.text) == ["Kept"]
    notice = parse(response.text).one("status")
    assert notice.has_text("“Doomed” is in the trash.")
    assert notice.one("form", action=f"/c/{doomed}/restore").one("button", "Undo")


def test_delete_over_htmx_from_another_thread_keeps_it_highlighted(client, signed_in, make_thread):
    doomed = make_thread(signed_in, "Doomed")
    shown = make_thread(signed_in, "Open")
    response = client.post(f"/c/{doomed}/delete", headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{shown}?x=1"})
    assert sidebar_titles(response.text) == ["Open"]
    html = parse(response.text)
    assert "current" in html.by_id(f"thread-{shown}").classes
    assert html.texts("link", aria_current="page") == ["Open"]


# --- sidebar -----------------------------------------------------------------------------------


def test_sidebar_pages_by_cursor_until_the_end(app, client, signed_in, seed):
    with seed():
        user = db.session.get(User, signed_in.id)
        for i in range(120):
            create_conversation(user, f"t{i:03}")
    page = client.get("/").text
    first = sidebar_titles(page)
    assert len(first) == 50
    (loader,) = parse(page).having(hx_get=SHOW_OLDER)  # htmx asks for it when it scrolls into view
    second = client.get(loader["hx-get"], headers=HTMX).text
    assert len(sidebar_titles(second)) == 50
    (loader,) = parse(second).having(hx_get=SHOW_OLDER)
    third = client.get(loader["hx-get"], headers=HTMX).text
    assert len(sidebar_titles(third)) == 20
    assert parse(third).having(hx_get=SHOW_OLDER) == parse(third).having(href=SHOW_OLDER) == []
    everything = first + sidebar_titles(second) + sidebar_titles(third)
    assert sorted(everything) == sorted(f"t{i:03}" for i in range(120))
    assert len(set(everything)) == 120
    # The continuing group does not repeat its heading.
    assert parse(second).by_role("heading") == []


def test_sidebar_next_page_without_javascript_is_a_full_page(client, signed_in, seed):
    with seed():
        user = db.session.get(User, signed_in.id)
        for i in range(55):
            create_conversation(user, f"t{i:03}")
    older = parse(client.get("/").text).one("link", "Show older chats")
    assert SHOW_OLDER.match(older["href"])
    page = client.get(older["href"])
    assert "<html" in page.text
    assert len(sidebar_titles(page.text)) == 5


def test_sidebar_groups_threads_by_last_activity(app, client, signed_in, seed):
    now = datetime.now(UTC)
    ages = {"today": 0, "yesterday": 1, "week": 5, "month": 20, "old": 90}
    with seed():
        user = db.session.get(User, signed_in.id)
        for title, days in ages.items():
            conversation = create_conversation(user, title)
            db.session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(updated_at=now - timedelta(days=days))
            )
    sidebar = parse(client.get("/").text).by_id("thread-groups")
    headings = sidebar.texts("heading", level=2)
    assert headings == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older"]


@pytest.mark.parametrize(
    ("when", "zone", "group"),
    [
        # 22:00 UTC on 1 March is 12:00 on 2 March in Kiritimati (UTC+14).
        (datetime(2026, 3, 1, 22, tzinfo=UTC), "Pacific/Kiritimati", "Today"),
        (datetime(2026, 3, 1, 22, tzinfo=UTC), "UTC", "Yesterday"),
        (datetime(2026, 2, 23, 12, tzinfo=UTC), "UTC", "Previous 7 days"),
        (datetime(2026, 2, 1, 12, tzinfo=UTC), "UTC", "Previous 30 days"),
        (datetime(2025, 12, 1, 12, tzinfo=UTC), "UTC", "Older"),
    ],
)
def test_group_of_counts_days_in_the_viewers_time_zone(when, zone, group):
    from zoneinfo import ZoneInfo

    from webapp.chat.sidebar import group_of

    assert group_of(when, date(2026, 3, 2), ZoneInfo(zone)) == group


@pytest.mark.parametrize(
    ("cookie", "zone"),
    [
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("Europe%2FLisbon", "Europe/Lisbon"),  # as parley.js writes it
        ("Not/AZone", "UTC"),
        ("../../etc/passwd", "UTC"),
        ("..%2F..%2Fetc%2Fpasswd", "UTC"),
        ("", "UTC"),
    ],
)
def test_viewer_time_zone_comes_from_the_cookie(app, cookie, zone):
    from webapp.templating import viewer_timezone

    with app.test_request_context(headers={"Cookie": f"tz={cookie}"}):
        assert str(viewer_timezone()) == zone


def test_sidebar_only_ever_lists_the_viewers_threads(client, signed_in, other_user, make_thread):
    make_thread(other_user, "Bob's secret")
    make_thread(signed_in, "Mine")
    assert sidebar_titles(client.get("/").text) == ["Mine"]
    assert "Bob's secret" not in client.get("/sidebar", headers=HTMX).text


# --- cost is flat -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 150])
def test_thread_page_and_sidebar_run_a_fixed_number_of_queries(
    app, client, signed_in, seed, make_thread, count_queries, size
):
    # What a page costs to make; a page seen again unchanged is served from
    # memory with one (tests/test_page_cache.py).
    app.config["PARLEY_PAGE_CACHE_MB"] = 0
    with seed():
        user = db.session.get(User, signed_in.id)
        for i in range(size):
            create_conversation(user, f"t{i}")
    thread = make_thread(signed_in, "big", messages=size)
    with count_queries() as first_view:
        assert client.get(f"/c/{thread}").status_code == 200
    with count_queries() as thread_page:
        assert client.get(f"/c/{thread}").status_code == 200
    with count_queries() as sidebar:
        assert client.get("/sidebar", headers=HTMX).status_code == 200
    # user, thread, the heads of the branch's messages, their versions, its
    # share link, sidebar page; user, sidebar page. The first view reads the
    # messages whole as well, to render them; the next finds them kept.
    assert len(first_view) == 7, first_view
    assert len(thread_page) == 6, thread_page
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
        ("\u200b\nThe first line with something to see", "The first line with something to see"),
    ],
)
def test_title_from_message(content, title):
    assert title_from_message(content) == title
    assert len(title) <= 61


# A right-to-left override reverses everything after it up to the end of its
# paragraph, unless the text holding it is isolated (dir="auto", <bdi>).
OVERRIDDEN = "\u202eevil title"


def assert_isolated(page, text: str) -> None:
    shown = page.by_text(text)
    assert shown, f"{text!r} is not on the page"
    assert [e for e in shown if e.get("dir") != "auto" and e.tag.name != "bdi"] == []


@pytest.mark.parametrize("path", ["/", "/c/{thread}", "/search?q=evil"], ids=["sidebar", "thread header", "search"])
def test_a_title_is_shown_isolated_from_the_text_around_it(client, signed_in, make_thread, path):
    thread = make_thread(signed_in, OVERRIDDEN)
    assert_isolated(parse(client.get(path.format(thread=thread)).text), OVERRIDDEN)


# --- thread settings ----------------------------------------------------------------------------


def test_thread_settings_are_saved_and_validated(app, client, signed_in, other_user, make_thread):
    thread = make_thread(signed_in)
    response = client.post(f"/c/{thread}/settings", data={"model": "m" * 201, "system_prompt": ""})
    assert response.status_code == 422
    assert "at most 200 characters" in response.text
    response = client.post(
        f"/c/{thread}/settings", data={"model": " llama3 ", "system_prompt": "Be kind."}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Chat settings saved." in response.text
    with app.app_context():
        conversation = db.session.get(Conversation, thread)
        assert (conversation.model, conversation.system_prompt) == ("llama3", "Be kind.")
    theirs = make_thread(other_user)
    assert client.post(f"/c/{theirs}/settings", data={"model": "x"}).status_code == 404


def test_sidebar_menus_load_their_forms_when_opened(client, signed_in, other_user, make_thread):
    thread = make_thread(signed_in, "Menu me")
    page = parse(client.get("/").text)
    assert page.by_id(f"thread-{thread}").having(hx_get=f"/c/{thread}/menu")
    assert page.by_role("form", action=f"/c/{thread}/title") == []  # not on the page until asked for
    menu = parse(client.get(f"/c/{thread}/menu", headers=HTMX).text)
    assert menu.one("form", action=f"/c/{thread}/title").by_label("Rename")
    assert menu.one("form", action=f"/c/{thread}/delete").one("button", "Move to trash")
    assert menu.one("form", action=f"/c/{thread}/pin").one("button", "Pin")
    assert menu.one("form", action=f"/c/{thread}/archive").one("button", "Archive")
    assert client.get(f"/c/{thread}/menu").headers["Location"] == f"/c/{thread}"
    assert client.get(f"/c/{make_thread(other_user)}/menu", headers=HTMX).status_code == 404


# --- export -------------------------------------------------------------------------------------


def test_export_markdown_and_json_in_order(client, signed_in, other_user, make_thread):
    import json

    thread = make_thread(signed_in, "Trip: Lisbon/Porto", messages=3)
    page = parse(client.get(f"/c/{thread}").text)
    assert page.one("link", "Markdown")["href"] == f"/c/{thread}/export.md"
    assert page.one("link", "JSON")["href"] == f"/c/{thread}/export.json"
    md = client.get(f"/c/{thread}/export.md")
    assert md.status_code == 200
    assert md.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert md.headers["Content-Disposition"] == 'attachment; filename="trip-lisbon-porto.md"'
    text = md.get_data(as_text=True)
    assert text.startswith("# Trip: Lisbon/Porto\n")
    assert text.index("Message 001") < text.index("Message 002") < text.index("Message 003")
    assert "## Assistant, " in text
    data = json.loads(client.get(f"/c/{thread}/export.json").get_data(as_text=True))
    assert data["conversation"]["id"] == str(thread)
    assert [m["content"] for m in data["messages"]] == ["Message 001", "Message 002", "Message 003"]
    theirs = make_thread(other_user)
    assert client.get(f"/c/{theirs}/export.md").status_code == 404
    assert client.get(f"/c/{theirs}/export.json").status_code == 404

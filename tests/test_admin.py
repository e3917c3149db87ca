"""The admin pages over HTTP, as a browser and as htmx ask for them."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from tests.factories import HTMX, PASSWORD, AuthActions, add_thread, add_user, sign_in
from tests.html import csrf_token, message_numbers, parse, sidebar_titles, thread_ids
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Message, User, utcnow

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def site(admin_user, user, other_user, make_thread):
    """root (admin); alice with two threads (the newer one has 3 messages); bob
    with one; the ids of each. Bob's thread is the most recently active."""
    return SimpleNamespace(
        root=admin_user.id,
        alice=user.id,
        bob=other_user.id,
        older=make_thread(user, "Alice older", ago=timedelta(minutes=2)),
        newer=make_thread(user, "Alice newer", messages=3, ago=timedelta(minutes=1)),
        bobs=make_thread(other_user, "Bob's thread", messages=1, ago=timedelta(0)),
    )


@pytest.fixture
def admin(client, site, admin_user):
    """The test client, signed in as root."""
    sign_in(client, admin_user)
    return client


def audit_rows(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(
                AuditEvent.action,
                AuditEvent.actor_name,
                AuditEvent.target_owner_name,
                AuditEvent.old_value,
                AuditEvent.new_value,
            ).order_by(AuditEvent.id)
        ).all()


def title_of(app, conversation_id) -> str | None:
    with app.app_context():
        conversation = db.session.get(Conversation, conversation_id)
        return conversation.title if conversation else None


def assert_no_inline_code(html: str) -> None:
    """Nothing that a strict CSP would block, as a browser parses the page."""
    found = []
    for element in parse(html).having():
        tag = element.tag.name
        if tag == "script" and not element.has("src"):
            found.append("inline <script>")
        if tag == "style":
            found.append("<style> element")
        found += [f"{name}= on <{tag}>" for name in element.tag.attrs if name.startswith("on") or name == "style"]
    assert found == []


def account_ids(html: str) -> list[int]:
    """The accounts in the users table, in order."""
    return [int(row["id"].removeprefix("user-")) for row in parse(html).having(id=re.compile(r"^user-\d+$"))]


# --- the conversations table -------------------------------------------------------------------


def test_admin_home_and_conversations_list_every_thread_newest_activity_first(admin, site):
    for path in ("/admin/", "/admin/conversations"):
        page = admin.get(path)
        assert page.status_code == 200
        assert thread_ids(page.text) == [site.bobs, site.newer, site.older]
    html = parse(page.text)
    table = html.one("table", "All threads, newest activity first")
    assert table.texts("columnheader")[:2] == ["Select", "Title"]
    row = table.by_id(f"conv-{site.newer}").columns
    assert row["Title"].one("link", "Alice newer")["href"] == f"/admin/conversations/{site.newer}"
    assert row["Owner"].one("link").text == "alice"
    assert row["Messages"].text == "3"
    moment = row["Last activity"].one("time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[^+]+\+00:00", moment["datetime"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", moment.text)
    menu = html.one("navigation", "Admin")
    assert menu.texts("link", aria_current="page") == ["Conversations"]
    assert menu.one("link", "Conversations")["href"] == "/admin/conversations"
    assert_no_inline_code(page.text)


def test_conversations_filter_by_owner_in_any_case_and_by_title_words(admin, site):
    assert thread_ids(admin.get("/admin/conversations?user=ALICE").text) == [site.newer, site.older]
    assert thread_ids(admin.get("/admin/conversations?q=alice+NEWER").text) == [site.newer]
    assert thread_ids(admin.get("/admin/conversations?q=thread&user=alice").text) == []
    page = admin.get("/admin/conversations?q=nothing")
    assert "No conversations match." in page.text


def test_unknown_owner_gives_an_empty_list_that_says_why(admin, site):
    page = admin.get("/admin/conversations", query_string={"user": XSS})
    assert page.status_code == 200
    assert thread_ids(page.text) == []
    assert "No account is named “&lt;img src=x" in page.text
    assert "<img src=x" not in page.text and "<script>alert" not in page.text


def test_conversations_page_by_cursor_keeping_the_filters(app, admin, site, seed):
    with seed():
        alice = db.session.get(User, site.alice)
        for i in range(120):
            add_thread(alice, f"bulk {i:03}")
    seen, url = [], "/admin/conversations?q=bulk&user=alice"
    pages = 0
    while url:
        html = admin.get(url).text
        seen += thread_ids(html)
        pages += 1
        found = parse(html).having(rel="next")
        url = found[0]["href"] if found else None
        if url:
            assert "q=bulk" in url and "user=alice" in url
            assert parse(admin.get(url).text).one("link", re.compile("First page"))
    assert pages == 3
    assert len(seen) == len(set(seen)) == 120


def test_bad_cursor_is_a_clear_422(admin, site):
    page = admin.get("/admin/conversations?cursor=nonsense")
    assert page.status_code == 422
    assert "cursor is not valid" in page.text


def test_hostile_titles_and_filters_are_rendered_inert(app, admin, site, seed):
    with seed():
        add_thread(db.session.get(User, site.bob), XSS, messages=1)
    for path in ("/admin/conversations", f"/admin/conversations?q={XSS}", "/admin/users"):
        html = admin.get(path, query_string=None).text
        assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in admin.get("/admin/conversations").text


# --- the read-only thread view -----------------------------------------------------------------


def test_thread_view_shows_the_latest_50_messages_under_the_owners_name(app, admin, site, seed):
    with seed():
        big = add_thread(db.session.get(User, site.alice), "Long one", messages=120).id
    page = admin.get(f"/admin/conversations/{big}")
    assert page.status_code == 200
    assert message_numbers(page.text) == list(range(71, 121))
    html = parse(page.text)
    # Each message is labelled by who wrote it: the owner by name, never "You".
    assert {message.name for message in html.by_role("article")} == {"alice", "Assistant"}
    # Read-only: nowhere to write.
    assert html.find_id("composer") is None and html.by_role("textbox", "Message") == []
    load = html.one("link", "Load earlier messages")
    assert re.fullmatch(rf"/admin/conversations/{big}/messages\?before=\w+", load["href"])
    earlier = admin.get(load["href"], headers=HTMX)
    assert message_numbers(earlier.text) == list(range(21, 71))
    load = parse(earlier.text).top
    assert (load.role, load.name) == ("link", "Load earlier messages")
    full = admin.get(load["href"])  # without htmx
    assert "<html" in full.text
    assert message_numbers(full.text) == list(range(1, 21))
    assert_no_inline_code(page.text)


def test_thread_view_of_a_missing_thread_is_404(admin, site):
    for path in (f"/admin/conversations/{uuid.uuid4()}", "/admin/conversations/not-a-uuid"):
        assert admin.get(path).status_code == 404


def test_the_owner_still_sees_you_on_their_own_page(app, client, site, user):
    sign_in(client, user)
    page = client.get(f"/c/{site.newer}").text
    assert {message.name for message in parse(page).by_role("article")} == {"You", "Assistant"}


# --- rename ----------------------------------------------------------------------------------------


def test_rename_returns_to_the_filtered_list_and_is_audited(app, admin, site):
    back = "/admin/conversations?q=alice&user=alice"
    response = admin.post(f"/admin/conversations/{site.older}/title", data={"title": "  Clearer  title ", "next": back})
    assert (response.status_code, response.headers["Location"]) == (303, back)
    assert title_of(app, site.older) == "Clearer title"
    assert audit_rows(app) == [("rename_thread", "root", "alice", "Alice older", "Clearer title")]
    assert "Renamed “Alice older” to “Clearer title”." in admin.get(back).text


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example", "/\\evil", None])
def test_rename_never_redirects_off_site(admin, site, next_url):
    data = {"title": "Fine"} | ({"next": next_url} if next_url else {})
    response = admin.post(f"/admin/conversations/{site.older}/title", data=data)
    assert response.headers["Location"] == f"/admin/conversations/{site.older}"


def test_rename_over_htmx_returns_the_updated_row_and_a_notice(app, admin, site):
    response = admin.post(
        f"/admin/conversations/{site.older}/title",
        headers=HTMX,
        data={"title": "New <b>name</b>", "next": "/admin/conversations?user=alice"},
    )
    assert response.status_code == 200
    assert "New &lt;b&gt;name&lt;/b&gt;" in response.text and "<b>name" not in response.text
    html = parse(response.text)
    row = html.top
    assert row["id"] == f"conv-{site.older}"
    # Keyboard focus lands on the renamed thread.
    assert row.one("rowheader").one("link", "New <b>name</b>").has("autofocus")
    # Its forms still return to the filtered list.
    assert {field["value"] for field in row.having(name="next")} == {"/admin/conversations?user=alice"}
    notice = html.by_id("flashes")
    assert (notice["hx-swap-oob"], notice.role) == ("true", "status")
    assert notice.text == "Renamed “Alice older” to “New <b>name</b>”."
    assert "Renamed “Alice older” to “New &lt;b&gt;name&lt;/b&gt;”." in response.text
    assert title_of(app, site.older) == "New <b>name</b>"


@pytest.mark.parametrize(
    ("title", "message"), [("", "cannot be empty"), ("   ", "cannot be empty"), ("z" * 256, "at most 255")]
)
def test_bad_rename_is_refused_with_the_form_and_nothing_written(app, admin, site, title, message):
    plain = admin.post(f"/admin/conversations/{site.older}/title", data={"title": title})
    assert plain.status_code == 422
    assert "<html" in plain.text
    page = parse(plain.text)
    field = page.one("textbox", "New title", aria_invalid="true")
    assert message in page.by_id(field["aria-describedby"]).text
    htmx = admin.post(f"/admin/conversations/{site.older}/title", data={"title": title}, headers=HTMX)
    assert htmx.status_code == 422
    row = parse(htmx.text).top
    assert row["id"] == f"conv-{site.older}"
    (opened,) = row.having(open=True)  # the row's rename form stays open, saying why
    field = opened.by_label("New title")
    assert field["aria-invalid"] == "true"
    assert message in row.by_id(field["aria-describedby"]).text
    assert title_of(app, site.older) == "Alice older"
    assert audit_rows(app) == []


def test_owners_sidebar_shows_an_admin_rename_on_their_next_request(app, admin, site, user):
    owner = app.test_client()
    sign_in(owner, user)
    assert sidebar_titles(owner.get("/").text) == ["Alice newer", "Alice older"]
    admin.post(f"/admin/conversations/{site.older}/title", data={"title": "Renamed by an admin"})
    # A rename is activity, as when the owner renames: the thread moves up.
    assert sidebar_titles(owner.get("/").text) == ["Renamed by an admin", "Alice newer"]


@pytest.mark.parametrize("path", ["/admin/conversations", "/admin/conversations/{thread}", "/admin/audit"])
def test_a_renamed_title_is_shown_isolated_from_the_text_around_it(admin, site, path):
    """A right-to-left override in a title cannot reverse the table or the
    heading around it."""
    assert admin.post(f"/admin/conversations/{site.older}/title", data={"title": "\u202eevil"}).status_code == 303
    shown = parse(admin.get(path.format(thread=site.older)).text).by_text("\u202eevil")
    assert shown
    assert [e for e in shown if e.get("dir") != "auto"] == []


# --- delete --------------------------------------------------------------------------------------


def test_delete_moves_the_thread_to_the_trash_and_returns_to_the_list(app, admin, site):
    back = "/admin/conversations?user=alice"
    response = admin.post(f"/admin/conversations/{site.newer}/delete", data={"next": back})
    assert (response.status_code, response.headers["Location"]) == (303, back)
    with app.app_context():
        assert db.session.get(Conversation, site.newer).deleted_at is not None
        assert (
            db.session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == site.newer))
            == 3
        )
    assert audit_rows(app) == [("delete_thread", "root", "alice", "Alice newer", None)]
    page = admin.get(back)
    assert "Moved “Alice newer” of alice to the trash." in page.text
    assert thread_ids(page.text) == [site.older]
    assert thread_ids(admin.get("/admin/conversations?state=trash").text) == [site.newer]


def test_delete_over_htmx_leaves_a_row_saying_what_went(app, admin, site):
    response = admin.post(f"/admin/conversations/{site.newer}/delete", headers=HTMX)
    assert response.status_code == 200
    row = parse(response.text).top
    assert row["id"] == f"conv-{site.newer}" and "removed-row" in row.classes
    assert row.text == "Moved “Alice newer” of alice to the trash."
    # The keyboard focus, whose button went with the row, lands on what replaced it.
    cell = row.one("cell")
    assert (cell["tabindex"], cell.has("autofocus")) == ("-1", True)


def test_delete_needs_confirmation_in_the_page_without_javascript(admin, site):
    row = parse(admin.get("/admin/conversations").text).by_id(f"conv-{site.newer}")
    (question,) = row.by_text("Move “Alice newer” of alice to the trash? It can be restored for 30 days.")
    confirmation = question.closest("group")  # a <details>, shut until "Delete…" opens it
    assert not confirmation.has("open")
    assert confirmation.one("button", "Delete thread")


def test_owner_loses_a_thread_an_admin_deleted_on_their_next_request(app, admin, site, user):
    owner = app.test_client()
    sign_in(owner, user)
    assert "Alice newer" in sidebar_titles(owner.get("/").text)
    admin.post(f"/admin/conversations/{site.newer}/delete")
    assert sidebar_titles(owner.get("/").text) == ["Alice older"]
    assert owner.get(f"/c/{site.newer}").status_code == 404


def test_deleting_a_thread_twice_is_404_and_logged_once(app, admin, site):
    admin.post(f"/admin/conversations/{site.newer}/delete")
    again = admin.post(f"/admin/conversations/{site.newer}/delete", headers=HTMX)
    assert again.status_code == 404
    assert parse(again.text).one("alert").text.startswith("Not found.") and "<html" not in again.text
    assert len(audit_rows(app)) == 1


# --- users -----------------------------------------------------------------------------------------


def test_users_page_lists_accounts_with_role_status_threads_and_times(app, admin, site):
    with app.app_context():
        db.session.execute(update(User).where(User.id == site.alice).values(last_login_at=utcnow()))
        db.session.commit()
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert account_ids(page.text) == [site.alice, site.bob, site.root]
    table = parse(page.text).one("table", "Accounts, by username")
    alice = table.by_id(f"user-{site.alice}")
    cells = alice.columns
    assert (cells["Role"].text, cells["Status"].text) == ("user", "active")
    assert cells["Threads"].one("link", "2 threads of alice").text == "2"
    assert len(alice.by_role("time")) == 2  # created, last sign-in
    assert table.by_id(f"user-{site.bob}").columns["Last sign-in"].text == "never"
    root = table.by_id(f"user-{site.root}")
    assert root.columns["Role"].text == "admin"
    assert root.columns["Actions"].text == "Your own account" and root.by_role("form") == []
    assert_no_inline_code(page.text)


def test_users_can_be_found_by_part_of_the_name(admin, site):
    assert account_ids(admin.get("/admin/users?q=LI").text) == [site.alice]
    assert "No account name contains “zzz”." in admin.get("/admin/users?q=zzz").text


def test_promote_and_demote(app, admin, site):
    response = admin.post(f"/admin/users/{site.bob}/role", data={"role": "admin", "next": "/admin/users?q=b"})
    assert (response.status_code, response.headers["Location"]) == (303, "/admin/users?q=b")
    assert "bob is now an admin." in admin.get("/admin/users").text
    response = admin.post(f"/admin/users/{site.bob}/role", data={"role": "user"}, headers=HTMX)
    assert response.status_code == 200
    html = parse(response.text)
    assert html.top["id"] == f"user-{site.bob}"
    assert html.by_id("flashes").text == "bob is no longer an admin."
    # The pressed button was disabled during the request; focus goes back to it.
    assert html.top.one("button", "Make admin bob").has("autofocus")
    assert audit_rows(app) == [
        ("set_role", "root", "bob", "user", "admin"),
        ("set_role", "root", "bob", "admin", "user"),
    ]


def test_a_promoted_user_reaches_the_admin_area_and_a_demoted_one_no_longer(app, admin, site, other_user):
    bob = app.test_client()
    sign_in(bob, other_user)
    assert bob.get("/admin/").status_code == 403
    admin.post(f"/admin/users/{site.bob}/role", data={"role": "admin"})
    assert bob.get("/admin/").status_code == 200
    admin.post(f"/admin/users/{site.bob}/role", data={"role": "user"})
    assert bob.get("/admin/").status_code == 403


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("role", {"role": "superuser"}, "The role must be admin or user."),
        ("role", {}, "The role must be admin or user."),
        ("active", {"active": "yes"}, "active must be 1 (enable) or 0 (disable)."),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_values_are_422_and_change_nothing(app, admin, site, path, data, message, headers):
    response = admin.post(f"/admin/users/{site.bob}/{path}", data=data, headers=headers)
    assert response.status_code == 422
    assert message in response.text
    assert ("<html" in response.text) == (not headers)
    assert audit_rows(app) == []


def test_disabling_ends_the_users_sessions_at_once(app, admin, site):
    alice = AuthActions(app.test_client())
    assert alice.login("alice", PASSWORD, remember="y").status_code == 303
    assert alice.client.get("/").status_code == 200
    response = admin.post(f"/admin/users/{site.alice}/active", data={"active": "0"}, headers=HTMX)
    assert response.status_code == 200
    html = parse(response.text)
    assert html.by_id("flashes").text == "alice is disabled and signed out everywhere."
    assert "disabled-row" in html.top.classes
    assert html.top.one("button", "Enable alice")
    assert alice.client.get("/").status_code == 302  # the very next request
    alice.client.delete_cookie("session")
    assert alice.client.get("/").status_code == 302  # nor does "remember me" bring it back
    assert "This account is disabled" in alice.login("alice", PASSWORD).text
    admin.post(f"/admin/users/{site.alice}/active", data={"active": "1"})
    assert alice.login("alice", PASSWORD).status_code == 303
    assert [row[0] for row in audit_rows(app)] == ["disable_user", "enable_user"]


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("role", {"role": "user"}, "You cannot demote your own account."),
        ("active", {"active": "0"}, "You cannot disable your own account."),
        ("delete", {}, "You cannot delete your own account."),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_an_admin_cannot_lock_themselves_out(app, admin, site, path, data, message, headers):
    response = admin.post(f"/admin/users/{site.root}/{path}", data={**data, "next": "/admin/users"}, headers=headers)
    assert response.status_code == 409
    html = parse(response.text)
    assert message in html.one("alert").text
    if headers:
        assert "<html" not in response.text
    else:
        assert html.one("link", "Go back")["href"] == "/admin/users"
    with app.app_context():
        root = db.session.get(User, site.root)
        assert (root.role, root.active) == ("admin", True)
    assert audit_rows(app) == []
    assert admin.get("/admin/").status_code == 200


def test_delete_user_asks_first_naming_what_goes(app, admin, site):
    page = admin.get(f"/admin/users/{site.alice}/delete?next=/admin/users%3Fq%3Da")
    assert page.status_code == 200
    html = parse(page.text)
    assert html.has_text("with everything it owns: 2 threads and 3 messages, those in its trash included")
    assert html.has_text("they do not go to the trash")
    form = html.one("form", action=f"/admin/users/{site.alice}/delete")
    assert form.one("button").text == "Delete alice and 2 threads"
    assert [field["value"] for field in form.having(name="next")] == ["/admin/users?q=a"]
    row = parse(admin.get("/admin/users").text).by_id(f"user-{site.alice}")
    assert row.one("link", "Delete… alice")["href"] == f"/admin/users/{site.alice}/delete?next=/admin/users"


def test_delete_user_confirmation_says_when_it_cannot_be_done(admin, site):
    html = parse(admin.get(f"/admin/users/{site.root}/delete").text)
    assert html.one("alert").has_text("You cannot delete your own account.")
    assert html.by_role("form", action=re.compile("^/admin/users/")) == []


def test_delete_user_takes_everything_they_own(app, admin, site):
    response = admin.post(f"/admin/users/{site.alice}/delete", data={"next": "/admin/users"})
    assert (response.status_code, response.headers["Location"]) == (303, "/admin/users")
    with app.app_context():
        assert db.session.get(User, site.alice) is None
        assert db.session.scalars(select(Conversation.id)).all() == [site.bobs]
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1
        (event,) = db.session.scalars(select(AuditEvent)).all()
        assert (event.action, event.target_id, event.target_owner_name, event.detail) == (
            "delete_user",
            str(site.alice),
            "alice",
            "2 threads and 3 messages deleted with it",
        )
    assert "Deleted the account alice: 2 threads and 3 messages deleted with it." in admin.get("/admin/users").text


def test_deleted_users_session_is_over(app, admin, site, user):
    alice = app.test_client()
    sign_in(alice, user)
    admin.post(f"/admin/users/{site.alice}/delete")
    assert alice.get("/").status_code == 302


def test_acting_on_a_missing_account_is_404(admin, site):
    for path in ("role", "active", "delete"):
        assert admin.post(f"/admin/users/999/{path}", data={"role": "user", "active": "0"}).status_code == 404
    assert admin.get("/admin/users/999/delete").status_code == 404


# --- audit log ----------------------------------------------------------------------------------


def test_audit_log_page_shows_who_did_what_newest_first(app, admin, site):
    admin.post(f"/admin/conversations/{site.older}/title", data={"title": XSS})
    admin.post(f"/admin/users/{site.bob}/active", data={"active": "0"})
    admin.post(f"/admin/users/{site.alice}/delete")
    html = admin.get("/admin/audit").text
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x" in html
    table = parse(html).one("table", "Admin actions, newest first")
    events = [row.columns for row in table.by_role("row")[1:]]
    assert [event["What"].text for event in events] == ["Deleted an account", "Disabled an account", "Renamed a thread"]
    assert events[2]["Which"].text == f"thread {site.older}"
    assert events[2]["After"].text == XSS
    assert_no_inline_code(html)


def test_audit_log_pages_by_cursor(app, admin, site, seed):
    with seed():
        for i in range(60):
            db.session.add(
                AuditEvent(
                    actor_name="root", action="set_role", target_type="user", target_id=str(site.bob), old_value=str(i)
                )
            )
    first = parse(admin.get("/admin/audit").text)
    assert len(first.one("table").by_role("row")) == 51  # a header row and 50 events
    (next_page,) = first.having(rel="next")
    second = parse(admin.get(next_page["href"]).text)
    assert len(second.one("table").by_role("row")) == 11
    assert second.having(rel="next") == []


def test_audit_log_names_the_command_line_and_deleted_actors(app, admin, site, seed):
    with seed():
        db.session.add(AuditEvent(actor_name="command line", action="set_role", target_type="user", target_id="1"))
        db.session.add(AuditEvent(actor_name="gone", action="set_role", target_type="user", target_id="1"))
    table = parse(admin.get("/admin/audit").text).one("table")
    gone, command_line = (row.columns["Who"] for row in table.by_role("row")[1:])
    assert command_line.one("emphasis").text == "command line"
    assert gone.text == "gone (account deleted)"


# --- CSRF ------------------------------------------------------------------------------------


def test_admin_posts_need_the_csrf_token(app, csrf_app, admin_user, user, make_thread):
    thread_id = make_thread(user, "Keep")
    client = csrf_app.test_client()
    sign_in(client, admin_user)
    for path, data in [
        (f"/admin/conversations/{thread_id}/title", {"title": "x"}),
        (f"/admin/conversations/{thread_id}/delete", {}),
        (f"/admin/users/{user.id}/role", {"role": "admin"}),
        (f"/admin/users/{user.id}/active", {"active": "0"}),
        (f"/admin/users/{user.id}/delete", {}),
    ]:
        assert client.post(path, data=data).status_code == 400
    token = csrf_token(client.get("/admin/conversations").text)
    response = client.post(
        f"/admin/conversations/{thread_id}/title", data={"title": "Fine"}, headers={**HTMX, "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert audit_rows(app) == [("rename_thread", "root", "alice", "Keep", "Fine")]


# --- cost is flat ----------------------------------------------------------------------------


@pytest.mark.parametrize("owners", [2, 40])
def test_admin_pages_run_a_fixed_number_of_queries(admin, site, seed, count_queries, owners):
    with seed():
        for i in range(owners):
            user = add_user(f"owner{i:02}")
            add_thread(user, f"thread {i}", messages=1)
    with count_queries() as conversations:
        assert admin.get("/admin/conversations").status_code == 200
    with count_queries() as users:
        assert admin.get("/admin/users").status_code == 200
    # the signed-in admin, then one page query (threads with owners; accounts and their thread counts)
    assert len(conversations) == 2, conversations
    assert len(users) == 3, users

"""The admin pages over HTTP, as a browser and as htmx ask for them."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD, AuthActions
from tests.factories import add_thread, add_user, sign_in, thread_ids
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Message, User, utcnow

HTMX = {"HX-Request": "true"}
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def site(app):
    """root (admin); alice with two threads (the newer one has 3 messages); bob with one."""
    with app.app_context():
        root, alice, bob = add_user("root", "admin"), add_user("alice"), add_user("bob")
        older = add_thread(alice, "Alice older")
        newer = add_thread(alice, "Alice newer", messages=3)
        bobs = add_thread(bob, "Bob's thread", messages=1)
        now = utcnow()
        for age, conversation in enumerate([bobs, newer, older]):
            conversation.updated_at = now - timedelta(minutes=age)
        db.session.commit()
        return SimpleNamespace(
            root=root.id, alice=alice.id, bob=bob.id,
            root_login=root.get_id(), alice_login=alice.get_id(), bob_login=bob.get_id(),
            older=older.id, newer=newer.id, bobs=bobs.id,
        )


@pytest.fixture
def admin(client, site):
    sign_in(client, site.root_login)
    return client


def audit_rows(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.target_owner_name,
                   AuditEvent.old_value, AuditEvent.new_value).order_by(AuditEvent.id)
        ).all()


def title_of(app, conversation_id) -> str | None:
    with app.app_context():
        conversation = db.session.get(Conversation, conversation_id)
        return conversation.title if conversation else None


def sidebar_titles(html: str) -> list[str]:
    return re.findall(r'<li class="thread-item[^"]*" id="thread-[^"]+">\s*<a href="[^"]+"[^>]*>([^<]*)</a>', html)


class InlineCode(HTMLParser):
    """Finds what a strict CSP would block, as a browser parses the page."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{name}= on <{tag}>" for name in names if name.startswith("on") or name == "style"]


def assert_no_inline_code(html: str) -> None:
    parser = InlineCode()
    parser.feed(html)
    assert parser.found == []


# --- the conversations table -------------------------------------------------------------------


def test_admin_home_and_conversations_list_every_thread_newest_activity_first(admin, site):
    for path in ("/admin/", "/admin/conversations"):
        page = admin.get(path)
        assert page.status_code == 200
        assert thread_ids(page.text) == [site.bobs, site.newer, site.older]
    html = page.text
    row = html.split(f'id="conv-{site.newer}"')[1].split("</tr>")[0]
    assert f'href="/admin/conversations/{site.newer}"' in row
    assert "Alice newer" in row and ">alice</a>" in row and '<td class="num">3</td>' in row
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+\+00:00">\d{4}-\d\d-\d\d \d\d:\d\d</time>', row)
    assert '<caption id="conversations-caption">' in html and '<th scope="col">Title</th>' in html
    assert '<nav class="admin-nav" aria-label="Admin">' in html
    assert '<a href="/admin/conversations" aria-current="page">Conversations</a>' in html
    assert_no_inline_code(html)


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
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert "q=bulk" in url and "user=alice" in url
            assert "First page" in admin.get(url).text
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
    shown = [int(n) for n in re.findall(r">message (\d+)<", page.text)]
    assert shown == list(range(71, 121))
    assert '<span class="who" id="message-' in page.text
    assert re.search(r'<span class="who" id="message-\d+-who">alice</span>', page.text)
    assert ">You<" not in page.text
    assert f'href="/admin/conversations/{big}/messages?before=71"' in page.text
    assert "composer" not in page.text  # read-only: nowhere to write
    earlier = admin.get(f"/admin/conversations/{big}/messages?before=71", headers=HTMX)
    assert [int(n) for n in re.findall(r">message (\d+)<", earlier.text)] == list(range(21, 71))
    assert earlier.text.lstrip().startswith('<a class="load-earlier')
    full = admin.get(f"/admin/conversations/{big}/messages?before=21")
    assert "<html" in full.text
    assert [int(n) for n in re.findall(r">message (\d+)<", full.text)] == list(range(1, 21))
    assert_no_inline_code(page.text)


def test_thread_view_of_a_missing_thread_is_404(admin, site):
    for path in (f"/admin/conversations/{uuid.uuid4()}", "/admin/conversations/not-a-uuid"):
        assert admin.get(path).status_code == 404


def test_the_owner_still_sees_you_on_their_own_page(app, client, site):
    sign_in(client, site.alice_login)
    page = client.get(f"/c/{site.newer}").text
    assert re.search(r'<span class="who" id="message-\d+-who">You</span>', page)


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
        f"/admin/conversations/{site.older}/title", headers=HTMX,
        data={"title": "New <b>name</b>", "next": "/admin/conversations?user=alice"},
    )
    assert response.status_code == 200
    html = response.text.strip()
    assert html.startswith(f'<tr id="conv-{site.older}">')
    assert "New &lt;b&gt;name&lt;/b&gt;" in html and "<b>name" not in html
    assert 'autofocus>New &lt;b&gt;name' in html  # keyboard focus lands on the renamed thread
    assert 'name="next" value="/admin/conversations?user=alice"' in html
    assert '<div id="flashes" class="flashes" role="status" aria-live="polite" hx-swap-oob="true">' in html
    assert "Renamed “Alice older” to “New &lt;b&gt;name&lt;/b&gt;”." in html
    assert title_of(app, site.older) == "New <b>name</b>"


@pytest.mark.parametrize(("title", "message"), [("", "cannot be empty"), ("   ", "cannot be empty"), ("z" * 256, "at most 255")])
def test_bad_rename_is_refused_with_the_form_and_nothing_written(app, admin, site, title, message):
    plain = admin.post(f"/admin/conversations/{site.older}/title", data={"title": title})
    assert plain.status_code == 422
    assert message in plain.text and 'aria-invalid="true"' in plain.text
    assert "<html" in plain.text
    htmx = admin.post(f"/admin/conversations/{site.older}/title", data={"title": title}, headers=HTMX)
    assert htmx.status_code == 422
    assert htmx.text.strip().startswith(f'<tr id="conv-{site.older}">')
    assert message in htmx.text and "<details class=\"row-action\" open>" in htmx.text
    assert title_of(app, site.older) == "Alice older"
    assert audit_rows(app) == []


def test_owners_sidebar_shows_an_admin_rename_on_their_next_request(app, client_for, admin, site):
    owner = client_for(app)
    sign_in(owner, site.alice_login)
    assert sidebar_titles(owner.get("/").text) == ["Alice newer", "Alice older"]
    admin.post(f"/admin/conversations/{site.older}/title", data={"title": "Renamed by an admin"})
    # A rename is activity, as when the owner renames: the thread moves up.
    assert sidebar_titles(owner.get("/").text) == ["Renamed by an admin", "Alice newer"]


# --- delete --------------------------------------------------------------------------------------


def test_delete_removes_the_thread_and_returns_to_the_list(app, admin, site):
    back = "/admin/conversations?user=alice"
    response = admin.post(f"/admin/conversations/{site.newer}/delete", data={"next": back})
    assert (response.status_code, response.headers["Location"]) == (303, back)
    with app.app_context():
        assert db.session.get(Conversation, site.newer) is None
        assert db.session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == site.newer)) == 0
    assert audit_rows(app) == [("delete_thread", "root", "alice", "Alice newer", None)]
    page = admin.get(back)
    assert "Deleted “Alice newer” of alice." in page.text
    assert thread_ids(page.text) == [site.older]


def test_delete_over_htmx_leaves_a_row_saying_what_went(app, admin, site):
    response = admin.post(f"/admin/conversations/{site.newer}/delete", headers=HTMX)
    html = response.text.strip()
    assert response.status_code == 200
    assert html.startswith(f'<tr id="conv-{site.newer}" class="removed-row">')
    assert "Deleted “Alice newer” of alice with its 3 messages." in html
    assert 'tabindex="-1" autofocus' in html


def test_delete_needs_confirmation_in_the_page_without_javascript(admin, site):
    row = admin.get("/admin/conversations").text.split(f'id="conv-{site.newer}"')[1].split("</tr>")[0]
    assert '<details class="row-action confirm-delete">' in row
    assert "Delete “Alice newer” of alice with its 3 messages? This cannot be undone." in row


def test_owner_loses_a_thread_an_admin_deleted_on_their_next_request(app, client_for, admin, site):
    owner = client_for(app)
    sign_in(owner, site.alice_login)
    assert "Alice newer" in sidebar_titles(owner.get("/").text)
    admin.post(f"/admin/conversations/{site.newer}/delete")
    assert sidebar_titles(owner.get("/").text) == ["Alice older"]
    assert owner.get(f"/c/{site.newer}").status_code == 404


def test_deleting_a_thread_twice_is_404_and_logged_once(app, admin, site):
    admin.post(f"/admin/conversations/{site.newer}/delete")
    again = admin.post(f"/admin/conversations/{site.newer}/delete", headers=HTMX)
    assert again.status_code == 404
    assert 'class="notice notice-error"' in again.text and "<html" not in again.text
    assert len(audit_rows(app)) == 1


# --- users -----------------------------------------------------------------------------------------


def user_row(html: str, user_id: int) -> str:
    return html.split(f'<tr id="user-{user_id}"')[1].split("</tr>")[0]


def test_users_page_lists_accounts_with_role_status_threads_and_times(app, admin, site):
    with app.app_context():
        db.session.execute(update(User).where(User.id == site.alice).values(last_login_at=utcnow()))
        db.session.commit()
    page = admin.get("/admin/users")
    assert page.status_code == 200
    html = page.text
    assert re.findall(r'<tr id="user-(\d+)"', html) == [str(site.alice), str(site.bob), str(site.root)]
    alice = user_row(html, site.alice)
    assert "<td>user</td>" in alice and "<td>active</td>" in alice
    assert 'aria-label="2 threads of alice">2</a>' in alice
    assert alice.count("<time") == 2
    assert "never" in user_row(html, site.bob)
    root = user_row(html, site.root)
    assert "badge-admin" in root and "Your own account" in root and "<form" not in root
    assert '<caption id="users-caption">' in html
    assert_no_inline_code(html)


def test_users_can_be_found_by_part_of_the_name(admin, site):
    html = admin.get("/admin/users?q=LI").text
    assert re.findall(r'<tr id="user-(\d+)"', html) == [str(site.alice)]
    assert "No account name contains “zzz”." in admin.get("/admin/users?q=zzz").text


def test_promote_and_demote(app, admin, site):
    response = admin.post(f"/admin/users/{site.bob}/role", data={"role": "admin", "next": "/admin/users?q=b"})
    assert (response.status_code, response.headers["Location"]) == (303, "/admin/users?q=b")
    assert "bob is now an admin." in admin.get("/admin/users").text
    response = admin.post(f"/admin/users/{site.bob}/role", data={"role": "user"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.strip().startswith(f'<tr id="user-{site.bob}"')
    assert "Make admin" in response.text and "bob is no longer an admin." in response.text
    # The pressed button was disabled during the request; focus goes back to it.
    assert f'id="user-{site.bob}-role" autofocus>' in response.text
    assert audit_rows(app) == [
        ("set_role", "root", "bob", "user", "admin"),
        ("set_role", "root", "bob", "admin", "user"),
    ]


def test_a_promoted_user_reaches_the_admin_area_and_a_demoted_one_no_longer(app, client_for, admin, site):
    bob = client_for(app)
    sign_in(bob, site.bob_login)
    assert bob.get("/admin/").status_code == 403
    admin.post(f"/admin/users/{site.bob}/role", data={"role": "admin"})
    assert bob.get("/admin/").status_code == 200
    admin.post(f"/admin/users/{site.bob}/role", data={"role": "user"})
    assert bob.get("/admin/").status_code == 403


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [("role", {"role": "superuser"}, "The role must be admin or user."), ("role", {}, "The role must be admin or user."),
     ("active", {"active": "yes"}, "active must be 1 (enable) or 0 (disable).")],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_values_are_422_and_change_nothing(app, admin, site, path, data, message, headers):
    response = admin.post(f"/admin/users/{site.bob}/{path}", data=data, headers=headers)
    assert response.status_code == 422
    assert message in response.text
    assert ("<html" in response.text) == (not headers)
    assert audit_rows(app) == []


def test_disabling_ends_the_users_sessions_at_once(app, client_for, admin, site):
    alice = AuthActions(client_for(app))
    assert alice.login("alice", PASSWORD, remember="y").status_code == 303
    assert alice.client.get("/").status_code == 200
    response = admin.post(f"/admin/users/{site.alice}/active", data={"active": "0"}, headers=HTMX)
    assert response.status_code == 200
    assert "alice is disabled and signed out everywhere." in response.text
    assert 'class="disabled-row"' in response.text and ">Enable<" in response.text
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
    assert message in response.text
    if headers:
        assert 'class="notice notice-error"' in response.text and "<html" not in response.text
    else:
        assert 'href="/admin/users">Go back</a>' in response.text
    with app.app_context():
        root = db.session.get(User, site.root)
        assert (root.role, root.active) == ("admin", True)
    assert audit_rows(app) == []
    assert admin.get("/admin/").status_code == 200


def test_the_last_active_admin_rule_reaches_the_page_as_409(app, admin, site, monkeypatch):
    """The UI cannot get there (the viewer is an active admin), so act as if
    the signed-in admin's own check were passed, e.g. by a race."""
    import webapp.administration as actions

    monkeypatch.setattr(actions, "_refuse_own_account", lambda *args: None)
    response = admin.post(f"/admin/users/{site.root}/role", data={"role": "user"})
    assert response.status_code == 409
    assert "root is the last active admin and cannot be demoted." in response.text


def test_delete_user_asks_first_naming_what_goes(app, admin, site):
    page = admin.get(f"/admin/users/{site.alice}/delete?next=/admin/users%3Fq%3Da")
    assert page.status_code == 200
    assert "<strong>2 threads</strong> and\n  <strong>3 messages</strong>" in page.text
    assert 'name="next" value="/admin/users?q=a"' in page.text
    link = user_row(admin.get("/admin/users").text, site.alice)
    assert f'href="/admin/users/{site.alice}/delete?next=/admin/users"' in link


def test_delete_user_confirmation_says_when_it_cannot_be_done(admin, site):
    page = admin.get(f"/admin/users/{site.root}/delete")
    assert "You cannot delete your own account." in page.text
    assert 'action="/admin/users/' not in page.text


def test_delete_user_takes_everything_they_own(app, admin, site):
    response = admin.post(f"/admin/users/{site.alice}/delete", data={"next": "/admin/users"})
    assert (response.status_code, response.headers["Location"]) == (303, "/admin/users")
    with app.app_context():
        assert db.session.get(User, site.alice) is None
        assert db.session.scalars(select(Conversation.id)).all() == [site.bobs]
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1
        (event,) = db.session.scalars(select(AuditEvent)).all()
        assert (event.action, event.target_id, event.target_owner_name, event.detail) == (
            "delete_user", str(site.alice), "alice", "2 threads and 3 messages deleted with it",
        )
    assert "Deleted the account alice: 2 threads and 3 messages deleted with it." in admin.get("/admin/users").text


def test_deleted_users_session_is_over(app, client_for, admin, site):
    alice = client_for(app)
    sign_in(alice, site.alice_login)
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
    actions = re.findall(r"<td>(Renamed a thread|Deleted an account|Disabled an account)</td>", html)
    assert actions == ["Deleted an account", "Disabled an account", "Renamed a thread"]
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x" in html
    assert f'thread <code class="id">{site.older}</code>' in html
    assert '<caption id="audit-caption">' in html
    assert_no_inline_code(html)


def test_audit_log_pages_by_cursor(app, admin, site, seed):
    with seed():
        for i in range(60):
            db.session.add(AuditEvent(actor_name="root", action="set_role", target_type="user",
                                      target_id=str(site.bob), old_value=str(i)))
    first = admin.get("/admin/audit").text
    assert first.count("<tr>") == 51  # a header row and 50 events
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    second = admin.get(next_url).text
    assert second.count("<tr>") == 11
    assert 'rel="next"' not in second


def test_audit_log_names_the_command_line_and_deleted_actors(app, admin, site, seed):
    with seed():
        db.session.add(AuditEvent(actor_name="command line", action="set_role", target_type="user", target_id="1"))
        db.session.add(AuditEvent(actor_name="gone", action="set_role", target_type="user", target_id="1"))
    html = admin.get("/admin/audit").text
    assert "<em>command line</em>" in html
    assert "gone <span class=\"hint\">(account deleted)</span>" in html


# --- CSRF ------------------------------------------------------------------------------------


def test_admin_posts_need_the_csrf_token(make_app, client_for, site_factory=None):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = client_for(app)
    with app.app_context():
        root, alice = add_user("root", "admin"), add_user("alice")
        thread = add_thread(alice, "Keep")
        db.session.commit()
        root_login, thread_id, alice_id = root.get_id(), thread.id, alice.id
    sign_in(client, root_login)
    for path, data in [
        (f"/admin/conversations/{thread_id}/title", {"title": "x"}),
        (f"/admin/conversations/{thread_id}/delete", {}),
        (f"/admin/users/{alice_id}/role", {"role": "admin"}),
        (f"/admin/users/{alice_id}/active", {"active": "0"}),
        (f"/admin/users/{alice_id}/delete", {}),
    ]:
        assert client.post(path, data=data).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/conversations").text).group(1)
    response = client.post(f"/admin/conversations/{thread_id}/title", data={"title": "Fine"}, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert audit_rows(app) == [("rename_thread", "root", "alice", "Keep", "Fine")]


# --- cost is flat ----------------------------------------------------------------------------


@pytest.mark.parametrize("owners", [2, 40])
def test_admin_pages_run_a_fixed_number_of_queries(app, admin, site, seed, owners):
    from tests.test_chat import count_queries

    with seed():
        for i in range(owners):
            user = add_user(f"owner{i:02}")
            add_thread(user, f"thread {i}", messages=1)
    with count_queries(app) as conversations:
        assert admin.get("/admin/conversations").status_code == 200
    with count_queries(app) as users:
        assert admin.get("/admin/users").status_code == 200
    # the signed-in admin, then one page query (threads with owners; accounts and their thread counts)
    assert len(conversations) == 2, conversations
    assert len(users) == 3, users

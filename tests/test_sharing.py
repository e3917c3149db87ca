"""Sharing a thread by link, through the pages: the owner's share panel,
the read-only page anyone with the link can open, forking it, the settings
page's list and the admin's (issue 16). The data layer is test_shares.py."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.factories import HTMX, sign_in
from tests.html import parse
from webapp import shares
from webapp.administration import set_active
from webapp.branches import list_messages
from webapp.conversations import append_message, get_conversation
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Share, User

LINK = re.compile(r"/s/([A-Za-z0-9_-]{32})")


def contents(messages) -> list[str]:
    return [message.content for message in messages]


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def shared(app, user, make_thread):
    """alice's thread "Trip plans", shared; returns (thread id, token)."""
    thread_id = make_thread(user, "Trip plans", messages=2)
    with app.app_context():
        share = shares.share_thread(db.session.get(Conversation, thread_id))
        db.session.commit()
        return thread_id, share.token


def test_sharing_from_the_thread_shows_the_link(client, user, make_thread):
    thread_id = make_thread(user, "Plans", messages=2)
    sign_in(client, user)
    page = parse(client.get(f"/c/{thread_id}").text)
    assert page.one("button", "Make a link")
    response = client.post(f"/c/{thread_id}/share")
    assert response.status_code == 303 and response.headers["Location"] == f"/c/{thread_id}"
    page = parse(client.get(f"/c/{thread_id}").text)
    link = page.by_label("Link to this chat")["value"]
    assert LINK.search(link)
    assert page.has_text("Shared") and page.one("button", "Update link") and page.one("button", "Stop sharing")


def test_sharing_with_htmx_answers_the_open_panel(client, user, make_thread):
    thread_id = make_thread(user, "Plans", messages=2)
    sign_in(client, user)
    response = client.post(f"/c/{thread_id}/share", headers=HTMX)
    assert response.status_code == 200
    answer = parse(response.text)
    assert answer.has_text("People with this link can see the chat as it is now")
    assert LINK.search(answer.by_label("Link to this chat")["value"])
    assert answer.one("button", re.compile("^Copy"))
    response = client.post(f"/c/{thread_id}/share/delete", headers=HTMX)
    assert parse(response.text).one("button", "Make a link")


def test_the_shared_page_is_read_only_anonymous_and_private(client, shared):
    _, token = shared
    response = client.get(f"/s/{token}")
    assert response.status_code == 200
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = parse(response.text)
    assert page.one("heading", level=1).text == "Trip plans"
    assert "alice" not in response.text.lower()
    assert page.has_text("Shared with Parley")
    assert contents_of(page) == ["Message 001", "Message 002"]
    assert not page.by_role("textbox") and not page.by_role("button")
    assert page.one("link", "Sign in")


def contents_of(page) -> list[str]:
    """The text of each message on a page, less who wrote it."""
    return [article.having(class_="body")[0].text for article in page.by_role("article")]


def test_a_signed_in_visitor_can_continue_the_chat_in_a_thread_of_their_own(app, client, shared, other_user):
    _, token = shared
    sign_in(client, other_user)
    page = parse(client.get(f"/s/{token}").text)
    assert page.one("button", "Continue this chat")
    response = client.post(f"/s/{token}/fork")
    assert response.status_code == 303
    new_id = response.headers["Location"].removeprefix("/c/")
    with app.app_context():
        copy = get_conversation(db.session.get(User, other_user.id), new_id)
        assert contents(list_messages(copy).items) == ["Message 001", "Message 002"]
        assert copy.title == "Trip plans"


def test_forking_needs_a_sign_in(client, shared):
    response = client.post(f"/s/{shared[1]}/fork")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("token", ["nope", "A" * 32, "%2e%2e"])
def test_an_unknown_link_is_the_plain_not_found_page(client, shared, token):
    response = client.get(f"/s/{token}")
    assert response.status_code == 404
    assert parse(response.text).one("heading", level=1).text == "Not found"
    assert response.headers["X-Robots-Tag"].startswith("noindex")


def test_a_revoked_link_answers_exactly_as_an_unknown_one(client, user, shared):
    thread_id, token = shared
    unknown = client.get("/s/" + "A" * 32)
    sign_in(client, user)
    assert client.post(f"/c/{thread_id}/share/delete").status_code == 303
    client.post("/logout")
    revoked = client.get(f"/s/{token}")
    assert revoked.status_code == unknown.status_code == 404
    assert parse(revoked.text).one("main").text == parse(unknown.text).one("main").text


def test_another_users_thread_cannot_be_shared_or_unshared(app, client, other_user, shared):
    thread_id, token = shared
    sign_in(client, other_user)
    assert client.post(f"/c/{thread_id}/share").status_code == 404
    assert client.post(f"/c/{thread_id}/share/delete").status_code == 404
    assert client.get(f"/s/{token}").status_code == 200


def test_an_update_shows_what_was_added_since(app, client, user, shared):
    thread_id, token = shared
    with app.app_context():
        append_message(db.session.get(Conversation, thread_id), "user", "added later")
        db.session.commit()
    assert "added later" not in client.get(f"/s/{token}").text
    sign_in(client, user)
    client.post(f"/c/{thread_id}/share")
    assert "added later" in client.get(f"/s/{token}").text


def test_a_disabled_owner_s_link_is_not_found(app, client, user, admin_user, shared):
    with app.app_context():
        set_active(db.session.get(User, admin_user.id), db.session.get(User, user.id), False)
        db.session.commit()
    assert client.get(f"/s/{shared[1]}").status_code == 404


def test_a_deleted_thread_s_link_is_not_found(client, user, shared):
    thread_id, token = shared
    sign_in(client, user)
    client.post(f"/c/{thread_id}/delete")
    assert client.get(f"/s/{token}").status_code == 404


def test_with_sharing_off_every_share_route_is_missing(make_app, client_for, user, shared):
    thread_id, token = shared
    off = client_for(make_app(PARLEY_SHARING="off"))
    assert off.get(f"/s/{token}").status_code == 404
    sign_in(off, user)
    for url in (f"/c/{thread_id}/share", f"/c/{thread_id}/share/delete", f"/s/{token}/fork"):
        assert off.post(url).status_code == 404, url
    page = parse(off.get(f"/c/{thread_id}").text)
    assert not page.by_role("button", "Make a link") and not page.by_role("button", "Update link")
    assert not parse(off.get("/settings").text).by_role("heading", "Shared links")


def test_the_settings_page_lists_my_links_with_stop_sharing(client, user, shared):
    thread_id, token = shared
    sign_in(client, user)
    page = parse(client.get("/settings").text)
    table = page.one("table", "Your shared links")
    assert table.one("link", "Trip plans")["href"] == f"/c/{thread_id}"
    response = client.post(f"/c/{thread_id}/share/delete", data={"next": "/settings"})
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    assert parse(client.get("/settings").text).has_text("You are not sharing any chat")
    assert client.get(f"/s/{token}").status_code == 404


def test_a_long_snapshot_is_read_a_page_at_a_time(app, client, user, make_thread):
    thread_id = make_thread(user, "Long", messages=205)
    with app.app_context():
        token = shares.share_thread(db.session.get(Conversation, thread_id)).token
        db.session.commit()
    page = parse(client.get(f"/s/{token}").text)
    assert len(page.by_role("article")) == 200
    later = page.one("link", "Show later messages")["href"]
    rest = parse(client.get(later, headers=HTMX).text)
    assert [a.text.split()[-1] for a in rest.by_role("article")] == ["201", "202", "203", "204", "205"]


def test_the_shared_page_costs_the_same_queries_however_long_the_thread(app, client, user, make_thread, count_queries):
    tokens = []
    for n in (3, 150):
        thread_id = make_thread(user, "T", messages=n)
        with app.app_context():
            tokens.append(shares.share_thread(db.session.get(Conversation, thread_id)).token)
            db.session.commit()
    counts = []
    for token in tokens:
        with count_queries() as statements:
            assert client.get(f"/s/{token}").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_views_of_links_are_rate_limited_per_address(make_app, client_for, shared):
    limited = client_for(make_app(RATELIMIT_ENABLED=True, SHARE_RATE_LIMIT="3 per minute"))
    answers = [limited.get("/s/" + "A" * 32).status_code for _ in range(3)]
    blocked = limited.get(f"/s/{shared[1]}")
    assert answers == [404, 404, 404]
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


# --- admins ---------------------------------------------------------------------------------------


def test_admins_list_every_live_link_without_its_token(client, admin_user, shared, other_user, make_thread):
    _, token = shared
    sign_in(client, admin_user)
    response = client.get("/admin/shares")
    page = parse(response.text)
    table = page.one("table")
    assert table.one("link", "Trip plans")
    assert table.has_text("alice")
    assert token not in response.text


def test_an_admin_turns_a_link_off_and_it_is_audited(app, client, admin_user, shared):
    thread_id, token = shared
    sign_in(client, admin_user)
    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    response = client.post(f"/admin/shares/{share_id}/delete", data={"next": "/admin/shares"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/shares"
    assert client.get(f"/s/{token}").status_code == 404
    audit = parse(client.get("/admin/audit").text)
    assert audit.has_text("Turned off a shared link")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent))
        assert (event.action, event.target_id, event.target_owner_name) == ("revoke_share", str(thread_id), "alice")


def test_an_admin_revoking_a_link_already_gone_changes_nothing(app, client, admin_user):
    sign_in(client, admin_user)
    assert client.post("/admin/shares/12345/delete").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0

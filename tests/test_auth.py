"""Registration, sign-in, sign-out, sessions and the settings page."""

from __future__ import annotations

import json
import re

import pytest

from tests.factories import PASSWORD, AuthActions
from tests.html import csrf_token, parse
from webapp.accounts import find_user
from webapp.extensions import db


def register(client, username="alice", password=PASSWORD, confirm=None):
    return client.post(
        "/register",
        data={"username": username, "password": password, "password_confirm": confirm or password},
    )


# --- registration ---------------------------------------------------------------


def test_first_account_becomes_admin_and_is_signed_in(app, client):
    response = register(client, "Founder")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert "Founder" in page.text
    assert parse(page.text).one("link", "Admin")["href"] == "/admin/"
    with app.app_context():
        assert find_user("founder").role == "admin"


def test_later_accounts_are_plain_users(app, client):
    register(client, "first")
    client.post("/logout")
    register(client, "second")
    assert parse(client.get("/").text).having(href="/admin/") == []
    with app.app_context():
        assert find_user("second").role == "user"


@pytest.mark.parametrize(
    ("username", "password", "confirm", "message"),
    [
        ("ab", PASSWORD, None, "3 to 32 characters"),
        ("bad name!", PASSWORD, None, "only letters, digits"),
        ("alice", "short", None, "at least 10 characters"),
        ("alice", "x" * 2000, None, "at most 1024 characters"),
        ("alice", PASSWORD, "something else", "The two passwords differ"),
        ("", PASSWORD, None, "Choose a username"),
    ],
)
def test_register_refuses_bad_input_and_stores_nothing(app, client, username, password, confirm, message):
    response = register(client, username, password, confirm)
    assert response.status_code == 422
    assert message in response.text
    assert password not in response.text
    with app.app_context():
        from webapp.accounts import count_users

        assert count_users() == 0


def test_username_taken_in_another_case(client, make_user):
    make_user("Alice")
    response = register(client, "aLiCe")
    assert response.status_code == 422
    assert "That username is taken" in response.text


def test_closed_registration_is_404_once_an_account_exists(make_app, client_for):
    app = make_app(PARLEY_REGISTRATION="closed")
    client = client_for(app)
    assert client.get("/register").status_code == 200  # the first account may still sign up
    assert register(client, "first").status_code == 303
    client.post("/logout")
    assert client.get("/register").status_code == 404
    assert register(client, "second").status_code == 404
    assert "Create an account" not in client.get("/login").text


# --- sign in and out ----------------------------------------------------------------


def test_login_and_logout(client, auth, user):
    response = auth.login()
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    assert client.get("/").status_code == 200
    response = auth.logout()
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    assert client.get("/").status_code == 302


def test_logout_needs_post(client, auth, user):
    auth.login()
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_login_is_case_insensitive_on_the_username(client, auth, make_user):
    make_user("Alice")
    assert auth.login("ALICE").status_code == 303


def test_failed_login_says_the_same_for_wrong_user_and_wrong_password(client, auth, user):
    wrong_password = auth.login("alice", "not the password")
    no_such_user = auth.login("nobody", "not the password")
    for response in (wrong_password, no_such_user):
        assert response.status_code == 200
        assert "The username or password is wrong." in response.text
        assert "not the password" not in response.text
    assert client.get("/").status_code == 302


def test_login_checks_a_password_hash_even_for_a_missing_user(ctx, user, monkeypatch):
    import webapp.accounts as accounts

    calls = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    accounts.authenticate("alice", "wrong password")
    accounts.authenticate("nobody", "wrong password")
    assert len(calls) == 2


def disable(app, username):
    with app.app_context():
        find_user(username).active = False
        db.session.commit()


def test_disabled_account_cannot_sign_in(app, client, auth, user):
    disable(app, "alice")
    response = auth.login()
    assert response.status_code == 200
    assert "disabled" in response.text
    assert client.get("/").status_code == 302


def test_disabling_an_account_ends_its_sessions(app, client, auth, user):
    auth.login(remember="y")
    assert client.get("/").status_code == 200
    disable(app, "alice")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("next_url", ["/settings", "/c/abc?x=1", "/"])
def test_login_follows_next_inside_the_site(client, user, next_url):
    response = client.post(f"/login?next={next_url}", data={"username": "alice", "password": PASSWORD})
    assert response.headers["Location"] == next_url


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.example",
        "https://evil.example/",
        "https:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\tevil",
        "evil.example",
    ],
)
def test_login_ignores_next_that_leaves_the_site(client, user, next_url):
    from urllib.parse import quote

    response = client.post(f"/login?next={quote(next_url, safe='')}", data={"username": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_anonymous_page_request_goes_to_login_with_next(client):
    response = client.get("/settings?tab=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings?tab%3D1"


def test_anonymous_htmx_request_gets_401_with_hx_redirect(client):
    response = client.get("/settings", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_remember_me_keeps_the_user_signed_in_after_the_session_ends(client, auth, user):
    auth.login(remember="y")
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("cookie", ["session", "remember_token"])
def test_signing_out_ends_the_session_and_copies_of_its_cookies(app, client, auth, user, cookie):
    auth.login(remember="y")
    copied = client.get_cookie(cookie).value
    assert auth.logout().headers["Location"] == "/login"
    replay = app.test_client()
    replay.set_cookie(cookie, copied)
    response = replay.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_signing_out_signs_the_account_out_on_every_device(app, client, auth, user):
    """Sessions are signed cookies that the server keeps no list of: ending
    one for good means ending the account's session token, which all of
    them carry (README, "Accounts and security")."""
    other_device = app.test_client()
    AuthActions(other_device).login(remember="y")
    auth.login()
    auth.logout()
    assert other_device.get("/").status_code == 302
    assert AuthActions(other_device).login().status_code == 303


# --- password change ------------------------------------------------------------------


def test_changing_password_ends_other_sessions_but_not_this_one(app, user):
    here, elsewhere = AuthActions(app.test_client()), AuthActions(app.test_client())
    here.login()
    elsewhere.login(remember="y")
    response = here.client.post(
        "/settings/password",
        data={
            "current_password": PASSWORD,
            "password": "a brand new password",
            "password_confirm": "a brand new password",
        },
    )
    assert response.status_code == 303
    assert here.client.get("/settings").status_code == 200
    assert elsewhere.client.get("/settings").status_code == 302
    # Not even the "remember me" cookie of the other device brings it back.
    elsewhere.client.delete_cookie("session")
    assert elsewhere.client.get("/settings").status_code == 302
    assert here.client.post("/logout").status_code == 303
    assert here.login(password="a brand new password").status_code == 303


def test_password_change_needs_the_current_password(client, auth, user):
    auth.login()
    response = client.post(
        "/settings/password",
        data={
            "current_password": "wrong one!!",
            "password": "a brand new password",
            "password_confirm": "a brand new password",
        },
    )
    assert response.status_code == 422
    assert "That is not your current password." in response.text
    client.post("/logout")
    assert auth.login().status_code == 303


def test_settings_page_shows_the_password_form(client, auth, user):
    auth.login()
    page = client.get("/settings")
    assert page.status_code == 200
    form = parse(page.text).one("form", action="/settings/password")
    assert form.by_label("Current password")["name"] == "current_password"
    assert form.one("button", "Change password")


# --- CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong"])
def test_post_without_a_valid_csrf_token_is_400_and_changes_nothing(csrf_app, token):
    client = csrf_app.test_client()
    client.get("/register")
    data = {"username": "alice", "password": PASSWORD, "password_confirm": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = client.post("/register", data=data)
    assert response.status_code == 400
    assert "Reload the page and try again" in response.text
    with csrf_app.app_context():
        assert find_user("alice") is None


def test_post_with_the_csrf_token_from_the_form_works(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client.get("/register").text)
    response = client.post(
        "/register",
        data={"username": "alice", "password": PASSWORD, "password_confirm": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303


def test_htmx_requests_carry_the_csrf_token_in_a_header(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client.get("/register").text)
    client.post(
        "/register",
        data={"username": "alice", "password": PASSWORD, "password_confirm": PASSWORD, "csrf_token": token},
    )
    page = parse(client.get("/settings").text)
    (body,) = page.having(**{"hx-headers:inherited": True})  # what every htmx request sends
    assert body.tag.name == "body"
    header_token = json.loads(body["hx-headers:inherited"])["X-CSRFToken"]
    response = client.post("/logout", headers={"X-CSRFToken": header_token})
    assert response.status_code == 303


# --- rate limits -------------------------------------------------------------------------


def test_too_many_sign_in_attempts_get_429_with_when_to_retry(make_app, client_for):
    app = make_app(RATELIMIT_ENABLED=True)
    client = client_for(app)
    for _ in range(10):
        assert client.post("/login", data={"username": "alice", "password": "wrong password"}).status_code == 200
    response = client.post("/login", data={"username": "alice", "password": "wrong password"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert re.search(r"Try again in \d+ seconds?\.", response.text)
    # Another username from the same address is not yet limited.
    assert client.post("/login", data={"username": "bob", "password": "wrong password"}).status_code == 200


def test_registration_is_rate_limited_per_address(make_app, client_for):
    app = make_app(RATELIMIT_ENABLED=True)
    client = client_for(app)
    for i in range(10):
        register(client, f"u{i:03}", "short")
    assert register(client, "u999", "short").status_code == 429


def test_rate_limits_can_be_turned_off(make_app, client_for):
    app = make_app(RATELIMIT_ENABLED=False)
    client = client_for(app)
    for _ in range(15):
        assert client.post("/login", data={"username": "alice", "password": "wrong password"}).status_code == 200

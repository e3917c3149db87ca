"""Fixtures for the JSON API: callers with a token, or with a signed-in session.

These tests hold no app context open while they make requests: a request
reuses an open one, and with it ``g``, where Flask-Login caches the user it
loaded, so one client's session would leak into the next request. State is
made and inspected in short ``with app.app_context()`` blocks instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import session
from flask_wtf.csrf import generate_csrf
from werkzeug.security import generate_password_hash

from webapp import accounts
from webapp.accounts import create_user
from webapp.extensions import db, login_manager
from webapp.models import User
from webapp.tokens import create_token


PASSWORD = "correct horse battery"


def _load_user_for_tests(user_id: str) -> User | None:
    # Until the auth blueprint brings the real loader: the same rule, by the
    # "<id>:<session_token>" that User.get_id() puts in the session.
    id_part, _, session_token = user_id.partition(":")
    user = db.session.get(User, int(id_part)) if id_part.isdigit() else None
    if user is None or user.session_token != session_token or not user.active:
        return None
    return user


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """These tests never sign in with a password, and scrypt costs ~0.4 s an account."""
    monkeypatch.setattr(
        accounts, "generate_password_hash", lambda password: generate_password_hash(password, "pbkdf2:sha256:1")
    )


@pytest.fixture(autouse=True)
def user_loader():
    """Make sure Flask-Login can load a session's user (the API reads it)."""
    if login_manager.user_callback is None:
        login_manager.user_loader(_load_user_for_tests)


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    login_id: str  # User.get_id(): what the session cookie carries


def make_account(app, username: str) -> Account:
    with app.app_context():
        user = create_user(username, PASSWORD)
        db.session.commit()
        return Account(user.id, user.username, user.get_id())


def make_token(app, account: Account, name: str = "tests") -> str:
    with app.app_context():
        _, plaintext = create_token(db.session.get(User, account.id), name)
        db.session.commit()
        return plaintext


def bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


def sign_in(client, account: Account) -> None:
    """Give the test client the session cookie that signing in would."""
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = account.login_id
        cookie_session["_fresh"] = True


def csrf_token_for(app, client) -> str:
    """A CSRF token valid for the client's session, as a page would embed it."""
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]  # what generate_csrf keeps in the session
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_token"] = raw
    return token


class Caller:
    """A test client that sends one caller's credentials with every request."""

    def __init__(self, client, headers: dict[str, str] | None = None):
        self.client = client
        self.headers = headers or {}

    def request(self, method: str, path: str, **kwargs: Any):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.request("DELETE", path, **kwargs)

    def create_conversation(self, title: str | None = None) -> dict[str, Any]:
        response = self.post("/api/conversations", json={"title": title} if title else {})
        assert response.status_code == 201, response.json
        return response.json

    def add_message(self, conversation_id: str, content: str = "Hello", role: str = "user", **body: Any):
        response = self.post(
            f"/api/conversations/{conversation_id}/messages", json={"role": role, "content": content, **body}
        )
        assert response.status_code == 201, response.json
        return response.json


@pytest.fixture
def alice(app) -> Account:
    return make_account(app, "alice")


@pytest.fixture
def bob(app) -> Account:
    return make_account(app, "bob")


@pytest.fixture
def token(app, alice) -> str:
    return make_token(app, alice)


@pytest.fixture
def api(client, token) -> Caller:
    """Alice, with a personal API token."""
    return Caller(client, bearer(token))


@pytest.fixture
def other_api(app, bob) -> Caller:
    """Bob, with a token, on a client of his own."""
    return Caller(app.test_client(), bearer(make_token(app, bob)))


@pytest.fixture
def session_api(client, alice) -> Caller:
    """Alice, signed in with the session cookie (CSRF is off in the test app)."""
    sign_in(client, alice)
    return Caller(client)


@pytest.fixture
def anonymous(client) -> Caller:
    return Caller(client)


@pytest.fixture(params=["token", "session"])
def callers(request, app, alice, bob) -> tuple[Caller, Caller]:
    """Alice and Bob, both with a token or both signed in: each auth kind in turn."""
    alice_client, bob_client = app.test_client(), app.test_client()
    if request.param == "token":
        return (
            Caller(alice_client, bearer(make_token(app, alice))),
            Caller(bob_client, bearer(make_token(app, bob))),
        )
    sign_in(alice_client, alice)
    sign_in(bob_client, bob)
    return Caller(alice_client), Caller(bob_client)

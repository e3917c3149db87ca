"""Fixtures for the JSON API: callers with a token, or with a signed-in session.

These tests hold no app context open while they make requests: a request
reuses an open one, and with it ``g``, where Flask-Login caches the user it
loaded, so one client's session would leak into the next request. State is
made and inspected in short ``with app.app_context()`` blocks instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import session
from flask_wtf.csrf import generate_csrf

from tests.factories import sign_in
from webapp.extensions import db
from webapp.models import User
from webapp.tokens import create_token


def make_token(app, user: User, name: str = "tests") -> str:
    with app.app_context():
        _, plaintext = create_token(db.session.get(User, user.id), name)
        db.session.commit()
        return plaintext


def bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


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
def token(app, user) -> str:
    return make_token(app, user)


@pytest.fixture
def api(client, token) -> Caller:
    """Alice, with a personal API token."""
    return Caller(client, bearer(token))


@pytest.fixture
def other_api(app, other_user) -> Caller:
    """Bob, with a token, on a client of his own."""
    return Caller(app.test_client(), bearer(make_token(app, other_user)))


@pytest.fixture
def session_api(client, user) -> Caller:
    """Alice, signed in with the session cookie (CSRF is off in the test app)."""
    sign_in(client, user)
    return Caller(client)


@pytest.fixture
def anonymous(client) -> Caller:
    return Caller(client)


@pytest.fixture(params=["token", "session"])
def callers(request, app, user, other_user) -> tuple[Caller, Caller]:
    """Alice and Bob, both with a token or both signed in: each auth kind in turn."""
    alice_client, bob_client = app.test_client(), app.test_client()
    if request.param == "token":
        return (
            Caller(alice_client, bearer(make_token(app, user))),
            Caller(bob_client, bearer(make_token(app, other_user))),
        )
    sign_in(alice_client, user)
    sign_in(bob_client, other_user)
    return Caller(alice_client), Caller(bob_client)

"""The plain helpers every test shares: building accounts and threads, and
putting an account in a test client's session.

``add_user`` and ``add_thread`` work in the current app context's session and
only flush (the caller commits), for data-layer tests and fixtures. A test
that drives the app through a test client holds no app context; it uses the
``make_user`` and ``make_thread`` fixtures (``tests/conftest.py``), which wrap
these in a short context of their own and commit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Connection, text

from webapp.accounts import hash_password
from webapp.conversations import append_message, create_conversation
from webapp.extensions import db
from webapp.models import Conversation, User, utcnow

#: The password of every account the tests make.
PASSWORD = "correct horse battery"

#: The header htmx sends with each of its requests.
HTMX = {"HX-Request": "true"}


def add_user(username: str, role: str = "user", *, active: bool = True) -> User:
    """An account whose password is ``PASSWORD``, flushed (not committed).

    The row is written directly, not through ``create_user``, so that a test
    can start from any state (a disabled admin, say); the password is hashed
    the app's way, which the test app makes cheap (``PASSWORD_HASH_METHOD``).
    """
    user = User(
        username=username,
        username_key=username.lower(),
        password_hash=hash_password(PASSWORD),
        role=role,
        active=active,
    )
    db.session.add(user)
    db.session.flush()
    return user


def add_thread(
    owner: User, title: str | None = "A thread", *, messages: int = 0, ago: timedelta | None = None
) -> Conversation:
    """A thread of ``owner`` with ``messages`` messages ("Message 001", …, the
    user's and the assistant's in turn), last active ``ago`` (default: now)."""
    conversation = create_conversation(owner, title)
    for n in range(1, messages + 1):
        append_message(conversation, "user" if n % 2 else "assistant", f"Message {n:03d}")
    if ago is not None:
        conversation.updated_at = utcnow() - ago
    db.session.flush()
    return conversation


def sign_in(client, user: User) -> None:
    """Sign ``client`` in as ``user`` without the form, the way Flask-Login's
    ``login_user`` does: the session carries ``User.get_id()`` (the id and the
    session token, so a later password change or disabling still ends it)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


class AuthActions:
    """Sign a test client in and out through the real forms."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str = "alice", password: str = PASSWORD, **extra):
        return self.client.post("/login", data={"username": username, "password": password, **extra})

    def logout(self):
        return self.client.post("/logout")


# --- rows as an older schema had them ---------------------------------------------------------
# A migration test writes below the models, which may be newer than the
# schema it starts from: a raw row, with only the columns every schema has.


def insert_old_user(connection: Connection, user_id: int = 1, username: str = "alice") -> None:
    """An account's row, as every schema since the first has it."""
    connection.execute(
        text(
            "INSERT INTO users (id, username, username_key, password_hash, role, active, session_token, created_at)"
            " VALUES (:id, :name, :name, 'x', 'user', true, 't', CURRENT_TIMESTAMP)"
        ),
        {"id": user_id, "name": username},
    )


def raw_uuid(connection: Connection, value: uuid.UUID) -> uuid.UUID | str:
    """A UUID as a raw statement passes it: PostgreSQL's uuid, SQLite's 32 hex digits."""
    return value if connection.dialect.name == "postgresql" else value.hex

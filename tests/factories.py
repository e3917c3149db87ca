"""Quick ways to build accounts and threads for tests that need many.

Hashing a password costs a third of a second by design, so accounts made
here share one hash (of ``PASSWORD``), and ``sign_in`` puts an account in a
test client's session the way Flask-Login's ``login_user`` does.
"""

from __future__ import annotations

import functools
import uuid

from werkzeug.security import generate_password_hash

from tests.conftest import PASSWORD
from webapp.conversations import append_message, create_conversation
from webapp.extensions import db
from webapp.models import Conversation, User


@functools.cache
def password_hash() -> str:
    return generate_password_hash(PASSWORD)


def add_user(username: str, role: str = "user", *, active: bool = True) -> User:
    """An account, flushed (not committed), whose password is ``PASSWORD``."""
    user = User(
        username=username,
        username_key=username.lower(),
        password_hash=password_hash(),
        role=role,
        active=active,
    )
    db.session.add(user)
    db.session.flush()
    return user


def add_thread(user: User, title: str | None = "A thread", messages: int = 0) -> Conversation:
    conversation = create_conversation(user, title)
    for i in range(1, messages + 1):
        append_message(conversation, "user" if i % 2 else "assistant", f"message {i}")
    return conversation


def sign_in(client, login_id: str) -> None:
    """Sign ``client`` in without going through the form; ``login_id`` is
    ``User.get_id()`` (the id and the session token)."""
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True


def thread_ids(html: str) -> list[uuid.UUID]:
    """The threads in an admin table, in order."""
    import re

    return [uuid.UUID(m) for m in re.findall(r'<tr id="conv-([0-9a-f-]{36})">', html)]

"""Accounts in the data layer: names, passwords, and deleting everything a user owns."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD
from webapp.accounts import (
    create_user,
    delete_user,
    find_user,
    password_matches,
    set_password,
)
from webapp.conversations import append_message, create_conversation
from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.models import Conversation, Message, User


def test_created_user_has_a_hashed_password(ctx):
    user = create_user("Dana", PASSWORD)
    db.session.commit()
    assert user.password_hash != PASSWORD
    assert password_matches(user, PASSWORD)
    assert not password_matches(user, PASSWORD + "!")
    assert (user.role, user.is_active, user.is_admin) == ("user", True, False)


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("ab", PASSWORD, "username"),
        ("a" * 33, PASSWORD, "username"),
        ("has space", PASSWORD, "username"),
        ("<script>", PASSWORD, "username"),
        ("ünïcode", PASSWORD, "username"),
        ("fine_name", "short", "password"),
        ("fine_name", "x" * 1025, "password"),
    ],
)
def test_create_user_refuses_bad_input(ctx, username, password, field):
    with pytest.raises(InvalidInput) as error:
        create_user(username, password)
    assert error.value.field == field
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_usernames_are_unique_without_regard_to_case(ctx):
    create_user("Erin", PASSWORD)
    db.session.commit()
    with pytest.raises(InvalidInput, match="taken"):
        create_user("eRIN", PASSWORD)
    assert find_user("ERIN").username == "Erin"


def test_set_password_ends_other_sessions(ctx):
    user = create_user("frank", PASSWORD)
    db.session.commit()
    old_id = user.get_id()
    set_password(user, "another long password")
    db.session.commit()
    assert user.get_id() != old_id
    assert password_matches(user, "another long password")


def test_delete_user_removes_their_conversations_and_messages_only(ctx):
    doomed = create_user("gone", PASSWORD)
    kept = create_user("kept", PASSWORD)
    for owner in (doomed, kept):
        conversation = create_conversation(owner)
        append_message(conversation, "user", "hello")
        append_message(conversation, "assistant", "hi")
    db.session.commit()
    delete_user(doomed)
    db.session.commit()
    owners = db.session.scalars(select(Conversation.user_id)).all()
    assert owners == [kept.id]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 2

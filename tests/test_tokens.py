"""Personal API tokens: made, found by their plaintext, revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.accounts import delete_user
from webapp.errors import InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import ApiToken
from webapp.tokens import (
    LAST_USED_RESOLUTION,
    TOKEN_PREFIX,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
    user_for_token,
)


def token_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ApiToken))


def test_created_token_is_shown_once_and_stored_only_as_a_hash(ctx, user):
    token, plaintext = create_token(user, "  laptop   script ")
    db.session.commit()
    assert plaintext.startswith(TOKEN_PREFIX)
    assert token.name == "laptop script"
    assert token.token_hash == hash_token(plaintext)
    assert plaintext not in token.token_hash
    assert token.last_used_at is None


def test_each_token_is_different(ctx, user):
    plaintexts = {create_token(user, f"t{i}")[1] for i in range(5)}
    assert len(plaintexts) == 5


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name"),
        ("   ", "Give the token a name"),
        ("x" * 101, "at most 100"),
        (None, "text"),
        ("a\x00b", "NUL"),
    ],
)
def test_bad_token_name_is_refused_and_nothing_is_stored(ctx, user, name, message):
    with pytest.raises(InvalidInput, match=message) as error:
        create_token(user, name)
    assert error.value.field == "name"
    assert token_count() == 0


def test_a_100_character_name_is_accepted(ctx, user):
    token, _ = create_token(user, "x" * 100)
    assert token.name == "x" * 100


def test_user_for_token_finds_the_owner(ctx, user):
    _, plaintext = create_token(user, "cli")
    db.session.commit()
    assert user_for_token(plaintext) == user


@pytest.mark.parametrize(
    "plaintext",
    ["", "parley_", "not-a-token", TOKEN_PREFIX + "x" * 43, "Bearer parley_" + "x" * 43],
)
def test_user_for_token_refuses_unknown_tokens(ctx, user, plaintext):
    create_token(user, "cli")
    db.session.commit()
    assert user_for_token(plaintext) is None


def test_a_disabled_users_token_stops_working(ctx, user):
    _, plaintext = create_token(user, "cli")
    user.active = False
    db.session.commit()
    assert user_for_token(plaintext) is None


def test_last_used_is_recorded_at_most_once_a_minute(ctx, user):
    token, plaintext = create_token(user, "cli")
    db.session.commit()

    user_for_token(plaintext)
    db.session.commit()
    first_use = token.last_used_at
    assert first_use is not None

    # A second use within the minute writes nothing.
    user_for_token(plaintext)
    assert not db.session.dirty
    assert token.last_used_at == first_use

    # A use after the minute records the new time.
    token.last_used_at = first_use - LAST_USED_RESOLUTION - timedelta(seconds=1)
    db.session.commit()
    user_for_token(plaintext)
    db.session.commit()
    assert token.last_used_at > first_use


def test_list_tokens_shows_only_the_users_own_newest_first(ctx, user, other_user):
    first, _ = create_token(user, "first")
    second, _ = create_token(user, "second")
    create_token(other_user, "theirs")
    db.session.commit()
    assert list_tokens(user) == [second, first]


def test_revoked_token_stops_working(ctx, user):
    token, plaintext = create_token(user, "cli")
    db.session.commit()
    revoke_token(user, token.id)
    db.session.commit()
    assert user_for_token(plaintext) is None
    assert list_tokens(user) == []


def test_revoking_another_users_token_is_not_found_and_keeps_it(ctx, user, other_user):
    token, plaintext = create_token(other_user, "theirs")
    db.session.commit()
    with pytest.raises(NotFound):
        revoke_token(user, token.id)
    assert user_for_token(plaintext) == other_user


def test_deleting_the_user_deletes_their_tokens(ctx, user):
    create_token(user, "cli")
    db.session.commit()
    delete_user(user)
    db.session.commit()
    assert token_count() == 0

"""Personal API tokens: made on the settings page, sent as ``Bearer`` tokens.

A token is ``parley_`` followed by 43 random URL-safe characters (256 bits).
Only its SHA-256 digest is stored: a fast hash is enough for a random secret
of that size (there is nothing to guess), and it lets a request find its
token with one indexed lookup. The prefix makes a leaked token easy to
recognise (secret scanners, logs) and lets a malformed one be refused without
touching the database.

Like the rest of the data layer, these functions leave the commit to the
caller.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Select, bindparam, select

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import TOKEN_NAME_MAX, ApiToken, User, utcnow
from webapp.text import clean_line

TOKEN_PREFIX = "parley_"
_TOKEN_BYTES = 32
_TOKEN_LENGTH = len(TOKEN_PREFIX) + 43  # 32 bytes in unpadded URL-safe base64
# How stale last_used_at may get: recording every use would turn every API
# read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def clean_token_name(name: str) -> str:
    """A token's name is 1–100 characters on one line, trimmed."""
    return clean_line(
        name, "name", maximum=TOKEN_NAME_MAX, empty="Give the token a name, so you can tell it apart later."
    )


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Make a token for ``user``; the plaintext is returned here and never again."""
    name = clean_token_name(name)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plaintext), created_at=utcnow())
    db.session.add(token)
    db.session.flush()
    return token, plaintext


def list_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(db.session.scalars(_tokens_of_user(), {"user_id": user.id}))


@functools.cache
def _tokens_of_user() -> Select:
    """``list_tokens``'s query, built once (the settings page runs it; building
    it cost as much as running it), the user bound per call."""
    return (
        select(ApiToken)
        .where(ApiToken.user_id == bindparam("user_id"))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )


def revoke_token(user: User, token_id: int) -> None:
    """Delete one of the user's tokens; another user's is as missing as none."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        raise NotFound("That token does not exist.")
    db.session.delete(token)
    db.session.flush()


def user_for_token(plaintext: str) -> User | None:
    """The active user a token belongs to, or None for a wrong or revoked one.

    The lookup compares hashes, not plaintexts, so how long the index search
    takes tells an attacker nothing about any stored token. A first use within a minute sets
    ``last_used_at``, which the caller commits.
    """
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) != _TOKEN_LENGTH:
        return None
    row = db.session.execute(_token_lookup(), {"token_hash": hash_token(plaintext)}).first()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return user


@functools.cache
def _token_lookup() -> Select:
    """``user_for_token``'s query, built once (every API request runs it),
    its hash bound per call."""
    return (
        select(ApiToken, User)
        .join(ApiToken.user)
        .where(ApiToken.token_hash == bindparam("token_hash"), User.active.is_(True))
    )

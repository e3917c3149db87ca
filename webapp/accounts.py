"""Creating, checking and removing user accounts."""

from __future__ import annotations

import functools
import re

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.errors import InvalidInput
from webapp.extensions import db
from webapp.models import ROLES, USERNAME_MAX, Conversation, User, new_session_token, utcnow

USERNAME_MIN = 3
PASSWORD_MIN = 10
# Long enough for any passphrase; short enough that hashing stays cheap.
PASSWORD_MAX = 1024
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


def hash_password(password: str) -> str:
    """The stored form of a password: scrypt, unless the app's
    ``PASSWORD_HASH_METHOD`` names a cheaper one (the tests' accounts)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        raise InvalidInput("username", f"A username has {USERNAME_MIN} to {USERNAME_MAX} characters.")
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput("username", "A username may use only letters, digits, dots, dashes and underscores.")
    return username


def check_password(password: str) -> str:
    if len(password or "") < PASSWORD_MIN:
        raise InvalidInput("password", f"A password needs at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput("password", f"A password can be at most {PASSWORD_MAX} characters.")
    return password


def find_user(username: str) -> User | None:
    """The account with this username, whatever its case."""
    return db.session.scalar(select(User).where(User.username_key == username.strip().lower()))


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def create_user(username: str, password: str, role: str = "user") -> User:
    username = check_username(username)
    check_password(password)
    if role not in ROLES:
        raise InvalidInput("role", f"The role must be one of {', '.join(ROLES)}.")
    if find_user(username) is not None:
        raise InvalidInput("username", "That username is taken; choose another.")
    user = User(
        username=username,
        username_key=username.lower(),
        password_hash=hash_password(password),
        role=role,
        active=True,
    )
    try:
        # A savepoint: losing a race for the name must not undo the caller's work.
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise InvalidInput("username", "That username is taken; choose another.") from None
    return user


def registration_open(setting: str) -> bool:
    """Whether ``/register`` takes new accounts: when the site's setting
    (``PARLEY_REGISTRATION``) is ``open``, and always for the first account,
    so that a new site can get its admin."""
    return setting == "open" or count_users() == 0


def register_user(username: str, password: str) -> User:
    """A new account from the sign-up form: the first one is the admin.
    Registering signs the person in, so it counts as their first sign-in."""
    user = create_user(username, password, role="admin" if count_users() == 0 else "user")
    user.last_login_at = utcnow()
    return user


def end_sessions(user: User) -> None:
    """Sign the account out everywhere: every session cookie and "remember
    me" cookie carries the account's session token (``User.get_id``), so
    replacing it ends them all on their next request. API tokens are not
    sessions and keep working until revoked."""
    user.session_token = new_session_token()


def set_password(user: User, password: str) -> None:
    """Change the password and end every session the account has."""
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(user)


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


@functools.cache
def _unused_hash(method: str) -> str:
    return generate_password_hash("no account has this password", method=method)


def authenticate(username: str, password: str) -> User | None:
    """The account these credentials open, or None.

    A missing account costs one password check too, so the time taken does
    not tell whether a username exists. A disabled account is returned: the
    caller tells its owner why they cannot sign in.
    """
    user = find_user(username) if len(username) <= USERNAME_MAX else None
    if user is None or len(password) > PASSWORD_MAX:
        check_password_hash(_unused_hash(current_app.config["PASSWORD_HASH_METHOD"]), password[:PASSWORD_MAX])
        return None
    if not password_matches(user, password):
        return None
    if user.active:
        user.last_login_at = utcnow()
    return user


def delete_user(user: User) -> None:
    """Delete the account: its threads first (the database removes their
    messages), then the account, whose row is then the last a reply being
    written may wait on (see webapp/page_versions.py)."""
    db.session.execute(delete(Conversation).where(Conversation.user_id == user.id))
    db.session.delete(user)
    db.session.flush()

"""Who is signed in, where they may be sent, and the headers on every response."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, redirect, request, url_for
from flask_login import LoginManager
from sqlalchemy import bindparam, select

from webapp.database import read_row
from webapp.extensions import db
from webapp.htmx import is_htmx
from webapp.models import User

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    Browsers read ``/\\host`` and ``\\\\host`` as ``//host``, and drop tabs and
    newlines inside URLs, so all of those are refused along with any URL that
    names a scheme or a host.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the id is ``"<id>:<session token>"``.

    A token that no longer matches (password changed, account disabled) ends
    the session and any "remember me" cookie made with it.
    """
    number, token = _session_id(user_id)
    user = db.session.get(User, number) if number else None
    return user if _still_signed_in(user, token) else None


#: The signed-in account as a kept page needs it (webapp/page_cache.py):
#: what ``load_user`` checks, and the page version, in one read of the table
#: through the driver (``database.read_row``: no ORM on the way).
_users = User.__table__.c
_ACCOUNT = select(_users.id, _users.active, _users.session_token, _users.page_version).where(
    _users.id == bindparam("id")
)


class SignedInAccount(NamedTuple):
    id: int
    active: bool
    session_token: str
    page_version: int


def signed_in_account(user_id: str | None) -> SignedInAccount | None:
    """The account of a session id, as ``load_user`` would accept it, read
    as a row rather than a ``User`` (for a page served without the ORM)."""
    number, token = _session_id(user_id or "")
    row = read_row(db.engine, _ACCOUNT, {"id": number}) if number else None
    account = SignedInAccount._make(row) if row is not None else None
    return account if _still_signed_in(account, token) else None


def _session_id(user_id: str) -> tuple[int | None, str]:
    number, _, token = user_id.partition(":")
    if not number.isdigit() or not token:
        return None, ""
    return int(number), token


def _still_signed_in(account: User | SignedInAccount | None, token: str) -> bool:
    return account is not None and account.active and hmac.compare_digest(account.session_token, token)


def unauthorized() -> Response:
    """Anonymous request to a signed-in page: off to the sign-in form."""
    next_path = request.full_path if request.query_string else request.path
    login_url = url_for("auth.login", next=next_path)
    if is_htmx():
        return Response("Sign in to continue.", 401, {"HX-Redirect": login_url})
    return redirect(login_url)


def set_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # A page may ask for less (a shared link's page sends no referrer at all).
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["PARLEY_SECURE_COOKIES"]:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def init_app(app: Flask, login_manager: LoginManager) -> None:
    secure = app.config["PARLEY_SECURE_COOKIES"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
    )
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)
    app.after_request(set_security_headers)

"""Who is calling the API: a bearer token, else the signed-in session.

Every view under /api needs one of the two unless it is marked ``@public``,
so a new route cannot forget to check. A failure is a 401 in JSON, never
Flask-Login's redirect to the login page: a script cannot follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, g, request
from flask_login import current_user

from webapp.api.errors import ApiError
from webapp.extensions import csrf, db, limiter
from webapp.models import User
from webapp.tokens import user_for_token

F = TypeVar("F", bound=Callable[..., object])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REALM = 'Bearer realm="parley"'


def public(view: F) -> F:
    """Open a view to anonymous callers."""
    view.api_public = True  # type: ignore[attr-defined]
    return view


def authenticate() -> None:
    """``before_request`` for the API blueprint: set ``g.api_user`` or refuse."""
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "api_public", False):
        return
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        # A script's token wins over any cookie that came along. It needs no
        # CSRF check: a browser never adds this header by itself.
        g.api_user = _user_from_bearer(authorization)
        # user_for_token recorded the token's first use this minute.
        g.token_use_recorded = bool(db.session.dirty)
        return
    if not current_user.is_authenticated or not current_user.is_active:
        raise ApiError(
            401,
            "unauthorized",
            "Sign in, or send a personal API token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": _REALM},
        )
    # The browser sends the cookie on its own, even for a request another
    # site makes it send; a write must also carry the page's CSRF token. The
    # blueprint is exempt from the global check, which cannot tell the cases apart.
    if request.method not in SAFE_METHODS and current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()
    g.api_user = current_user._get_current_object()


def _user_from_bearer(authorization: str) -> User:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise ApiError(
            401,
            "invalid_token",
            "Send the token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": _REALM},
        )
    user = user_for_token(credentials.strip())
    if user is None:
        raise ApiError(
            401,
            "invalid_token",
            "That token is not valid: it may have been revoked, or its account disabled.",
            headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
        )
    return user


def commit_token_use(response: Response) -> Response:
    """``after_request`` for the API blueprint. ``user_for_token`` records a
    token's first use each minute in the request's session: a write commits
    it with its own change; a read, which writes nothing else, commits it
    here once it has succeeded."""
    if request.method in SAFE_METHODS and response.status_code < 400 and g.get("token_use_recorded"):
        db.session.commit()
    return response


def current_api_user() -> User:
    """The caller that ``authenticate`` let in."""
    return g.api_user


def _rate_limit_key() -> str:
    # Per account, not per address: people behind one NAT do not share a
    # budget, and a person's several tokens and session do.
    return f"user:{current_api_user().id}"


# One budget for all writes (shared scope), read from the config on each
# request so that tests and deployments can change it. The check runs inside
# the view, after ``authenticate`` has set the user the key needs.
write_limit = limiter.shared_limit(
    lambda: current_app.config["API_WRITE_RATE_LIMIT"],
    scope="api-write",
    key_func=_rate_limit_key,
)

"""Error pages that match the site and say what to do next, and nothing more.

This is where the core's errors get their HTTP status. Routing errors (an
unknown URL, a wrong method) belong to no blueprint in Flask; a blueprint
that answers errors its own way (the JSON API) claims its URL prefix with
``answer_errors_under``, and its own handlers answer them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.database import RETRY_AFTER_SECONDS, is_unavailable
from webapp.errors import Conflict, InvalidInput, NotFound, ParleyError
from webapp.extensions import db, limiter
from webapp.htmx import is_htmx

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "This page is for admins only."),
    404: ("Not found", "There is nothing here. It may have been deleted, or the address is mistyped."),
    405: ("Not allowed", "That action cannot be done this way."),
    409: ("Not done", "That would leave the site in a state it must not be in."),
    413: ("Too large", "What you sent is too large. Shorten it and try again."),
    422: ("Cannot be saved", "Something in what you sent is not valid."),
    429: ("Slow down", "Too many attempts."),
    500: ("Something went wrong", "The server hit a problem. Nothing you did caused it; try again in a moment."),
    503: (
        "Not available just now",
        "The database is not answering. Nothing you did caused it; try again in a few seconds.",
    ),
}

STATUS_OF = {InvalidInput: 422, NotFound: 404, Conflict: 409}


def status_of(error: ParleyError) -> int:
    """The HTTP status that answers a core error."""
    return next((status for kind, status in STATUS_OF.items() if isinstance(error, kind)), 400)


def render_error(status: int, message: str | None = None, title: str | None = None):
    default_title, default = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    template = "errors/_notice.html" if is_htmx() else "errors/error.html"
    try:
        return render_template(
            template, status=status, title=title or default_title, message=message or default
        ), status
    except (DBAPIError, PoolTimeout) as error:
        # The page asks the database who is signed in: with no database,
        # the answer is that it is not answering.
        return handle_database_error(error)


def retry_after_seconds() -> int | None:
    """Seconds until the rate limit that was just hit lets requests through."""
    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, math.ceil(limit.reset_at - time.time()))


def answer_errors_under(app: Flask, prefix: str, handler: Callable[[HTTPException], object]) -> None:
    """Send HTTP errors for URLs under ``prefix`` that reached no view of its
    blueprint (routing's 404 and 405) to ``handler``."""
    app.extensions.setdefault("parley.error_owners", []).append((prefix, handler))


def handle_http_error(error: HTTPException):
    for prefix, handler in current_app.extensions.get("parley.error_owners", ()):
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return handler(error)
    status = error.code or 500
    if status == 429:
        seconds = retry_after_seconds()
        wait = f"Try again in {seconds} second{'s' if seconds != 1 else ''}." if seconds else "Try again later."
        return render_error(429, f"Too many attempts. {wait}")
    return render_error(status)


def handle_csrf_error(error: CSRFError):
    return render_error(
        400,
        "This form was open too long or came from another site, so it was not sent. Reload the page and try again.",
    )


def handle_parley_error(error: ParleyError):
    return render_error(status_of(error), error.message)


def handle_server_error(error: InternalServerError):
    if error.original_exception is not None and is_unavailable(error.original_exception):
        # The database went away while another error was being answered.
        return handle_database_error(error.original_exception)
    # Whatever the failed request wrote is abandoned, never half-committed.
    db.session.rollback()
    return render_error(500)


def abandon_transaction() -> None:
    """Roll back what the request wrote; when even that fails (the
    connection is gone), let the session go."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.close()


def handle_database_error(error: Exception):
    """The database cannot answer now (``is_unavailable``): 503 with
    ``Retry-After``, on a page that needs no database. Any other database
    error is a bug, answered (and logged) as one."""
    if not is_unavailable(error):
        raise error
    abandon_transaction()
    current_app.logger.warning("The database did not answer %s %s: %s", request.method, request.path, error)
    # Rendered without the context processors: Flask-Login's would ask the
    # database who is signed in. The page leaves out the account menu.
    title, message = MESSAGES[503]
    template = "errors/_notice.html" if is_htmx() else "errors/unavailable.html"
    page = current_app.jinja_env.get_template(template).render(status=503, title=title, message=message)
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(ParleyError, handle_parley_error)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeout, handle_database_error)

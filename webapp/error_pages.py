"""Error pages that match the site and say what to do next, and nothing more."""

from __future__ import annotations

import math
import time

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.api import errors as api_errors
from webapp.api.errors import is_api_request
from webapp.errors import ParleyError
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
}


def render_error(status: int, message: str | None = None):
    title, default = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    template = "errors/_notice.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, title=title, message=message or default), status


def _retry_after_seconds() -> int | None:
    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, math.ceil(limit.reset_at - time.time()))


def handle_http_error(error: HTTPException):
    if is_api_request():  # an /api URL that matched no route: still JSON
        return api_errors.handle_http_error(error)
    status = error.code or 500
    if status == 429:
        seconds = _retry_after_seconds()
        wait = f"Try again in {seconds} second{'s' if seconds != 1 else ''}." if seconds else "Try again later."
        return render_error(429, f"Too many attempts. {wait}")
    return render_error(status)


def handle_csrf_error(error: CSRFError):
    return render_error(
        400,
        "This form was open too long or came from another site, so it was not sent. "
        "Reload the page and try again.",
    )


def handle_parley_error(error: ParleyError):
    return render_error(error.status, error.message)


def handle_server_error(error: InternalServerError):
    # Whatever the failed request wrote is abandoned, never half-committed.
    db.session.rollback()
    return render_error(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(ParleyError, handle_parley_error)
    app.register_error_handler(InternalServerError, handle_server_error)

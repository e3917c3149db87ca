"""Every error under /api is ``{"error": {"code", "message"}}``, never a page.

Four sources feed it: the data layer's ``ParleyError`` (422 invalid input,
404 not found), ``ApiError`` for what only the API refuses (credentials,
request bodies), the ``HTTPException`` that Flask, Werkzeug and the
extensions raise (405, 413, 429, CSRF, and 500 for a bug), and a database
that cannot answer now (503).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, default_exceptions

from webapp.database import RETRY_AFTER_SECONDS, is_unavailable
from webapp.error_pages import (
    abandon_transaction,
    answer_errors_under,
    retry_after_seconds,
    status_of,
)
from webapp.errors import InvalidInput, ParleyError

# The ``code`` of an error answered with each status.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    409: "conflict",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """A refusal that only the API makes: bad credentials, an unreadable body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        # Lets a client put the message next to the input it is about.
        error["field"] = field
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, headers=error.headers)


def handle_parley_error(error: ParleyError) -> Response:
    field = error.field if isinstance(error, InvalidInput) else None
    return error_response(
        status_of(error), ERROR_CODES.get(status_of(error), "bad_request"), error.message, field=field
    )


def handle_csrf_error(error: CSRFError) -> Response:
    # 403, not Flask-WTF's 400: the request is well formed, but a cookie
    # alone may not write; the page's CSRF token (or a bearer token) must.
    return error_response(
        403,
        "csrf_failed",
        f"Send the page's CSRF token in the X-CSRFToken header with cookie-authenticated writes ({error.description})",
    )


def handle_http_error(error: HTTPException) -> Response | HTTPException:
    status = error.code or 500
    if status < 400:  # a redirect raised as an exception: not an error
        return error
    if status >= 500:
        # Say nothing about the bug itself; it is in the server's log.
        return error_response(status, "server_error", "Something went wrong on our side; try again later.")
    message = error.description or error.name
    headers: dict[str, str] = {}
    if status == 405:
        headers["Allow"] = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
    elif status == 415:
        status = 400  # the contract answers a body of the wrong type with 400
    elif status == 429:
        wait = retry_after_seconds() or 60
        headers["Retry-After"] = str(wait)
        message = f"Too many writes (the limit is {error.description}); try again in {wait} seconds."
    return error_response(status, ERROR_CODES.get(status, "error"), message, headers=headers)


def handle_database_error(error: Exception) -> Response:
    """503 with ``Retry-After`` when the database cannot answer now; any
    other database error is a bug (500, logged)."""
    if not is_unavailable(error):
        raise error
    abandon_transaction()
    current_app.logger.warning("The database did not answer %s %s: %s", request.method, request.path, error)
    return error_response(
        503,
        ERROR_CODES[503],
        f"The database is not answering; try again in {RETRY_AFTER_SECONDS} seconds.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def register_error_handlers(bp: Blueprint) -> None:
    bp.register_error_handler(ApiError, handle_api_error)
    bp.register_error_handler(ParleyError, handle_parley_error)
    bp.register_error_handler(CSRFError, handle_csrf_error)
    bp.register_error_handler(DBAPIError, handle_database_error)
    bp.register_error_handler(PoolTimeout, handle_database_error)
    # By status code as well as by class: Flask prefers any handler for the
    # code, even an app-wide HTML one, over a blueprint's class handler.
    for status in default_exceptions:
        bp.register_error_handler(status, handle_http_error)
    bp.register_error_handler(HTTPException, handle_http_error)
    # 404 and 405 for URLs under the prefix that no rule matched never reach
    # a blueprint in Flask: claim them from the app's handler.
    bp.record_once(lambda state: answer_errors_under(state.app, state.url_prefix, handle_http_error))

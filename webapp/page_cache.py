"""Pages kept in memory while nothing they show has changed.

A signed-in page (the chat page, a thread, the sidebar, the settings) is
made of the account's own rows. The database raises the account's page
version with every write to them (``webapp.page_versions``): so a page
rendered once is served again, as it was, to the same session for as long
as the version stays. A kept page is served before the blueprints' hooks
and the view, on one read of the account's row: the checks of Flask-Login's
loader (``security.signed_in_account``), and the version. A view is kept by
the ``kept`` decorator; a test holds the kept views' blueprints to the one
hook they have (the sign-in that the read above stands in for).

A kept page is keyed by everything else it is made of: the URL and the
htmx headers the views read, the session's CSRF secret (each session's forms
carry their own token), the reader's time zone, and the minute, since
times such as "5 min" ago and the assistant's list of models move on by
themselves. Each page a browser opens has a name of its own
(``templating.page_id``): a kept page holds a stand-in, replaced by a new
name each time it is served.

Not kept: a page showing a reply being written (the reply moves on without
a write per word), a page read by a session holding a flash message or
another one-off, a page whose rendering changed the session, and any answer
but a 200. Each process keeps its own pages, up to ``PARLEY_PAGE_CACHE_MB``
(32 by default; 0 keeps none), the least recently served dropped first.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, make_response, request, session

from webapp.lru import LRU
from webapp.security import signed_in_account
from webapp.templating import page_id

#: What a signed-in session holds between requests; a session holding
#: anything else (a flash message, a token shown once) is not served kept
#: pages, which would not show it or would not take it out.
_PLAIN_SESSION = frozenset({"_user_id", "_fresh", "_id", "csrf_token"})
#: What of the request a kept page is made of (WSGI names: the address as
#: asked for, and the htmx headers the kept views read).
_REQUEST = (
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_HX_REQUEST",
    "HTTP_HX_CURRENT_URL",
)
#: The page name a kept page is rendered with, replaced when it is served.
_STAND_IN = secrets.token_urlsafe(12)


@dataclass(frozen=True)
class _Page:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def response(self) -> Response:
        return Response(_named(self.body), self.status, self.headers)

    def size(self) -> int:
        return len(self.body)


def init_app(app: Flask) -> None:
    app.extensions["page_cache"] = LRU(app.config["PARLEY_PAGE_CACHE_MB"] * 1024 * 1024, weigh=_Page.size)
    # After the app's other hooks, before the blueprints' (which load the
    # signed-in account through the ORM, as a kept page need not).
    app.before_request(serve_kept)


def leave_out() -> None:
    """Keep the page being rendered out of the cache (it shows something
    that changes without a write: a reply being written)."""
    g.page_not_kept = True


def kept(view: Callable[..., Any]) -> Callable[..., Response]:
    """Serve the view's page from memory while the page would be the same
    (``serve_kept``); else render it, and keep it if it may be kept."""

    @functools.wraps(view)
    def render(*args: Any, **kwargs: Any) -> Response:
        key = g.pop("page_key", None)
        if key is None:
            return make_response(view(*args, **kwargs))
        name = page_id()  # the page's own name: the one it is served with
        g.page_id = _STAND_IN
        try:
            response = make_response(view(*args, **kwargs))
        finally:
            g.page_id = name  # an error page, too, is served with its own
        if response.status_code != 200 or response.is_streamed or g.get("page_not_kept") or session.modified:
            if not response.is_streamed:
                response.set_data(_named(response.get_data()))
            return response
        headers = [(header, value) for header, value in response.headers.items() if header != "Content-Length"]
        page = _Page(response.status_code, headers, response.get_data())
        current_app.extensions["page_cache"].put(key, page)
        return page.response()

    render.kept = True  # type: ignore[attr-defined]
    return render


def serve_kept() -> Response | None:
    """``before_request``: the kept page this request asks for, if there is
    one; else the view renders it, under the key worked out here."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "kept", False) or not current_app.config["PARLEY_PAGE_CACHE_MB"]:
        return None
    key = _key()
    if key is None:
        return None
    page = current_app.extensions["page_cache"].get(key)
    if page is None:
        g.page_key = key
        return None
    return page.response()


def _key() -> tuple | None:
    """Everything a kept page is made of, or None for a request that is not
    to be served a kept page: not a GET, not signed in (as Flask-Login's
    loader would have it), or holding a one-off in its session."""
    if request.method != "GET" or not _PLAIN_SESSION.issuperset(session):
        return None
    csrf_secret = session.get("csrf_token")
    account = signed_in_account(session.get("_user_id")) if csrf_secret else None
    if account is None:
        return None
    environ = request.environ
    return (
        *(environ.get(name) for name in _REQUEST),
        request.cookies.get("tz"),
        session["_user_id"],  # the account and its session token
        account.page_version,
        csrf_secret,
        int(time.time() // 60),
    )


def _named(body: bytes) -> bytes:
    """A page rendered with the stand-in name, with the name it is served with."""
    return body.replace(_STAND_IN.encode(), page_id().encode())

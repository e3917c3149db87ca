"""The JSON API under /api: conversations and messages for scripts and agents."""

from flask import Blueprint

from webapp.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
# Bearer-token requests need no CSRF token and cookie ones do; the global
# check cannot tell them apart, so webapp.api.auth applies it itself.
csrf.exempt(bp)

from webapp.api import routes  # noqa: E402,F401  (registers the views on bp)

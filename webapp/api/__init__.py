"""The JSON API under /api: conversations and messages for scripts and agents.

``routes`` attaches the views, the auth hook and the error handlers to
``bp``; the app factory imports it before registering the blueprint.
"""

from flask import Blueprint

from webapp.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
# Bearer-token requests need no CSRF token and cookie ones do; the global
# check cannot tell them apart, so webapp.api.auth applies it itself.
csrf.exempt(bp)

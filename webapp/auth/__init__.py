"""Signing in and out, creating an account, and the account's settings."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import routes  # noqa: E402,F401  (registers the views on bp)

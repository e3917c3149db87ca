"""The chat pages: the sidebar of threads, the message pane and the composer."""

from flask import Blueprint

bp = Blueprint("chat", __name__)

from webapp.chat import organising, routes  # noqa: E402,F401  (registers the views on bp)

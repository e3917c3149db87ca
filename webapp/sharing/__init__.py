"""Sharing a thread by link: making and revoking the link, the read-only
page anyone with it can open, and forking that page into a thread of one's own."""

from flask import Blueprint, abort

from webapp.shares import sharing_enabled

bp = Blueprint("sharing", __name__)


@bp.before_request
def require_sharing():
    """With ``PARLEY_SHARING=off`` every share route is missing, links included."""
    if not sharing_enabled():
        abort(404)


from webapp.sharing import routes  # noqa: E402,F401  (registers the views on bp)

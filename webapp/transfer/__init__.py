"""Bringing history in and taking it out: the account's export, the chosen
threads' export, and the import page with its jobs' progress and reports."""

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("transfer", __name__)


@bp.before_request
@login_required
def require_login():
    """Every page here is for a signed-in user."""


from webapp.transfer import routes  # noqa: E402,F401  (registers the views on bp)

"""The admin area: every user's threads, accounts, and the audit log."""

from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def require_admin():
    """One gate for every admin route, so a new route cannot forget it."""
    if not current_user.is_admin:
        abort(403)


from webapp.admin import routes  # noqa: E402,F401  (registers the views on bp)

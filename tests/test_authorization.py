"""Who may reach what: every route in the app's URL map × anonymous, the
owner of a thread, another user and an admin.

The routes are read from ``app.url_map``, so a route added later is in the
matrix without anyone listing it here; unless it is in PUBLIC, it is
expected to need a signed-in user. Where a request is refused, nothing may
have changed.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.factories import HTMX, add_thread, sign_in
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Message, User

ROLES = ("anonymous", "owner", "other user", "admin")

# Reachable without signing in.
PUBLIC = {"auth.login", "auth.register", "auth.logout", "health.healthz", "static"}

# Enough to get past form validation where it is cheap to; any other POST
# is sent empty, which is fine: a refusal is a 422, not a 401, 403 or 404.
FORM_DATA = {
    "chat.create": {"content": "hello"},
    "chat.post_message": {"content": "hello"},
    "chat.rename": {"title": "renamed"},
    "admin.rename": {"title": "renamed"},
    "admin.set_role": {"role": "admin"},
    "admin.set_active": {"active": "0"},
}

ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def app_routes() -> list[tuple[str, str, str]]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "matrix", "TESTING": True})
    return sorted(
        (rule.rule, method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


ROUTES = app_routes()


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def expected(endpoint: str, path: str, role: str) -> str:
    if endpoint in PUBLIC:
        return "open"
    if role == "anonymous":
        return "sign in"
    if path.startswith("/admin"):
        return "open" if role == "admin" else "forbidden"
    if path.startswith("/c/<"):
        # Another user's thread is exactly as missing as none, for admins too:
        # they see threads only through /admin.
        return "open" if role == "owner" else "missing"
    return "open"


def url_for_rule(path: str, ids: SimpleNamespace) -> tuple[str, bool]:
    """The rule with its arguments filled in, and whether some argument is
    one this test cannot make real (so a 404 there proves nothing)."""
    guessed = False

    def value(match: re.Match) -> str:
        nonlocal guessed
        converter, name = match.groups()
        if name == "conversation_id":
            return str(ids.thread)
        if name == "user_id":
            return str(ids.target)
        if name == "filename":
            return "css/parley.css"
        guessed = True
        return "1" if converter == "int" else "x"

    return ARGUMENT.sub(value, path), guessed


@pytest.fixture
def world(app, user, other_user, admin_user, make_user):
    """alice (the owner) has a thread with one message; bob is another user;
    root is the admin; carol is the account the /admin/users routes act on."""
    carol = make_user("carol")
    with app.app_context():
        thread = add_thread(db.session.get(User, user.id), "Alice's", messages=1)
        db.session.commit()
        return SimpleNamespace(
            thread=thread.id,
            target=carol.id,
            accounts={"owner": user, "other user": other_user, "admin": admin_user},
        )


def snapshot(app) -> tuple:
    with app.app_context():
        return (
            db.session.execute(select(Conversation.id, Conversation.title, Conversation.message_count)).all(),
            db.session.scalar(select(func.count()).select_from(Message)),
            db.session.execute(select(User.id, User.role, User.active, User.session_token).order_by(User.id)).all(),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
        )


# The API's own tests cover who may do what there; here it is checked only
# that an anonymous caller gets nothing from it.
CASES = [
    pytest.param(path, method, endpoint, role, id=f"{method} {path} [{role}]")
    for path, method, endpoint in ROUTES
    for role in ROLES
    if not (is_api(path) and role != "anonymous")
]


@pytest.mark.parametrize(("path", "method", "endpoint", "role"), CASES)
def test_route_access(app, client, world, path, method, endpoint, role):
    if role != "anonymous":
        sign_in(client, world.accounts[role])
    url, guessed = url_for_rule(path, world)
    before = snapshot(app)
    response = client.open(url, method=method, data=FORM_DATA.get(endpoint, {}))
    status = response.status_code
    response.close()

    if is_api(path):
        # Anonymous: only the published API description is open.
        assert path.endswith("openapi.json") or not 200 <= status < 300, status
        return
    outcome = expected(endpoint, path, role)
    if outcome == "sign in":
        assert status == 302, status
        assert response.headers["Location"].startswith("/login?next=")
        htmx = client.open(url, method=method, data=FORM_DATA.get(endpoint, {}), headers=HTMX)
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login?next=")
    elif outcome == "forbidden":
        assert status == 403, status
    elif outcome == "missing":
        assert status == 404, status
    else:
        assert status < 500, status
        assert status not in (401, 403), status
        assert status != 404 or guessed, status
        if status in (301, 302, 303):  # not the sign-in gate
            assert not response.headers["Location"].startswith("/login?next="), response.headers["Location"]
    if outcome != "open":
        assert snapshot(app) == before, "a refused request changed something"


def test_the_matrix_covers_every_admin_route():
    admin = {endpoint for path, _, endpoint in ROUTES if path.startswith("/admin")}
    assert admin >= {
        "admin.index", "admin.conversations", "admin.conversation", "admin.messages", "admin.rename",
        "admin.delete", "admin.users", "admin.set_role", "admin.set_active", "admin.confirm_delete_user",
        "admin.delete_user", "admin.audit",
    }

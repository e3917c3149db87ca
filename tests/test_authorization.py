"""Who may reach what: every route in the app's URL map × anonymous, the
owner of a thread, another user and an admin.

The routes are read from ``app.url_map``, so a route added later is in the
matrix without anyone listing it here; unless it is in PUBLIC, it is
expected to need a signed-in user. Where a request is refused, nothing may
have changed. Where it is let through, it must do its work: OPEN says what
each route answers then (the page, or where it redirects), and a route
missing from OPEN fails until it is added.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.factories import HTMX, PASSWORD, add_thread, sign_in
from tests.html import parse
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, ImportJob, Message, Share, User
from webapp.shares import share_thread
from webapp.tokens import create_token

ROLES = ("anonymous", "owner", "other user", "admin")

# Reachable without signing in (a shared link's page is for anyone who has it).
PUBLIC = {"auth.login", "auth.register", "auth.logout", "health.healthz", "static", "sharing.shared"}

# What a form needs to pass validation, so an open route does its work;
# "{…}" is filled in from the world.
NEW_PASSWORD = "another long password"
FORM_DATA = {
    "auth.login": {"username": "alice", "password": PASSWORD},
    "auth.register": {"username": "newcomer", "password": PASSWORD, "password_confirm": PASSWORD},
    "auth.change_password": {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    "auth.create_api_token": {"name": "matrix"},
    "chat.create": {"content": "hello"},
    "chat.post_message": {"content": "hello"},
    "chat.rename": {"title": "renamed"},
    "chat.settings": {"model": "llama3", "system_prompt": ""},
    "chat.edit": {"content": "edited"},
    "chat.branch": {"message": "{reply}"},
    "chat.pin": {"pinned": "1"},
    "chat.archive": {"archived": "1"},
    "chat.bulk": {"action": "pin", "ids": "{thread}"},
    "admin.rename": {"title": "renamed"},
    "admin.bulk": {"action": "delete", "ids": "{thread}"},
    "admin.set_role": {"role": "admin"},
    "admin.set_active": {"active": "0"},
}

ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
THREAD_URL = re.compile(r"/c/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    if path.startswith(("/c/<", "/import/<")):
        # Another user's thread (or import) is exactly as missing as none,
        # for admins too: they see threads only through /admin.
        return "open" if role == "owner" else "missing"
    return "open"


def url_for_rule(path: str, world: SimpleNamespace, role: str) -> str:
    """The rule with its arguments filled in with things that exist."""

    def value(match: re.Match) -> str:
        name = match.group(2)
        values = {
            "conversation_id": world.thread,
            "message_id": world.reply,
            "user_id": world.target,
            "token_id": world.tokens.get(role, world.tokens["owner"]),
            "token": world.link,
            "share_id": world.share,
            "job_id": world.job,
            "filename": "css/parley.css",
        }
        assert name in values, f"the matrix cannot fill in <{name}> of {path}: give url_for_rule a real one"
        return str(values[name])

    return ARGUMENT.sub(value, path)


def form_data(endpoint: str, world: SimpleNamespace) -> dict[str, str]:
    return {name: value.format(**vars(world)) for name, value in FORM_DATA.get(endpoint, {}).items()}


# --- what an open route answers ---------------------------------------------------------------
# Each check gets the response, the world and the role; text in "{…}" is
# filled in from the world.


def page(heading: str):
    """A page whose main heading is ``heading``."""

    def check(response, world, role):
        assert response.status_code == 200, response.status_code
        assert parse(response.text).one("heading", level=1).text == heading.format(**vars(world))

    return check


def redirect(to: str | re.Pattern[str]):
    """A redirect to ``to``."""

    def check(response, world, role):
        assert response.status_code in (302, 303), response.status_code
        location = response.headers["Location"]
        if isinstance(to, re.Pattern):
            assert to.fullmatch(location), location
        else:
            assert location == to.format(**vars(world)), location

    return check


def anonymous_or_not(anonymous, signed_in):
    return lambda response, world, role: (anonymous if role == "anonymous" else signed_in)(response, world, role)


def text(body: str, mimetype: str = "text/plain"):
    def check(response, world, role):
        assert (response.status_code, response.mimetype) == (200, mimetype)
        assert response.text == body

    return check


def event_stream(response, world, role):
    # Not read: a thread's event stream stays open for as long as the page does.
    assert (response.status_code, response.mimetype) == (200, "text/event-stream")


def stylesheet(response, world, role):
    assert (response.status_code, response.mimetype) == (200, "text/css")


def json_export(response, world, role):
    assert (response.status_code, response.mimetype) == (200, "application/json")
    assert response.json["conversation"]["id"] == str(world.thread)


def markdown_export(response, world, role):
    assert (response.status_code, response.mimetype) == (200, "text/markdown")
    assert response.text.startswith("# Alice's\n")


def conflict(response, world, role):
    """Refused as the site's state stands (a thread not in the trash cannot be purged)."""
    assert response.status_code == 409, response.status_code
    assert parse(response.text).one("heading", level=1).text == "Not done"


def export_zip(response, world, role):
    """The signed-in user's export (an admin's of carol's account): alice's holds her thread."""
    assert (response.status_code, response.mimetype) == (200, "application/zip")
    threads = json.loads(zipfile.ZipFile(io.BytesIO(response.get_data())).read("conversations.json"))
    assert [t["conversation"]["title"] for t in threads] == (["Alice's"] if role == "owner" else [])


def refused(heading: str, status: int = 422):
    """The page says what is missing, with ``status``; nothing is done."""

    def check(response, world, role):
        assert response.status_code == status, response.status_code
        assert parse(response.text).one("heading", level=1).text == heading

    return check


SIGNED_IN_HOME = redirect("/")

OPEN = {
    ("GET", "auth.login"): anonymous_or_not(page("Sign in"), SIGNED_IN_HOME),
    ("POST", "auth.login"): redirect("/"),
    ("GET", "auth.register"): anonymous_or_not(page("Create an account"), SIGNED_IN_HOME),
    ("POST", "auth.register"): redirect("/"),
    ("POST", "auth.logout"): redirect("/login"),
    ("GET", "health.healthz"): text("ok"),
    ("GET", "static"): stylesheet,
    ("GET", "chat.index"): page("New chat"),
    ("POST", "chat.create"): redirect(THREAD_URL),
    ("GET", "chat.search"): page("Search your chats"),
    ("GET", "chat.sidebar"): page("New chat"),
    ("GET", "auth.settings"): page("Settings"),
    ("POST", "auth.change_password"): redirect("/settings"),
    ("POST", "auth.create_api_token"): redirect("/settings"),  # which shows the token once
    ("POST", "auth.revoke_api_token"): redirect("/settings"),
    ("GET", "chat.thread"): page("Alice's"),
    ("GET", "chat.messages"): page("Alice's"),
    ("GET", "chat.thread_menu"): redirect("/c/{thread}"),
    ("GET", "chat.stream"): event_stream,
    ("GET", "chat.thread_events"): event_stream,
    ("POST", "chat.post_message"): redirect("/c/{thread}"),
    ("POST", "chat.regenerate"): redirect("/c/{thread}"),
    ("POST", "chat.stop_reply"): redirect("/c/{thread}"),
    ("POST", "chat.settings"): redirect("/c/{thread}"),
    ("POST", "chat.rename"): redirect("/c/{thread}"),
    ("POST", "chat.delete"): redirect("/"),
    ("POST", "chat.pin"): redirect("/c/{thread}"),
    ("POST", "chat.archive"): redirect("/"),
    ("POST", "chat.restore"): redirect("/c/{thread}"),
    ("POST", "chat.purge"): conflict,  # the thread is not in the trash
    ("POST", "chat.bulk"): redirect("/"),
    ("GET", "chat.archive_page"): page("Archive"),
    ("GET", "chat.trash"): page("Trash"),
    ("POST", "chat.empty_trash"): redirect("/trash"),
    ("GET", "chat.edit_form"): page("Alice's"),
    ("POST", "chat.edit"): redirect("/c/{thread}"),
    ("POST", "chat.branch"): redirect("/c/{thread}"),
    ("POST", "chat.fork"): redirect(THREAD_URL),  # the copy
    ("GET", "admin.index"): page("Conversations"),
    ("GET", "admin.conversations"): page("Conversations"),
    ("GET", "admin.conversation"): page("Alice's"),
    ("GET", "admin.messages"): page("Alice's"),
    ("POST", "admin.rename"): redirect("/admin/conversations/{thread}"),
    ("POST", "admin.delete"): redirect("/admin/conversations"),
    ("POST", "admin.restore"): conflict,  # the thread is not in the trash
    ("POST", "admin.purge"): conflict,
    ("POST", "admin.bulk"): redirect("/admin/conversations"),
    ("GET", "admin.users"): page("Users"),
    ("POST", "admin.set_role"): redirect("/admin/users"),
    ("POST", "admin.set_active"): redirect("/admin/users"),
    ("GET", "admin.confirm_delete_user"): page("Delete the account carol?"),
    ("POST", "admin.delete_user"): redirect("/admin/users"),
    ("GET", "admin.audit"): page("Audit log"),
    ("POST", "sharing.share"): redirect("/c/{thread}"),
    ("POST", "sharing.stop_sharing"): redirect("/c/{thread}"),
    ("GET", "sharing.shared"): page("Alice's"),
    ("POST", "sharing.fork"): redirect(THREAD_URL),  # the visitor's copy
    ("GET", "admin.shares"): page("Shared links"),
    ("POST", "admin.revoke_share"): redirect("/admin/shares"),
    ("POST", "admin.export_user"): export_zip,
    ("GET", "transfer.export_account"): export_zip,
    ("GET", "transfer.export_chosen"): refused("Nothing chosen"),  # no ids: the import tests choose some
    ("GET", "transfer.import_page"): page("Import chats"),
    ("POST", "transfer.start_import"): refused("Import chats"),  # no file: the import tests send some
    ("GET", "transfer.import_job"): page("Import of conversations.json"),
}
# Routes that share an endpoint but answer differently.
BY_PATH = {
    "/c/<uuid:conversation_id>/export.json": json_export,
    "/c/<uuid:conversation_id>/export.md": markdown_export,
}


@pytest.fixture
def world(app, user, other_user, admin_user, make_user):
    """alice (the owner) has a thread: her message and the assistant's reply,
    shared by link; bob is another user; root is the admin; carol is the
    account the /admin/users routes act on. Each signed-in role has an API token."""
    carol = make_user("carol")
    accounts = {"owner": user, "other user": other_user, "admin": admin_user}
    with app.app_context():
        thread = add_thread(db.session.get(User, user.id), "Alice's", messages=2)
        reply = db.session.scalar(select(Message.id).where(Message.role == "assistant"))
        share = share_thread(thread)
        tokens = {
            role: create_token(db.session.get(User, account.id), "matrix")[0] for role, account in accounts.items()
        }
        job = ImportJob(user_id=user.id, status="done", files=[{"name": "conversations.json", "size": 2}], errors=[])
        db.session.add(job)
        db.session.commit()
        return SimpleNamespace(
            thread=thread.id,
            job=job.id,
            reply=reply,
            target=carol.id,
            link=share.token,
            share=share.id,
            tokens={role: token.id for role, token in tokens.items()},
            accounts=accounts,
        )


def snapshot(app) -> tuple:
    with app.app_context():
        return (
            db.session.execute(
                select(
                    Conversation.id,
                    Conversation.title,
                    Conversation.message_count,
                    Conversation.pinned,
                    Conversation.archived,
                    Conversation.deleted_at,
                )
            ).all(),
            db.session.scalar(select(func.count()).select_from(Message)),
            db.session.execute(select(User.id, User.role, User.active, User.session_token).order_by(User.id)).all(),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.execute(select(Share.id, Share.updated_at)).all(),
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
    url = url_for_rule(path, world, role)
    data = None if method == "GET" else form_data(endpoint, world)
    before = snapshot(app)
    response = client.open(url, method=method, data=data)
    try:
        if is_api(path):
            # Anonymous: only the published API description is open.
            assert path.endswith("openapi.json") or not 200 <= response.status_code < 300, response.status_code
            return
        outcome = expected(endpoint, path, role)
        if outcome == "sign in":
            assert response.status_code == 302, response.status_code
            assert response.headers["Location"].startswith("/login?next=")
            htmx = client.open(url, method=method, data=data, headers=HTMX)
            assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login?next=")
        elif outcome == "forbidden":
            assert response.status_code == 403, response.status_code
            assert "admins only" in response.text
        elif outcome == "missing":
            assert response.status_code == 404, response.status_code
            assert parse(response.text).one("heading", level=1).text == "Not found"
        else:
            shows = BY_PATH.get(path) or OPEN.get((method, endpoint))
            assert shows, f"say in OPEN what {method} {path} ({endpoint}) answers when it is open"
            shows(response, world, role)
    finally:
        response.close()
    if outcome != "open":
        assert snapshot(app) == before, "a refused request changed something"


def test_the_matrix_covers_every_admin_route():
    admin = {endpoint for path, _, endpoint in ROUTES if path.startswith("/admin")}
    assert admin >= {
        "admin.index",
        "admin.conversations",
        "admin.conversation",
        "admin.messages",
        "admin.rename",
        "admin.delete",
        "admin.users",
        "admin.set_role",
        "admin.set_active",
        "admin.confirm_delete_user",
        "admin.delete_user",
        "admin.audit",
        "admin.shares",
        "admin.revoke_share",
    }


# --- input no route may choke on --------------------------------------------------------------
# Each route is tried as the role that may open it; what it refuses, it
# refuses with the site's own answer, and nothing changes.


def opener(path: str, endpoint: str) -> str:
    if endpoint in PUBLIC:
        return "anonymous"
    return "admin" if path.startswith("/admin") else "owner"


def route_of(endpoint: str, method: str) -> str:
    return next(
        path for path, route_method, route_endpoint in ROUTES if (route_endpoint, route_method) == (endpoint, method)
    )


INTEGER_ID = re.compile(r"<(?:int|bigint)(?:\([^)]*\))?:\w+>")
# One past PostgreSQL's integer and one past its bigint: ids no row can have.
OUT_OF_RANGE = ("2147483648", "9223372036854775808")

ID_CASES = [
    pytest.param(path, method, endpoint, number, id=f"{method} {path} [{number}]")
    for path, method, endpoint in ROUTES
    if INTEGER_ID.search(path)
    for number in OUT_OF_RANGE
]


@pytest.mark.parametrize(("path", "method", "endpoint", "number"), ID_CASES)
def test_an_id_out_of_range_is_404_and_changes_nothing(app, client, world, path, method, endpoint, number):
    role = opener(path, endpoint)
    if role != "anonymous":
        sign_in(client, world.accounts[role])
    url = url_for_rule(INTEGER_ID.sub(number, path), world, role)
    data = FORM_DATA.get(endpoint) if method != "GET" else None
    before = snapshot(app)
    response = client.open(url, method=method, data=data)
    assert response.status_code == 404, response.status_code
    if is_api(path):
        assert response.json["error"]["code"] == "not_found"
    else:
        assert parse(response.text).one("heading", level=1).text == "Not found"
    assert snapshot(app) == before


# Query parameters that routes read; form fields are FORM_DATA's.
QUERY_INPUTS = {
    "auth.login": ["next"],
    "chat.search": ["q"],
    "chat.sidebar": ["cursor"],
    "chat.messages": ["before"],
    "admin.index": ["q", "user", "cursor"],
    "admin.conversations": ["q", "user", "cursor"],
    "admin.messages": ["before"],
    "admin.users": ["q", "cursor"],
    "admin.audit": ["cursor"],
    "admin.shares": ["cursor"],
    "sharing.shared": ["after"],
}
NUL_CASES = [
    *(
        pytest.param("GET", endpoint, field, id=f"GET {endpoint} ?{field}")
        for endpoint, fields in QUERY_INPUTS.items()
        for field in fields
    ),
    *(
        pytest.param("POST", endpoint, field, id=f"POST {endpoint} {field}")
        for endpoint, data in FORM_DATA.items()
        for field in data
    ),
]


@pytest.mark.parametrize(("method", "endpoint", "field"), NUL_CASES)
def test_a_nul_in_any_text_input_is_422_and_changes_nothing(app, client, world, method, endpoint, field):
    """PostgreSQL can neither store nor compare text holding NUL: it is
    refused as the request is read, on either database."""
    path = route_of(endpoint, method)
    role = opener(path, endpoint)
    if role != "anonymous":
        sign_in(client, world.accounts[role])
    url = url_for_rule(path, world, role)
    before = snapshot(app)
    if method == "GET":
        response = client.get(url, query_string={field: "a\x00b"})
    else:
        response = client.post(url, data={**FORM_DATA[endpoint], field: FORM_DATA[endpoint][field] + "\x00"})
    assert response.status_code == 422, response.status_code
    assert "cannot contain NUL" in response.text
    assert snapshot(app) == before

"""Kept pages (webapp/page_cache.py) and the page versions that tell when
they are stale (webapp/page_versions.py): a page is served from memory only
while every row it shows is as it was, whoever changed it and however."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Uuid, bindparam, update
from sqlalchemy import text as sql

from tests.api.conftest import Caller, bearer, make_token
from tests.factories import HTMX, sign_in
from tests.test_page_versions import every_trigger
from webapp.accounts import end_sessions, set_password
from webapp.conversations import start_reply
from webapp.extensions import db
from webapp.models import Conversation, Message, User
from webapp.page_versions import page_version_triggers

PAGE_NAME = re.compile(r'"X-Parley-Page": "([A-Za-z0-9_-]+)"')


@pytest.fixture
def signed_in(client, auth, user):
    auth.login()
    client.get("/")  # the first page gives the session its CSRF secret
    return user


def sql_on_thread(statement: str):
    """Plain SQL whose ``:id`` is a thread's id (stored as each database stores a UUID)."""
    return sql(statement).bindparams(bindparam("id", type_=Uuid))


def version_of(app, user: User) -> int:
    with app.app_context():
        return db.session.get(User, user.id).page_version


def without_page_name(page: str) -> str:
    """The page less its name, wherever it says it (its headers, its event stream's URL)."""
    return page.replace(PAGE_NAME.search(page).group(1), "")


# --- served from memory ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/settings", "/sidebar", "THREAD"])
def test_a_page_seen_again_is_served_from_memory_with_one_query(client, signed_in, make_thread, count_queries, path):
    path = f"/c/{make_thread(signed_in, 'Kept', messages=3)}" if path == "THREAD" else path
    headers = HTMX if path == "/sidebar" else {}
    first = client.get(path, headers=headers)
    with count_queries() as again:
        second = client.get(path, headers=headers)
    assert first.status_code == second.status_code == 200
    assert len(again) == 1, again  # the signed-in account, with its page version
    assert (
        second.text == first.text
        if path == "/sidebar"
        else without_page_name(second.text) == without_page_name(first.text)
    )


def test_each_page_served_has_a_name_of_its_own(client, signed_in, make_thread):
    thread = make_thread(signed_in, "Named", messages=2)
    names = {PAGE_NAME.search(client.get(f"/c/{thread}").text).group(1) for _ in range(3)}
    assert len(names) == 3
    # An htmx partial keeps the name of the page that asked for it.
    client.get("/sidebar", headers={**HTMX, "X-Parley-Page": "pageOne123"})
    partial = client.get("/sidebar", headers={**HTMX, "X-Parley-Page": "pageTwo456"}).text
    assert "pageOne123" not in partial


def test_another_session_of_the_account_gets_its_own_forms(app, client, signed_in, make_thread):
    thread = make_thread(signed_in, "Two devices", messages=1)
    client.get(f"/c/{thread}")
    mine = client.get(f"/c/{thread}").text
    other = app.test_client()
    sign_in(other, signed_in)
    other.get("/")
    theirs = other.get(f"/c/{thread}").text
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)" name="csrf_token"')
    assert "Two devices" in theirs
    assert token.findall(mine) != token.findall(theirs) or token.findall(mine) == []


# --- only to its own session, while it is signed in -----------------------------------------------


@pytest.mark.parametrize(
    "ended",
    [
        pytest.param(lambda user: setattr(user, "active", False), id="disabled"),
        pytest.param(end_sessions, id="signed out everywhere"),
        pytest.param(lambda user: set_password(user, "a new password, long"), id="password changed"),
        pytest.param(db.session.delete, id="deleted"),
    ],
)
def test_a_kept_page_is_not_served_once_the_session_has_ended(app, client, signed_in, make_thread, ended):
    thread = make_thread(signed_in, "Private", messages=1)
    for _ in range(2):
        assert "Private" in client.get(f"/c/{thread}").text
        assert "Private" in client.get("/sidebar", headers=HTMX).text
    with app.app_context():
        ended(db.session.get(User, signed_in.id))
        db.session.commit()
    page = client.get(f"/c/{thread}")
    assert page.status_code == 302 and "/login" in page.location
    partial = client.get("/sidebar", headers=HTMX)
    assert partial.status_code == 401 and "Private" not in partial.text


def test_a_session_whose_token_is_wrong_is_not_served_a_kept_page(app, client, signed_in, make_thread):
    """The same account, version and CSRF secret, but not the account's
    session token (an old session, a forged one): what Flask-Login's loader
    refuses, the kept page's own check refuses too."""
    thread = make_thread(signed_in, "Private", messages=1)
    for _ in range(2):
        client.get(f"/c/{thread}")
    with client.session_transaction() as session:
        csrf_secret = session["csrf_token"]
    stale = app.test_client()
    with stale.session_transaction() as session:
        session.update({"_user_id": f"{signed_in.id}:not-the-token", "_fresh": True, "csrf_token": csrf_secret})
    page = stale.get(f"/c/{thread}")
    assert page.status_code == 302 and "/login" in page.location


def test_a_kept_page_is_never_another_accounts(app, client, signed_in, other_user, make_thread):
    thread = make_thread(signed_in, "Alice's own", messages=1)
    for _ in range(2):
        client.get(f"/c/{thread}")
        client.get("/sidebar", headers=HTMX)
    bob = app.test_client()
    sign_in(bob, other_user)
    bob.get("/")
    for _ in range(2):
        assert bob.get(f"/c/{thread}").status_code == 404
        assert "Alice's own" not in bob.get("/sidebar", headers=HTMX).text


# --- stale the moment a row changes -----------------------------------------------------------


def test_a_rename_shows_at_once(client, signed_in, make_thread):
    thread = make_thread(signed_in, "Old name", messages=1)
    for _ in range(2):
        assert "Old name" in client.get(f"/c/{thread}").text
        assert "Old name" in client.get("/sidebar", headers=HTMX).text
    client.post(f"/c/{thread}/title", data={"title": "New name"})
    assert "New name" in client.get(f"/c/{thread}").text
    sidebar = client.get("/sidebar", headers=HTMX).text
    assert "New name" in sidebar and "Old name" not in sidebar


def test_a_message_through_the_api_shows_at_once(app, client, signed_in, make_thread):
    thread = make_thread(signed_in, "Over the API", messages=1)
    for _ in range(2):
        client.get(f"/c/{thread}")
    api = Caller(app.test_client(), bearer(make_token(app, signed_in)))
    api.add_message(str(thread), "Sent by a script")
    assert "Sent by a script" in client.get(f"/c/{thread}").text


def test_an_admin_rename_shows_on_the_owners_pages(app, client, signed_in, make_thread, admin_user):
    thread = make_thread(signed_in, "Before the admin", messages=1)
    for _ in range(2):
        client.get("/sidebar", headers=HTMX)
    admin = app.test_client()
    sign_in(admin, admin_user)
    assert admin.post(f"/admin/conversations/{thread}/title", data={"title": "Renamed by an admin"}).status_code < 400
    assert "Renamed by an admin" in client.get("/sidebar", headers=HTMX).text


def test_a_write_from_outside_the_app_shows_at_once(app, client, signed_in, make_thread):
    """Another instance, the reply writer's own connection, a script on the
    database: the database raises the version, not the app."""
    thread = make_thread(signed_in, "Quiet", messages=1)
    for _ in range(2):
        client.get(f"/c/{thread}")
    with app.app_context():
        db.session.execute(
            sql_on_thread(
                "UPDATE messages SET content = 'Changed underneath', html = NULL WHERE conversation_id = :id"
            ),
            {"id": thread},
        )
        db.session.commit()
    assert "Changed underneath" in client.get(f"/c/{thread}").text
    with app.app_context():
        db.session.execute(
            sql_on_thread("UPDATE conversations SET title = 'Retitled underneath' WHERE id = :id"), {"id": thread}
        )
        db.session.commit()
    assert "Retitled underneath" in client.get("/sidebar", headers=HTMX).text


def test_a_new_token_is_shown_once(client, signed_in):
    client.get("/settings")
    client.get("/settings")
    created = client.post("/settings/tokens", data={"name": "laptop"}, follow_redirects=True)
    assert created.status_code == 200 and "laptop" in created.text
    shown = re.search(r"parley_[A-Za-z0-9_-]{20,}", created.text)
    assert shown, created.text
    assert shown.group() not in client.get("/settings").text


def test_a_flash_message_is_shown_and_then_gone(client, signed_in, make_thread):
    thread = make_thread(signed_in, "To the trash", messages=1)
    client.get("/")
    client.get("/")
    deleted = client.post(f"/c/{thread}/delete", follow_redirects=True)
    assert deleted.status_code == 200
    assert "Undo" in deleted.text
    assert "To the trash" not in client.get("/sidebar", headers=HTMX).text
    assert "Undo" not in client.get("/").text


def test_a_reply_being_written_is_not_kept(app, client, signed_in, make_thread, count_queries):
    thread = make_thread(signed_in, "Replying", messages=1)
    with app.app_context():
        start_reply(db.session.get(Conversation, thread))  # pending: no writer runs it here
        db.session.commit()
    client.get(f"/c/{thread}")
    with count_queries() as again:
        client.get(f"/c/{thread}")
    assert len(again) > 1


def test_turned_off_every_view_renders(app, client, signed_in, make_thread, count_queries):
    app.config["PARLEY_PAGE_CACHE_MB"] = 0
    thread = make_thread(signed_in, "Always fresh", messages=1)
    client.get(f"/c/{thread}")
    with count_queries() as again:
        client.get(f"/c/{thread}")
    assert len(again) > 1


# --- the page version --------------------------------------------------------------------------


def test_the_database_raises_the_version_with_each_write_to_the_account(app, user, other_user, make_thread):
    before = version_of(app, user)
    thread = make_thread(user, "Counted", messages=2)
    after_thread = version_of(app, user)
    assert after_thread > before
    with app.app_context():
        db.session.execute(sql("UPDATE conversations SET pinned = :yes"), {"yes": True})
        db.session.commit()
    after_pin = version_of(app, user)
    assert after_pin > after_thread
    make_token(app, user)
    after_token = version_of(app, user)
    assert after_token > after_pin
    with app.app_context():
        db.session.get(User, user.id).role = "admin"
        db.session.commit()
    after_role = version_of(app, user)
    assert after_role > after_token
    with app.app_context():
        db.session.delete(db.session.get(Conversation, thread))
        db.session.commit()
    assert version_of(app, user) > after_role


def test_another_accounts_writes_leave_the_version_alone(app, user, other_user, make_thread):
    before = version_of(app, user)
    make_thread(other_user, "Not alice's", messages=3)
    assert version_of(app, user) == before


def test_a_transaction_raises_each_accounts_version_once_on_postgresql(app, user, other_user, make_thread):
    """PostgreSQL raises each account's once, at the commit; SQLite with each row."""
    threads = {account.id: make_thread(account, "Many rows", messages=1) for account in (user, other_user)}
    before = {account.id: version_of(app, account) for account in (user, other_user)}
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
        for n in range(5):
            for thread in threads.values():
                db.session.execute(
                    sql_on_thread("UPDATE conversations SET title = :title WHERE id = :id"),
                    {"title": f"Title {n}", "id": thread},
                )
        db.session.commit()
    for account in (user, other_user):
        assert version_of(app, account) == before[account.id] + (1 if postgresql else 5)
    # The next transaction raises them again.
    with app.app_context():
        db.session.execute(
            sql_on_thread("UPDATE conversations SET pinned = true WHERE id = :id"), {"id": threads[user.id]}
        )
        db.session.commit()
    assert version_of(app, user) == before[user.id] + (2 if postgresql else 6)


def test_the_lease_of_a_reply_being_written_leaves_the_version_alone(app, user, make_thread):
    """A process renews the leases of all the replies it writes at once, of
    any number of accounts, every few seconds: no page shows them."""
    make_thread(user, "Leased", messages=2)
    before = version_of(app, user)
    with app.app_context():
        db.session.execute(update(Message).values(lease_owner="host:1", lease_until=datetime.now(UTC)))
        db.session.commit()
    assert version_of(app, user) == before


def test_the_migrations_make_every_trigger(make_app):
    from flask_migrate import upgrade

    app = make_app()
    with app.app_context():
        upgrade()
        connection = db.session.connection()
        assert page_version_triggers(connection) == every_trigger(connection)


def test_an_error_page_has_a_name_of_its_own(client, signed_in):
    missing = [client.get(f"/c/{uuid.uuid4()}") for _ in range(2)]
    assert all(page.status_code == 404 for page in missing)
    names = {PAGE_NAME.search(page.text).group(1) for page in missing}
    assert len(names) == 2


def test_kept_views_need_nothing_of_their_blueprints_hooks_but_a_signed_in_account(app):
    """A kept page is served before the blueprints' own hooks run
    (``page_cache.serve_kept`` checks the account as Flask-Login's loader
    would): a new hook on a blueprint with kept views must be looked at."""
    kept = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, "kept", False)}
    assert kept == {"chat.index", "chat.sidebar", "chat.thread", "auth.settings"}
    hooks = {name: [f.__name__ for f in app.before_request_funcs.get(name, [])] for name in ("chat", "auth")}
    assert hooks == {"chat": ["require_login"], "auth": []}

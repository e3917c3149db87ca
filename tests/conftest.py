"""A fresh app and an empty database for every test, and the fixtures the
tests share.

``pytest`` runs on SQLite (a new file per test); ``pytest --db=postgres``
runs the same tests on the PostgreSQL server named by ``TEST_DATABASE_URL``,
whose tables are emptied after each test.

The suite is hermetic: whatever the shell holds in ``PARLEY_*``,
``DATABASE_URL``, ``SECRET_KEY`` or ``FLASK_*`` is dropped before any test
runs, so every app is built from the settings the tests give it. Only
``TEST_DATABASE_URL``, ``REQUIRE_BROWSER`` and ``CHROMIUM`` steer the tests.
A test of reading the environment sets it with ``monkeypatch.setenv``.

Fixtures:

- ``make_app(**config)``, ``app`` (its tables made), ``client``, ``runner``,
  ``client_for(app)`` (a client for another app, its tables made),
  ``csrf_app`` (``app``'s database, with CSRF protection on).
- ``ctx``: an app context held for the test, for tests of the data layer.
  A test that drives a test client holds none: a request reuses a pushed
  context, and with it ``g``, where Flask-Login caches the signed-in user.
- ``make_user(username, role="user", active=True)`` and
  ``make_thread(owner, title, messages=0, ago=None)``: committed rows, made
  in a short app context of their own (see ``tests/factories.py``).
- ``user`` (alice), ``other_user`` (bob), ``admin_user`` (root, an admin):
  committed accounts. In a test that holds ``ctx`` they belong to its
  session; otherwise they are detached, their columns loaded (enough to
  ``sign_in`` a client or to read an id).
- ``seed``: ``with seed():`` writes through the data layer and commits.
- ``auth``: signs ``client`` in and out through the forms.
- ``count_queries``: ``with count_queries() as statements:`` records the SQL
  that runs meanwhile.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text

from tests.factories import PASSWORD, AuthActions, add_thread, add_user
from webapp import create_app
from webapp.extensions import db
from webapp.models import User

__all__ = ["PASSWORD"]  # tests/test_replies.py imports it from here

#: What a user's shell may hold for running Parley; none of it reaches a test.
USER_SETTINGS = re.compile(r"PARLEY_.*|DATABASE_URL|SECRET_KEY|FLASK_.*")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name in [name for name in os.environ if USER_SETTINGS.fullmatch(name)]:
        del os.environ[name]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database to test against; postgres reads TEST_DATABASE_URL",
    )


# --- the app and its database -----------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str | None:
    if request.config.getoption("--db") != "postgres":
        return None
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.exit("--db=postgres needs TEST_DATABASE_URL", returncode=2)
    from webapp.config import database_uri

    url = database_uri("TEST_DATABASE_URL", url)
    # Start from an empty schema: whatever an earlier run left goes.
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def database_url(postgres_url: str | None, tmp_path) -> str:
    return postgres_url or f"sqlite:///{tmp_path / 'parley.db'}"


@pytest.fixture
def make_app(database_url: str, tmp_path):
    """Build an app with test settings; the database starts with no tables."""
    apps = []

    def make(**config):
        settings = {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "PARLEY_DEMO_PACE_MS": 0,
            # The hourly purge runs in a thread of its own; the tests of it
            # turn it on.
            "PARLEY_AUTOMATIC_PURGE": False,
            # scrypt costs a third of a second an account, by design; what the
            # hash is matters to no test but the ones that say so.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        }
        settings.update(config)
        app = create_app(settings)
        app.instance_path = str(tmp_path / "instance")
        apps.append(app)
        return app

    yield make
    from webapp.imports import wait_for_imports
    from webapp.replies import wait_for_writers

    for app in apps:
        wait_for_writers(app)
        wait_for_imports(app)
        with app.app_context():
            db.session.remove()
            if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
                db.session.execute(text("DROP SCHEMA public CASCADE"))
                db.session.execute(text("CREATE SCHEMA public"))
                db.session.commit()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client_for():
    """A test client for an app made with make_app, its tables created."""

    def make(app):
        with app.app_context():
            db.create_all()
        return app.test_client()

    return make


@pytest.fixture
def csrf_app(app, make_app):
    """The app with CSRF protection on, as in production, on ``app``'s database."""
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.fixture
def ctx(app):
    """An app context for tests that call the data layer directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def seed(app):
    """``with seed():`` writes rows through the data layer and commits them,
    in an app context of its own (never left pushed for the test client)."""

    @contextmanager
    def session():
        with app.app_context():
            yield
            db.session.commit()

    return session


# --- accounts and threads -------------------------------------------------------------------


@pytest.fixture
def make_user(app):
    """Create a committed account (password: ``PASSWORD``); returns it
    detached, its columns loaded."""

    def make(username: str, role: str = "user", *, active: bool = True) -> User:
        with app.app_context():
            user = add_user(username, role, active=active)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
        return user

    return make


@pytest.fixture
def make_thread(app):
    """Create a committed thread of ``owner`` (see ``add_thread``); returns its id."""

    def make(owner: User, title: str | None = "A thread", *, messages: int = 0, ago=None):
        with app.app_context():
            thread = add_thread(db.session.get(User, owner.id), title, messages=messages, ago=ago)
            db.session.commit()
            return thread.id

    return make


def _account(request: pytest.FixtureRequest, make_user, username: str, role: str = "user") -> User:
    account = make_user(username, role)
    if "ctx" not in request.fixturenames:
        return account
    request.getfixturevalue("ctx")
    return db.session.get(User, account.id)


@pytest.fixture
def user(request, make_user) -> User:
    """alice, a user."""
    return _account(request, make_user, "alice")


@pytest.fixture
def other_user(request, make_user) -> User:
    """bob, another user."""
    return _account(request, make_user, "bob")


@pytest.fixture
def admin_user(request, make_user) -> User:
    """root, an admin."""
    return _account(request, make_user, "root", role="admin")


@pytest.fixture
def auth(client):
    return AuthActions(client)


# --- measuring ----------------------------------------------------------------------------


@pytest.fixture
def count_queries(app):
    """``with count_queries() as statements:`` lists the SQL statements run on
    the app's database inside the block, whichever context runs them."""
    with app.app_context():
        engine = db.engine

    @contextmanager
    def recording():
        statements: list[str] = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return recording

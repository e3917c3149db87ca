"""A fresh app and an empty database for every test.

``pytest`` runs on SQLite (a new file per test); ``pytest --db=postgres``
runs the same tests on the PostgreSQL server named by ``TEST_DATABASE_URL``,
whose tables are emptied after each test.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from webapp import create_app
from webapp.extensions import db

PASSWORD = "correct horse battery"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database to test against; postgres reads TEST_DATABASE_URL",
    )


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
        }
        settings.update(config)
        app = create_app(settings)
        app.instance_path = str(tmp_path / "instance")
        apps.append(app)
        return app

    yield make
    from webapp.replies import wait_for_writers

    for app in apps:
        wait_for_writers(app)
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


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a committed account; returns it detached, its columns loaded.

    It pushes an app context only while it works: a context left pushed
    would be shared by the test client's requests (and with it ``g`` and
    the signed-in user).
    """
    from webapp.accounts import create_user

    def make(username: str, role: str = "user"):
        with app.app_context():
            user = create_user(username, PASSWORD, role=role)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
        return user

    return make


def _attached(make_user, username, role="user"):
    from webapp.models import User

    return db.session.get(User, make_user(username, role).id)


@pytest.fixture
def user(ctx, make_user):
    return _attached(make_user, "alice")


@pytest.fixture
def other_user(ctx, make_user):
    return _attached(make_user, "bob")


@pytest.fixture
def admin_user(ctx, make_user):
    return _attached(make_user, "root", role="admin")


class AuthActions:
    """Sign a test client in and out through the real forms."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str = "alice", password: str = PASSWORD, **extra):
        return self.client.post("/login", data={"username": username, "password": password, **extra})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def client_for():
    """A test client for an app made with make_app, its tables created."""

    def make(app):
        with app.app_context():
            db.create_all()
        return app.test_client()

    return make

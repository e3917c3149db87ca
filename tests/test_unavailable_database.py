"""When the database cannot answer: down, unreachable, or (SQLite) its write
lock held by other writers for too long.

Pages get the site's own 503 page and the API its JSON 503, both with
``Retry-After``; nothing is half-written; and the site answers again as
soon as the database does, without a restart.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.factories import HTMX, PASSWORD, AuthActions, add_user
from tests.html import parse
from webapp import create_app
from webapp.database import RETRY_AFTER_SECONDS
from webapp.extensions import db
from webapp.models import Conversation, User
from webapp.tokens import create_token


def assert_unavailable_page(response, *, htmx: bool = False) -> None:
    assert response.status_code == 503, response.status_code
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Content-Security-Policy" in response.headers
    html = parse(response.text)
    if htmx:  # the notice htmx puts in the page's notice area
        notice = html.top
        assert notice.role == "alert" and "The database is not answering" in notice.text
    else:
        assert html.one("heading", level=1).text == "Not available just now"
        # Who is signed in cannot be known without the database.
        assert html.by_role("form", action="/logout") == []


def assert_unavailable_json(response) -> None:
    assert response.status_code == 503, response.status_code
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json["error"]["code"] == "unavailable"


def alices_token(app) -> str:
    with app.app_context():
        _, plaintext = create_token(db.session.scalar(select(User).where(User.username == "alice")), "script")
        db.session.commit()
    return plaintext


def count_threads(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Conversation))


# --- a database that is not there ----------------------------------------------------------------


@pytest.fixture
def unreachable_app(database_url, tmp_path):
    """The app pointed at a database that cannot be reached: a PostgreSQL
    port where nothing listens, or a SQLite file in a missing folder."""
    if database_url.startswith("postgresql"):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"postgresql+psycopg://parley@127.0.0.1:{port}/parley"
    else:
        url = f"sqlite:///{tmp_path / 'missing' / 'parley.db'}"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def signed_in_somehow(client) -> None:
    """A session cookie such as a browser keeps: checking it needs the database."""
    with client.session_transaction() as session:
        session["_user_id"] = "1:token"


@pytest.mark.parametrize(
    ("method", "path", "headers", "session"),
    [
        ("POST", "/login", {}, False),
        ("GET", "/settings", {}, True),
        ("GET", "/no-such-page", {}, True),
        ("GET", "/sidebar", HTMX, True),
        ("POST", "/c", HTMX, True),
    ],
    ids=["signing in", "a signed-in page", "a 404 page", "an htmx partial", "an htmx post"],
)
def test_pages_answer_the_sites_503_when_the_database_cannot_be_reached(
    unreachable_app, method, path, headers, session
):
    client = unreachable_app.test_client()
    if session:
        signed_in_somehow(client)
    data = {"username": "alice", "password": PASSWORD, "content": "hello"} if method == "POST" else None
    assert_unavailable_page(client.open(path, method=method, data=data, headers=headers), htmx=bool(headers))


def test_the_api_answers_json_503_when_the_database_cannot_be_reached(unreachable_app):
    client = unreachable_app.test_client()
    response = client.get("/api/conversations", headers={"Authorization": "Bearer parley_" + "x" * 43})
    assert_unavailable_json(response)
    assert client.get("/healthz").status_code == 503


# --- a database that goes away and comes back ------------------------------------------------------


class Relay:
    """A TCP relay to the database that a test can cut and restore, as when
    the database server restarts: every connection through it breaks."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        self.listener.listen()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        # shutdown() first: close() alone leaves a blocked accept() accepting.
        for end in [self.listener, *self.sockets]:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
        with self.lock:
            self.sockets = []


@pytest.fixture
def relay(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite database is a file: it does not go away under an open connection")
    parts = urlsplit(database_url)
    relay = Relay(parts.hostname, parts.port or 5432)
    relay.start()
    yield relay, parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}").geturl()
    relay.stop()


def test_the_site_answers_again_once_the_database_is_back(relay, make_app):
    relay, url = relay  # requested before make_app: it outlives the app's cleanup
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        add_user("alice")
        db.session.commit()
    client, api = app.test_client(), {"Authorization": f"Bearer {alices_token(app)}"}
    assert AuthActions(client).login().status_code == 303
    assert client.get("/").status_code == 200

    relay.stop()
    try:
        assert_unavailable_page(client.get("/"))
        assert_unavailable_page(client.post("/c", data={"content": "lost?"}, headers=HTMX), htmx=True)
        assert_unavailable_json(client.get("/api/conversations", headers=api))
    finally:
        relay.start()
    # The pool's connections died with the relay; they are checked before use.
    assert client.get("/").status_code == 200
    assert client.get("/api/conversations", headers=api).status_code == 200
    assert client.post("/c", data={"content": "back"}).status_code == 303
    assert count_threads(app) == 1


# --- SQLite's write lock ---------------------------------------------------------------------------


@pytest.fixture
def locked_sqlite(database_url, make_app):
    """The app on SQLite with a short busy timeout, alice signed in, and
    ``hold()``: another connection that takes the write lock until released."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL writers wait for each other's row locks")
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=100)
    with app.app_context():
        db.create_all()
        add_user("alice")
        db.session.commit()
    client = app.test_client()
    assert AuthActions(client).login().status_code == 303
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    yield app, client, holder
    if holder.in_transaction:
        holder.rollback()
    holder.close()


class ReleaseOnRetry(logging.Handler):
    """Lets the lock go when the app says it will wait for it once more."""

    def __init__(self, holder: sqlite3.Connection):
        super().__init__()
        self.holder, self.retries = holder, 0

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting once more" in record.getMessage():
            self.retries += 1
            self.holder.rollback()


def test_a_write_waits_once_more_for_sqlites_write_lock(locked_sqlite):
    app, client, holder = locked_sqlite
    holder.execute("BEGIN IMMEDIATE")
    release = ReleaseOnRetry(holder)
    logger = logging.getLogger("webapp.database")
    logger.addHandler(release)
    try:
        response = client.post("/c", data={"content": "hello"})
    finally:
        logger.removeHandler(release)
    assert response.status_code == 303
    assert release.retries == 1
    assert count_threads(app) == 1


def test_a_write_that_cannot_take_sqlites_write_lock_is_503_and_writes_nothing(locked_sqlite):
    app, client, holder = locked_sqlite
    api = {"Authorization": f"Bearer {alices_token(app)}"}
    holder.execute("BEGIN IMMEDIATE")
    assert_unavailable_page(client.post("/c", data={"content": "hello"}))
    assert_unavailable_json(client.post("/api/conversations", json={"title": "hello"}, headers=api))
    assert client.get("/").status_code == 200  # reading needs no lock
    holder.rollback()
    assert count_threads(app) == 0
    assert client.post("/c", data={"content": "hello"}).status_code == 303

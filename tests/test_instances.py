"""Several instances behave as one: two real app processes (gunicorn) on one
PostgreSQL database and one Redis, with the fake model server.

These need ``TEST_DATABASE_URL`` (a database of their own is made beside
it) and Redis on 127.0.0.1:6379 (database 9, flushed before and after);
without either they are skipped, saying which is missing.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import PASSWORD
from tests.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/9"
BIN = Path(sys.executable).parent
# Long enough to be watched, stopped or cut off mid-way.
TOKENS = [f" word{i}" for i in range(120)]

pytestmark = pytest.mark.instances


# --- the setting: a database, a Redis, a model server ---------------------------------------


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("several instances need PostgreSQL: set TEST_DATABASE_URL")
    from webapp.config import database_uri

    url = make_url(database_uri("TEST_DATABASE_URL", base))
    name = f"{url.database}_instances"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("several instances need Redis on 127.0.0.1:6379")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def model() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def environment(database_url, redis_url, model, tmp_path_factory) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PARLEY_", "FLASK_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="the same on every instance",
        PARLEY_REDIS_URL=redis_url,
        PARLEY_LLM_BASE_URL=model.base_url,
        PARLEY_LLM_MODEL="fake-small",
        PARLEY_RATELIMIT_ENABLED="0",
        PARLEY_SHUTDOWN_GRACE="2",
        PYTHONUNBUFFERED="1",
    )
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([BIN / "flask", "--app", "wsgi", "db", "upgrade"], **run)
    subprocess.run([BIN / "flask", "--app", "wsgi", "create-admin", "alice", "--password-stdin"], input=PASSWORD, **run)
    env["LOGS"] = str(tmp_path_factory.mktemp("instances"))
    return env


def listening_socket() -> socket.socket:
    """A socket listening on a port the system picked, for gunicorn to serve
    on (``fd://``): the port is never free in between for another program
    to take."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Instance:
    """One app process: gunicorn as ``make run`` starts it, on its own port."""

    def __init__(self, env: dict[str, str], name: str):
        with listening_socket() as sock:
            self.port = sock.getsockname()[1]
            self.log = open(Path(env["LOGS"]) / f"{name}-{self.port}.log", "w")
            self.process = subprocess.Popen(
                [
                    BIN / "gunicorn",
                    "--config",
                    "python:webapp.gunicorn_conf",
                    "--bind",
                    f"fd://{sock.fileno()}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env={name: value for name, value in env.items() if name != "LOGS"},
                pass_fds=(sock.fileno(),),
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers with it, for kill()
            )
        wait_for(self.answers, 30, f"the instance on port {self.port} to start")

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the instance exited: {Path(self.log.name).read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def kill(self) -> None:
        """kill -9 of the whole instance: gunicorn and its workers."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        self.kill()
        self.log.close()


@pytest.fixture
def instances(environment) -> Iterator[tuple[Instance, Instance]]:
    pair = (Instance(environment, "a"), Instance(environment, "b"))
    yield pair
    for instance in pair:
        instance.stop()


@pytest.fixture
def model_says(model):
    def configure(tokens=TOKENS, delay=0.05):
        model.behaviour.tokens = list(tokens)
        model.behaviour.delay = delay

    yield configure
    model.behaviour.tokens = ["Hello", " from", " the", " **fake**", " model", "."]
    model.behaviour.delay = 0.0


# --- a person, signed in, on one instance -----------------------------------------------------


@dataclass
class Person:
    """A signed-in browser, as far as the server can tell: its cookies and
    its CSRF token, talking to one instance."""

    instance: Instance
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    @contextmanager
    def stream(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        """The response, to read as it comes; its connection closes after."""
        connection = http.client.HTTPConnection("127.0.0.1", self.instance.port, timeout=60)
        all_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name] = rest.split(";", 1)[0]
            yield response
        finally:
            connection.close()

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        """``(status, body, location)``."""
        with self.stream(method, path, body, headers) as response:
            return response.status, response.read().decode(), response.getheader("Location")

    def page(self, path: str) -> str:
        html = self.request("GET", path)[1]
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        if found:
            self.csrf = found.group(1)
        return html

    def post(self, path: str, data: dict | None = None, htmx: bool = True):
        """``(status, body, location)`` of a form post, as the page sends it."""
        headers = {"X-CSRFToken": self.csrf, "X-Parley-Page": f"page-{id(self)}"}
        if htmx:
            headers["HX-Request"] = "true"
        return self.request("POST", path, {"csrf_token": self.csrf, **(data or {})}, headers)

    def on(self, instance: Instance) -> Person:
        """The same person, through another instance (a load balancer's choice)."""
        return Person(instance, dict(self.cookies), self.csrf)


def sign_in(instance: Instance) -> Person:
    person = Person(instance)
    person.page("/login")
    status, _, _ = person.post("/login", {"username": "alice", "password": PASSWORD}, htmx=False)
    assert status == 303
    person.page("/")
    return person


def start_reply(person: Person, thread: str | None = None) -> tuple[str, int]:
    """Post a message (htmx, as the page does); the reply starts on that
    instance. Returns the thread and the reply's id."""
    if thread is None:
        status, _, location = person.post("/c", {"content": "Start"}, htmx=False)
        assert status == 303
        thread = location.rsplit("/", 1)[1]
    status, html, _ = person.post(f"/c/{thread}/messages", {"content": "Tell me a long story"})
    assert status == 200, html
    return thread, int(re.search(r'id="message-(\d+)" class="message assistant live"', html).group(1))


class Reader(threading.Thread):
    """Follows a reply's event stream and keeps what it was shown."""

    def __init__(self, person: Person, thread: str, reply_id: int):
        super().__init__(daemon=True)
        self.person, self.path = person, f"/c/{thread}/messages/{reply_id}/stream"
        self.pieces: list[tuple[float, str]] = []
        self.final = ""
        self.first = threading.Event()
        self.ended = threading.Event()

    @property
    def text(self) -> str:
        """The reply as the reader last saw it while it was written (each
        event shows it all so far, at most every 150 ms)."""
        return self.pieces[-1][1] if self.pieces else ""

    def run(self) -> None:
        with self.person.stream("GET", self.path) as response:
            data: list[str] = []
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self._event("\n".join(data))
                    data = []
                if self.ended.is_set():
                    break
        self.ended.set()

    def _event(self, data: str) -> None:
        if data == "":  # event: done
            self.ended.set()
        elif "<article" in data:
            self.final = data
        else:
            # The reply so far, rendered: its words, as a person reads them.
            self.pieces.append((time.monotonic(), words(html.unescape(re.sub(r"<[^>]+>", " ", data)))))
            self.first.set()


def words(text: str) -> str:
    """Text with its white space folded: a reply as stored and as shown."""
    return " ".join(text.split())


def reply_row(database_url: str, reply_id: int) -> dict:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT status, content, error FROM messages WHERE id = :id"), {"id": reply_id}
        ).one()
    engine.dispose()
    return row._asdict()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def model_calls(model: FakeLLM, content: str) -> int:
    return sum(1 for request in model.requests if request["messages"][-1]["content"] == content)


# --- the tests --------------------------------------------------------------------------------


def test_a_reader_on_another_instance_sees_each_piece_as_it_comes(instances, model_says, model, database_url):
    a, b = instances
    # 6 s of reply, shown at most every 150 ms: a reader that joins late on a
    # slow machine still sees it come in many pieces (2 s made at most 13).
    model_says(TOKENS)
    alice = sign_in(a)
    thread, reply_id = start_reply(alice)
    reader = Reader(alice.on(b), thread, reply_id)
    reader.start()
    assert reader.ended.wait(60)
    assert len(reader.pieces) > 10, "the text came in pieces, as it was written"
    row = reply_row(database_url, reply_id)
    assert row["status"] == "complete"
    assert words(row["content"]) == words("".join(TOKENS))
    assert words(row["content"]).startswith(reader.text)  # the last pieces may come with the end
    assert "word119" in reader.final


def test_stop_on_another_instance_keeps_every_piece_a_reader_saw(instances, model_says, model, database_url):
    a, b = instances
    model_says(delay=0.1)  # 12 s: still being written when the stop comes, however slow the machine
    alice = sign_in(a)
    thread, reply_id = start_reply(alice)
    reader = Reader(alice, thread, reply_id)  # on the writer's instance
    reader.start()
    wait_for(lambda: len(reader.pieces) >= 5, 20, "a few pieces")
    status, html, _ = alice.on(b).post(f"/c/{thread}/messages/{reply_id}/stop")
    assert status == 200 and "Stopped." in html
    assert reader.ended.wait(10)
    row = reply_row(database_url, reply_id)
    assert row["status"] == "stopped"
    # Every piece the reader was shown is kept; what came after its last
    # render (at most one tick's worth) is kept too, and the end shows it.
    assert words(row["content"]).startswith(reader.text)
    assert words(row["content"]).split()[-1] in reader.final
    assert 5 <= len(row["content"].split()) < len(TOKENS)
    assert model_calls(model, "Tell me a long story") >= 1


def test_a_reply_whose_writer_is_killed_ends_as_interrupted_with_its_text(instances, model_says, model, database_url):
    a, b = instances
    model_says(delay=0.1)
    alice = sign_in(a)
    calls = model_calls(model, "Tell me a long story")
    thread, reply_id = start_reply(alice)
    reader = Reader(alice.on(b), thread, reply_id)
    reader.start()
    # Past the first save (every 2 s), then the writer's instance dies.
    wait_for(lambda: reply_row(database_url, reply_id)["content"], 20, "the first save")
    a.kill()
    assert reader.ended.wait(40), "the reader on the other instance heard the end"
    row = reply_row(database_url, reply_id)
    assert row["status"] == "error" and row["error"].startswith("Interrupted")
    assert row["content"] and reader.text.startswith(words(row["content"]))
    assert "Interrupted" in reader.final
    assert model_calls(model, "Tell me a long story") == calls + 1  # asked once, never again


def test_sigterm_lets_a_reply_finish_or_ends_it_never_leaves_it_hanging(instances, model_says, model, database_url):
    a, b = instances
    model_says(delay=0.1)  # 12 s: longer than the 2 s grace
    alice = sign_in(a)
    thread, reply_id = start_reply(alice)
    reader = Reader(alice.on(b), thread, reply_id)
    reader.start()
    assert reader.first.wait(20)
    a.process.send_signal(signal.SIGTERM)
    assert a.process.wait(30) == 0
    assert reader.ended.wait(10)
    row = reply_row(database_url, reply_id)
    assert row["status"] == "error" and row["error"].startswith("Interrupted")
    assert words(row["content"]).startswith(reader.text)
    assert words(row["content"]).split()[-1] in reader.final


def test_a_thread_open_elsewhere_shows_new_messages_as_they_come(instances, model_says, model):
    a, b = instances
    model_says(TOKENS[:3], delay=0.0)
    alice = sign_in(a)
    thread, _ = start_reply(alice)
    other_tab = alice.on(b)
    page = other_tab.page(f"/c/{thread}")
    events = re.search(r'hx-sse:connect="(/c/[^"]+/events[^"]*)"', page).group(1).replace("&amp;", "&")
    received = ""
    with other_tab.stream("GET", events) as response:
        alice.post(f"/c/{thread}/messages", {"content": "Hello from the first tab"})
        deadline = time.monotonic() + 20
        for raw in response:
            received += raw.decode()
            if "Hello from the first tab" in received or time.monotonic() > deadline:
                break
    assert "Hello from the first tab" in received
    assert 'hx-target="#message-list"' in received


def test_several_instances_share_the_secret_key_and_sign_ins(instances):
    a, b = instances
    alice = sign_in(a)
    assert "Sign out" in alice.on(b).page("/")


def test_the_relay_keeps_each_redis_database_apart(redis_url):
    from webapp.replies.relay import RedisRelay

    relay = RedisRelay(redis_url)
    try:
        assert relay.prefix == "parley:9:"
        with relay.subscribe("reply:1") as subscription:
            wait_for(lambda: relay.redis.pubsub_numsub("parley:9:reply:1")[0][1] == 1, 5, "the subscription")
            relay.publish_piece(1, 0, "héllo")
            assert subscription.get(5) == {"o": 0, "t": "héllo"}
            assert relay.text_so_far(1) == "héllo"
            relay.publish_end(1, "complete")
            assert subscription.get(5) == {"end": "complete"}
            assert relay.text_so_far(1) is None
    finally:
        relay.close()


def test_stop_reaches_the_instance_writing_the_reply(redis_url):
    from webapp.replies.relay import RedisRelay

    writer, other = RedisRelay(redis_url), RedisRelay(redis_url)
    heard = threading.Event()
    writer.on_stop = lambda reply_id: reply_id == 7 and heard.set()
    try:
        wait_for(lambda: writer.redis.pubsub_numsub("parley:9:stop")[0][1] >= 2, 5, "both relays listening")
        other.request_stop(7)
        assert heard.wait(5)
    finally:
        writer.close()
        other.close()

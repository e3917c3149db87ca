"""Several instances (issue 11): two gunicorn instances of Parley on one
PostgreSQL database and one Redis, as an operator runs them, with the fake
model server of ``fake_model.py`` (every token stamped with the time it was
written).

It needs ``BENCH_DATABASE_URL`` (PostgreSQL: a database of its own,
``<name>_bench_instances``, is made beside that one and dropped at the end)
and Redis on 127.0.0.1:6379 (database ``REDIS_DB``, flushed before and
after; nothing else in Redis is touched). Without either it is skipped,
saying which is missing.

Both instances run ``make run``'s settings (less the access log), with the
same ``SECRET_KEY`` and ``PARLEY_REDIS_URL``; a session signed in on one is
used on both, as behind a load balancer without sticky sessions. Which
instance writes a reply is read from the row (its lease owner names the
process), not assumed. Then:

1. **Reader latency**: ``LATENCY_REPLIES`` replies at once, half posted to
   each instance, each read by one reader on each instance: the time from the
   model server's write of a token to a reader's read of it, on the writer's
   instance and on the other. Every reader must see every token as it is
   written (a token that comes only with the finished message is counted).
2. **Stop on the other instance**: a reply read on both instances is stopped
   by a ``POST …/stop`` to the instance that is not writing it, once the
   readers have seen ``STOP_AFTER`` tokens: the time from sending Stop to
   each reader's ``event: done``, and the tokens the row keeps against those
   each reader saw.
3. **Streams held by one instance**: the concurrent-streams steps of
   ``streams.py`` against one instance, its readers on it, then on the other.
4. **Takeover after kill -9**: a reply read on the other instance; once the
   row holds a save and the reader has seen ``TAKEOVER_AFTER`` tokens, the
   writer's whole instance (gunicorn and its worker: its process group) gets
   SIGKILL. The time from the kill to the reader's ``event: done``, the row's
   end (interrupted, its saved text kept) and how many times the model was
   asked for the reply (the fake model logs each request).

Every wait is bounded; everything runs on the loopback and stops by itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.bench import fake_model, streams
from tests.bench.http_pages import (
    GUNICORN_VERSION,
    HOST,
    Server,
    free_port,
    server_environment,
    wait_until_ready,
    worker_pids,
)
from tests.bench.http_pages import (
    stop as stop_gracefully,
)
from tests.bench.report import ROOT, Timing, versions
from tests.bench.seed import with_tables
from tests.bench.streams import INTERVAL_MS, READ_SECONDS, Session, Stream, verdict
from webapp import create_app, gunicorn_conf, replies
from webapp.config import database_uri
from webapp.extensions import db
from webapp.models import Message

REDIS_DB = 10
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
DATABASE_SUFFIX = "_bench_instances"

LATENCY_REPLIES = 6  # at once, half posted to each instance
LATENCY_TOKENS = 200  # 10 s at 20 a second
LATENCY_GOAL_MS = 100.0  # p95, on either instance

STOP_AFTER = (20, 60, 100)  # Stop is pressed once both readers have seen this many tokens
STOP_TOKENS = 400  # longer than any of them, so that Stop always cuts the reply short
STOP_GOAL_MS = 300.0  # Stop sent → the reader's end of stream
STOP_END_SECONDS = 10  # a reader that has not ended this long after Stop has failed

STEPS = ((100, "same"), (150, "same"), (100, "other"))  # streams at once, readers on the writer's instance or not

TAKEOVER_TOKENS = 1_200  # 60 s: far longer than a takeover, so the reply is cut off mid-way
TAKEOVER_AFTER = 60  # tokens the reader has seen (3 s: past the first save) before the kill
TAKEOVER_GOAL_S = 30.0
TAKEOVER_WAIT_S = 90  # a reader that has no end this long after the kill: no takeover

START_SECONDS = 30


def serving_processes() -> Callable[[str], bool] | None:
    """Which processes serve this benchmark though they are not its children
    (for ``Neighbours``): the PostgreSQL backends connected to its database,
    and Redis (shared: whatever else uses it meanwhile counts too)."""
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base:
        return None
    name = f"{make_url(database_uri('BENCH_DATABASE_URL', base)).database}{DATABASE_SUFFIX}"
    return lambda cmdline: (
        (cmdline.startswith("postgres:") and f" {name} " in f"{cmdline} ") or cmdline.startswith("redis-server ")
    )


class Unavailable(Exception):
    """PostgreSQL or Redis is missing: the benchmark is skipped."""


def progress(message: str) -> None:
    print(f"[instances] {message}", file=sys.stderr, flush=True)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Until ``condition()`` is true (it asks the database: no event to wait on), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


# --- the setting: PostgreSQL, Redis, the model, two instances --------------------------------


@contextmanager
def instance_database() -> Iterator[tuple[Flask, str]]:
    """A database of its own beside ``BENCH_DATABASE_URL``, with the tables, and
    an app of this process on it (its context pushed); its URL for the instances."""
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base:
        raise Unavailable(
            "several instances need PostgreSQL: set BENCH_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    url = make_url(database_uri("BENCH_DATABASE_URL", base))
    if not url.drivername.startswith("postgresql"):
        raise Unavailable(f"several instances need PostgreSQL; BENCH_DATABASE_URL is {url.drivername}")
    name = f"{url.database}{DATABASE_SUFFIX}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        raise Unavailable(f"PostgreSQL at BENCH_DATABASE_URL: {str(error).splitlines()[0]}") from None
    own = url.set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "SQLALCHEMY_DATABASE_URI": own,
                "PARLEY_REDIS_URL": None,
            }
        )
        yield from with_tables(app, own)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_database() -> Iterator[str]:
    """Redis database ``REDIS_DB``, empty; flushed again at the end. Its server's version."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        version = client.info("server")["redis_version"]
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        raise Unavailable(f"several instances need Redis on 127.0.0.1:6379: {error}") from None
    try:
        yield version
    finally:
        client.flushdb()
        client.close()


class Instance:
    """One instance: gunicorn with the project's settings (less the access
    log) on its own port, in a process group of its own so that ``kill``
    takes its workers with it."""

    def __init__(self, name: str, env: dict[str, str], log: Path, app: str = "wsgi:app") -> None:
        self.name, self.log = name, log
        for _ in range(3):  # another program may take the free port before gunicorn binds it
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:tests.bench.gunicorn_settings",
                "--bind",
                f"{HOST}:{port}",
                "--error-logfile",
                "-",
                *(["--no-control-socket"] if GUNICORN_VERSION >= (25, 1) else []),
                app,
            ]
            with log.open("ab") as out:
                process = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if wait_until_ready(process, port, "/healthz"):
                self.process, self.port = process, port
                self.workers = set(worker_pids(process.pid))
                return
            self._kill(process)
        raise SystemExit(f"instance {name} did not start; its log:\n{log.read_text()[-3000:]}")

    @property
    def server(self) -> Server:
        return Server(self.port, self.process.pid)

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)

    def kill(self) -> None:
        """kill -9 of the whole instance: gunicorn and its workers."""
        self._kill(self.process)

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL of whatever is left of it."""
        stop_gracefully(self.process)
        self._kill(self.process)


@contextmanager
def setting(
    app: str = "wsgi:app",
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[Instance, Instance, Session, list[uuid.UUID], Path, str]]:
    """Two instances of ``app`` on the bench's own database and Redis database,
    with the fake model: ``(a, b, session, threads, the model's request log,
    Redis version)``. ``app`` and ``extra_env`` are for experiments."""
    with ExitStack() as stack:
        _app, database_url = stack.enter_context(instance_database())
        redis_version = stack.enter_context(redis_database())
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-instances-")))
        model_log = directory / "model-requests.log"
        model_url = stack.enter_context(streams.fake_model_server(model_log))
        first, threads = streams.seed_threads(max(count for count, _ in STEPS) + LATENCY_REPLIES + len(STOP_AFTER) + 1)
        env = {
            **server_environment(database_url),
            "PARLEY_REDIS_URL": REDIS_URL,
            "PARLEY_LLM_BASE_URL": model_url,
            "PARLEY_LLM_MODEL": fake_model.MODEL,
            "PARLEY_SHUTDOWN_GRACE": "2",
            **(extra_env or {}),
        }
        pair = []
        try:
            for name in ("a", "b"):
                pair.append(Instance(name, env, directory / f"{name}.log", app))
            a, b = pair
            session = streams.htmx_session(a.port, first)  # signed in on a, used on both
            yield a, b, session, threads, model_log, redis_version
        except BaseException:
            for instance in pair:
                print(f"instance {instance.name}'s log:\n{instance.log.read_text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            for instance in pair:
                instance.stop()


# --- readers, the writer, the row -------------------------------------------------------------


def post_reply(
    instance: Instance, session: Session, conversation: uuid.UUID, tokens: int, tag: str
) -> tuple[Stream, str]:
    """Post the message that asks for a reply of ``tokens`` to ``instance``
    (which starts writing it); the post's record and the reply's stream path."""
    stream = Stream(conversation, tokens)
    connection = HTTPConnection(HOST, instance.port, timeout=READ_SECONDS)
    try:
        path = streams.post(connection, instance.port, session, stream, INTERVAL_MS, f" ({tag})")
    finally:
        connection.close()
    if path is None:
        raise SystemExit(f"posting to instance {instance.name} failed: {stream.error}")
    return stream, path


class Reader(threading.Thread):
    """Reads a reply's stream on one instance; ``seen(n)`` is set once it has n tokens."""

    def __init__(self, instance: Instance, session: Session, path: str, posted: Stream) -> None:
        super().__init__(daemon=True)
        self.instance, self.session, self.path = instance, session, path
        self.stream = Stream(
            posted.conversation,
            posted.tokens,
            message_id=posted.message_id,
            posted_ns=posted.posted_ns,
            on_token=self._on_token,
        )
        self._waiting: list[tuple[int, threading.Event]] = []
        self._lock = threading.Lock()
        self.ended = threading.Event()

    def _on_token(self, stream: Stream) -> None:
        with self._lock:
            for count, event in self._waiting:
                if len(stream.arrivals) >= count:
                    event.set()

    def seen(self, count: int) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._waiting.append((count, event))
            if len(self.stream.arrivals) >= count:
                event.set()
        return event

    def run(self) -> None:
        connection = HTTPConnection(HOST, self.instance.port, timeout=READ_SECONDS)
        try:
            streams.read(connection, self.session, self.path, self.stream)
        except (OSError, HTTPException) as error:
            self.stream.error = f"{type(error).__name__}: {error}"
        finally:
            connection.close()
            self.ended.set()


def read_on(instances: tuple[Instance, ...], session: Session, path: str, posted: Stream) -> list[Reader]:
    readers = [Reader(instance, session, path, posted) for instance in instances]
    for reader in readers:
        reader.start()
    return readers


@dataclass(frozen=True)
class Row:
    status: str
    tokens: list[int]  # the token indexes of its text, in order
    error: str | None
    lease_owner: str | None


def reply_row(message_id: int) -> Row:
    with db.engine.connect() as connection:
        row = connection.execute(
            select(Message.status, Message.content, Message.error, Message.lease_owner).where(Message.id == message_id)
        ).one()
    tokens = [int(match.group(1)) for match in fake_model.TOKEN.finditer(row.content.encode())]
    return Row(row.status, tokens, row.error, row.lease_owner)


def writer_of(message_id: int, instances: tuple[Instance, ...]) -> Instance:
    """The instance writing the reply, by its row's lease owner (``host:pid:…``), once it has one."""
    owner: list[str] = []

    def claimed() -> bool:
        row = reply_row(message_id)
        if row.status != "pending" and row.lease_owner:
            owner.append(row.lease_owner)
            return True
        if row.status not in ("pending", "streaming"):
            raise SystemExit(f"reply {message_id} ended ({row.status}) before its writer could be told")
        return False

    wait_for(claimed, 30, f"reply {message_id} to be claimed")
    pid = int(owner[0].split(":")[1])
    found = [instance for instance in instances if pid in instance.workers]
    if not found:
        raise SystemExit(f"reply {message_id} is written by {owner[0]}, a process of neither instance")
    return found[0]


def model_calls(log: Path, tag: str) -> int:
    """How many times the fake model was asked for the reply whose message has ``tag``."""
    try:
        return sum(1 for line in log.read_text().splitlines() if line.endswith(f"({tag})"))
    except FileNotFoundError:
        return 0


def run_problems(readers: list[Reader]) -> list[str]:
    return [f"reader on instance {r.instance.name}: {r.stream.error}" for r in readers if r.stream.error]


# --- 1. reader latency, the writer's instance and the other --------------------------------------


@dataclass(frozen=True)
class Latency:
    replies: int
    posted_to_writer: int  # replies written by the instance they were posted to
    same: list[float]  # ms, every token written after its reader connected
    other: list[float]
    final_only: dict[str, int]  # "same"/"other" → tokens a reader got only with the finished message
    missing: dict[str, int]  # tokens a reader never got at all
    batched: dict[str, int]  # readers whose text came in batches about SAVE_SECONDS apart
    rows_wrong: int  # reply rows not complete with all their tokens
    problems: list[str]


def latency(a: Instance, b: Instance, session: Session, threads: list[uuid.UUID]) -> Latency:
    pair = (a, b)
    posts, readers = [], {}
    for i, conversation in enumerate(threads[:LATENCY_REPLIES]):
        instance = pair[i % 2]
        posted, path = post_reply(instance, session, conversation, LATENCY_TOKENS, f"latency {i}")
        readers[posted.message_id] = read_on(pair, session, path, posted)
        posts.append((instance, posted))
    writers = {posted.message_id: writer_of(posted.message_id, pair) for _, posted in posts}
    for group in readers.values():
        for reader in group:
            reader.join(READ_SECONDS + 10)
    same, other = [], []
    final_only, missing, batched = Counter(), Counter(), Counter()
    problems: list[str] = []
    for message_id, group in readers.items():
        for reader in group:
            side = "same" if reader.instance is writers[message_id] else "other"
            s = reader.stream
            (same if side == "same" else other).extend(s.latencies_ms())
            final_only[side] += len(s.final_only)
            missing[side] += s.tokens - len(s.arrivals)
            batched[side] += streams.followed_database(s)
            problems += run_problems([reader])
            if not s.done and not s.error:
                problems.append(f"reader on instance {reader.instance.name}: no `event: done`")
    rows_wrong = sum(
        1
        for message_id in readers
        if (row := reply_row(message_id)).status != "complete" or row.tokens != list(range(LATENCY_TOKENS))
    )
    return Latency(
        replies=len(posts),
        posted_to_writer=sum(1 for instance, posted in posts if writers[posted.message_id] is instance),
        same=same,
        other=other,
        final_only=dict(final_only),
        missing=dict(missing),
        batched=dict(batched),
        rows_wrong=rows_wrong,
        problems=problems,
    )


# --- 2. Stop pressed on the other instance ------------------------------------------------------


@dataclass(frozen=True)
class StopTrial:
    after: int  # tokens both readers had when Stop was sent
    answered_ms: float  # Stop sent → its answer
    status_code: int
    to_end_ms: dict[str, float | None]  # "same"/"other" → Stop sent → that reader's `event: done`
    seen: dict[str, int]  # tokens each reader got as pieces
    final_only: dict[str, int]  # tokens each reader got only with the finished message
    kept: int  # tokens in the row
    in_order: bool  # the row holds tokens 0 … kept-1, in order
    all_seen_kept: bool
    status: str
    problems: list[str]


def form_post(instance: Instance, session: Session, path: str) -> tuple[int, str]:
    connection = HTTPConnection(HOST, instance.port, timeout=READ_SECONDS)
    try:
        connection.request(
            "POST",
            path,
            urlencode({"csrf_token": session.csrf}),
            {
                "Cookie": session.cookie,
                "X-CSRFToken": session.csrf,
                "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def stop_trial(
    a: Instance, b: Instance, session: Session, conversation: uuid.UUID, after: int, index: int
) -> StopTrial:
    pair = (a, b)
    posted, path = post_reply(a, session, conversation, STOP_TOKENS, f"stop {index}")
    readers = read_on(pair, session, path, posted)
    writer = writer_of(posted.message_id, pair)
    elsewhere = b if writer is a else a
    waits = [reader.seen(after) for reader in readers]
    for wait in waits:
        if not wait.wait(30):
            raise SystemExit(
                f"the readers of reply {posted.message_id} never saw {after} tokens: {run_problems(readers)}"
            )
    stop_path = path.rsplit("/stream", 1)[0] + "/stop"
    sent = time.monotonic_ns()
    status_code, _ = form_post(elsewhere, session, stop_path)
    answered = time.monotonic_ns()
    for reader in readers:
        reader.join(STOP_END_SECONDS)
    row = reply_row(posted.message_id)
    to_end, seen, final_only, problems = {}, {}, {}, run_problems(readers)
    for reader in readers:
        side = "same" if reader.instance is writer else "other"
        s = reader.stream
        to_end[side] = (s.done_ns - sent) / 1e6 if s.done else None
        seen[side] = len(s.streamed())
        final_only[side] = len(s.final_only)
        if not s.done and not s.error:
            problems.append(
                f"reader on instance {reader.instance.name}: no `event: done` {STOP_END_SECONDS} s after Stop"
            )
    kept = set(row.tokens)
    all_seen_kept = all(set(reader.stream.streamed()) <= kept for reader in readers)
    return StopTrial(
        after,
        (answered - sent) / 1e6,
        status_code,
        to_end,
        seen,
        final_only,
        len(row.tokens),
        row.tokens == list(range(len(row.tokens))),
        all_seen_kept,
        row.status,
        problems,
    )


# --- 4. kill -9 of the writer's instance --------------------------------------------------------


@dataclass(frozen=True)
class Takeover:
    seconds: float | None  # kill → the reader's `event: done`
    lease_s: float
    heartbeat_s: float
    probe_s: float
    status: str
    error: str | None
    saved_before_kill: int  # tokens in the row just before the kill
    seen: int  # tokens the reader got as pieces
    kept: int  # tokens in the row after the takeover
    kept_is_saved: bool  # the row's text after is the text saved before the kill
    final_says_interrupted: bool  # the finished message the reader got says so
    model_calls: int
    again_ms: float | None  # a new reader afterwards: its stream's end, from its request
    again_interrupted: bool  # ... with the interrupted reply
    model_calls_after: int
    problems: list[str]


def takeover(a: Instance, b: Instance, session: Session, conversation: uuid.UUID, model_log: Path) -> Takeover:
    pair = (a, b)
    posted, path = post_reply(a, session, conversation, TAKEOVER_TOKENS, "takeover")
    writer = writer_of(posted.message_id, pair)
    elsewhere = b if writer is a else a
    [reader] = read_on((elsewhere,), session, path, posted)
    if not reader.seen(TAKEOVER_AFTER).wait(30):
        raise SystemExit(
            f"the reader of reply {posted.message_id} never saw {TAKEOVER_AFTER} tokens: {run_problems([reader])}"
        )
    wait_for(lambda: reply_row(posted.message_id).tokens, 10, "the reply's first save")
    saved = reply_row(posted.message_id).tokens
    killed = time.monotonic_ns()
    writer.kill()
    reader.join(TAKEOVER_WAIT_S)
    row = reply_row(posted.message_id)  # saved once more, maybe, between our look and the kill
    s = reader.stream
    problems = run_problems([reader])
    if not s.done and not s.error:
        problems.append(f"no `event: done` {TAKEOVER_WAIT_S} s after the kill")
    calls = model_calls(model_log, "takeover")
    # A new reader, on the instance left: the reply has ended; the model is not asked again.
    again = Reader(elsewhere, session, path, posted)
    asked = time.monotonic_ns()
    again.run()  # in this thread: it should end at once
    return Takeover(
        seconds=(s.done_ns - killed) / 1e9 if s.done else None,
        lease_s=replies.LEASE.total_seconds(),
        heartbeat_s=replies.HEARTBEAT_SECONDS,
        probe_s=replies.PROBE_SECONDS,
        status=row.status,
        error=row.error,
        saved_before_kill=len(saved),
        seen=len(s.streamed()),
        kept=len(row.tokens),
        kept_is_saved=row.tokens[: len(saved)] == saved and row.tokens == s.streamed()[: len(row.tokens)],
        final_says_interrupted=b"Interrupted" in s.final,
        model_calls=calls,
        again_ms=(again.stream.done_ns - asked) / 1e6 if again.stream.done else None,
        again_interrupted=b"Interrupted" in again.stream.final,
        model_calls_after=model_calls(model_log, "takeover"),
        problems=problems,
    )


# --- the whole run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    latency: Latency
    stops: list[StopTrial]
    steps: list[tuple[str, streams.Step]]
    reading_cpu: list[float | None]  # per step read on the other instance: that instance's CPU, of one core
    takeover: Takeover
    idle_rss_mib: float
    seconds: float
    versions: str
    redis_version: str


def run() -> Results:
    """Raises ``Unavailable`` when PostgreSQL or Redis is missing."""
    started = time.perf_counter()
    with setting() as (a, b, session, threads, model_log, redis_version):
        measured_on = versions()
        idle_rss = streams.Sampler(a.server).now()[0] / 1024
        step_threads, threads = threads[: max(count for count, _ in STEPS)], threads[max(c for c, _ in STEPS) :]
        progress(f"{LATENCY_REPLIES} replies of {LATENCY_TOKENS} tokens, each read on both instances")
        lat = latency(a, b, session, threads[:LATENCY_REPLIES])
        threads = threads[LATENCY_REPLIES:]
        stops = []
        for index, after in enumerate(STOP_AFTER):
            progress(f"Stop on the other instance after {after} tokens")
            stops.append(stop_trial(a, b, session, threads[index], after, index))
        threads = threads[len(STOP_AFTER) :]
        steps, reading_cpu = [], []
        for count, readers in STEPS:
            where = "on it" if readers == "same" else "on the other instance"
            progress(f"{count} streams at once written by instance a, read {where}")
            cpu = b.server.cpu_seconds()
            step = streams.step(
                a.server, session, step_threads, count, a.log, read_port=a.port if readers == "same" else b.port
            )
            steps.append((readers, step))
            reading_cpu.append(None if readers == "same" else (b.server.cpu_seconds() - cpu) / step.seconds)
            progress(f"  {step.completed} of {count} complete, errors: {step.errors}")
        progress("kill -9 of the writer's instance, its reader on the other")
        over = takeover(a, b, session, threads[0], model_log)
    return Results(
        lat, stops, steps, reading_cpu, over, idle_rss, time.perf_counter() - started, measured_on, redis_version
    )


# --- report ------------------------------------------------------------------------------------


def timing(samples: list[float]) -> str:
    if len(samples) < 2:
        return "–"
    t = Timing.of(samples)
    return f"{t.median_ms:.1f} / {t.p95_ms:.1f} / {max(samples):,.0f}"


def p95_under(samples: list[float], goal: float) -> bool:
    return len(samples) > 1 and Timing.of(samples).p95_ms < goal


def render(results: Results) -> str:
    import redis

    lat, over = results.latency, results.takeover
    lines = [
        f"{results.versions} · Redis {results.redis_version} (redis-py {redis.__version__})",
        "",
        f"Two instances: gunicorn {'.'.join(map(str, GUNICORN_VERSION))} with `webapp/gunicorn_conf.py`"
        f" ({gunicorn_conf.workers} worker, {gunicorn_conf.worker_class}, {gunicorn_conf.threads} threads;"
        f" access log off) each, on {HOST}, one PostgreSQL database, `PARLEY_REDIS_URL` at Redis database"
        f" {REDIS_DB}, the same `SECRET_KEY`; `PARLEY_LLM_BASE_URL` at the fake model server (its own"
        f" process); readers: threads of the bench process, `http.client`. All of them share the machine's"
        f" cores. Leases last {over.lease_s:g} s, renewed every {over.heartbeat_s:g} s; a waiting reader"
        f" looks at the row every {over.probe_s:g} s.",
        "",
        f"| {lat.replies} replies at once ({LATENCY_TOKENS} tokens each, {1000 // INTERVAL_MS}/s), half posted"
        " to each instance, each read on both | tokens measured | model writes a token → reader has it:"
        " median / p95 / max ms | tokens that came only with the finished message | tokens never received"
        " | readers fed in ~2 s batches | goal: p95 under 100 ms |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for side, label, samples in (
        ("same", "reader on the writer's instance", lat.same),
        ("other", "reader on the other instance", lat.other),
    ):
        lines.append(
            f"| {label} | {len(samples):,} | {timing(samples)} | {lat.final_only.get(side, 0)}"
            f" | {lat.missing.get(side, 0)} | {lat.batched.get(side, 0)}"
            f" | {verdict(p95_under(samples, LATENCY_GOAL_MS))} |"
        )
    lines += [
        "",
        f"Every reply was written by the instance it was posted to: {lat.posted_to_writer} of {lat.replies}."
        f" Reply rows not `complete` with all their tokens: {lat.rows_wrong}.",
        "",
        "| Stop sent to the other instance, after (tokens) | Stop answered ms | Stop → reader's end of stream:"
        " writer's instance / other instance ms | tokens the reader saw: writer's / other instance"
        " | tokens kept | every token a reader saw kept | reply |",
        "|---:|---:|---:|---:|---:|---|---|",
    ]

    def end_ms(value: float | None) -> str:
        return "no end" if value is None else f"{value:,.0f}"

    for trial in results.stops:
        lines.append(
            f"| {trial.after} | {trial.answered_ms:,.0f}"
            + ("" if trial.status_code == 200 else f" (status {trial.status_code})")
            + f" | {end_ms(trial.to_end_ms.get('same'))} / {end_ms(trial.to_end_ms.get('other'))}"
            f" | {trial.seen.get('same', 0)} / {trial.seen.get('other', 0)} | {trial.kept}"
            + ("" if trial.in_order else " (out of order)")
            + f" | {'yes' if trial.all_seen_kept else '**no**'} | {trial.status} |"
        )
    ends = [v for t in results.stops for v in t.to_end_ms.values()]
    stop_fast = bool(ends) and all(v is not None and v < STOP_GOAL_MS for v in ends)
    all_kept = all(t.all_seen_kept and t.in_order and t.status == "stopped" for t in results.stops)
    lines += [
        "",
        f"Goals: Stop → end of stream under {STOP_GOAL_MS:.0f} ms for every reader — {verdict(stop_fast)};"
        f" every token a reader saw kept — {verdict(all_kept)}.",
        "",
        "| kill -9 of the writer's instance (gunicorn and its worker), its reply read on the other | figure | goal |",
        "|---|---:|---|",
        "| kill → the reader on the other instance has the end | "
        + ("no end" if over.seconds is None else f"{over.seconds:.1f} s")
        + f" | under {TAKEOVER_GOAL_S:g} s:"
        f" {verdict(over.seconds is not None and over.seconds < TAKEOVER_GOAL_S)} |",
        f"| the reply's end, in its row | `{over.status}`: {over.error or '–'} | interrupted |",
        f'| the reader\'s finished message says "Interrupted" | {"yes" if over.final_says_interrupted else "**no**"}'
        " | yes, without a reload |",
        f"| tokens: saved when killed / seen by the reader / kept | {over.saved_before_kill} / {over.seen}"
        f" / {over.kept} | the saved text kept: {verdict(over.kept_is_saved and over.kept > 0)} |",
        f"| model calls for the reply (by the end; after a new reader asked for it again)"
        f" | {over.model_calls}; {over.model_calls_after} | 1: {verdict(over.model_calls_after == 1)} |",
        "| a new reader afterwards: its stream ends after (with the interrupted reply) | "
        + ("no end" if over.again_ms is None else f"{over.again_ms:,.0f} ms")
        + f" ({'yes' if over.again_interrupted else '**no**'}) | |",
        "",
        "The text a reader saw after the last save (every "
        f"{streams.SAVE_SECONDS:g} s) dies with the writer: that is the design, not a loss counted above.",
        "",
        *streams.step_table(
            [
                (f"{step.streams} (read on {'it' if readers == 'same' else 'the other instance'})", step)
                for readers, step in results.steps
            ],
            f"streams at once, written by one instance ({streams.STEP_TOKENS} tokens each, {1000 // INTERVAL_MS}/s)",
        ),
    ]
    held_same = [step.streams for readers, step in results.steps if readers == "same" and step.held]
    held_other = [step.streams for readers, step in results.steps if readers == "other" and step.held]
    lines += [
        "",
        'The steps are those of the streaming table above (the same criteria for "holds"), against one'
        " instance writing through Redis; memory, threads, CPU and `/healthz` are the writing instance's."
        f" Held with readers on it: {', '.join(map(str, held_same)) or 'none'}; with readers on the other"
        f" instance: {', '.join(map(str, held_other)) or 'none'}"
        + "".join(
            f" (the reading instance's CPU meanwhile, {step.streams} streams: {share:.0%} of one core)"
            for (_, step), share in zip(results.steps, results.reading_cpu, strict=False)
            if share is not None
        )
        + f". Goal: at least {streams.STREAMS_GOAL}"
        f" streams — {verdict(max(held_same, default=0) >= streams.STREAMS_GOAL)}."
        f" Worker memory when the instance had just started: {results.idle_rss_mib:.0f} MiB.",
    ]
    problems = lat.problems + [p for t in results.stops for p in t.problems] + over.problems
    for _readers, step in results.steps:
        if step.problems:
            problems += [f"{n} × {problem} ({step.streams} streams)" for problem, n in step.problems.most_common(5)]
    if problems:
        lines.append("Errors: " + "; ".join(problems[:12]) + ".")
    return "\n".join(lines)


def failed(results: Results) -> bool:
    """Whether the run itself went wrong (an instance answered a post or a
    stream request wrongly), not whether a goal was missed: a reader that
    never heard the end is a finding, reported in the tables."""
    problems = results.latency.problems + [p for t in results.stops for p in t.problems] + results.takeover.problems
    return any(": stream: status" in problem for problem in problems)

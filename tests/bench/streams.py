"""Streaming replies (issue 5): how much time Parley adds to each token, how
often a reply writes to the database, and how many streams one default
server holds at once.

Parley is served by gunicorn with the project's settings (``make run``'s
``webapp/gunicorn_conf.py``, less the access log) on a throwaway SQLite
database, with ``PARLEY_LLM_BASE_URL`` pointing at the fake model server of
``fake_model.py``, which runs in a process of its own and stamps every token
with the time it was written. The readers are this process's: a signed-in
htmx post (``POST /c/<id>/messages``), then ``GET`` of the stream URL that the
post's answer names, read with ``http.client`` event by event until
``event: done``, every token's arrival timed against its stamp.

1. **Added latency and database writes**: one reply of 1,000 tokens at 20
   tokens a second, alone on the server. SQLite triggers on ``messages`` and
   ``conversations`` count every row the post and the reply write (rows, not
   statements: an UPDATE that matched nothing is not counted), and tell the
   reply's saves (its text changed) from its lease renewals.
2. **Concurrent streams**: N posts at once, each followed by its own reader,
   every reply 300 tokens at 20 a second; N in ``STEPS``. The burst of posts
   is timed (post → first token); then, once every stream is open and every
   reply has begun, until the first reply ends, the *steady state*: the added
   latency and the gap between tokens of every token written in it. A step
   *holds* when every reader got ``event: done``, every reply row is
   ``complete`` with all its tokens in order, nothing failed (reader, reply
   row or server log), and the steady state lasted ``WINDOW_GOAL_S`` or more
   with a 95th percentile of both under ``STEADY_GOAL_MS``. Memory and
   threads are sampled from ``/proc`` every 0.1 s.

Each reader gives up after ``READ_SECONDS``; the run stops by itself.
"""

from __future__ import annotations

import html
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select, text

from tests.bench import fake_model
from tests.bench.http_pages import (
    GUNICORN_VERSION,
    HOST,
    Server,
    cookie_header,
    cookies_of,
    gunicorn,
    server_environment,
    sign_in,
    worker_pids,
)
from tests.bench.report import ROOT, Timing, versions
from tests.bench.seed import NOW, bench_app, insert_threads, insert_users, thread
from webapp import gunicorn_conf
from webapp.extensions import db
from webapp.models import Message
from webapp.replies import HEARTBEAT_SECONDS, SAVE_SECONDS

LONG_TOKENS = 1_000
INTERVAL_MS = 50  # 20 tokens a second
STEPS = (50, 100, 150)
STEP_TOKENS = 300  # 15 s: long enough to be streaming all at once after the burst of posts
READ_SECONDS = 60  # a reader gives up on a stream that is silent this long, or takes longer in all

LATENCY_GOAL_MS = 5.0
WRITES_GOAL = 36  # "at most a few dozen"
STREAMS_GOAL = 100
STEADY_GOAL_MS = 5 * INTERVAL_MS  # p95 of added latency and of the gap, once all streams flow
WINDOW_GOAL_S = 3.0  # ... for at least this long

USER = "streamer"


def progress(message: str) -> None:
    print(f"[streams] {message}", file=sys.stderr, flush=True)


# --- one reader ---------------------------------------------------------------------


@dataclass
class Stream:
    """One post and the reader of its reply."""

    conversation: uuid.UUID
    tokens: int
    message_id: int | None = None
    posted_ns: int = 0  # the post was sent
    opened_ns: int = 0  # the stream's headers arrived
    arrivals: dict[int, tuple[int, int]] = field(default_factory=dict)  # token -> (sent, received) ns
    event_times: list[int] = field(default_factory=list)  # ns, each event with text
    final_only: set[int] = field(default_factory=set)  # tokens first seen in the finished message
    final: bytes = b""  # the finished message, as it came
    done: bool = False
    done_ns: int = 0  # `event: done` arrived
    error: str | None = None
    on_token: Callable[[Stream], None] | None = None  # called after each event that brought tokens

    def streamed(self) -> list[int]:
        """The tokens that came as pieces, as they were written (not only with the finished message)."""
        return sorted(index for index in self.arrivals if index not in self.final_only)

    def latencies_ms(self) -> list[float]:
        """Model-to-reader time of the tokens written after the reader was connected
        (those written before came in its first event, all at once, by design)."""
        return [
            (got - sent) / 1e6
            for index, (sent, got) in self.arrivals.items()
            if sent >= self.opened_ns and index not in self.final_only
        ]

    def first_token_ms(self) -> float | None:
        if not self.arrivals:
            return None
        return (min(got for _, got in self.arrivals.values()) - self.posted_ns) / 1e6


@dataclass(frozen=True)
class Session:
    cookie: str
    csrf: str


def htmx_session(port: int, conversation: uuid.UUID) -> Session:
    """A signed-in session and its CSRF token, as a page gives htmx."""
    cookie = sign_in(port, USER)
    connection = HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", f"/c/{conversation}", headers={"Cookie": cookie})
        response = connection.getresponse()
        page = response.read().decode()
        jar = dict(part.split("=", 1) for part in cookie.split("; "))
        cookies_of(response, jar)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page)
        if response.status != 200 or not token:
            raise SystemExit(f"GET /c/<id> answered {response.status} without the page's CSRF token")
        return Session(cookie_header(jar), token.group(1))
    finally:
        connection.close()


def follow(port: int, session: Session, stream: Stream, interval_ms: int, read_port: int | None = None) -> None:
    """Post a user message the htmx way, then read its reply's stream to the end
    (on another server, ``read_port``, if given; on the same connection if not)."""
    connection = HTTPConnection(HOST, port, timeout=READ_SECONDS)
    try:
        path = post(connection, port, session, stream, interval_ms)
        if path is None:
            return
        if read_port is not None and read_port != port:
            connection.close()
            connection = HTTPConnection(HOST, read_port, timeout=READ_SECONDS)
        read(connection, session, path, stream)
    except (OSError, HTTPException) as error:
        stream.error = f"{type(error).__name__}: {error}"
    finally:
        connection.close()


def post(
    connection: HTTPConnection, port: int, session: Session, stream: Stream, interval_ms: int, tag: str = ""
) -> str | None:
    """Post the message that asks the fake model for ``stream``'s reply, as htmx
    does; the path of the reply's stream (None, and ``stream.error``, if the
    answer has none). ``tag`` goes into the message, to tell its model call apart."""
    thread_url = f"/c/{stream.conversation}"
    stream.posted_ns = time.monotonic_ns()
    connection.request(
        "POST",
        f"{thread_url}/messages",
        urlencode({"content": fake_model.prompt(stream.tokens, interval_ms) + tag}),
        {
            "Cookie": session.cookie,
            "X-CSRFToken": session.csrf,
            "HX-Request": "true",
            "HX-Current-URL": f"http://{HOST}:{port}{thread_url}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = connection.getresponse()
    body = response.read().decode()
    source = re.search(r'hx-sse:connect="([^"]+)"', body)
    if response.status != 200 or not source:
        stream.error = f"post: status {response.status}" + ("" if source else ", no stream in the answer")
        return None
    path = html.unescape(source.group(1))
    stream.message_id = int(re.search(r"/messages/(\d+)/stream", path).group(1))
    return path


def read(connection: HTTPConnection, session: Session, path: str, stream: Stream) -> None:
    """Read the reply's stream at ``path`` until `event: done`."""
    connection.request(
        "GET", path, headers={"Cookie": session.cookie, "Accept": "text/event-stream", "HX-Request": "true"}
    )
    response = connection.getresponse()
    stream.opened_ns = time.monotonic_ns()
    if response.status != 200 or not response.getheader("Content-Type", "").startswith("text/event-stream"):
        stream.error = f"stream: status {response.status}, {response.getheader('Content-Type')}"
        return
    read_events(response, stream, time.monotonic() + READ_SECONDS)


def read_events(response, stream: Stream, deadline: float) -> None:
    buffer = b""
    while time.monotonic() < deadline:
        data = response.read1(65536)
        received = time.monotonic_ns()
        if not data:
            stream.error = "the stream ended without `event: done`"
            return
        buffer += data
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            lines = block.split(b"\n")
            if b"event: done" in lines:
                stream.done, stream.done_ns = True, received
                return
            payload = b"\n".join(line[6:] for line in lines if line.startswith(b"data: "))
            if not payload:
                continue  # a comment: ": open", ": keep-alive"
            final = b"<article" in payload  # the finished message, which replaces the pieces
            if final:
                stream.final = payload
            else:
                stream.event_times.append(received)
            for match in fake_model.TOKEN.finditer(payload):
                index = int(match.group(1))
                if index not in stream.arrivals:
                    stream.arrivals[index] = (int(match.group(2)), received)
                    if final:
                        stream.final_only.add(index)
            if stream.on_token is not None:
                stream.on_token(stream)
    stream.error = f"no `event: done` within {READ_SECONDS} s"


# --- the server and what it is doing --------------------------------------------------


@contextmanager
def fake_model_server(log: Path | None = None):
    """``fake_model.py`` in a process of its own; its base URL. With ``log``,
    it writes there every request's last user message, one a line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if log is not None:
        env["BENCH_FAKE_MODEL_LOG"] = str(log)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.fake_model"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise SystemExit("the fake model server did not start")
        yield base_url
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def proc_status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def kib(value: str | None) -> int:
    return int(value.split()[0]) if value else 0


class Sampler:
    """The gunicorn workers' resident memory and threads, every 0.1 s, while it runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak_rss_kib = self.peak_threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> tuple[int, int]:
        statuses = [proc_status(pid) for pid in worker_pids(self.server.pid)]
        return sum(kib(s.get("VmRSS")) for s in statuses), sum(int(s.get("Threads", 0)) for s in statuses)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            rss, threads = self.now()
            self.peak_rss_kib, self.peak_threads = max(self.peak_rss_kib, rss), max(self.peak_threads, threads)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Probe:
    """``GET /healthz`` every 0.25 s while it runs: does the server still answer
    anything else while it streams?"""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies_ms: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            connection = HTTPConnection(HOST, self.port, timeout=READ_SECONDS)
            start = time.perf_counter()
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    self.failures += 1
            except (OSError, HTTPException):
                self.failures += 1
            finally:
                connection.close()
            self.latencies_ms.append((time.perf_counter() - start) * 1000)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


SERVER_PROBLEM = re.compile(
    r"^(?:\S+\.)?(\w+(?:Error|Exception|Timeout)\b.*)$|^.*\b(WORKER TIMEOUT|Traceback)\b.*$", re.MULTILINE
)


def log_problems(log: Path, offset: int) -> Counter:
    """The exceptions and worker timeouts gunicorn's log shows after ``offset``."""
    with log.open("rb") as file:
        file.seek(offset)
        tail = file.read().decode("utf-8", "replace")
    problems = Counter()
    for match in SERVER_PROBLEM.finditer(tail):
        if match.group(2) != "Traceback":
            problems[(match.group(1) or match.group(2))[:160]] += 1
    return problems


def check_rows(streams: list[Stream]) -> tuple[Counter, set[int]]:
    """What is wrong with the reply rows, as the database has them, and which rows it is."""
    problems, wrong = Counter(), set()
    ids = {s.message_id: s for s in streams if s.message_id is not None}
    rows = {
        row.id: row
        for row in db.session.execute(
            select(Message.id, Message.status, Message.content, Message.error).where(Message.id.in_(ids))
        )
    }
    db.session.remove()
    for message_id, stream in ids.items():
        row = rows.get(message_id)
        if row is None:
            problem = "reply row missing"
        elif row.status != "complete":
            problem = f"reply row {row.status}: {row.error}"[:160]
        elif [int(m.group(1)) for m in fake_model.TOKEN.finditer(row.content.encode())] != list(range(stream.tokens)):
            problem = "reply row without all its tokens in order"
        else:
            continue
        problems[problem] += 1
        wrong.add(message_id)
    return problems, wrong


# --- 1. one long reply: latency and writes ---------------------------------------------

# Each row written: its table, INSERT or UPDATE, its id, its status after and
# before, and whether its text changed (a save, rather than a lease renewed).
WRITE_TRIGGERS = [
    "CREATE TABLE bench_writes (id INTEGER PRIMARY KEY, tbl TEXT, op TEXT, row_id TEXT, status TEXT,"
    " old_status TEXT, text_changed INTEGER)",
    *(
        f"CREATE TRIGGER bench_{table}_{op.lower()} AFTER {op} ON {table} BEGIN "
        f"INSERT INTO bench_writes (tbl, op, row_id, status, old_status, text_changed)"
        f" VALUES ('{table}', '{op}', NEW.id, {status}, {old_status}, {changed}); END"
        for table, status in (("messages", "NEW.status"), ("conversations", "NULL"))
        for op, old_status, changed in (
            ("INSERT", "NULL", "NULL"),
            (
                "UPDATE",
                "OLD.status" if table == "messages" else "NULL",
                "OLD.content IS NOT NEW.content" if table == "messages" else "NULL",
            ),
        )
    ),
]


@dataclass(frozen=True)
class LongReply:
    stream: Stream
    latency: Timing | None
    latency_max_ms: float
    measured_tokens: int
    writes: Counter  # (what, how) -> rows written
    seconds: float
    cpu_ms_per_token: float  # the server's, the post and the stream included

    @property
    def total_writes(self) -> int:
        return sum(self.writes.values())


def long_reply(server: Server, session: Session, conversation: uuid.UUID) -> LongReply:
    with db.engine.begin() as connection:
        for statement in WRITE_TRIGGERS:
            connection.execute(text(statement))
    stream = Stream(conversation, LONG_TOKENS)
    started, cpu = time.perf_counter(), server.cpu_seconds()
    follow(server.port, session, stream, INTERVAL_MS)
    seconds, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
    with db.engine.begin() as connection:
        rows = connection.execute(
            text("SELECT tbl, op, row_id, status, old_status, text_changed FROM bench_writes")
        ).all()
        for table in ("messages", "conversations"):
            for op in ("insert", "update"):
                connection.execute(text(f"DROP TRIGGER bench_{table}_{op}"))
    writes = Counter()
    reply = str(stream.message_id)
    for table, op, row_id, status, old_status, text_changed in rows:
        if table == "conversations":
            writes[("the thread", f"{op} (message count, activity)")] += 1
        elif row_id == reply:
            if op == "INSERT":
                kind = "insert (pending)"
            elif status == old_status == "streaming":
                kind = (
                    "update while streaming: text saved"
                    if text_changed
                    else "update while streaming: lease renewed (the heartbeat)"
                )
            else:
                kind = f"update {old_status} → {status}"
            writes[("the reply", kind)] += 1
        else:
            writes[("the user message", op.lower())] += 1
    latencies = stream.latencies_ms()
    return LongReply(
        stream,
        Timing.of(latencies) if len(latencies) > 1 else None,
        max(latencies, default=float("nan")),
        len(latencies),
        writes,
        seconds,
        cpu * 1000 / LONG_TOKENS,
    )


# --- 2. concurrent streams ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    streams: int
    completed: int
    connected_s: float  # from the start until the last reader had its stream open
    first_token: Timing | None  # post sent → first token read
    first_token_max_ms: float
    window_s: float  # all streams open and flowing: the steady state
    latency: Timing | None  # of the tokens written in that window
    gap: Timing | None  # between two tokens both written in that window
    batched: int  # readers whose text came in batches SAVE_SECONDS apart: they followed the database
    healthz: Timing | None  # GET /healthz, meanwhile
    healthz_max_ms: float
    rss_before_mib: float
    rss_peak_mib: float
    threads_peak: int
    server_cpu_share: float  # of one core, over the step
    seconds: float
    problems: Counter

    @property
    def errors(self) -> int:
        return sum(self.problems.values())

    @property
    def held(self) -> bool:
        return (
            self.completed == self.streams
            and not self.errors
            and self.window_s >= WINDOW_GOAL_S
            and self.latency is not None
            and self.latency.p95_ms < STEADY_GOAL_MS
            and self.gap is not None
            and self.gap.p95_ms < STEADY_GOAL_MS
        )


def timing(samples: list[float]) -> Timing | None:
    return Timing.of(samples) if len(samples) > 1 else None


def steady_window(streams: list[Stream]) -> tuple[int, int]:
    """From when every reader had its stream open and every reply had begun,
    to when the first reply ended (ns; empty if the first ended before)."""
    if not streams or any(not s.arrivals for s in streams):
        return 0, 0
    start = max(max(s.opened_ns, min(sent for sent, _ in s.arrivals.values())) for s in streams)
    end = min(max(sent for sent, _ in s.arrivals.values()) for s in streams)
    return start, max(start, end)


def followed_database(stream: Stream) -> bool:
    """Text that came in a few batches about SAVE_SECONDS apart, not token by token."""
    times = stream.event_times
    if len(times) < 3:
        return bool(stream.arrivals) and stream.tokens > 20
    gaps = [(b - a) / 1e9 for a, b in zip(times, times[1:], strict=False)]
    return statistics.median(gaps) >= SAVE_SECONDS / 2


def step(
    server: Server,
    session: Session,
    conversations: list[uuid.UUID],
    count: int,
    log: Path,
    read_port: int | None = None,
) -> Step:
    """``count`` posts to ``server`` at once, each reply read from ``server``
    (or from ``read_port``: another instance)."""
    streams = [Stream(conversation, STEP_TOKENS) for conversation in conversations[:count]]
    start_line = threading.Barrier(count + 1)

    def reader(stream: Stream) -> None:
        try:
            start_line.wait()
        except threading.BrokenBarrierError:
            stream.error = "never started"
            return
        follow(server.port, session, stream, INTERVAL_MS, read_port)

    log_offset = log.stat().st_size
    sampler = Sampler(server)
    rss_before = sampler.now()[0]
    threads = [threading.Thread(target=reader, args=(s,), daemon=True) for s in streams]
    for t in threads:
        t.start()
    probe = Probe(server.port)
    with sampler, probe:
        cpu = server.cpu_seconds()
        start_line.wait(timeout=30)
        started, started_ns = time.perf_counter(), time.monotonic_ns()
        for t in threads:
            t.join(READ_SECONDS * 2 + 5)
        seconds = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
    time.sleep(0.5)  # let the server log what it has to say
    row_problems, wrong_rows = check_rows(streams)
    problems = Counter(s.error for s in streams if s.error) + row_problems
    problems += Counter({f"server log: {k}": n for k, n in log_problems(log, log_offset).items()})
    if probe.failures:
        problems["`GET /healthz` failed meanwhile"] += probe.failures
    completed = sum(
        1 for s in streams if s.done and not s.error and len(s.arrivals) == s.tokens and s.message_id not in wrong_rows
    )
    first = [ms for s in streams if (ms := s.first_token_ms()) is not None]
    window_start, window_end = steady_window(streams)

    def in_window(sent: int) -> bool:
        return window_start <= sent <= window_end

    latencies, gaps = [], []
    for s in streams:
        latencies += [(got - sent) / 1e6 for sent, got in s.arrivals.values() if in_window(sent)]
        ordered = [s.arrivals[i] for i in range(s.tokens) if i in s.arrivals]
        gaps += [
            (b[1] - a[1]) / 1e6
            for a, b in zip(ordered, ordered[1:], strict=False)
            if in_window(a[0]) and in_window(b[0])
        ]
    opened = [s.opened_ns for s in streams if s.opened_ns]
    return Step(
        streams=count,
        completed=completed,
        connected_s=(max(opened) - started_ns) / 1e9 if len(opened) == count else float("nan"),
        first_token=timing(first),
        first_token_max_ms=max(first, default=float("nan")),
        window_s=(window_end - window_start) / 1e9,
        latency=timing(latencies),
        gap=timing(gaps),
        batched=sum(1 for s in streams if followed_database(s)),
        healthz=timing(probe.latencies_ms),
        healthz_max_ms=max(probe.latencies_ms, default=float("nan")),
        rss_before_mib=rss_before / 1024,
        rss_peak_mib=sampler.peak_rss_kib / 1024,
        threads_peak=sampler.peak_threads,
        server_cpu_share=cpu / seconds,
        seconds=seconds,
        problems=problems,
    )


# --- the whole run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    long: LongReply
    steps: list[Step]
    idle_rss_mib: float
    seconds: float
    versions: str


def seed_threads(count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A thread for the long reply and ``count`` for the concurrent ones."""
    users = insert_users([USER])
    rows = [thread(users[USER], NOW - timedelta(minutes=i), 2, f"Stream {i}") for i in range(count + 1)]
    insert_threads(rows)
    db.session.commit()
    db.session.remove()
    ids = [conversation["id"] for conversation, _ in rows]
    return ids[0], ids[1:]


@contextmanager
def streaming_server(
    app: str = "wsgi:app",
    extra_env: dict[str, str] | None = None,
    gunicorn_args: tuple[str, ...] = (),
    threads: int = max(STEPS),
):
    """Parley on a seeded throwaway database, talking to the fake model:
    ``(server, session, long thread, step threads, gunicorn's log)``."""
    with (
        bench_app("sqlite") as (_app, url),
        fake_model_server() as model_url,
        tempfile.TemporaryDirectory(prefix="parley-bench-streams-") as directory,
    ):
        long_thread, step_threads = seed_threads(threads)
        env = {
            **server_environment(url),
            "PARLEY_LLM_BASE_URL": model_url,
            "PARLEY_LLM_MODEL": fake_model.MODEL,
            **(extra_env or {}),
        }
        log = Path(directory) / "gunicorn.log"
        try:
            with gunicorn(app, env, "/healthz", log, gunicorn_args) as server:
                yield server, htmx_session(server.port, long_thread), long_thread, step_threads, log
        except BaseException:
            print(f"gunicorn's log:\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise


def run(steps: tuple[int, ...] = STEPS) -> Results:
    started = time.perf_counter()
    with streaming_server() as (server, session, long_thread, step_threads, log):
        idle_rss = Sampler(server).now()[0] / 1024
        progress(
            f"one reply of {LONG_TOKENS:,} tokens at {1000 // INTERVAL_MS} a second"
            f" ({LONG_TOKENS * INTERVAL_MS / 1000:.0f} s)"
        )
        long = long_reply(server, session, long_thread)
        if long.stream.error:
            raise SystemExit(f"the long reply failed: {long.stream.error}")
        results = []
        for count in steps:
            progress(f"{count} streams at once")
            results.append(step(server, session, step_threads, count, log))
            progress(f"  {results[-1].completed} of {count} complete, errors: {results[-1].errors}")
            time.sleep(1)
        measured_on = versions()
    return Results(long, results, idle_rss, time.perf_counter() - started, measured_on)


# --- report ------------------------------------------------------------------------------


def ms(t: Timing | None) -> str:
    return "–" if t is None else f"{t.median_ms:.1f} / {t.p95_ms:.1f}"


def render(results: Results) -> str:
    long = results.long
    lat = long.latency
    lines = [
        results.versions,
        "",
        f"gunicorn {'.'.join(map(str, GUNICORN_VERSION))} with `webapp/gunicorn_conf.py`"
        f" ({gunicorn_conf.workers} worker, {gunicorn_conf.worker_class}, {gunicorn_conf.threads} threads;"
        f" access log off) on {HOST}, `PARLEY_LLM_BASE_URL` at the fake model server (its own process);"
        f" readers: threads of the bench process, `http.client`. All three share the machine's cores."
        f" The reply engine (`webapp.replies`, in-process relay: no `PARLEY_REDIS_URL`) saves a reply's text"
        f" every {SAVE_SECONDS:g} s (`SAVE_SECONDS`) and renews its writer's lease every {HEARTBEAT_SECONDS:g} s"
        f" (`HEARTBEAT_SECONDS`).",
        "",
        "| one reply alone | figure | goal |",
        "|---|---:|---|",
        f"| added latency, model server writes a token → SSE reader has it: median / p95 ms"
        f" ({long.measured_tokens:,} tokens, max {long.latency_max_ms:.1f} ms)"
        f" | {ms(lat)} | under {LATENCY_GOAL_MS:g} ms: {verdict(lat is not None and lat.p95_ms < LATENCY_GOAL_MS)} |",
        f"| server CPU per token (gunicorn's user + system time over the whole reply, post included)"
        f" | {long.cpu_ms_per_token:.2f} ms | |",
        f"| rows written for one {LONG_TOKENS:,}-token reply at {1000 // INTERVAL_MS} tokens/s"
        f" ({long.seconds:.0f} s), the post included: "
        + ", ".join(f"{what} {how} × {n}" for (what, how), n in sorted(long.writes.items()))
        + f" (the heartbeat renews every lease its process holds in one UPDATE: one statement every"
        f" {HEARTBEAT_SECONDS:g} s however many replies are being written, a row each)"
        f" | {long.total_writes} | a few dozen (≤ {WRITES_GOAL}):"
        f" {verdict(long.total_writes <= WRITES_GOAL)} |",
        "",
        *step_table(
            [(f"{s.streams}", s) for s in results.steps],
            f"streams at once ({STEP_TOKENS} tokens each, {1000 // INTERVAL_MS}/s)",
        ),
    ]
    held = [s.streams for s in results.steps if s.held]
    most = max(held, default=0)
    lines += [
        "",
        'The posts of a step go out at once; "steady" is the time from when every reader had its stream open'
        " and every reply had begun to when the first reply ended, and its figures are those of the tokens"
        " written in it. A step holds when every reader got `event: done`, every reply row is `complete`"
        f" with all its tokens, nothing failed, and the steady state lasted {WINDOW_GOAL_S:g} s or more"
        f" with a p95 of added latency and of the gap under {STEADY_GOAL_MS} ms (the model sends a token"
        f' every {INTERVAL_MS} ms). "Fed from the database": readers whose text came in batches about'
        f" {SAVE_SECONDS:g} s apart, as it is saved (the engine's readers follow the relay, never the row,"
        f" so this should be 0). Held: {', '.join(map(str, held)) or 'none'}."
        f" Goal: at least {STREAMS_GOAL} streams — {verdict(most >= STREAMS_GOAL)}."
        f" Worker memory when the server had just started: {results.idle_rss_mib:.0f} MiB.",
    ]
    for s in results.steps:
        if s.problems:
            lines.append(
                f"Errors with {s.streams} streams: "
                + "; ".join(f"{n} × {problem}" for problem, n in s.problems.most_common(5))
                + "."
            )
    return "\n".join(lines)


def step_table(rows: list[tuple[str, Step]], first_header: str) -> list[str]:
    """The Markdown table of concurrent-stream steps: each row's first cell, then its figures."""
    lines = [
        f"| {first_header} | complete"
        " | all open after s | post → first token: median / p95 / max ms"
        " | steady state s | steady: added latency median / p95 ms | steady: gap median / p95 ms"
        " | readers fed from the database | `GET /healthz` meanwhile: median / p95 / max ms"
        " | worker memory: idle → peak MiB | worker threads (peak) | server CPU (of one core) | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for first, s in rows:
        lines.append(
            f"| {first} | {s.completed} / {s.streams} | {s.connected_s:.1f}"
            f" | {ms(s.first_token)} / {s.first_token_max_ms:,.0f} | {s.window_s:.1f} | {ms(s.latency)}"
            f" | {ms(s.gap)} | {s.batched} | {ms(s.healthz)} / {s.healthz_max_ms:,.0f}"
            f" | {s.rss_before_mib:.0f} → {s.rss_peak_mib:.0f}"
            f" | {s.threads_peak} | {s.server_cpu_share:.0%} | {s.errors} |"
        )
    return lines


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def failed(results: Results) -> bool:
    """Whether the run itself went wrong (not whether a goal was missed)."""
    return bool(results.long.stream.error)

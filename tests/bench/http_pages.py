"""Are the pages as fast for a big account as for a small one, and how close
do they come to a bare Flask app?

Serves the real app with gunicorn (the project's ``webapp/gunicorn_conf.py``,
less the access log) on loopback, on the seeded database, signs in through
the real ``/login`` form, and sends the same number of requests to each page
with a concurrent client: threads, each with its own keep-alive connection.
A bare Flask "hello" app (``hello_app.py``) runs under the same settings at
the same time, and its rounds take turns with Parley's, so that drift hits
both alike.

Every response is checked (status 200 and content that proves it is the
page asked for, for the user who asked); any other answer is an error, and a
run with errors fails.
"""

from __future__ import annotations

import html
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException, HTTPResponse
from http.cookies import SimpleCookie
from itertools import count
from pathlib import Path
from urllib.parse import urlencode

import gunicorn as gunicorn_package
from sqlalchemy import select

from tests.bench.report import ROOT, Timing, versions
from tests.bench.seed import LARGE, PASSWORD, SMALL, Seeded, message_text, thread_title
from webapp import gunicorn_conf
from webapp.extensions import db
from webapp.models import Conversation

HOST = "127.0.0.1"
REQUESTS = 2_000  # measured requests per case
CONCURRENCY = 8  # client threads, one keep-alive connection each
ROUNDS = 4  # each case's requests come in this many rounds; the cases take turns
WARMUP = 100  # unmeasured requests per case, first
CASE_SECONDS = 25  # a case stops early (and says so) after this long, all rounds together
START_SECONDS = 30  # for a server to answer its first request
PAGE = 50  # threads in the sidebar, messages in the pane
GUNICORN_VERSION = tuple(gunicorn_package.version_info)


# --- what is asked, and what a right answer contains -----------------------------


@dataclass(frozen=True, eq=False)  # eq=False: each case is its own dict key
class Case:
    label: str
    server: str  # "parley" or "hello"
    path: str
    user: str | None = None  # signed in as
    headers: dict[str, str] = field(default_factory=dict)
    present: tuple[str, ...] = ()  # each must be in the body
    absent: tuple[str, ...] = ()  # none may be
    method: str = "GET"
    body: bytes | None = None
    status: int = 200  # the right answer's

    def problem(self, status: int, body: bytes) -> str | None:
        """What is wrong with this answer, or None."""
        if status != self.status:
            return f"status {status}"
        text = body.decode("utf-8", "replace")
        for needle in self.present:
            if needle not in text:
                return f"missing {needle!r}"
        for needle in self.absent:
            if needle in text:
                return f"unexpected {needle!r}"
        return None


@dataclass(frozen=True)
class Pair:
    title: str
    small: Case
    large: Case


def newest_thread(user_id: int) -> uuid.UUID:
    return db.session.scalar(
        select(Conversation.id)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(1)
    )


def signed_in_as(user: str) -> str:
    return f'title="Signed in as {user}"'


def sidebar_page() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A full first page of the sidebar: threads 1 to 50 and a link to more."""
    link = ">{}</a>".format
    return (link(thread_title(1)), link(thread_title(PAGE)), "Show older chats"), (link(thread_title(PAGE + 1)),)


def message_html(position: int) -> str:
    return f"<p>{html.escape(message_text(position), quote=False)}</p>"


def pane(latest: int, title: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the pane of a thread whose last message is at ``latest`` shows,
    and what it must not: exactly the last 50 messages."""
    present = (
        f'<h1 id="pane-title" dir="auto">{html.escape(title)}</h1>',
        message_html(latest),
        message_html(max(1, latest - PAGE + 1)),
    )
    if latest <= PAGE:
        return present, ()
    return (*present, "Load earlier messages"), (message_html(latest - PAGE),)


def cases(seeded: Seeded) -> tuple[Case, list[Case], list[Pair]]:
    """The bare baseline, Parley's cheapest answers (for scale), and the pairs
    whose small and large case must cost the same."""
    users = seeded.users
    first = {name: newest_thread(users[name]) for name in ("few_threads", "many_threads")}
    db.session.remove()
    sidebar_present, sidebar_absent = sidebar_page()

    def thread_page(user: str, thread: uuid.UUID, latest: int, title: str, label: str) -> Case:
        shown, not_shown = pane(latest, title)
        return Case(label, "parley", f"/c/{thread}", user, present=(signed_in_as(user), *shown), absent=not_shown)

    def full_sidebar(case: Case) -> Case:
        return Case(
            case.label,
            case.server,
            case.path,
            case.user,
            present=(*case.present, *sidebar_present),
            absent=(*case.absent, *sidebar_absent),
        )

    def sidebar_partial(user: str, label: str) -> Case:
        # The partial alone: no page around it.
        return Case(
            label,
            "parley",
            "/sidebar",
            user,
            {"HX-Request": "true"},
            present=sidebar_present,
            absent=(*sidebar_absent, "<html", "<main"),
        )

    hello = Case("bare Flask `hello`", "hello", "/", present=("hello",))
    references = [
        Case("`GET /healthz` (no session, `SELECT 1`)", "parley", "/healthz", present=("ok",)),
        Case(
            "`GET /settings` (signed in, a small page)",
            "parley",
            "/settings",
            "few_threads",
            present=(signed_in_as("few_threads"), "Change your password"),
        ),
    ]
    pairs = [
        Pair(
            f"thread page `GET /c/<id>`: thread of {SMALL:,} vs {LARGE:,} messages",
            thread_page("threads", seeded.short_thread, SMALL, "Short thread", f"{SMALL:,} messages"),
            thread_page("threads", seeded.long_thread, LARGE, "Long thread", f"{LARGE:,} messages"),
        ),
        Pair(
            f"sidebar partial `GET /sidebar` (htmx): account of {SMALL:,} vs {LARGE:,} threads",
            sidebar_partial("few_threads", f"{SMALL:,} threads"),
            sidebar_partial("many_threads", f"{LARGE:,} threads"),
        ),
        Pair(
            f"thread page with its sidebar `GET /c/<id>`: account of {SMALL:,} vs {LARGE:,} threads",
            full_sidebar(thread_page("few_threads", first["few_threads"], 2, thread_title(1), f"{SMALL:,} threads")),
            full_sidebar(thread_page("many_threads", first["many_threads"], 2, thread_title(1), f"{LARGE:,} threads")),
        ),
    ]
    return hello, references, pairs


# --- servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_environment(database_url: str) -> dict[str, str]:
    """This environment without Parley's settings, then only those the bench sets."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PARLEY_") and k not in ("DATABASE_URL", "SECRET_KEY")
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_hex(32),
        PARLEY_RATELIMIT_ENABLED="0",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


@dataclass(frozen=True)
class Server:
    port: int
    pid: int  # gunicorn's arbiter; the worker is its child

    def cpu_seconds(self) -> float:
        """User + system CPU time of the arbiter and its workers, so far."""
        total = 0
        for pid in (self.pid, *worker_pids(self.pid)):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def cpu_ns(self) -> int:
        """Time the server's threads (arbiter and workers) have spent on a
        CPU so far, in nanoseconds (``schedstat``: finer than the clock ticks
        of ``cpu_seconds``, for one request at a time)."""
        total = 0
        for pid in (self.pid, *worker_pids(self.pid)):
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue
            for task in tasks:
                try:
                    total += int((task / "schedstat").read_text().split()[0])
                except (OSError, IndexError, ValueError):
                    continue
        return total


def worker_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@contextmanager
def gunicorn(
    app: str, env: dict[str, str], ready_path: str, log: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``app`` served by gunicorn with the project's settings (less the access
    log: see ``gunicorn_settings.py``; ``extra_args`` override them), on a
    free port of the loopback; stopped (SIGTERM, a graceful shutdown) on the
    way out."""
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
            # Since gunicorn 25.1 every instance opens ~/.gunicorn/gunicorn.ctl (or one in
            # $XDG_RUNTIME_DIR) unless told otherwise: it would take over a running server's.
            *(["--no-control-socket"] if GUNICORN_VERSION >= (25, 1) else []),
            *extra_args,
            app,
        ]
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            if wait_until_ready(process, port, ready_path):
                yield Server(port, process.pid)
                return
            if process.poll() is None:
                raise SystemExit(f"gunicorn did not answer {ready_path} within {START_SECONDS} s")
        finally:
            stop(process)
    raise SystemExit(f"gunicorn could not serve {app}")


def wait_until_ready(process: subprocess.Popen, port: int, path: str, seconds: float = START_SECONDS) -> bool:
    """Whether the server answered ``path`` with a 200 within ``seconds``;
    False as soon as it exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        connection = HTTPConnection(HOST, port, timeout=5)
        try:
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=35)  # gunicorn_conf's graceful_timeout, and a little
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- signing in ------------------------------------------------------------------


def cookies_of(response: HTTPResponse, jar: dict[str, str]) -> dict[str, str]:
    for header in response.headers.get_all("Set-Cookie") or ():
        for name, morsel in SimpleCookie(header).items():
            jar[name] = morsel.value
    return jar


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def sign_in(port: int, username: str) -> str:
    """The ``Cookie`` header of a session signed in through the real form."""
    connection = HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", "/login")
        response = connection.getresponse()
        page = response.read().decode()
        jar = cookies_of(response, {})
        field_tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
        token = field_tag and re.search(r'value="([^"]+)"', field_tag.group())
        if response.status != 200 or not token:
            raise SystemExit(f"GET /login answered {response.status} without a CSRF token")
        form = urlencode({"csrf_token": html.unescape(token.group(1)), "username": username, "password": PASSWORD})
        connection.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header(jar)}
        )
        response = connection.getresponse()
        response.read()
        cookies_of(response, jar)
        if response.status != 303:
            raise SystemExit(f"signing in as {username} answered {response.status}, not 303")
        connection.request("GET", "/", headers={"Cookie": cookie_header(jar)})
        response = connection.getresponse()
        if response.status != 200 or signed_in_as(username) not in response.read().decode():
            raise SystemExit(f"signed in as {username}, but / does not say so ({response.status})")
        return cookie_header(jar)
    finally:
        connection.close()


def answer_bytes(port: int, case: Case, headers: dict[str, str], timeout: float = 30) -> int:
    """The bytes of the body of ``case``'s answer (one more request, checked)."""
    connection = HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(case.method, case.path, case.body, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if problem := case.problem(response.status, body):
            raise SystemExit(f"{case.server} {case.method} {case.path}: {problem}")
        return len(body)
    finally:
        connection.close()


# --- the client ------------------------------------------------------------------


@dataclass
class Tally:
    """What a case has measured so far, over all its rounds."""

    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the rounds, first request sent to last answer read
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    errors: Counter = field(default_factory=Counter)
    cut_short: bool = False

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)


def send(
    port: int,
    path: str | list[str],
    headers: dict[str, str],
    requests: int,
    concurrency: int,
    deadline: float,
    case: Case,
    tally: Tally,
) -> None:
    """``requests`` requests (``case.method``, with ``case.body``) for ``path``
    from ``concurrency`` threads, each answer checked by ``case``, all of it
    added to ``tally``. A list of paths gives each thread its own."""
    tickets = count()
    start_line = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    paths = [path] * concurrency if isinstance(path, str) else path
    errors: Counter = Counter()

    def client(kept: list[float], path: str) -> None:
        connection = HTTPConnection(HOST, port, timeout=30)
        try:
            try:
                connection.connect()  # before the clock starts; a failure here is retried below
            except OSError as error:
                errors[f"{type(error).__name__}: {error}"] += 1
            start_line.wait()
            while next(tickets) < requests and time.monotonic() < deadline:
                sent = time.perf_counter()
                try:
                    connection.request(case.method, path, case.body, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, HTTPException) as error:
                    errors[f"{type(error).__name__}: {error}"] += 1
                    connection.close()  # the next request reconnects
                    continue
                kept.append((time.perf_counter() - sent) * 1000)
                if problem := case.problem(response.status, body):
                    errors[problem] += 1
        except threading.BrokenBarrierError:
            pass
        finally:
            connection.close()

    threads = [
        threading.Thread(target=client, args=(kept, path), daemon=True)
        for kept, path in zip(latencies, paths, strict=False)
    ]
    for thread in threads:
        thread.start()
    start_line.wait(timeout=START_SECONDS)
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    elapsed, client_cpu = time.perf_counter() - started, time.process_time() - cpu
    tally.errors.update(errors)
    tally.seconds += elapsed
    tally.client_cpu += client_cpu
    for kept in latencies:
        tally.latencies_ms.extend(kept)


@dataclass(frozen=True)
class Figures:
    timing: Timing
    per_second: float
    server_cpu_ms: float  # per request
    client_cpu_ms: float  # per request
    requests: int
    cut_short: bool

    @classmethod
    def of(cls, tally: Tally) -> Figures:
        if tally.requests < 2:  # nothing answered: the run fails on its errors, but still reports
            nan = float("nan")
            return cls(Timing(nan, nan), nan, nan, nan, tally.requests, True)
        return cls(
            Timing.of(tally.latencies_ms),
            tally.requests / tally.seconds,
            tally.server_cpu / tally.requests * 1000,
            tally.client_cpu / tally.requests * 1000,
            tally.requests,
            tally.cut_short,
        )


@dataclass(frozen=True)
class Results:
    hello: Figures
    references: list[tuple[Case, Figures]]
    pairs: list[tuple[Pair, Figures, Figures]]
    errors: Counter
    requests: int
    concurrency: int
    seconds: float


def measure(
    servers: dict[str, Server],
    cookies: dict[str, str],
    hello: Case,
    references: list[Case],
    pairs: list[Pair],
    requests: int,
    concurrency: int,
) -> Results:
    started = time.perf_counter()
    every = [hello, *references, *(case for pair in pairs for case in (pair.small, pair.large))]
    tallies = {case: Tally() for case in every}

    def headers(case: Case) -> dict[str, str]:
        return {**case.headers, **({"Cookie": cookies[case.user]} if case.user else {})}

    warm_up = Tally()  # its timings are thrown away, its errors are not
    for case in every:
        send(
            servers[case.server].port,
            case.path,
            headers(case),
            WARMUP,
            concurrency,
            time.monotonic() + CASE_SECONDS,
            case,
            warm_up,
        )
    per_round = -(-requests // ROUNDS)
    for round_number in range(ROUNDS):
        progress(f"round {round_number + 1} of {ROUNDS}")
        for case in every:
            tally, server = tallies[case], servers[case.server]
            wanted = min(per_round, requests - tally.requests)
            budget = CASE_SECONDS - tally.seconds
            if wanted <= 0 or budget <= 0:
                tally.cut_short |= wanted > 0
                continue
            cpu = server.cpu_seconds()
            send(server.port, case.path, headers(case), wanted, concurrency, time.monotonic() + budget, case, tally)
            tally.server_cpu += server.cpu_seconds() - cpu
    for tally in tallies.values():
        tally.cut_short |= tally.requests < requests
    errors = warm_up.errors + sum((t.errors for t in tallies.values()), Counter())
    figures = {case: Figures.of(tally) for case, tally in tallies.items()}
    return Results(
        hello=figures[hello],
        references=[(case, figures[case]) for case in references],
        pairs=[(pair, figures[pair.small], figures[pair.large]) for pair in pairs],
        errors=errors,
        requests=requests,
        concurrency=concurrency,
        seconds=time.perf_counter() - started,
    )


# --- the whole run ---------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[http] {message}", file=sys.stderr, flush=True)


@contextmanager
def parley_and_bare(
    database_url: str, name: str, settings: dict[str, str] | None = None
) -> Iterator[dict[str, Server]]:
    """Parley (``"parley"``, with ``settings`` in its environment) and the
    bare app (``"hello"``) served side by side on the database at
    ``database_url``; gunicorn's log is printed if anything in the block fails."""
    env = server_environment(database_url) | (settings or {})
    with tempfile.TemporaryDirectory(prefix=f"parley-bench-{name}-") as directory, ExitStack() as stack:
        log = Path(directory) / "gunicorn.log"
        try:
            yield {
                "parley": stack.enter_context(gunicorn("wsgi:app", env, "/healthz", log)),
                "hello": stack.enter_context(gunicorn("tests.bench.hello_app:app", env, "/", log)),
            }
        except BaseException:
            print(f"gunicorn's log:\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise


def run(seeded: Seeded, database_url: str, requests: int = REQUESTS, concurrency: int = CONCURRENCY) -> Results:
    hello, references, pairs = cases(seeded)
    with parley_and_bare(database_url, "http") as servers:
        users = {case.user for pair in pairs for case in (pair.small, pair.large)}
        users |= {case.user for case in references if case.user}
        cookies = {user: sign_in(servers["parley"].port, user) for user in sorted(users)}
        progress(f"servers up, signed in as {', '.join(sorted(users))}; warming up")
        return measure(servers, cookies, hello, references, pairs, requests, concurrency)


# --- report ----------------------------------------------------------------------

RATIO_GOAL = 1.3


def render(results: Results) -> str:
    hello = results.hello

    cores = len(os.sched_getaffinity(0))

    def share(figures: Figures) -> str:
        return f"{figures.per_second / hello.per_second:.0%}"

    lines = [
        versions(),
        "",
        f"gunicorn {'.'.join(map(str, GUNICORN_VERSION))} with `webapp/gunicorn_conf.py`"
        f" ({gunicorn_conf.workers} worker, {gunicorn_conf.worker_class}, {gunicorn_conf.threads} threads;"
        f" access log off) on {HOST}; the client: {results.concurrency} threads of the bench process,"
        f" one keep-alive connection each. **Client and server share this machine's {cores} cores**"
        f" (the client took {hello.client_cpu_ms:.2f} ms of CPU per request of the bare app). Each figure:"
        f" {results.requests:,} requests after {WARMUP} warm-up requests, in {ROUNDS} rounds taking turns with"
        ' the other cases; every response checked (status 200 and the expected content). "% of bare":'
        ' requests per second over those of a bare Flask app (one route returning "hello") served the same'
        " way in the same run. Server CPU: gunicorn's user + system time over the requests it answered.",
        "",
        "| request | small: median / p95 ms | large: median / p95 ms | ratio large/small"
        " | requests/s small / large | % of bare small / large | server CPU ms/request small / large |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for pair, small, large in results.pairs:
        ratio = large.timing.median_ms / small.timing.median_ms
        lines.append(
            f"| {pair.title} | {small.timing.median_ms:.2f} / {small.timing.p95_ms:.2f}"
            f" | {large.timing.median_ms:.2f} / {large.timing.p95_ms:.2f} | {ratio:.2f}"
            f" | {small.per_second:,.0f} / {large.per_second:,.0f} | {share(small)} / {share(large)}"
            f" | {small.server_cpu_ms:.2f} / {large.server_cpu_ms:.2f} |"
        )
    lines += [
        "",
        "| for scale | median / p95 ms | requests/s | % of bare | server CPU ms/request |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, figures in [("bare Flask `hello`", hello), *((case.label, f) for case, f in results.references)]:
        lines.append(
            f"| {label} | {figures.timing.median_ms:.2f} / {figures.timing.p95_ms:.2f}"
            f" | {figures.per_second:,.0f} | {share(figures)} | {figures.server_cpu_ms:.2f} |"
        )
    lines += ["", verdict(results)]
    measured = [
        ("bare hello", hello),
        *((case.label, f) for case, f in results.references),
        *(
            (f"{pair.title}, {which}", f)
            for pair, *both in results.pairs
            for which, f in zip(("small", "large"), both, strict=False)
        ),
    ]
    if short := [label for label, figures in measured if figures.cut_short]:
        lines.append(f"Cut short by the limit of {CASE_SECONDS} s per case: {'; '.join(short)}.")
    return "\n".join(lines)


def verdict(results: Results) -> str:
    worst_ratio = max(large.timing.median_ms / small.timing.median_ms for _, small, large in results.pairs)
    ratio_met = "met" if worst_ratio < RATIO_GOAL else "**not met**"
    return (
        f"Goal: large/small under {RATIO_GOAL} — worst {worst_ratio:.2f}, {ratio_met}. What a page costs beside"
        " serving its bytes is the next table's business (`page_cost.py`). Errors:"
        f" {sum(results.errors.values())}."
    )


def describe_errors(results: Results) -> str:
    return "\n".join(f"  {n} × {problem}" for problem, n in results.errors.most_common())

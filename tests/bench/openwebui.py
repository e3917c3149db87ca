"""Parley side by side with Open WebUI on the same data (issue 18).

Not part of ``make test`` or CI, and skipped by ``make bench`` unless
``OPENWEBUI_VENV`` names a virtualenv with Open WebUI installed (``pip
install open-webui``, kept outside this repository)::

    OPENWEBUI_VENV=/opt/owui python tests/bench/run.py --only openwebui

Both servers run at once on the loopback, one process each: Parley under
gunicorn with the project's settings (less the access log) on a throwaway
SQLite database; Open WebUI as ``open-webui serve`` (uvicorn, one worker,
its own SQLite database in a temporary ``DATA_DIR``), offline, with its
model connections and local embedding model off. Both hold the same data:
one account of 1,000 chats, the newest of them 1,000 messages long
(200-character user turns, 800-character assistant turns), the others of
two messages. Open WebUI is seeded through its API (``POST
/api/v1/chats/new``, the chat as its UI sends it: ``messages`` and
``history``), as an admin made by its signup API.

Three pairs, each the request its interface makes for the same thing:

- the new-chat page with its sidebar (``GET /``) against Open WebUI's
  first page of the chat list (``GET /api/v1/chats/?page=1``, 60 chats);
- the long chat (``GET /c/<id>``, its latest 50 messages) against Open
  WebUI's whole chat (``GET /api/v1/chats/<id>``);
- appending a message through the API (``POST
  /api/conversations/<id>/messages``) against Open WebUI's save of the
  whole chat with the new message (``POST /api/v1/chats/<id>``), as its UI
  saves after each message.

Requests are sequential on one keep-alive connection per server, in rounds
that take turns between the two; every answer is checked. Server CPU is the
time the server's threads spent on a CPU (``/proc/<pid>/task/*/schedstat``)
over the measured requests.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path

from sqlalchemy import select

from tests.bench.browser_page import ANSWER, MESSAGES, QUESTION, THREADS, USER, seed_reader, words
from tests.bench.http_pages import (
    GUNICORN_VERSION,
    HOST,
    Case,
    Server,
    Tally,
    answer_bytes,
    free_port,
    gunicorn,
    send,
    server_environment,
    sign_in,
    signed_in_as,
    stop,
    wait_until_ready,
)
from tests.bench.report import Timing, versions
from tests.bench.seed import GAP, NOW, bench_app, message_text, thread_title
from webapp import gunicorn_conf
from webapp.extensions import db
from webapp.models import User
from webapp.tokens import create_token

REQUESTS = 250  # measured requests per case and server
ROUNDS = 5
WARMUP = 30
CASE_SECONDS = 300  # per round of one case: a safety net, not a budget
START_SECONDS = 300  # Open WebUI imports a great deal before it answers
PAGE = 60  # chats in the first page of Open WebUI's chat list
NEW_MESSAGE = words(QUESTION, MESSAGES + 1)
# Issue 18: Parley this many times faster (median), each pair.
GOALS = {"sidebar": 2.0, "open": 20.0, "append": 20.0}


class Unavailable(Exception):
    """Open WebUI is not installed where this benchmark can start it."""


def progress(message: str) -> None:
    print(f"[openwebui] {message}", file=sys.stderr, flush=True)


def venv() -> Path:
    named = os.environ.get("OPENWEBUI_VENV")
    if not named:
        raise Unavailable("set OPENWEBUI_VENV to a virtualenv with open-webui installed (pip install open-webui)")
    path = Path(named)
    if not (path / "bin" / "open-webui").exists():
        raise Unavailable(f"no {path}/bin/open-webui: install open-webui into that virtualenv")
    return path


def version_of(path: Path) -> str:
    return subprocess.run(
        [path / "bin" / "python", "-c", "import importlib.metadata as m; print(m.version('open-webui'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


# --- Open WebUI: started, signed up, seeded -----------------------------------------


@contextmanager
def open_webui(path: Path, log: Path) -> Iterator[Server]:
    """``open-webui serve`` on a free port of the loopback, on a fresh data
    directory; stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="parley-bench-owui-") as data:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "DATABASE_URL"))},
            "DATA_DIR": data,
            "WEBUI_SECRET_KEY": secrets.token_hex(32),
            "WEBUI_AUTH": "true",
            "ENABLE_SIGNUP": "true",
            "OFFLINE_MODE": "true",
            "HF_HUB_OFFLINE": "1",
            "ENABLE_OLLAMA_API": "false",
            "ENABLE_OPENAI_API": "false",
            "RAG_EMBEDDING_ENGINE": "openai",  # not the local model (it would load at start)
            "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "false",
            "ENABLE_VERSION_UPDATE_CHECK": "false",
            "ANONYMIZED_TELEMETRY": "false",
            "DO_NOT_TRACK": "true",
            "SCARF_NO_ANALYTICS": "true",
            "UVICORN_WORKERS": "1",
        }
        port = free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [path / "bin" / "open-webui", "serve", "--host", HOST, "--port", str(port)],
                cwd=data,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            if not wait_until_ready(process, port, "/health", START_SECONDS):
                raise SystemExit(f"Open WebUI did not answer /health within {START_SECONDS} s")
            yield Server(port, process.pid)
        finally:
            stop(process)


def call(port: int, method: str, path: str, body: object = None, token: str | None = None) -> tuple[int, bytes]:
    connection = HTTPConnection(HOST, port, timeout=120)
    try:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        connection.request(method, path, None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


def owui_chat(title: str, contents: list[tuple[str, str]], start: int) -> dict:
    """A chat as Open WebUI's UI saves it: the ``messages`` of the branch
    shown, and the ``history`` tree of every message."""
    ids = [str(uuid.uuid4()) for _ in contents]
    history = {}
    for n, (role, content) in enumerate(contents):
        history[ids[n]] = {
            "id": ids[n],
            "parentId": ids[n - 1] if n else None,
            "childrenIds": [ids[n + 1]] if n + 1 < len(ids) else [],
            "role": role,
            "content": content,
            "timestamp": start + 30 * n,
            **({"model": "demo", "modelName": "demo"} if role == "assistant" else {"models": ["demo"]}),
        }
    return {
        "title": title,
        "models": ["demo"],
        "params": {},
        "files": [],
        "messages": list(history.values()),
        "history": {"messages": history, "currentId": ids[-1] if ids else None},
        "timestamp": start * 1000,
    }


def with_new_message(chat: dict) -> dict:
    """The chat with one more user turn, as the UI saves it after a message."""
    last = chat["history"]["currentId"]
    new = {
        "id": str(uuid.uuid4()),
        "parentId": last,
        "childrenIds": [],
        "role": "user",
        "content": NEW_MESSAGE,
        "timestamp": int(time.time()),
        "models": ["demo"],
    }
    messages = {**chat["history"]["messages"]}
    messages[last] = {**messages[last], "childrenIds": [new["id"]]}
    messages[new["id"]] = new
    return {**chat, "messages": list(messages.values()), "history": {"messages": messages, "currentId": new["id"]}}


@dataclass(frozen=True)
class OpenWebUIData:
    token: str
    long_chat: str
    long_body: bytes  # the whole long chat with one message more, as a save sends it


def seed_open_webui(port: int) -> OpenWebUIData:
    status, body = call(
        port,
        "POST",
        "/api/v1/auths/signup",
        {"name": USER, "email": f"{USER}@example.com", "password": secrets.token_hex(12)},
    )
    if status != 200:
        raise SystemExit(f"Open WebUI's signup answered {status}: {body[:300]!r}")
    token = json.loads(body)["token"]
    connection = HTTPConnection(HOST, port, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def new_chat(chat: dict) -> str:
        connection.request("POST", "/api/v1/chats/new", json.dumps({"chat": chat}), headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise SystemExit(f"Open WebUI's POST /api/v1/chats/new answered {response.status}: {answer[:300]!r}")
        return json.loads(answer)["id"]

    # Oldest first, as Parley's seed orders them (its chat list is newest first).
    start = int((NOW - timedelta(days=730)).timestamp())
    for index in range(THREADS - 1, 0, -1):
        pair = [("user", message_text(1)), ("assistant", message_text(2))]
        new_chat(owui_chat(thread_title(index), pair, start))
    # Open WebUI's times are whole seconds: the long chat is made in a later
    # second than the others, so that it is strictly the newest.
    last_second = int(time.time())
    while int(time.time()) <= last_second:
        time.sleep(0.01)
    turns = [("user", words(QUESTION, n)) if n % 2 else ("assistant", words(ANSWER, n)) for n in range(1, MESSAGES + 1)]
    long_chat = owui_chat("A long thread", turns, int((NOW - GAP * MESSAGES).timestamp()))
    chat_id = new_chat(long_chat)
    connection.close()
    return OpenWebUIData(token, chat_id, json.dumps({"chat": with_new_message(long_chat)}).encode())


# --- the pairs ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Listing(Case):
    """A JSON list of exactly ``items`` entries, besides ``Case``'s checks."""

    items: int = 0

    def problem(self, status: int, body: bytes) -> str | None:
        if found := super().problem(status, body):
            return found
        try:
            length = len(json.loads(body))
        except ValueError:
            return "not JSON"
        return None if length == self.items else f"{length} items, not {self.items}"


@dataclass(frozen=True)
class Side:
    case: Case
    headers: dict[str, str]


@dataclass
class Measured:
    side: Side
    size: int = 0
    tally: Tally | None = None
    cpu_ns: int = 0

    @property
    def timing(self) -> Timing:
        return Timing.of(self.tally.latencies_ms)

    @property
    def mean_ms(self) -> float:
        return statistics.mean(self.tally.latencies_ms)

    @property
    def cpu_ms(self) -> float:
        return self.cpu_ns / max(1, self.tally.requests) / 1e6


@dataclass(frozen=True)
class Pair:
    kind: str  # a key of GOALS
    label: str
    parley: Side
    owui: Side


def pairs(thread_id: uuid.UUID, cookie: str, api_token: str, data: OpenWebUIData) -> list[Pair]:
    signed_in = {"Cookie": cookie}
    parley_api = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
    owui = {"Authorization": f"Bearer {data.token}", "Content-Type": "application/json"}
    title = '<h1 id="pane-title" dir="auto">A long thread</h1>'
    return [
        Pair(
            "sidebar",
            "new-chat page with its sidebar `GET /` · Open WebUI's chat list `GET /api/v1/chats/?page=1`",
            Side(
                Case("/", "parley", "/", present=(signed_in_as(USER), ">A long thread</a>", ">Thread 49</a>")),
                signed_in,
            ),
            Side(
                Listing("list", "owui", "/api/v1/chats/?page=1", present=('"title":"A long thread"',), items=PAGE),
                owui,
            ),
        ),
        Pair(
            "open",
            f"open the {MESSAGES:,}-message chat `GET /c/<id>` (latest 50) · its whole chat `GET /api/v1/chats/<id>`",
            Side(
                Case(
                    "open",
                    "parley",
                    f"/c/{thread_id}",
                    present=(signed_in_as(USER), title, "Load earlier messages"),
                    absent=("<p>Message 1. ",),
                ),
                signed_in,
            ),
            Side(
                Case(
                    "chat",
                    "owui",
                    f"/api/v1/chats/{data.long_chat}",
                    present=('"title":"A long thread"', "Message 1. ", f"Message {MESSAGES}. "),
                ),
                owui,
            ),
        ),
        Pair(
            "append",
            "append a message: API `POST /api/conversations/<id>/messages` · its save of the whole chat"
            " `POST /api/v1/chats/<id>`",
            Side(
                Case(
                    "append",
                    "parley",
                    f"/api/conversations/{thread_id}/messages",
                    method="POST",
                    body=json.dumps({"role": "user", "content": NEW_MESSAGE}).encode(),
                    status=201,
                    present=(NEW_MESSAGE,),
                ),
                parley_api,
            ),
            Side(
                Case(
                    "save",
                    "owui",
                    f"/api/v1/chats/{data.long_chat}",
                    method="POST",
                    body=data.long_body,
                    present=(NEW_MESSAGE, f"Message {MESSAGES}. "),
                ),
                owui,
            ),
        ),
    ]


# --- measuring ------------------------------------------------------------------------


def measure(servers: dict[str, Server], chosen: list[Pair]) -> list[tuple[Pair, Measured, Measured]]:
    results = [(pair, Measured(pair.parley, tally=Tally()), Measured(pair.owui, tally=Tally())) for pair in chosen]
    warm_up = Tally()
    for _, *sides in results:
        for measured in sides:
            server = servers[measured.side.case.server]
            measured.size = answer_bytes(server.port, measured.side.case, measured.side.headers, timeout=120)
            case, headers = measured.side.case, measured.side.headers
            send(server.port, case.path, headers, WARMUP, 1, time.monotonic() + CASE_SECONDS, case, warm_up)
    if warm_up.errors:
        raise SystemExit(f"wrong answers while warming up: {dict(warm_up.errors)}")
    per_round = REQUESTS // ROUNDS
    for round_number in range(ROUNDS):
        progress(f"round {round_number + 1} of {ROUNDS}")
        for _, *sides in results:
            for measured in sides:
                server = servers[measured.side.case.server]
                case, headers = measured.side.case, measured.side.headers
                before = server.cpu_ns()
                send(
                    server.port, case.path, headers, per_round, 1, time.monotonic() + CASE_SECONDS, case, measured.tally
                )
                measured.cpu_ns += server.cpu_ns() - before
    return results


@dataclass(frozen=True)
class Results:
    rows: list[tuple[Pair, Measured, Measured]]
    errors: Counter
    versions: str
    owui_version: str


def run(kind: str = "sqlite") -> Results:
    path = venv()
    owui_version = version_of(path)
    with bench_app(kind) as (_app, database_url):
        progress("seeding Parley")
        thread_id, _ = seed_reader()
        _, api_token = create_token(db.session.scalar(select(User).where(User.username == USER)), "bench")
        db.session.commit()
        db.session.remove()
        measured_on = versions()
        with tempfile.TemporaryDirectory(prefix="parley-bench-owui-log-") as directory, ExitStack() as stack:
            log = Path(directory) / "servers.log"
            try:
                progress(f"starting Open WebUI {owui_version} from {path}")
                servers = {
                    "parley": stack.enter_context(
                        gunicorn("wsgi:app", server_environment(database_url), "/healthz", log)
                    ),
                    "owui": stack.enter_context(open_webui(path, log)),
                }
                progress("seeding Open WebUI through its API")
                data = seed_open_webui(servers["owui"].port)
                cookie = sign_in(servers["parley"].port, USER)
                progress("servers up; warming up")
                rows = measure(servers, pairs(thread_id, cookie, api_token, data))
            except BaseException:
                print(f"the servers' log:\n{log.read_text()[-4000:]}", file=sys.stderr)
                raise
    errors = sum((p.tally.errors + o.tally.errors for _, p, o in rows), Counter())
    return Results(rows, errors, measured_on, owui_version)


def failed(results: Results) -> int:
    return sum(results.errors.values())


# --- report ---------------------------------------------------------------------------


def render(results: Results) -> str:
    cores = len(os.sched_getaffinity(0))
    lines = [
        results.versions,
        "",
        f"Open WebUI {results.owui_version} (`open-webui serve`: uvicorn, one worker, its own SQLite database,"
        " offline, model connections and local embedding model off) beside Parley under gunicorn"
        f" {'.'.join(map(str, GUNICORN_VERSION))} with `webapp/gunicorn_conf.py` ({gunicorn_conf.workers} worker,"
        f" {gunicorn_conf.worker_class}, {gunicorn_conf.threads} threads; access log off), both up at once on"
        f" {HOST}, {cores} cores. Same data in both: one account of {THREADS:,} chats, the newest of"
        f" {MESSAGES:,} messages ({QUESTION}-character user turns, {ANSWER}-character assistant turns); Open WebUI"
        f" seeded through its API. One keep-alive connection per server, requests one after another:"
        f" {REQUESTS} per case after {WARMUP} warm-up, in {ROUNDS} rounds taking turns; every answer checked."
        " Server CPU: the server threads' time on a CPU (`/proc/<pid>/task/*/schedstat`) per request.",
        "",
        "| Parley · Open WebUI | bytes Parley · Open WebUI | Parley median / p95 / mean ms"
        " | Open WebUI median / p95 / mean ms | server CPU ms Parley · Open WebUI"
        " | Parley faster: median · mean · CPU | goal (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for pair, parley, owui in results.rows:
        times = owui.timing.median_ms / parley.timing.median_ms
        goal = GOALS[pair.kind]
        lines.append(
            f"| {pair.label} | {parley.size:,} · {owui.size:,}"
            f" | {parley.timing.median_ms:.2f} / {parley.timing.p95_ms:.2f} / {parley.mean_ms:.2f}"
            f" | {owui.timing.median_ms:.2f} / {owui.timing.p95_ms:.2f} / {owui.mean_ms:.2f}"
            f" | {parley.cpu_ms:.2f} · {owui.cpu_ms:.2f}"
            f" | {times:.1f}× · {owui.mean_ms / parley.mean_ms:.1f}× · {owui.cpu_ms / parley.cpu_ms:.1f}×"
            f" | ≥ {goal:.0f}× |"
        )
        if times < goal:
            verdicts.append(f"{pair.kind} {times:.1f}× (goal {goal:.0f}×)")
    met = "all met" if not verdicts else "**not met**: " + "; ".join(verdicts)
    lines += ["", f"Goals (issue 18, medians): {met}. Errors: {sum(results.errors.values())}."]
    return "\n".join(lines)


if __name__ == "__main__":
    from tests.bench import run as runner

    sys.exit(runner.main(["--only", "openwebui", *sys.argv[1:]]))

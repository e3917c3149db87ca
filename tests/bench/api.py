"""The JSON API (issue 7) with a personal API token: appending a message and
reading a thread's latest messages, on SQLite and on PostgreSQL.

Each database gets an account with a token made by ``webapp.tokens.create_token``,
a thread of 1,000 messages to read and one thread per client to write to
(so that, on PostgreSQL, no two clients wait for the same row lock, as no two
scripts of one person would). Parley is served by gunicorn with the project's
settings (less the access log) and ``PARLEY_RATELIMIT_ENABLED=0``; the client
sends the requests from ``CONCURRENCY`` threads with keep-alive connections,
the two cases taking turns, every answer checked (``201`` with the message
for a post, ``200`` with the thread's newest message for a read). At the end
every thread written to must hold exactly the messages that were posted.

SQLite always; PostgreSQL when ``BENCH_DATABASE_URL`` is set.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.bench.http_pages import (
    GUNICORN_VERSION,
    HOST,
    Case,
    Figures,
    Tally,
    gunicorn,
    send,
    server_environment,
)
from tests.bench.report import versions
from tests.bench.seed import NOW, bench_app, insert_threads, insert_users, message_text, thread
from webapp import gunicorn_conf
from webapp.extensions import db
from webapp.models import Conversation, Message, User
from webapp.tokens import create_token

CONCURRENCY = 8
REQUESTS = 2_000  # measured requests per case
WARMUP = 100
ROUNDS = 4
CASE_SECONDS = 25
READ_THREAD = 1_000  # messages in the thread that is read
USER = "api_user"
CONTENT = "A message from the benchmark's script."


def progress(message: str) -> None:
    print(f"[api] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Seeded:
    token: str
    read_thread: uuid.UUID
    write_threads: list[uuid.UUID]


def seed() -> Seeded:
    users = insert_users([USER])
    read = thread(users[USER], NOW - timedelta(minutes=1), READ_THREAD, "Read me")
    writes = [thread(users[USER], NOW - timedelta(minutes=2 + i), 0, f"Write here {i}") for i in range(CONCURRENCY)]
    insert_threads([read, *writes])
    _, token = create_token(db.session.get(User, users[USER]), "benchmark")
    db.session.commit()
    db.session.remove()
    return Seeded(token, read[0]["id"], [conversation["id"] for conversation, _ in writes])


def cases(seeded: Seeded, database: str) -> tuple[Case, list[str], Case, str]:
    post = Case(
        f"append, {database}",
        "parley",
        "",
        method="POST",
        status=201,
        body=json.dumps({"role": "user", "content": CONTENT}).encode(),
        present=(CONTENT, '"role":"user"', '"status":"complete"'),
    )
    read = Case(
        f"list, {database}",
        "parley",
        "",
        status=200,
        present=(message_text(READ_THREAD), message_text(READ_THREAD - 49), '"next_cursor"'),
        absent=(message_text(READ_THREAD - 50),),
    )
    post_paths = [f"/api/conversations/{thread_id}/messages" for thread_id in seeded.write_threads]
    return post, post_paths, read, f"/api/conversations/{seeded.read_thread}/messages"


@dataclass(frozen=True)
class Measured:
    database: str
    post: Figures
    read: Figures
    errors: Counter
    stored_ok: bool  # every thread written to holds exactly the messages posted


def measure(kind: str) -> Measured:
    with bench_app(kind) as (_, url), tempfile.TemporaryDirectory(prefix="parley-bench-api-") as directory:
        seeded = seed()
        database = versions().split(" · ")[0]
        post, post_paths, read, read_path = cases(seeded, database)
        log = Path(directory) / "gunicorn.log"
        headers = {
            "Authorization": f"Bearer {seeded.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        tallies = {post: Tally(), read: Tally()}
        warm_ups = {post: Tally(), read: Tally()}
        try:
            with gunicorn(
                "wsgi:app", {**server_environment(url), "PARLEY_RATELIMIT_ENABLED": "0"}, "/healthz", log
            ) as server:
                progress(f"{database}: serving; warming up")
                for case, path in ((post, post_paths), (read, read_path)):
                    send(
                        server.port,
                        path,
                        headers,
                        WARMUP,
                        CONCURRENCY,
                        time.monotonic() + CASE_SECONDS,
                        case,
                        warm_ups[case],
                    )
                per_round = -(-REQUESTS // ROUNDS)
                for round_number in range(ROUNDS):
                    progress(f"{database}: round {round_number + 1} of {ROUNDS}")
                    for case, path in ((post, post_paths), (read, read_path)):
                        tally = tallies[case]
                        wanted, budget = min(per_round, REQUESTS - tally.requests), CASE_SECONDS - tally.seconds
                        if wanted <= 0 or budget <= 0:
                            continue
                        cpu = server.cpu_seconds()
                        send(server.port, path, headers, wanted, CONCURRENCY, time.monotonic() + budget, case, tally)
                        tally.server_cpu += server.cpu_seconds() - cpu
        except BaseException:
            print(f"gunicorn's log:\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise
        for tally in tallies.values():
            tally.cut_short |= tally.requests < REQUESTS
        errors = sum((t.errors for t in (*warm_ups.values(), *tallies.values())), Counter())
        post_errors = warm_ups[post].errors + tallies[post].errors
        posted = (
            warm_ups[post].requests
            + tallies[post].requests  # answered, of which 201:
            - sum(n for problem, n in post_errors.items() if problem.startswith("status"))
        )
        stored = db.session.scalar(
            select(func.count()).select_from(Message).where(Message.conversation_id.in_(seeded.write_threads))
        )
        counted = db.session.scalar(
            select(func.sum(Conversation.message_count)).where(Conversation.id.in_(seeded.write_threads))
        )
        db.session.remove()
        return Measured(
            database, Figures.of(tallies[post]), Figures.of(tallies[read]), errors, stored == counted == posted
        )


@dataclass(frozen=True)
class Results:
    measured: list[Measured]
    versions: str
    postgres_skipped: bool


def run() -> Results:
    kinds = ["sqlite", *(["postgres"] if os.environ.get("BENCH_DATABASE_URL") else [])]
    measured = [measure(kind) for kind in kinds]
    with bench_app("sqlite"):
        # The line above the table, less the database: the table names it per column.
        line = " · ".join(versions().split(" · ")[1:])
    return Results(measured, line, len(kinds) == 1)


def render(results: Results) -> str:
    lines = [
        results.versions,
        "",
        f"gunicorn {'.'.join(map(str, GUNICORN_VERSION))} with `webapp/gunicorn_conf.py`"
        f" ({gunicorn_conf.workers} worker, {gunicorn_conf.worker_class}, {gunicorn_conf.threads} threads;"
        f" access log off) on {HOST}, `PARLEY_RATELIMIT_ENABLED=0`; the client: {CONCURRENCY} threads of the bench"
        f" process, one keep-alive connection each, `Authorization: Bearer parley_…`. Each figure:"
        f" {REQUESTS:,} requests after {WARMUP} warm-up requests, in {ROUNDS} rounds taking turns; every answer"
        " checked. Appends go to one thread per client; reads ask for the newest 50 messages of a thread of"
        f" {READ_THREAD:,}. Server CPU: gunicorn's user + system time over the requests it answered.",
        "",
        "| request | database | median / p95 ms | requests/s | server CPU ms/request |",
        "|---|---|---:|---:|---:|",
    ]
    for m in results.measured:
        for label, figures in (
            ("append `POST /api/conversations/<id>/messages`", m.post),
            ("list `GET /api/conversations/<id>/messages`", m.read),
        ):
            lines.append(
                f"| {label} | {m.database} | {figures.timing.median_ms:.2f} / {figures.timing.p95_ms:.2f}"
                f" | {figures.per_second:,.0f} | {figures.server_cpu_ms:.2f} |"
            )
    lines.append("")
    errors = sum(sum(m.errors.values()) for m in results.measured)
    stored = all(m.stored_ok for m in results.measured)
    lines.append(
        f"Errors: {errors}. Every append stored exactly once: {'yes' if stored else '**no**'}."
        + (" PostgreSQL not measured: set `BENCH_DATABASE_URL`." if results.postgres_skipped else "")
    )
    short = [
        f"{label}, {m.database}"
        for m in results.measured
        for label, f in (("append", m.post), ("list", m.read))
        if f.cut_short
    ]
    if short:
        lines.append(f"Cut short by the limit of {CASE_SECONDS} s per case: {'; '.join(short)}.")
    return "\n".join(lines)


def failed(results: Results) -> bool:
    return any(m.errors or not m.stored_ok for m in results.measured)

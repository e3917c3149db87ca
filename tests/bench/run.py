"""``make bench``: does the data layer cost the same for a big account as for a small one?

Seeds a throwaway database with a small and a large case of each shape (an
account with 100 or 100,000 conversations, a thread with 100 or 100,000
messages), times the real functions of ``webapp.conversations`` on both and
prints a Markdown table.

    python tests/bench/run.py                   # SQLite, in a temporary directory
    python tests/bench/run.py --explain         # ... and the query plans
    python tests/bench/run.py --update-readme   # ... and the table into README.md
    BENCH_DATABASE_URL=postgresql://... python tests/bench/run.py --db postgres

On PostgreSQL everything lives in a new schema that is dropped at the end;
nothing else in that database is touched.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import chain, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # time this checkout's webapp, whichever copy is installed

import sqlalchemy  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, event, func, insert, select, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.config import DEFAULTS, database_uri  # noqa: E402
from webapp.conversations import (  # noqa: E402
    append_message,
    get_conversation,
    list_conversations,
    list_messages,
)
from webapp.extensions import db  # noqa: E402
from webapp.models import Conversation, Message, User, new_session_token  # noqa: E402

README = ROOT / "README.md"
SMALL, LARGE = 100, 100_000
OTHER_USERS, OTHER_THREADS = 8, 1_000  # other people's rows, so that the tables are not all ours
BATCH = 10_000  # rows per executemany
WARMUP, CALLS = 20, 200
PAGE = 50
NOW = datetime.now(timezone.utc)
GAP = timedelta(seconds=30)  # between two messages of a thread
FILLER = "Could you explain how keyset pagination keeps every page equally cheap? " * 3

Thread = tuple[dict, Iterator[dict]]  # a conversation row and its message rows


# --- seeding: Core executemany in batches, never one ORM object at a time ------


@dataclass(frozen=True)
class Seeded:
    users: dict[str, int]
    short_thread: uuid.UUID
    long_thread: uuid.UUID
    conversations: int
    messages: int
    seconds: float


def batches(rows: Iterable, size: int = BATCH) -> Iterator[list]:
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


def insert_rows(model: type[db.Model], rows: Iterable[dict]) -> int:
    count = 0
    for batch in batches(rows):
        db.session.execute(insert(model.__table__), batch)
        count += len(batch)
    return count


def thread(user_id: int, last_activity: datetime, message_count: int, title: str) -> Thread:
    """A conversation whose last message is its latest activity."""
    conversation_id = uuid.uuid4()
    first_at = last_activity - GAP * (message_count - 1)
    conversation = {
        "id": conversation_id, "user_id": user_id, "title": title, "model": "demo", "system_prompt": None,
        "message_count": message_count, "created_at": first_at, "updated_at": last_activity,
    }
    messages = (
        {
            "conversation_id": conversation_id, "position": position,
            "role": "user" if position % 2 else "assistant",
            "content": f"Message {position}. {FILLER}", "html": f"<p>Message {position}. {FILLER}</p>",
            "tool_calls": None, "status": "complete", "error": None,
            "created_at": first_at + GAP * (position - 1),
        }
        for position in range(1, message_count + 1)
    )
    return conversation, messages


def account(user_id: int, count: int) -> Iterator[Thread]:
    """``count`` two-message conversations, their activity spread over two years."""
    step = timedelta(days=730) / count
    for i in range(count):
        yield thread(user_id, NOW - timedelta(hours=3) - step * i, 2, f"Thread {i + 1}")


def insert_threads(threads: Iterable[Thread]) -> tuple[int, int]:
    conversations = messages = 0
    for chunk in batches(threads):
        # Conversations first: SQLite checks the messages' foreign key per statement.
        conversations += insert_rows(Conversation, (row for row, _ in chunk))
        messages += insert_rows(Message, chain.from_iterable(rows for _, rows in chunk))
    return conversations, messages


def seed() -> Seeded:
    start = time.perf_counter()
    password_hash = generate_password_hash("bench password")  # slow on purpose, so only once
    names = ["few_threads", "many_threads", "threads", *(f"other_{i}" for i in range(OTHER_USERS))]
    insert_rows(User, (
        {"username": name, "username_key": name.lower(), "password_hash": password_hash, "role": "user",
         "active": True, "session_token": new_session_token(), "created_at": NOW - timedelta(days=800),
         "last_login_at": None}
        for name in names
    ))
    users = dict(db.session.execute(select(User.username, User.id)).all())
    short = thread(users["threads"], NOW - timedelta(hours=1), SMALL, "Short thread")
    long = thread(users["threads"], NOW - timedelta(hours=2), LARGE, "Long thread")
    conversations, messages = insert_threads(chain(
        account(users["few_threads"], SMALL),
        account(users["many_threads"], LARGE),
        *(account(users[f"other_{i}"], OTHER_THREADS) for i in range(OTHER_USERS)),
        [short, long],
    ))
    db.session.commit()
    seconds = time.perf_counter() - start

    stored = db.session.scalar(select(func.count()).select_from(Message))
    counted = db.session.scalar(select(func.sum(Conversation.message_count)))
    if not stored == counted == messages:
        raise SystemExit(f"seeding bug: {messages} messages sent, {stored} stored, counts sum to {counted}")
    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        # Where autovacuum would soon bring a bulk load, instead of racing it during the timing.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return Seeded(users, short[0]["id"], long[0]["id"], conversations, messages, seconds)


# --- timing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p95_ms: float


def time_pair(load_small: Callable, load_large: Callable, call: Callable) -> tuple[Timing, Timing]:
    """Median and 95th percentile of ``call(load())`` for both cases.

    The cases take turns, so drift (a checkpoint, autovacuum) hits both alike.
    Each call runs in a new session, whose empty identity map cannot answer
    for the database. ``load`` (fetching the user, or the conversation through
    ``get_conversation``) runs before the clock starts: it is not timed.
    """
    samples: tuple[list[float], list[float]] = ([], [])
    for i in range(WARMUP + CALLS):
        for load, kept in zip((load_small, load_large), samples):
            db.session.remove()
            target = load()
            start = time.perf_counter_ns()
            call(target)
            elapsed = time.perf_counter_ns() - start
            if i >= WARMUP:
                kept.append(elapsed / 1e6)
    db.session.remove()
    small, large = (Timing(statistics.median(ms), statistics.quantiles(ms, n=100)[94]) for ms in samples)
    return small, large


def loaders(seeded: Seeded) -> dict[str, Callable]:
    owner = seeded.users["threads"]
    return {
        "few_threads": lambda: db.session.get(User, seeded.users["few_threads"]),
        "many_threads": lambda: db.session.get(User, seeded.users["many_threads"]),
        "short_thread": lambda: get_conversation(db.session.get(User, owner), seeded.short_thread),
        "long_thread": lambda: get_conversation(db.session.get(User, owner), seeded.long_thread),
    }


def post_and_commit(conversation: Conversation) -> None:
    append_message(conversation, "user", "And how does that hold up in a long thread?")
    db.session.commit()


def run_operations(seeded: Seeded) -> list[tuple[str, Timing, Timing]]:
    load = loaders(seeded)
    # Make sure both cases time a full page, not an empty one.
    for user, conversation in (("few_threads", "short_thread"), ("many_threads", "long_thread")):
        sidebar = list_conversations(load[user](), limit=PAGE)
        pane = list_messages(load[conversation](), limit=PAGE)
        if len(sidebar.items) != PAGE or len(pane.items) != PAGE:
            raise SystemExit(f"seeding bug: {user} or {conversation} has less than a page")
    operations = [
        (f"`list_conversations(user, limit={PAGE})`: {SMALL:,} vs {LARGE:,} conversations",
         "few_threads", "many_threads", lambda user: list_conversations(user, limit=PAGE)),
        (f"`list_messages(conversation, limit={PAGE})`: {SMALL:,} vs {LARGE:,} messages",
         "short_thread", "long_thread", lambda conversation: list_messages(conversation, limit=PAGE)),
        # Last, as it adds messages to the threads the reads above measure.
        (f"`append_message(…)` + commit: thread of {SMALL:,} vs {LARGE:,} messages",
         "short_thread", "long_thread", post_and_commit),
    ]
    return [(name, *time_pair(load[small], load[large], call)) for name, small, large, call in operations]


# --- query plans ----------------------------------------------------------------


def statements_of(call: Callable[[], object]) -> list[tuple[str, object]]:
    """The SQL, with its parameters, that ``call`` sends to the database."""
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return sent


def query_plan(statement: str, parameters: object) -> list[str]:
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
    plan = [row.detail for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    # SQLite gives a UNIQUE constraint's index its own name: say which columns it has.
    for index in sorted(set(re.findall(r"sqlite_autoindex_\w+", "\n".join(plan)))):
        columns = [row.name for row in connection.exec_driver_sql(f"PRAGMA index_info({index})")]
        plan.append(f"({index} is the index of UNIQUE ({', '.join(columns)}))")
    return plan


def print_plans(seeded: Seeded) -> None:
    """Explain exactly what the real functions send, for a first and a next page."""
    load = loaders(seeded)
    user, conversation = load["many_threads"](), load["long_thread"]()
    sidebar, pane = list_conversations(user, limit=PAGE), list_messages(conversation, limit=PAGE)
    cases = {
        "sidebar, first page": lambda: list_conversations(user, limit=PAGE),
        "sidebar, next page (row-value cursor)": lambda: list_conversations(user, sidebar.next_cursor, PAGE),
        "pane, latest messages": lambda: list_messages(conversation, limit=PAGE),
        "pane, earlier messages": lambda: list_messages(conversation, pane.next_cursor, PAGE),
    }
    for name, call in cases.items():
        for statement, parameters in statements_of(call):
            print(f"{name}:\n    {' '.join(statement.split())}")
            print("\n".join(f"    -> {line}" for line in query_plan(statement, parameters)), end="\n\n")
    db.session.remove()


# --- report ---------------------------------------------------------------------


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{platform.system()} {platform.machine()}, {cpu}, nproc {len(os.sched_getaffinity(0))}"


def database_name() -> str:
    if db.engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return "PostgreSQL " + db.session.scalar(text("SHOW server_version")).split()[0]


def render(seeded: Seeded, results: list[tuple[str, Timing, Timing]]) -> str:
    lines = [
        f"{database_name()} · Python {platform.python_version()} · SQLAlchemy {sqlalchemy.__version__}"
        f" · {machine()}",
        "",
        f"Seeded {len(seeded.users)} users, {seeded.conversations:,} conversations and {seeded.messages:,}"
        f" messages in {seeded.seconds:.1f} s. Each figure: {CALLS} calls after {WARMUP} warm-up calls,"
        " each in a new session; loading the user or conversation beforehand is not timed.",
        "",
        "| operation | small (median / p95 ms) | large (median / p95 ms) | ratio large/small |",
        "|---|---:|---:|---:|",
    ]
    for name, small, large in results:
        ratio = large.median_ms / small.median_ms
        lines.append(f"| {name} | {small.median_ms:.2f} / {small.p95_ms:.2f}"
                     f" | {large.median_ms:.2f} / {large.p95_ms:.2f} | {ratio:.2f} |")
    return "\n".join(lines)


def replace_section(readme_text: str, name: str, body: str) -> str:
    """Put ``body`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if not section.search(readme_text):
        raise SystemExit(f"README.md has no {start} … {end} section to replace")
    return section.sub(lambda _: f"{start}\n{body.strip()}\n{end}", readme_text, count=1)


# --- databases ------------------------------------------------------------------


@contextmanager
def bench_app(kind: str) -> Iterator[Flask]:
    """An app on an empty, throwaway database with the tables created."""
    settings = {"SECRET_KEY": "bench", "RATELIMIT_ENABLED": False}
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
            url = f"sqlite:///{directory}/bench.db"
            yield from with_tables(create_app({**settings, "SQLALCHEMY_DATABASE_URI": url}))
        return
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        raise SystemExit("--db postgres needs BENCH_DATABASE_URL, e.g. postgresql://postgres@127.0.0.1/test")
    url = database_uri("BENCH_DATABASE_URL", url)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        in_schema = {"connect_args": {"options": f"-c search_path={schema}"}}
        engine_options = {**DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"], **in_schema}
        yield from with_tables(create_app(
            {**settings, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": engine_options}
        ))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def with_tables(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite",
                        help="postgres and both read BENCH_DATABASE_URL (default: sqlite)")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the timed reads")
    parser.add_argument("--update-readme", action="store_true", help="write the table(s) into README.md")
    args = parser.parse_args(argv)

    reports = []
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with bench_app(kind):
            seeded = seed()
            if args.explain:
                print_plans(seeded)
            reports.append(render(seeded, run_operations(seeded)))
            print(reports[-1] + "\n", flush=True)
    if args.update_readme:
        README.write_text(replace_section(README.read_text(), "data", "\n\n".join(reports)))
        print(f"Updated {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

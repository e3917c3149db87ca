"""A throwaway database with a small and a large case of each shape.

Three accounts matter: ``few_threads`` (100 two-message conversations),
``many_threads`` (100,000 of them) and ``threads``, who owns a thread of 100
messages and one of 100,000. Eight other users own 1,000 conversations each,
so that the tables are not all ours. Every account signs in with
``PASSWORD``.

Rows go in through Core executemany in batches, never one ORM object at a
time: 300,000 messages take seconds, not minutes.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, islice

from flask import Flask
from sqlalchemy import create_engine, func, insert, select, text
from werkzeug.security import generate_password_hash

from webapp import create_app
from webapp.config import DEFAULTS, database_uri
from webapp.extensions import db
from webapp.models import Conversation, Message, User, new_session_token

SMALL, LARGE = 100, 100_000
BRANCHES = 1_000  # versions of messages along the long thread, each a branch of its own
OTHER_USERS, OTHER_THREADS = 8, 1_000  # other people's rows, so that the tables are not all ours
BATCH = 10_000  # rows per executemany
NOW = datetime.now(UTC)
GAP = timedelta(seconds=30)  # between two messages of a thread
FILLER = "Could you explain how keyset pagination keeps every page equally cheap? " * 3
PASSWORD = "bench password"

Thread = tuple[dict, Iterator[dict]]  # a conversation row and its message rows


@dataclass(frozen=True)
class Seeded:
    users: dict[str, int]
    short_thread: uuid.UUID
    long_thread: uuid.UUID
    conversations: int
    messages: int
    seconds: float


def message_text(position: int) -> str:
    """The content of the message at ``position`` of any seeded thread."""
    return f"Message {position}. {FILLER}"


def thread_title(index: int) -> str:
    """The title of an account's ``index``-th most recently active thread (from 1)."""
    return f"Thread {index}"


# --- rows: Core executemany in batches ------------------------------------------


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
        "id": conversation_id,
        "user_id": user_id,
        "title": title,
        "model": "demo",
        "system_prompt": None,
        "message_count": message_count,
        "created_at": first_at,
        "updated_at": last_activity,
    }
    messages = (
        {
            "conversation_id": conversation_id,
            "position": position,
            "role": "user" if position % 2 else "assistant",
            "content": message_text(position),
            "html": f"<p>{message_text(position)}</p>",
            "tool_calls": None,
            "status": "complete",
            "error": None,
            "created_at": first_at + GAP * (position - 1),
        }
        for position in range(1, message_count + 1)
    )
    return conversation, messages


def link_messages() -> None:
    """Make each seeded thread one branch: every message follows the one
    before it, and the thread shows its last (what migration 0006 does to
    threads written before messages had parents)."""
    db.session.execute(
        text(
            "UPDATE messages SET parent_id = (SELECT previous.id FROM messages AS previous"
            " WHERE previous.conversation_id = messages.conversation_id AND previous.position = messages.position - 1)"
        )
    )
    db.session.execute(
        text(
            "UPDATE conversations SET current_message_id = (SELECT last.id FROM messages AS last"
            " WHERE last.conversation_id = conversations.id AND last.position = conversations.message_count)"
        )
    )


def add_branches(conversation_id: uuid.UUID, count: int) -> int:
    """``count`` other versions of messages spread along the thread, each a
    branch of its own; the thread still shows its long first branch."""
    conversation = db.session.get(Conversation, conversation_id)
    positions = range(2, conversation.message_count, max(1, conversation.message_count // count))
    parents = dict(
        db.session.execute(
            select(Message.position, Message.parent_id).where(
                Message.conversation_id == conversation_id, Message.position.in_(list(positions)[:count])
            )
        ).all()
    )
    rows = [
        {
            "conversation_id": conversation_id,
            "position": conversation.message_count + n,
            "parent_id": parents[position],
            "role": "user" if position % 2 else "assistant",
            "content": f"Another version. {message_text(position)}",
            "html": None,
            "tool_calls": None,
            "status": "complete",
            "error": None,
            "created_at": NOW,
        }
        for n, position in enumerate(sorted(parents), start=1)
    ]
    insert_rows(Message, rows)
    conversation.message_count += len(rows)
    return len(rows)


def account(user_id: int, count: int) -> Iterator[Thread]:
    """``count`` two-message conversations, their activity spread over two years."""
    step = timedelta(days=730) / count
    for i in range(count):
        yield thread(user_id, NOW - timedelta(hours=3) - step * i, 2, thread_title(i + 1))


def insert_threads(threads: Iterable[Thread]) -> tuple[int, int]:
    conversations = messages = 0
    for chunk in batches(threads):
        # Conversations first: SQLite checks the messages' foreign key per statement.
        conversations += insert_rows(Conversation, (row for row, _ in chunk))
        messages += insert_rows(Message, chain.from_iterable(rows for _, rows in chunk))
    return conversations, messages


def insert_users(names: Iterable[str], role: str = "user") -> dict[str, int]:
    """Accounts that sign in with ``PASSWORD``; every account's id by username."""
    password_hash = generate_password_hash(PASSWORD)  # slow on purpose, so only once
    insert_rows(
        User,
        (
            {
                "username": name,
                "username_key": name.lower(),
                "password_hash": password_hash,
                "role": role,
                "active": True,
                "session_token": new_session_token(),
                "created_at": NOW - timedelta(days=800),
                "last_login_at": None,
            }
            for name in names
        ),
    )
    return dict(db.session.execute(select(User.username, User.id)).all())


def seed() -> Seeded:
    """Fill the empty tables of the current app's database."""
    start = time.perf_counter()
    users = insert_users(["few_threads", "many_threads", "threads", *(f"other_{i}" for i in range(OTHER_USERS))])
    short = thread(users["threads"], NOW - timedelta(hours=1), SMALL, "Short thread")
    long = thread(users["threads"], NOW - timedelta(hours=2), LARGE, "Long thread")
    conversations, messages = insert_threads(
        chain(
            account(users["few_threads"], SMALL),
            account(users["many_threads"], LARGE),
            *(account(users[f"other_{i}"], OTHER_THREADS) for i in range(OTHER_USERS)),
            [short, long],
        )
    )
    link_messages()
    messages += add_branches(long[0]["id"], BRANCHES)
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


# --- databases ------------------------------------------------------------------


@contextmanager
def bench_app(kind: str) -> Iterator[tuple[Flask, str]]:
    """An app on an empty, throwaway database with the tables created, and
    the URL by which another process opens that same database."""
    settings = {"SECRET_KEY": "bench", "RATELIMIT_ENABLED": False}
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="parley-bench-") as directory:
            url = f"sqlite:///{directory}/bench.db"
            yield from with_tables(create_app({**settings, "SQLALCHEMY_DATABASE_URI": url}), url)
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
        # The same schema for a server that only reads DATABASE_URL: libpq's
        # ``options`` parameter, which psycopg takes from the URL's query.
        separator = "&" if "?" in url else "?"
        server_url = f"{url}{separator}options=-csearch_path%3D{schema}"
        yield from with_tables(
            create_app({**settings, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": engine_options}),
            server_url,
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def with_tables(app: Flask, url: str) -> Iterator[tuple[Flask, str]]:
    with app.app_context():
        db.create_all()
        try:
            yield app, url
        finally:
            db.session.remove()
            db.engine.dispose()

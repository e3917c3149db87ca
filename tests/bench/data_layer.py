"""Does the data layer cost the same for a big account as for a small one?

Times the real functions of ``webapp.conversations`` in this process, on
both cases of each shape of the seeded database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from sqlalchemy import event

from tests.bench.report import Timing, versions
from tests.bench.seed import BRANCHES, LARGE, SMALL, Seeded
from webapp.branches import list_messages, versions_of
from webapp.conversations import append_message, get_conversation, list_conversations
from webapp.extensions import db
from webapp.models import Conversation, User

WARMUP, CALLS = 20, 200
PAGE = 50


# --- timing ---------------------------------------------------------------------


def time_pair(load_small: Callable, load_large: Callable, call: Callable) -> tuple[Timing, Timing]:
    """Median and 95th percentile of ``call(load())`` for both cases.

    The cases take turns, so drift (a checkpoint, autovacuum) hits both alike.
    Each call runs in a new session, whose empty identity map cannot answer
    for the database. ``load`` (fetching the user, or the conversation through
    ``get_conversation``) runs before the clock starts: it is not timed.
    """
    samples: tuple[list[float], list[float]] = ([], [])
    for i in range(WARMUP + CALLS):
        for load, kept in zip((load_small, load_large), samples, strict=False):
            db.session.remove()
            target = load()
            start = time.perf_counter_ns()
            call(target)
            elapsed = time.perf_counter_ns() - start
            if i >= WARMUP:
                kept.append(elapsed / 1e6)
    db.session.remove()
    small, large = (Timing.of(ms) for ms in samples)
    return small, large


def loaders(seeded: Seeded) -> dict[str, Callable]:
    owner = seeded.users["threads"]
    return {
        "few_threads": lambda: db.session.get(User, seeded.users["few_threads"]),
        "many_threads": lambda: db.session.get(User, seeded.users["many_threads"]),
        "short_thread": lambda: get_conversation(db.session.get(User, owner), seeded.short_thread),
        "long_thread": lambda: get_conversation(db.session.get(User, owner), seeded.long_thread),
    }


def open_pane(conversation: Conversation) -> None:
    """What the thread page reads of its messages: the branch's latest page
    (a walk up the tree) and where each stands among its versions."""
    page = list_messages(conversation, limit=PAGE)
    versions_of(conversation, page.items)


def load_earlier(conversation: Conversation) -> None:
    """Open the pane, then the page above it: two walks up the branch."""
    page = list_messages(conversation, limit=PAGE)
    earlier = list_messages(conversation, before=page.next_cursor, limit=PAGE)
    versions_of(conversation, earlier.items)


def post_and_commit(conversation: Conversation) -> None:
    append_message(conversation, "user", "And how does that hold up in a long thread?")
    db.session.commit()


def run_operations(seeded: Seeded) -> list[tuple[str, Timing, Timing]]:
    """Time the reads, then the append. The append adds messages to the two
    threads: anything that reads them expecting the seeded content runs first."""
    load = loaders(seeded)
    # Make sure both cases time a full page, not an empty one.
    for user, conversation in (("few_threads", "short_thread"), ("many_threads", "long_thread")):
        sidebar = list_conversations(load[user](), limit=PAGE)
        pane = list_messages(load[conversation](), limit=PAGE)
        if len(sidebar.items) != PAGE or len(pane.items) != PAGE:
            raise SystemExit(f"seeding bug: {user} or {conversation} has less than a page")
    operations = [
        (
            f"`list_conversations(user, limit={PAGE})`: {SMALL:,} vs {LARGE:,} conversations",
            "few_threads",
            "many_threads",
            lambda user: list_conversations(user, limit=PAGE),
        ),
        (
            f"open the pane, `list_messages(conversation, limit={PAGE})` + `versions_of`: {SMALL:,} messages"
            f" vs {LARGE:,} with {BRANCHES:,} branches",
            "short_thread",
            "long_thread",
            open_pane,
        ),
        (
            f"open, then load earlier (`list_messages(…, before=…)` + `versions_of`): {SMALL:,}"
            f" vs {LARGE:,} messages with {BRANCHES:,} branches",
            "short_thread",
            "long_thread",
            load_earlier,
        ),
        # Last, as it adds messages to the threads the reads above measure.
        (
            f"`append_message(…)` + commit: thread of {SMALL:,} vs {LARGE:,} messages",
            "short_thread",
            "long_thread",
            post_and_commit,
        ),
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


def render(seeded: Seeded, results: list[tuple[str, Timing, Timing]]) -> str:
    lines = [
        versions(),
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
        lines.append(
            f"| {name} | {small.median_ms:.2f} / {small.p95_ms:.2f}"
            f" | {large.median_ms:.2f} / {large.p95_ms:.2f} | {ratio:.2f} |"
        )
    return "\n".join(lines)

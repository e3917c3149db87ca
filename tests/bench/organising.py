"""Organising at size (issue 13): is the sidebar of an account with 1,000
pinned and 100,000 other threads as fast as a small account's, and how long
does one bulk action on 1,000 threads take?

A throwaway database with two accounts: a small one (10 pinned threads, 1,000
others) and a large one (1,000 pinned, 100,000 others), each thread with one
message. The real functions are timed, in an app context, as a request would
call them: ``organising.list_sidebar`` (its first page, and the page that
crosses from the pinned threads to the others), and ``organising.bulk``
archiving 1,000 of the large account's threads by id and then bringing them
back, each with its commit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from tests.bench.report import Timing, versions
from tests.bench.seed import NOW, bench_app, insert_threads, insert_users, thread

SMALL = (10, 1_000)  # (pinned, others)
LARGE = (1_000, 100_000)
BULK = 1_000
RATIO_GOAL = 1.3
BULK_GOAL_MS = 2_000.0
REPEAT = 200
BULK_ROUNDS = 5
PAGE = 50


def progress(message: str) -> None:
    print(f"[organising] {message}", file=sys.stderr, flush=True)


def seed_account(user_id: int, pinned: int, others: int) -> None:
    def rows():
        for index in range(pinned + others):
            row, messages = thread(user_id, NOW - timedelta(minutes=index + 1), 1, f"Thread {index}")
            row["pinned"] = index < pinned
            yield row, messages

    insert_threads(rows())


@dataclass(frozen=True)
class Results:
    rows: list[tuple[str, Timing, Timing]]  # (what, small, large)
    bulk: list[tuple[str, Timing]]
    seed_seconds: float
    versions: str


def timed(call: Callable[[], object], repeat: int) -> Timing:
    from webapp.extensions import db

    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    return Timing.of(samples)


def run(kind: str = "sqlite") -> Results:
    from webapp.extensions import db
    from webapp.models import Conversation, User
    from webapp.organising import bulk, list_sidebar

    with bench_app(kind):
        progress(f"seeding an account of {LARGE[0]:,} pinned and {LARGE[1]:,} other threads, and a small one")
        start = time.perf_counter()
        ids = insert_users(["small", "large"])
        seed_account(ids["small"], *SMALL)
        seed_account(ids["large"], *LARGE)
        db.session.commit()
        seconds = time.perf_counter() - start
        measured_on = versions()
        users = {name: db.session.get(User, user_id) for name, user_id in ids.items()}
        db.session.expunge_all()

        def crossing_cursor(name: str, pinned: int) -> str:
            """The cursor whose page starts 10 threads before the first unpinned one."""
            user = db.session.merge(users[name])
            cursor = None
            for _ in range((pinned - 10) // PAGE):
                cursor = list_sidebar(user, cursor, PAGE).next_cursor
            db.session.rollback()
            return cursor

        rows = []
        progress("timing the sidebar")
        for label, cursor_of in (
            ("sidebar, first page (pinned first)", lambda name, pinned: None),
            ("sidebar, the page from the pinned to the others", crossing_cursor),
        ):
            figures = []
            for name, (pinned, _) in (("small", SMALL), ("large", LARGE)):
                cursor = cursor_of(name, pinned)
                user = db.session.merge(users[name])
                page = list_sidebar(user, cursor, PAGE)
                assert len(page.items) == PAGE and page.next_cursor, (name, cursor)
                call = lambda name=name, cursor=cursor: list_sidebar(db.session.merge(users[name]), cursor, PAGE)  # noqa: E731
                timed(call, REPEAT // 10)  # warm up
                figures.append(timed(call, REPEAT))
            rows.append((label, *figures))

        progress(f"timing bulk actions on {BULK:,} threads")
        large = db.session.merge(users["large"])
        chosen = list(
            db.session.scalars(
                select(Conversation.id)
                .where(Conversation.user_id == large.id, Conversation.pinned.is_(False))
                .limit(BULK)
            )
        )
        db.session.rollback()
        samples = {"archive": [], "unarchive": []}
        for _ in range(BULK_ROUNDS):
            for action in ("archive", "unarchive"):
                start = time.perf_counter()
                result = bulk(db.session.merge(users["large"]), action, chosen)
                db.session.commit()
                samples[action].append((time.perf_counter() - start) * 1000)
                assert (result.done, result.not_found) == (BULK, 0), result
        return Results(
            rows,
            [(f"{action} {BULK:,} threads, one request", Timing.of(ms)) for action, ms in samples.items()],
            seconds,
            measured_on,
        )


def render(results: Results) -> str:
    lines = [
        f"Organising, measured on {results.versions}; seeded in {results.seed_seconds:.0f} s. "
        f"Small account: {SMALL[0]:,} pinned + {SMALL[1]:,} other threads; large: {LARGE[0]:,} + {LARGE[1]:,}. "
        f"Medians of {REPEAT} calls (p95 in brackets).",
        "",
        f"| sidebar | small | large | ratio (goal < {RATIO_GOAL}) |",
        "|---|---:|---:|---:|",
    ]
    for label, small, large in results.rows:
        ratio = large.median_ms / small.median_ms
        verdict = "" if ratio < RATIO_GOAL else " ✗"
        lines.append(
            f"| {label} | {small.median_ms:.2f} ms ({small.p95_ms:.2f}) | {large.median_ms:.2f} ms "
            f"({large.p95_ms:.2f}) | {ratio:.2f}{verdict} |"
        )
    lines += [
        "",
        f"| bulk action, with its commit (goal < {BULK_GOAL_MS / 1000:.0f} s) | median | p95 |",
        "|---|---:|---:|",
    ]
    for label, timing in results.bulk:
        verdict = "" if timing.p95_ms < BULK_GOAL_MS else " ✗"
        lines.append(f"| {label} | {timing.median_ms:.0f} ms | {timing.p95_ms:.0f} ms{verdict} |")
    return "\n".join(lines)

"""Search (issue 14): does a search of a big account cost what a search of a
small one does?

Two throwaway databases, each with one account: a small one (``SMALL``
messages in 100 threads) and a large one (``large`` messages, 100 a
thread). They are seeded in bulk through the data layer's tables (Core
``executemany``; the search index is kept by the database, as for any
write), not over HTTP. Every message is a dozen words of a made-up
vocabulary; on top of that, one message in four holds ``COMMON``, the
phrase ``PHRASE`` one in fifty, and ``RARE`` is in exactly ten messages of
either account. ``webapp.search.search`` (the function the page and the API
call) is timed for the first page of each query, in a new session each
call, the two accounts taking turns.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from tests.bench.report import Timing, versions
from tests.bench.seed import NOW, bench_app, insert_rows, insert_users
from webapp.extensions import db
from webapp.models import Conversation, Message, User
from webapp.search import search

WARMUP, CALLS = 20, 200
SMALL = 10_000
LARGE = 1_000_000
PER_THREAD = 100
COMMON, RARE, PHRASE, ABSENT = "model", "zeppelin", '"local model"', "qwertyuiop"
GOAL_MS, RATIO_GOAL = 50.0, 1.5
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa", "do", "fe", "gu", "ha", "ji"]
VOCABULARY = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES]  # 3,375 words

QUERIES = [
    (f"a rare word: `{RARE}` (10 messages)", RARE),
    (f"a common word, first page: `{COMMON}` (1 message in 4)", COMMON),
    (f"no match: `{ABSENT}`", ABSENT),
    (f"a phrase: `{PHRASE}` (1 message in 50)", PHRASE),
]


def message_text(rng: random.Random, n: int, rare_every: int) -> str:
    words = rng.choices(VOCABULARY, k=12)
    if n % 4 == 0:
        words[3] = COMMON
    if n % 50 == 7:
        words[5:7] = ["local", "model"]
    if n % rare_every == rare_every // 2:
        words[9] = RARE
    return " ".join(words)


def seed_account(messages: int) -> tuple[int, float]:
    """One account holding ``messages`` messages in threads of 100."""
    start = time.perf_counter()
    user_id = insert_users(["searcher"])["searcher"]
    rng = random.Random(14)
    threads = messages // PER_THREAD
    rare_every = messages // 10
    step = timedelta(days=730) / threads
    gap = timedelta(seconds=30)

    def conversations() -> Iterator[dict]:
        for i in range(threads):
            last = NOW - step * i
            yield {
                "id": ids[i],
                "user_id": user_id,
                "title": f"Thread {i}",
                "model": "demo",
                "system_prompt": None,
                "message_count": PER_THREAD,
                "created_at": last - gap * PER_THREAD,
                "updated_at": last,
            }

    def rows() -> Iterator[dict]:
        n = 0
        for i in range(threads):
            last = NOW - step * i
            for position in range(1, PER_THREAD + 1):
                n += 1
                yield {
                    "conversation_id": ids[i],
                    "position": position,
                    "role": "user" if position % 2 else "assistant",
                    "content": message_text(rng, n, rare_every),
                    "html": None,
                    "tool_calls": None,
                    "status": "complete",
                    "error": None,
                    "created_at": last - gap * (PER_THREAD - position),
                }

    ids = [uuid.uuid4() for _ in range(threads)]
    insert_rows(Conversation, conversations())
    db.session.commit()
    insert_rows(Message, rows())
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return user_id, time.perf_counter() - start


def time_search(app, user_id: int, query: str) -> Timing:
    """Median and 95th percentile of one search, each call in a new session
    (loading the user is not timed)."""
    kept = []
    for i in range(WARMUP + CALLS):
        db.session.remove()
        user = db.session.get(User, user_id)
        start = time.perf_counter_ns()
        search(user, query)
        if i >= WARMUP:
            kept.append((time.perf_counter_ns() - start) / 1e6)
    db.session.remove()
    return Timing.of(kept)


@dataclass
class Results:
    kind: str
    large: int
    seconds: tuple[float, float]
    rows: list[tuple[str, Timing, Timing, int, int]]
    setting: str  # the database and the versions


def measure(kind: str, messages: int) -> tuple[float, list[tuple[Timing, int]], str]:
    """Seed one account of ``messages`` in a database of its own and time
    each query on it: the seconds seeding took, and per query its timing
    and how many threads its first page shows."""
    with bench_app(kind) as (app, _):
        user_id, seconds = seed_account(messages)
        figures = []
        for _name, query in QUERIES:
            found = len(search(db.session.get(User, user_id), query).items)
            figures.append((time_search(app, user_id, query), found))
        return seconds, figures, versions()


def run(kind: str, large: int = LARGE) -> Results:
    """The small account, then the large one (one database at a time: two
    of a million messages would not fit the machine's page cache side by
    side)."""
    small_seconds, small, _ = measure(kind, SMALL)
    large_seconds, big, setting = measure(kind, large)
    rows = [
        (name, small_timing, large_timing, small_found, large_found)
        for (name, _), (small_timing, small_found), (large_timing, large_found) in zip(
            QUERIES, small, big, strict=False
        )
    ]
    return Results(kind, large, (small_seconds, large_seconds), rows, setting)


def render(results: Results) -> str:
    lines = [
        results.setting,
        "",
        (
            f"Two databases, one account each: {SMALL:,} messages in {SMALL // PER_THREAD:,} threads, and"
            f" {results.large:,} messages in {results.large // PER_THREAD:,} threads; seeded in"
            f" {results.seconds[0]:.1f} s and {results.seconds[1]:.1f} s ({results.kind}, the index kept by the"
            f" database as the rows went in). Each figure: `search(user, q)` for the first page (20 threads"
            f" with up to 3 snippets each), {CALLS} calls after {WARMUP} warm-up calls, each in a new session."
        ),
        "",
        (
            f"| query | {SMALL:,} messages: median / p95 ms | {results.large:,} messages: median / p95 ms"
            " | ratio large/small (p95) | threads on the page small / large |"
        ),
        "|---|---:|---:|---:|---:|",
    ]
    missed = []
    for name, small, large, found_small, found_large in results.rows:
        ratio = large.p95_ms / small.p95_ms if small.p95_ms else float("inf")
        lines.append(
            f"| {name} | {small.median_ms:.2f} / {small.p95_ms:.2f} | {large.median_ms:.2f} / {large.p95_ms:.2f}"
            f" | {ratio:.2f} | {found_small} / {found_large} |"
        )
        if large.p95_ms >= GOAL_MS or small.p95_ms >= GOAL_MS:
            missed.append(f"p95 under {GOAL_MS:.0f} ms: {name.split(':')[0]}")
        if ratio >= RATIO_GOAL:
            missed.append(f"ratio under {RATIO_GOAL}: {name.split(':')[0]}")
    lines += [
        "",
        "Goals (issue 14): p95 under 50 ms and a ratio under 1.5 — "
        + ("met." if not missed else "**not met**: " + "; ".join(missed) + "."),
    ]
    return "\n".join(lines)

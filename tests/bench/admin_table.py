"""The admin's table of every thread (issue 6): is ``/admin/conversations``
as fast with 100,000 threads as with 1,000?

Two throwaway databases, each with an admin and 1,000 accounts: one with
100,000 threads (100 per account), one with 1,000 (100 for each of ten
accounts). Every thread has two messages; a tenth of the titles hold the word
``COMMON_WORD``, none holds ``ABSENT_WORD``. Both are served by gunicorn with
the project's settings (less the access log), side by side; the benchmark
signs in as the admin through ``/login`` and asks each server for the same
pages, one request at a time (the time a page takes, not a queue's), the
cases taking turns, every answer checked for the rows it must and must not
show.
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tests.bench.http_pages import (
    GUNICORN_VERSION,
    HOST,
    RATIO_GOAL,
    Case,
    Figures,
    Tally,
    gunicorn,
    send,
    server_environment,
    sign_in,
)
from tests.bench.report import versions
from tests.bench.seed import NOW, bench_app, insert_threads, insert_users, thread
from webapp import gunicorn_conf

SMALL, LARGE = 1_000, 100_000  # threads
ACCOUNTS = 1_000
SMALL_OWNERS = 10  # the small database's threads belong to ten of the accounts
TOPICS = ("gardening", "taxes", "pagination", "recipes", "travel", "python", "music", "history", "fitness", "finance")
COMMON_WORD = "pagination"  # in one title in ten
ABSENT_WORD = "zeppelin"  # in none
OWNER = "user_0007"  # 100 threads in either database
ADMIN = "admin"
PAGE = 50
SPAN = timedelta(days=730)  # the threads' activity is spread over two years

REQUESTS = 300  # measured requests per case
WARMUP = 30
ROUNDS = 3
CASE_SECONDS = 12  # a case stops early (and says so) after this long, all rounds together
GOAL_MS = 20.0


def progress(message: str) -> None:
    print(f"[admin] {message}", file=sys.stderr, flush=True)


def title(index: int) -> str:
    """The title of the ``index``-th most recently active thread (from 0)."""
    return f"Question {index} about {TOPICS[index % len(TOPICS)]}"


def owner_of(index: int, threads: int) -> str:
    return f"user_{index % (ACCOUNTS if threads == LARGE else SMALL_OWNERS):04d}"


def seed_admin(threads: int) -> float:
    """An admin, ``ACCOUNTS`` users, and ``threads`` two-message threads; seconds taken."""
    start = time.perf_counter()
    insert_users([ADMIN], role="admin")
    users = insert_users(f"user_{i:04d}" for i in range(ACCOUNTS))
    step = SPAN / threads
    insert_threads(
        thread(users[owner_of(i, threads)], NOW - timedelta(minutes=5) - step * i, 2, title(i)) for i in range(threads)
    )
    from webapp.extensions import db

    db.session.commit()
    db.session.remove()
    return time.perf_counter() - start


# --- the cases -------------------------------------------------------------------------


def link(index: int) -> str:
    return f">{title(index)}</a>"


def matching(predicate, threads: int, count: int) -> list[int]:
    """The first ``count`` thread indexes, newest first, for which ``predicate`` holds."""
    found = []
    for index in range(threads):
        if predicate(index):
            found.append(index)
            if len(found) == count:
                break
    return found


def page_case(label: str, path: str, threads: int, predicate, caption: str) -> Case:
    """A page of the table: the first 50 matching threads, newest first, and not the 51st."""
    shown = matching(predicate, threads, PAGE + 1)
    present = [caption, 'title="Signed in as admin"']
    absent = []
    if shown:
        present += [link(shown[0]), link(shown[min(len(shown), PAGE) - 1])]
        if len(shown) > PAGE:
            absent.append(link(shown[PAGE]))
    else:
        present.append("No conversations match.")
    return Case(
        label, "large" if threads == LARGE else "small", path, ADMIN, present=tuple(present), absent=tuple(absent)
    )


@dataclass(frozen=True)
class Kind:
    title: str
    path: str
    predicate: object
    caption: str


KINDS = [
    Kind("first page, no filter", "/admin/conversations", lambda i: True, "All threads"),
    Kind(
        f"one owner's threads: `user={OWNER}` (100 threads in either database)",
        f"/admin/conversations?user={OWNER}",
        None,
        f"Threads of {OWNER}",
    ),
    Kind(
        f"a word in one title in ten: `q={COMMON_WORD}`",
        f"/admin/conversations?q={COMMON_WORD}",
        lambda i: TOPICS[i % len(TOPICS)] == COMMON_WORD,
        f"with “{COMMON_WORD}” in the title",
    ),
    Kind(
        f"a word in no title: `q={ABSENT_WORD}` (the worst case: every thread is looked at)",
        f"/admin/conversations?q={ABSENT_WORD}",
        lambda i: False,
        "No conversations match.",
    ),
]


def cases() -> list[tuple[Kind, Case, Case]]:
    pairs = []
    for kind in KINDS:
        both = []
        for threads in (SMALL, LARGE):
            predicate = kind.predicate or (lambda i, t=threads: owner_of(i, t) == OWNER)
            label = f"{kind.title}, {threads:,} threads"
            both.append(page_case(label, kind.path, threads, predicate, kind.caption))
        pairs.append((kind, *both))
    return pairs


# --- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    pairs: list[tuple[Kind, Figures, Figures]]
    errors: dict[str, int]
    seed_seconds: float
    versions: str


def run(kind: str = "sqlite") -> Results:
    with bench_app(kind) as (_, large_url):
        progress(f"seeding {ACCOUNTS:,} accounts and {LARGE:,} threads")
        seconds = seed_admin(LARGE)
        measured_on = versions()
        with bench_app(kind) as (_, small_url):
            seconds += seed_admin(SMALL)
            progress(f"seeded in {seconds:.1f} s; serving both")
            return Results(*measure({"small": small_url, "large": large_url}), seconds, measured_on)


def measure(urls: dict[str, str]):
    pairs = cases()
    with tempfile.TemporaryDirectory(prefix="parley-bench-admin-") as directory, ExitStack() as stack:
        log = Path(directory) / "gunicorn.log"
        try:
            servers = {
                name: stack.enter_context(gunicorn("wsgi:app", server_environment(url), "/healthz", log))
                for name, url in urls.items()
            }
            cookies = {name: sign_in(server.port, ADMIN) for name, server in servers.items()}
            every = [case for _, small, large in pairs for case in (small, large)]
            tallies = {case: Tally() for case in every}
            warm_up = Tally()

            def ask(case: Case, requests: int, tally: Tally, deadline: float) -> None:
                server = servers[case.server]
                send(server.port, case.path, {"Cookie": cookies[case.server]}, requests, 1, deadline, case, tally)

            for case in every:
                ask(case, WARMUP, warm_up, time.monotonic() + CASE_SECONDS)
            per_round = -(-REQUESTS // ROUNDS)
            for round_number in range(ROUNDS):
                progress(f"round {round_number + 1} of {ROUNDS}")
                for case in every:
                    tally = tallies[case]
                    wanted, budget = min(per_round, REQUESTS - tally.requests), CASE_SECONDS - tally.seconds
                    if wanted <= 0 or budget <= 0:
                        continue
                    server = servers[case.server]
                    cpu = server.cpu_seconds()
                    ask(case, wanted, tally, time.monotonic() + budget)
                    tally.server_cpu += server.cpu_seconds() - cpu
            for tally in tallies.values():
                tally.cut_short |= tally.requests < REQUESTS
            errors = warm_up.errors + sum((t.errors for t in tallies.values()), type(warm_up.errors)())
            figures = {case: Figures.of(tally) for case, tally in tallies.items()}
            return [(kind, figures[small], figures[large]) for kind, small, large in pairs], dict(errors)
        except BaseException:
            print(f"gunicorn's log:\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise


# --- report -------------------------------------------------------------------------------


def render(results: Results) -> str:
    lines = [
        results.versions,
        "",
        f"Two databases, each with an admin and {ACCOUNTS:,} accounts: {SMALL:,} threads (100 for each of"
        f" {SMALL_OWNERS} accounts) and {LARGE:,} threads (100 per account), two messages each; seeded in"
        f" {results.seed_seconds:.1f} s. gunicorn {'.'.join(map(str, GUNICORN_VERSION))} with"
        f" `webapp/gunicorn_conf.py` ({gunicorn_conf.workers} worker, {gunicorn_conf.worker_class},"
        f" {gunicorn_conf.threads} threads; access log off) on {HOST}, one per database, signed in as the admin;"
        f" one request at a time, {REQUESTS} per case after {WARMUP} warm-up requests, in {ROUNDS} rounds taking"
        f" turns; every page checked for the first and 50th matching threads (and not the 51st). Server CPU:"
        f" gunicorn's user + system time over the requests it answered.",
        "",
        f"| `GET /admin/conversations` (a page of {PAGE}) | {SMALL:,} threads: median / p95 ms"
        f" | {LARGE:,} threads: median / p95 ms | ratio large/small | server CPU ms/request small / large |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, small, large in results.pairs:
        lines.append(
            f"| {kind.title} | {small.timing.median_ms:.2f} / {small.timing.p95_ms:.2f}"
            f" | {large.timing.median_ms:.2f} / {large.timing.p95_ms:.2f}"
            f" | {large.timing.median_ms / small.timing.median_ms:.2f}"
            f" | {small.server_cpu_ms:.2f} / {large.server_cpu_ms:.2f} |"
        )
    lines += ["", verdict(results)]
    if short := [
        f"{kind.title} ({which})"
        for kind, *both in results.pairs
        for which, f in zip(("small", "large"), both, strict=False)
        if f.cut_short
    ]:
        lines.append(f"Cut short by the limit of {CASE_SECONDS} s per case: {'; '.join(short)}.")
    return "\n".join(lines)


def verdict(results: Results) -> str:
    def short(kind: Kind) -> str:
        return kind.title.split(":")[0].split(" (")[0]

    def missed(statistic: str) -> list[str]:
        return [short(kind) for kind, _, large in results.pairs if getattr(large.timing, statistic) >= GOAL_MS]

    def met(misses: list[str]) -> str:
        return "met" if not misses else f"**not met** by: {'; '.join(misses)}"

    steep = [
        short(kind)
        for kind, small, large in results.pairs
        if large.timing.median_ms / small.timing.median_ms >= RATIO_GOAL
    ]
    return (
        f"Goals with {LARGE:,} threads: median under {GOAL_MS:g} ms — {met(missed('median_ms'))};"
        f" p95 under {GOAL_MS:g} ms — {met(missed('p95_ms'))}; flat (large/small under {RATIO_GOAL})"
        f" — {met(steep)}. Errors: {sum(results.errors.values())}."
    )


def failed(results: Results) -> int:
    return sum(results.errors.values())

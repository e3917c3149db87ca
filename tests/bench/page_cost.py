"""What does a page cost beside serving its bytes (issue 18)?

The yardstick is a bare Flask app (``hello_app.py``) answering the same
number of bytes from memory, served the same way: the same gunicorn settings,
one process, the same client. A page cannot cost less than that, so each
page's server CPU is given as a multiple of it.

Two accounts on a throwaway database, seeded in bulk: a small one (60
threads, the newest holding 100 messages) and a large one (100,000 threads,
the newest holding 10,000). For each account: its newest thread's page (the
latest 50 messages and a sidebar of 50 threads), the sidebar partial, the
settings page, and an API append of a message to its second thread (a
personal token; the answer is the message, ~400 bytes). Requests are
sequential on one keep-alive connection, as one person's browser sends them,
in rounds; after each round of a request, the bare app answers a round of
the same size in bytes. Server CPU is the time the server's threads spent on
a CPU (``/proc/<pid>/task/*/schedstat``, nanoseconds), over the requests of
the rounds; every answer is checked.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain

from tests.bench import seed
from tests.bench.http_pages import (
    GUNICORN_VERSION,
    HOST,
    Case,
    Server,
    Tally,
    answer_bytes,
    parley_and_bare,
    send,
    sign_in,
    signed_in_as,
)
from tests.bench.report import versions
from tests.bench.seed import NOW, bench_app, insert_threads, insert_users, link_messages, thread
from webapp import gunicorn_conf
from webapp.extensions import db
from webapp.models import User
from webapp.tokens import create_token

REQUESTS = 400  # measured requests per case, each answered by both servers
ROUNDS = 4
WARMUP = 50
CASE_SECONDS = 60
ACCOUNTS = {  # name: (threads, messages in the newest)
    "small_account": (60, 100),
    "large_account": (100_000, 10_000),
}
CONTENT = "A message from the benchmark's script, appended through the API to a thread of its owner's."
# Multiples of the bare app serving the same bytes (issue 18), and how far
# the large account may be from the small one.
GOALS = {"thread": 4.0, "sidebar": 3.0, "settings": 2.5, "append": 3.0}
FLAT_GOAL = 1.3


def progress(message: str) -> None:
    print(f"[cost] {message}", file=sys.stderr, flush=True)


# --- the data ---------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    name: str
    threads: int
    newest: uuid.UUID  # its page is asked for
    second: uuid.UUID  # appended to
    newest_messages: int
    token: str


def seed_accounts() -> list[Account]:
    users = insert_users(ACCOUNTS)
    accounts = []
    for name, (count, messages) in ACCOUNTS.items():
        newest = thread(users[name], NOW, messages, "The newest thread")
        second = thread(users[name], NOW - timedelta(hours=1), 2, "The second thread")
        insert_threads(chain([newest, second], seed.account(users[name], count - 2)))
        _, token = create_token(db.session.get(User, users[name]), "bench")
        accounts.append(Account(name, count, newest[0]["id"], second[0]["id"], messages, token))
    link_messages()
    db.session.commit()
    db.session.remove()
    return accounts


# --- the requests -----------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # a key of GOALS
    label: str
    case: Case
    headers: dict[str, str]


def requests_of(account: Account, cookie: str) -> list[Request]:
    signed_in = {"Cookie": cookie}
    api = {"Authorization": f"Bearer {account.token}", "Content-Type": "application/json"}
    body = json.dumps({"role": "user", "content": CONTENT}).encode()
    who = signed_in_as(account.name)
    return [
        Request(
            "thread",
            "thread page with its sidebar `GET /c/<id>` (50 messages, 50 threads)",
            Case("thread", "parley", f"/c/{account.newest}", present=(who, f"Message {account.newest_messages}.")),
            signed_in,
        ),
        Request(
            "sidebar",
            "sidebar partial `GET /sidebar` (htmx, 50 threads)",
            Case("sidebar", "parley", "/sidebar", present=("The second thread",), absent=("<html",)),
            {**signed_in, "HX-Request": "true"},
        ),
        Request(
            "settings",
            "`GET /settings`",
            Case("settings", "parley", "/settings", present=(who, "Change your password")),
            signed_in,
        ),
        Request(
            "append",
            "API append `POST /api/conversations/<id>/messages`",
            Case(
                "append",
                "parley",
                f"/api/conversations/{account.second}/messages",
                method="POST",
                body=body,
                status=201,
                present=(CONTENT,),
            ),
            api,
        ),
    ]


def twin(request: Request, size: int) -> Case:
    """The bare app's answer of the same size, asked the same way."""
    return Case(f"{size} bytes", "hello", f"/bytes/{size}", method=request.case.method, body=request.case.body)


# --- measuring ----------------------------------------------------------------------


@dataclass
class Cost:
    request: Request
    account: Account
    size: int
    parley: Tally
    bare: Tally
    parley_ns: int = 0
    bare_ns: int = 0

    def ms(self, which: str) -> float:
        tally, ns = (self.parley, self.parley_ns) if which == "parley" else (self.bare, self.bare_ns)
        return ns / max(1, tally.requests) / 1e6

    @property
    def multiple(self) -> float:
        return self.ms("parley") / self.ms("bare")


def measure(
    servers: dict[str, Server], accounts: list[Account], cookies: dict[str, str], kinds: tuple[str, ...] = tuple(GOALS)
) -> list[Cost]:
    costs = []
    for account in accounts:
        for request in (r for r in requests_of(account, cookies[account.name]) if r.kind in kinds):
            size = answer_bytes(servers["parley"].port, request.case, request.headers)
            costs.append(Cost(request, account, size, Tally(), Tally()))
    warm_up = Tally()
    for cost in costs:
        for server, case, headers in sides(cost):
            send(servers[server].port, case.path, headers, WARMUP, 1, time.monotonic() + CASE_SECONDS, case, warm_up)
    if warm_up.errors:
        raise SystemExit(f"wrong answers while warming up: {dict(warm_up.errors)}")
    per_round = REQUESTS // ROUNDS
    for round_number in range(ROUNDS):
        progress(f"round {round_number + 1} of {ROUNDS}")
        for cost in costs:
            for (server, case, headers), tally in zip(sides(cost), (cost.parley, cost.bare), strict=True):
                before = servers[server].cpu_ns()
                send(
                    servers[server].port, case.path, headers, per_round, 1, time.monotonic() + CASE_SECONDS, case, tally
                )
                spent = servers[server].cpu_ns() - before
                if server == "parley":
                    cost.parley_ns += spent
                else:
                    cost.bare_ns += spent
    return costs


def sides(cost: Cost) -> list[tuple[str, Case, dict[str, str]]]:
    return [("parley", cost.request.case, cost.request.headers), ("hello", twin(cost.request, cost.size), {})]


@dataclass(frozen=True)
class Results:
    costs: list[Cost]
    made_anew: list[Cost]  # the pages with none kept: what the first view after a change costs
    errors: Counter
    versions: str


#: The pages that may be kept (``webapp/page_cache.py``), measured again with none kept.
KEPT_PAGES = ("thread", "sidebar", "settings")


def run(kind: str) -> Results:
    with bench_app(kind) as (_app, url):
        progress("seeding")
        accounts = seed_accounts()
        with parley_and_bare(url, "cost") as servers:
            cookies = {a.name: sign_in(servers["parley"].port, a.name) for a in accounts}
            progress("servers up; warming up")
            costs = measure(servers, accounts, cookies)
        with parley_and_bare(url, "cost", {"PARLEY_PAGE_CACHE_MB": "0"}) as servers:
            cookies = {a.name: sign_in(servers["parley"].port, a.name) for a in accounts}
            progress("again, with no page kept")
            made_anew = measure(servers, accounts, cookies, KEPT_PAGES)
            measured_on = versions()
    errors = sum((c.parley.errors + c.bare.errors for c in costs + made_anew), Counter())
    return Results(costs, made_anew, errors, measured_on)


def failed(results: Results) -> int:
    return sum(results.errors.values())


# --- report -------------------------------------------------------------------------


def render(results: Results) -> str:
    small, large = (a for a in ACCOUNTS)
    by = {(c.request.kind, c.account.name): c for c in results.costs}
    cores = len(os.sched_getaffinity(0))
    lines = [
        results.versions,
        "",
        f"gunicorn {'.'.join(map(str, GUNICORN_VERSION))} with `webapp/gunicorn_conf.py`"
        f" ({gunicorn_conf.workers} worker, {gunicorn_conf.worker_class}, {gunicorn_conf.threads} threads;"
        f" access log off) on {HOST}, beside a bare Flask app answering the same number of bytes from"
        f" memory under the same settings; one client connection, requests one after another; {cores} cores."
        f" Accounts: {ACCOUNTS[small][0]:,} threads (the newest of {ACCOUNTS[small][1]:,} messages) and"
        f" {ACCOUNTS[large][0]:,} threads (the newest of {ACCOUNTS[large][1]:,}). Each figure: server CPU"
        f" per request over {REQUESTS} requests after {WARMUP} warm-up, in {ROUNDS} rounds taking turns with"
        " the bare app's; every answer checked.",
        "",
        "| request | bytes small / large | Parley CPU ms small / large | bare, same bytes, ms small / large"
        " | multiple small / large | goal | large/small |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for kind, goal in GOALS.items():
        a, b = by[(kind, small)], by[(kind, large)]
        flat = b.ms("parley") / a.ms("parley")
        worst = max(a.multiple, b.multiple)
        lines.append(
            f"| {a.request.label} | {a.size:,} / {b.size:,} | {a.ms('parley'):.2f} / {b.ms('parley'):.2f}"
            f" | {a.ms('bare'):.3f} / {b.ms('bare'):.3f} | {a.multiple:.1f}× / {b.multiple:.1f}×"
            f" | ≤ {goal}× | {flat:.2f} |"
        )
        if worst > goal:
            verdicts.append(f"{kind} {worst:.1f}× (goal {goal}×)")
        if flat >= FLAT_GOAL:
            verdicts.append(f"{kind} large/small {flat:.2f} (goal under {FLAT_GOAL})")
    met = "all met" if not verdicts else "**not met**: " + "; ".join(verdicts)
    lines += ["", f"Goals (issue 18): {met}. Errors: {sum(results.errors.values())}."]
    anew = {(c.request.kind, c.account.name): c for c in results.made_anew}
    lines += [
        "",
        "The same pages made anew each time (`PARLEY_PAGE_CACHE_MB=0`: what the first view after a change costs):",
        "",
        "| request | Parley CPU ms small / large | bare, same bytes, ms small / large | multiple small / large"
        " | large/small |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in KEPT_PAGES:
        a, b = anew[(kind, small)], anew[(kind, large)]
        lines.append(
            f"| {a.request.label} | {a.ms('parley'):.2f} / {b.ms('parley'):.2f}"
            f" | {a.ms('bare'):.3f} / {b.ms('bare'):.3f} | {a.multiple:.1f}× / {b.multiple:.1f}×"
            f" | {b.ms('parley') / a.ms('parley'):.2f} |"
        )
    return "\n".join(lines)

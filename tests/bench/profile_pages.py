"""Where does the time of the HTTP benchmark's pages go?

Seeds the same throwaway database as ``run.py``, signs in through the Flask
test client (no server, no network) and times each page of the HTTP
benchmark in this process; then runs one of them under cProfile and shows
how much of it goes to templates, URL building, CSRF tokens and the
database, and its most expensive functions.

    python tests/bench/profile_pages.py                  # per-request times of every page
    python tests/bench/profile_pages.py --profile sidebar  # ... and the profile of the first
                                                           #     large case whose title says "sidebar"
"""

from __future__ import annotations

import argparse
import contextvars
import cProfile
import io
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # profile this checkout's webapp, whichever copy is installed

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from tests.bench.http_pages import Case, Pair, cases  # noqa: E402
from tests.bench.seed import PASSWORD, bench_app, seed  # noqa: E402

ROUNDS, PER_ROUND = 5, 40


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    token = field and re.search(r'value="([^"]+)"', field.group())
    response = client.post("/login", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD})
    if response.status_code != 303:
        raise SystemExit(f"signing in as {username} answered {response.status_code}")
    return client


def per_request_ms(client: FlaskClient, case: Case) -> float:
    """Median over rounds of the mean time of a request, after a check that it is the right page."""
    response = client.get(case.path, headers=case.headers)
    if problem := case.problem(response.status_code, response.get_data()):
        raise SystemExit(f"{case.label} {case.path}: {problem}")
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            client.get(case.path, headers=case.headers)
        rounds.append((time.perf_counter() - start) / PER_ROUND * 1000)
    return statistics.median(rounds)


# Where a request's time goes: (label, file path ending, function name) of
# well-known entry points, whose cumulative time includes what they call.
SPOTS = [
    ("the whole request (Flask's wsgi_app)", "flask/app.py", "wsgi_app"),
    ("rendering templates (render_template)", "flask/templating.py", "render_template"),
    ("  in the sidebar items' action menus (thread_menu macro)", "templates/_macros/thread.html", "macro"),
    ("  in _message.html, included once per message", "templates/chat/_message.html", "root"),
    ("building URLs (url_for, everywhere)", "flask/app.py", "url_for"),
    ("csrf_token() (everywhere)", "flask_wtf/csrf.py", "generate_csrf"),
    ("loading the signed-in user (load_user)", "webapp/security.py", "load_user"),
    ("reading threads and messages (webapp.conversations)", "webapp/conversations.py", "*"),
]


def print_profile(client: FlaskClient, case: Case, requests: int = 200) -> None:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        client.get(case.path, headers=case.headers)
    profile.disable()
    stats = pstats.Stats(profile)
    # Only the outermost entries of webapp.conversations count: they call one another.
    conversations = {"get_conversation", "list_conversations", "list_messages"}
    spent: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, _self, cumulative, _callers) in stats.stats.items():
        for label, ending, function in SPOTS:
            if filename.endswith(ending) and (name == function or (function == "*" and name in conversations)):
                spent[label] = spent.get(label, 0.0) + cumulative
    whole = spent.get(SPOTS[0][0]) or 1.0
    print(
        f"\nWhere the time of {case.label} `{case.path}` goes ({requests} requests under cProfile,"
        " which slows function calls down: read the shares, not the milliseconds):"
    )
    for label, _ending, _function in SPOTS:
        seconds = spent.get(label, 0.0)
        print(f"  {seconds / whole:6.1%}  {seconds / requests * 1000:6.2f} ms/request  {label}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", metavar="WORD", help="profile the large case of the first pair titled with WORD")
    args = parser.parse_args(argv)
    with bench_app("sqlite") as (app, _url):
        seeded = seed()
        _hello, references, pairs = cases(seeded)
        # bench_app keeps an app context pushed, and a request made inside it
        # would share its ``g`` (where Flask-Login keeps the signed-in user)
        # with every other request: each request needs a context of its own.
        contextvars.Context().run(report, app, references, pairs, args.profile)


def report(app: Flask, references: list[Case], pairs: list[Pair], profile: str | None) -> None:
    users = {case.user for pair in pairs for case in (pair.small, pair.large)} | {c.user for c in references}
    clients = {user: signed_in(app, user) if user else app.test_client() for user in users}
    print("| request | case | ms per request (in process) | response KB |\n|---|---|---:|---:|")
    for title, label, case in [
        *((c.label, "", c) for c in references),
        *((pair.title, c.label, c) for pair in pairs for c in (pair.small, pair.large)),
    ]:
        client = clients[case.user]
        size = len(client.get(case.path, headers=case.headers).get_data()) / 1000
        print(f"| {title} | {label} | {per_request_ms(client, case):.2f} | {size:.0f} |")
    if profile:
        chosen = next((pair for pair in pairs if profile.lower() in pair.title.lower()), None)
        if chosen is None:
            raise SystemExit(f"no pair is titled with {profile!r}: {[pair.title for pair in pairs]}")
        print_profile(clients[chosen.large.user], chosen.large)


if __name__ == "__main__":
    main()

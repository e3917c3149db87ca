"""``make bench``: does a big account cost the same as a small one, do
replies stream as they should, and what do the admin table and the API cost?

Seeds a throwaway database with a small and a large case of each shape (an
account with 100 or 100,000 conversations, a thread with 100 or 100,000
messages), then

- serves the app with gunicorn on loopback and times its pages from a
  concurrent client, next to a bare Flask "hello" app (``http_pages.py``);
- times the real functions of ``webapp.conversations`` (``data_layer.py``);
- gives each page's server CPU as a multiple of a bare Flask app serving
  the same number of bytes, on an account of 60 and one of 100,000 threads
  (``page_cost.py``; on ``--db``);
- opens a thread of 1,000 messages in Chromium: time to its newest message
  on screen, cold and warm, and the bytes of the first visit
  (``browser_page.py``; needs /usr/bin/chromium);

then, each on databases of its own,

- streams replies from a fake model server through the served app: added
  latency, database writes per reply, concurrent streams (``streams.py``;
  SQLite, the default server);
- times the admin's table of every thread with 1,000 and 100,000 threads
  (``admin_table.py``);
- times appending and listing messages through the JSON API with a token
  (``api.py``; SQLite, and PostgreSQL when ``BENCH_DATABASE_URL`` is set);
- times the sidebar of an account with 1,000 pinned and 100,000 other
  threads, and one bulk action on 1,000 threads (``organising.py``; on ``--db``);
- times search (``webapp.search.search``) on an account of 10,000 messages
  and one of ``--search-messages`` (``search.py``; on ``--db``);
- imports a ChatGPT export of 2,000 conversations and 200,000 messages
  into an empty database, in a process of its own: messages per second and
  the process's peak memory (``imports.py``; on ``--db``);
- runs two instances on PostgreSQL and Redis: reader latency on the
  writer's instance and on the other, Stop from the other instance, streams
  held by one instance, takeover after kill -9 of the writer's
  (``instances.py``; needs ``BENCH_DATABASE_URL`` and Redis on
  127.0.0.1:6379, skipped without them);
- serves Parley and Open WebUI side by side on the same data: the chat
  list, a chat of 1,000 messages, appending a message (``openwebui.py``;
  needs ``OPENWEBUI_VENV``, a virtualenv with open-webui installed, and is
  skipped without it);

and prints a Markdown table of each.

    python tests/bench/run.py                   # SQLite, in a temporary directory
    python tests/bench/run.py --only data       # ... only the data layer (or: http, cost, browser, streams, admin, api, instances, search, organising, openwebui)
    python tests/bench/run.py --explain         # ... and the query plans
    python tests/bench/run.py --update-readme   # ... and the tables into README.md
    BENCH_DATABASE_URL=postgresql://... python tests/bench/run.py --db postgres

``--db`` chooses the databases of the data, HTTP and admin benchmarks. On
PostgreSQL everything lives in a new schema that is dropped at the end;
nothing else in that database is touched. A run in which any response was
wrong (or a stream failed) exits with status 1 and leaves README.md alone; a
missed goal is reported in its table, and does not.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # time this checkout's webapp, whichever copy is installed

from tests.bench import http_pages  # noqa: E402
from tests.bench.report import README, Neighbours, replace_section  # noqa: E402
from tests.bench.seed import bench_app, seed  # noqa: E402
from tests.conftest import USER_SETTINGS  # noqa: E402

BENCHMARKS = (
    "data",
    "http",
    "cost",
    "browser",
    "streams",
    "admin",
    "api",
    "instances",
    "search",
    "organising",
    "imports",
    "openwebui",
)
MODULES = {
    "data": "data_layer",
    "cost": "page_cost",
    "browser": "browser_page",
    "organising": "organising",
    "admin": "admin_table",
    "streams": "streams",
    "api": "api",
    "instances": "instances",
    "search": "search",
    "imports": "imports",
    "openwebui": "openwebui",
}


def benchmark(name: str):
    """A benchmark's module, imported when it is run: one whose import breaks
    (the app changed under it) stops only itself."""
    return importlib.import_module(f"tests.bench.{MODULES[name]}")


def main(argv: list[str] | None = None) -> int:
    # Like the tests: the user's own settings never reach a benchmarked app.
    for name in [name for name in os.environ if USER_SETTINGS.fullmatch(name)]:
        del os.environ[name]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres", "both"),
        default="sqlite",
        help="for data, http and admin; postgres and both read BENCH_DATABASE_URL (default: sqlite)",
    )
    parser.add_argument("--only", choices=BENCHMARKS, help="run one of the benchmarks")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the timed reads")
    parser.add_argument(
        "--requests",
        type=int,
        default=http_pages.REQUESTS,
        help=f"HTTP requests per case of the page benchmark (default: {http_pages.REQUESTS:,})",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=http_pages.CONCURRENCY,
        help=f"HTTP client threads of the page benchmark (default: {http_pages.CONCURRENCY})",
    )
    parser.add_argument(
        "--search-messages",
        type=int,
        default=1_000_000,
        help="messages of the large account of the search benchmark (default: 1,000,000)",
    )
    parser.add_argument("--update-readme", action="store_true", help="write the table(s) into README.md")
    args = parser.parse_args(argv)
    wanted = [args.only] if args.only else list(BENCHMARKS)
    data_layer = benchmark("data") if "data" in wanted or args.explain else None

    reports: dict[str, list[str]] = {name: [] for name in BENCHMARKS}
    errors = 0

    def report(name: str, body: str, neighbours: Neighbours) -> None:
        reports[name].append(f"{body}\n\n{neighbours.line()}")
        print(reports[name][-1] + "\n", flush=True)

    def measure(name: str, *args) -> None:
        """One benchmark module: ``run(*args)``, its table reported, its
        wrong answers counted (``failed``); skipped with a message when what
        it needs is missing (``Unavailable``: README.md keeps its last table)."""
        nonlocal errors
        module = benchmark(name)
        serving = getattr(module, "serving_processes", None)
        try:
            with Neighbours(serving() if serving else None) as neighbours:
                results = module.run(*args)
        except getattr(module, "Unavailable", ()) as missing:
            print(f"[{name}] skipped: {missing}", file=sys.stderr)
            return
        report(name, module.render(results), neighbours)
        if hasattr(module, "failed"):
            errors += module.failed(results)

    started = time.perf_counter()
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        if "data" in wanted or "http" in wanted:
            with bench_app(kind) as (_app, url):
                seeded = seed()
                if args.explain:
                    data_layer.print_plans(seeded)
                # HTTP first: the data layer's last operation adds messages to the threads it reads.
                if "http" in wanted:
                    with Neighbours() as neighbours:
                        results = http_pages.run(seeded, url, args.requests, args.concurrency)
                    report("http", http_pages.render(results), neighbours)
                    if results.errors:
                        errors += sum(results.errors.values())
                        print(f"Wrong responses:\n{http_pages.describe_errors(results)}\n", file=sys.stderr)
                if "data" in wanted:
                    with Neighbours() as neighbours:
                        timings = data_layer.run_operations(seeded)
                    report("data", data_layer.render(seeded, timings), neighbours)
        for name in ("cost", "browser", "admin", "organising", "imports"):
            if name in wanted:
                measure(name, kind)
        if "search" in wanted:
            measure("search", kind, args.search_messages)
    for name in ("streams", "api", "instances", "openwebui"):
        if name in wanted:
            measure(name)
    print(f"make bench took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if errors:
        print(f"{errors} responses or streams were wrong: the figures above do not count.", file=sys.stderr)
        return 1
    if args.update_readme:
        readme = README.read_text()
        for name, bodies in reports.items():
            if bodies:
                readme = replace_section(readme, name, "\n\n".join(bodies))
        README.write_text(readme)
        print(f"Updated {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

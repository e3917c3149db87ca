"""``make bench``: does a big account cost the same as a small one?

Seeds a throwaway database with a small and a large case of each shape (an
account with 100 or 100,000 conversations, a thread with 100 or 100,000
messages), then

- serves the app with gunicorn on loopback and times its pages from a
  concurrent client, next to a bare Flask "hello" app (``http_pages.py``);
- times the real functions of ``webapp.conversations`` (``data_layer.py``);

and prints a Markdown table of each.

    python tests/bench/run.py                   # SQLite, in a temporary directory
    python tests/bench/run.py --only data       # ... only the data layer (or: --only http)
    python tests/bench/run.py --explain         # ... and the query plans
    python tests/bench/run.py --update-readme   # ... and the tables into README.md
    BENCH_DATABASE_URL=postgresql://... python tests/bench/run.py --db postgres

On PostgreSQL everything lives in a new schema that is dropped at the end;
nothing else in that database is touched. A run in which any HTTP response
was wrong exits with status 1 and leaves README.md alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # time this checkout's webapp, whichever copy is installed

from tests.bench import data_layer, http_pages  # noqa: E402
from tests.bench.report import README, replace_section  # noqa: E402
from tests.bench.seed import bench_app, seed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite",
                        help="postgres and both read BENCH_DATABASE_URL (default: sqlite)")
    parser.add_argument("--only", choices=("data", "http"), help="run one of the two benchmarks")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the timed reads")
    parser.add_argument("--requests", type=int, default=http_pages.REQUESTS,
                        help=f"HTTP requests per case (default: {http_pages.REQUESTS:,})")
    parser.add_argument("--concurrency", type=int, default=http_pages.CONCURRENCY,
                        help=f"HTTP client threads (default: {http_pages.CONCURRENCY})")
    parser.add_argument("--update-readme", action="store_true", help="write the table(s) into README.md")
    args = parser.parse_args(argv)

    reports: dict[str, list[str]] = {"http": [], "data": []}
    errors = 0
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with bench_app(kind) as (_app, url):
            seeded = seed()
            if args.explain:
                data_layer.print_plans(seeded)
            # HTTP first: the data layer's last operation adds messages to the threads it reads.
            if args.only != "data":
                results = http_pages.run(seeded, url, args.requests, args.concurrency)
                reports["http"].append(http_pages.render(results))
                print(reports["http"][-1] + "\n", flush=True)
                if results.errors:
                    errors += sum(results.errors.values())
                    print(f"Wrong responses:\n{http_pages.describe_errors(results)}\n", file=sys.stderr)
            if args.only != "http":
                reports["data"].append(data_layer.render(seeded, data_layer.run_operations(seeded)))
                print(reports["data"][-1] + "\n", flush=True)
    if errors:
        print(f"{errors} HTTP responses were wrong: the figures above do not count.", file=sys.stderr)
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

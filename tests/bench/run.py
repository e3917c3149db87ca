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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # time this checkout's webapp, whichever copy is installed

from tests.bench import data_layer  # noqa: E402
from tests.bench.report import README, replace_section  # noqa: E402
from tests.bench.seed import bench_app, seed  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite",
                        help="postgres and both read BENCH_DATABASE_URL (default: sqlite)")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the timed reads")
    parser.add_argument("--update-readme", action="store_true", help="write the table(s) into README.md")
    args = parser.parse_args(argv)

    reports = []
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with bench_app(kind) as (_app, _url):
            seeded = seed()
            if args.explain:
                data_layer.print_plans(seeded)
            reports.append(data_layer.render(seeded, data_layer.run_operations(seeded)))
            print(reports[-1] + "\n", flush=True)
    if args.update_readme:
        README.write_text(replace_section(README.read_text(), "data", "\n\n".join(reports)))
        print(f"Updated {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Why a server holds fewer streams than it should: one step of the stream
benchmark against the instrumented app (``instrumented_app.py``), with what
the server waited for, and experiments with its settings.

    python tests/bench/diagnose_streams.py 100                  # 100 streams, the default settings
    python tests/bench/diagnose_streams.py 150 --threads 256 --pool-size 50 --save 5

Prints the step's row of the stream table, then the server's scheduling lag,
connection pool, statement timings and reply-engine counts over the step, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from http.client import HTTPConnection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import streams  # noqa: E402
from tests.bench.http_pages import HOST  # noqa: E402


def diagnostics(port: int, reset: bool = False) -> dict:
    connection = HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", "/_bench/diagnostics" + ("?reset=1" if reset else ""))
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("streams", type=int)
    parser.add_argument("--tokens", type=int, default=streams.STEP_TOKENS, help="tokens per reply")
    parser.add_argument("--threads", type=int, help="gunicorn --threads (default: the project's)")
    parser.add_argument("--workers", type=int, help="gunicorn --workers (default: the project's)")
    parser.add_argument("--pool-size", type=int, help="SQLAlchemy pool_size (default 5)")
    parser.add_argument("--max-overflow", type=int, help="SQLAlchemy max_overflow (default 10)")
    parser.add_argument(
        "--save", type=float, help=f"seconds between a reply's saves (default {streams.SAVE_SECONDS:g})"
    )
    args = parser.parse_args()

    env = {}
    for option, variable in (
        ("pool_size", "BENCH_POOL_SIZE"),
        ("max_overflow", "BENCH_MAX_OVERFLOW"),
        ("save", "BENCH_SAVE_SECONDS"),
    ):
        if getattr(args, option) is not None:
            env[variable] = str(getattr(args, option))
    gunicorn_args = (
        *(("--threads", str(args.threads)) if args.threads else ()),
        *(("--workers", str(args.workers)) if args.workers else ()),
    )
    streams.STEP_TOKENS = args.tokens
    with streams.streaming_server("tests.bench.instrumented_app:app", env, gunicorn_args, threads=args.streams) as (
        server,
        session,
        _,
        step_threads,
        log,
    ):
        diagnostics(server.port, reset=True)
        result = streams.step(server, session, step_threads, args.streams, log)
        report = diagnostics(server.port)
    print(f"{args.streams} streams, {args.tokens} tokens each; settings: {env or 'defaults'} {gunicorn_args}")
    print(
        f"complete {result.completed}/{result.streams}; all open after {result.connected_s:.1f} s;"
        f" post → first token {streams.ms(result.first_token)} / max {result.first_token_max_ms:,.0f} ms;"
        f" steady {result.window_s:.1f} s: added latency {streams.ms(result.latency)} ms,"
        f" gap {streams.ms(result.gap)} ms; fed from the database {result.batched};"
        f" /healthz meanwhile {streams.ms(result.healthz)} / max {result.healthz_max_ms:,.0f} ms;"
        f" memory {result.rss_before_mib:.0f} → {result.rss_peak_mib:.0f} MiB; threads {result.threads_peak};"
        f" server CPU {result.server_cpu_share:.0%}; errors {result.errors}; held: {result.held}"
    )
    for problem, n in result.problems.most_common(8):
        print(f"  {n} × {problem}")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Parley's app as ``wsgi.py`` builds it, with instruments, for
``diagnose_streams.py``: what a server holding many streams waits for.

- **scheduling lag**: a thread that asks to sleep 5 ms, over and over, and
  records how much later than that it runs again. In CPython a thread that
  wakes must take the GIL back before it runs, so this is what every hop of a
  token (model socket → worker thread → reader thread → client socket) waits.
- **connection pool**: how long each checkout waited for a connection, and
  the most connections checked out at once.
- **statements**: how long each SQL statement took, by kind (a write that
  waits for SQLite's write lock waits inside its first statement).

``GET /_bench/diagnostics`` answers all of it as JSON (and ``?reset=1``
starts again). Experiments, never defaults, from the environment:

- ``BENCH_POOL_SIZE`` / ``BENCH_MAX_OVERFLOW``: the SQLAlchemy pool;
- ``BENCH_CLAIM_CHECK_SECONDS`` / ``BENCH_FLUSH_SECONDS``: how often a reply
  checks its claim / saves its text (``webapp.assistant.replies``);
- ``BENCH_FIX_LIVE_RACE=1``: a reader that finds the reply still pending, or
  claimed by this very process but not yet open for readers, waits for it to
  open instead of following the database (what a fix must achieve; the fix
  itself would open the live reply before claiming the row).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import defaultdict

from flask import jsonify, request
from sqlalchemy import event

from webapp import create_app
from webapp.config import DEFAULTS
from webapp.extensions import db

TICK = 0.005

engine_options = dict(DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"])
if "BENCH_POOL_SIZE" in os.environ:
    engine_options["pool_size"] = int(os.environ["BENCH_POOL_SIZE"])
if "BENCH_MAX_OVERFLOW" in os.environ:
    engine_options["max_overflow"] = int(os.environ["BENCH_MAX_OVERFLOW"])
app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": engine_options})

if "BENCH_CLAIM_CHECK_SECONDS" in os.environ or "BENCH_FLUSH_SECONDS" in os.environ:
    from webapp.assistant import replies

    replies.CLAIM_CHECK_SECONDS = float(os.environ.get("BENCH_CLAIM_CHECK_SECONDS", replies.CLAIM_CHECK_SECONDS))
    replies.FLUSH_SECONDS = float(os.environ.get("BENCH_FLUSH_SECONDS", replies.FLUSH_SECONDS))

if os.environ.get("BENCH_FIX_LIVE_RACE") == "1":
    from webapp.assistant.live import get_reply
    from webapp.assistant.replies import WORKER_ID
    from webapp.chat import streaming
    from webapp.models import Message

    original_live_reply = streaming._live_reply

    def live_reply_without_race(message_id: int):
        live = original_live_reply(message_id)
        # The reply may be pending still (its writer waits for a connection)
        # or claimed by this very process a moment ago: either way its writer
        # is about to open it. Follow the database only once another process
        # has it, or it has ended.
        deadline = time.monotonic() + 30
        while live is None and time.monotonic() < deadline:
            row = db.session.execute(
                db.select(Message.status, Message.lease_owner).where(Message.id == message_id)).one_or_none()
            db.session.close()
            ours = row is not None and (row.status == "pending" or (
                row.status == "streaming" and (row.lease_owner or "").startswith(f"{WORKER_ID}:")))
            if not ours:
                break
            for _ in range(10):
                time.sleep(0.05)
                if (live := get_reply(message_id)) is not None:
                    break
        return live

    streaming._live_reply = live_reply_without_race


class Instruments:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.lags_ms: list[float] = []
            self.pool_waits_ms: list[float] = []
            self.checked_out_peak = 0
            self.statements: dict[str, list[float]] = defaultdict(list)

    def report(self) -> dict:
        def summary(samples: list[float]) -> dict:
            if len(samples) < 2:
                return {"count": len(samples)}
            cuts = statistics.quantiles(samples, n=100)
            return {"count": len(samples), "median_ms": round(statistics.median(samples), 2),
                    "p95_ms": round(cuts[94], 2), "p99_ms": round(cuts[98], 2), "max_ms": round(max(samples), 2),
                    "total_s": round(sum(samples) / 1000, 3),
                    "over_100ms": sum(1 for s in samples if s > 100)}

        with self.lock:
            return {
                "scheduling_lag": summary(self.lags_ms),
                "pool": {"size": pool.size(), "max_overflow": pool._max_overflow,
                         "checked_out_peak": self.checked_out_peak,
                         "checkout_wait": summary(self.pool_waits_ms)},
                "statements": {kind: summary(samples) for kind, samples in sorted(self.statements.items())},
                "threads": threading.active_count(),
            }


instruments = Instruments()

with app.app_context():
    engine = db.engine
pool = engine.pool


def tick() -> None:
    while True:
        start = time.perf_counter()
        time.sleep(TICK)
        lag = (time.perf_counter() - start - TICK) * 1000
        checked_out = pool.checkedout()
        with instruments.lock:
            instruments.lags_ms.append(lag)
            instruments.checked_out_peak = max(instruments.checked_out_peak, checked_out)


threading.Thread(target=tick, name="bench-lag", daemon=True).start()

original_do_get = pool._do_get


def timed_do_get():
    start = time.perf_counter()
    try:
        return original_do_get()
    finally:
        waited = (time.perf_counter() - start) * 1000
        with instruments.lock:
            instruments.pool_waits_ms.append(waited)


pool._do_get = timed_do_get


@event.listens_for(engine, "before_cursor_execute")
def before(conn, cursor, statement, parameters, context, executemany):
    conn.info.setdefault("bench_started", []).append(time.perf_counter())


@event.listens_for(engine, "after_cursor_execute")
def after(conn, cursor, statement, parameters, context, executemany):
    took = (time.perf_counter() - conn.info["bench_started"].pop()) * 1000
    words = statement.split()
    verb = words[0].upper() if words else "?"
    table = next((w.strip('"') for w in words[1:6] if w.strip('"') in ("messages", "conversations", "users")), "")
    with instruments.lock:
        instruments.statements[f"{verb} {table}".strip()].append(took)


@app.get("/_bench/diagnostics")
def diagnostics():
    report = instruments.report()
    if request.args.get("reset"):
        instruments.reset()
    return jsonify(report)

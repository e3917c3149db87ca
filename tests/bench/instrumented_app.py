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
- **the reply engine** (``webapp.replies``), counted through its public
  functions: writers started here (and starts refused: already written here,
  or shutting down), claims won and lost, replies ended by status, replies
  ended as interrupted by a reader, pieces published on the relay, and
  readers following a reply (now and at most).

``GET /_bench/diagnostics`` answers all of it as JSON (and ``?reset=1``
starts again). Experiments, never defaults, from the environment:

- ``BENCH_POOL_SIZE`` / ``BENCH_MAX_OVERFLOW``: the SQLAlchemy pool;
- ``BENCH_SAVE_SECONDS``: how often a reply saves its text
  (``webapp.replies.SAVE_SECONDS``).

The old engine's experiments are gone with it: there is no claim check to
tune (a writer learns it lost its reply when a save matches no row), and no
live race to fix (a reader listens on the relay before it reads the row, and
starts a pending reply's writer itself).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter, defaultdict

from flask import jsonify, request
from sqlalchemy import event

from webapp import create_app, replies
from webapp.config import DEFAULTS
from webapp.extensions import db
from webapp.replies import relay

TICK = 0.005

engine_options = dict(DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"])
if "BENCH_POOL_SIZE" in os.environ:
    engine_options["pool_size"] = int(os.environ["BENCH_POOL_SIZE"])
if "BENCH_MAX_OVERFLOW" in os.environ:
    engine_options["max_overflow"] = int(os.environ["BENCH_MAX_OVERFLOW"])
app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": engine_options})

if "BENCH_SAVE_SECONDS" in os.environ:
    replies.SAVE_SECONDS = float(os.environ["BENCH_SAVE_SECONDS"])


class Instruments:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.readers_now = 0  # readers following a reply: not reset, they are still there
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.lags_ms: list[float] = []
            self.pool_waits_ms: list[float] = []
            self.checked_out_peak = 0
            self.statements: dict[str, list[float]] = defaultdict(list)
            self.replies: Counter = Counter()
            self.readers_peak = self.readers_now

    def report(self) -> dict:
        def summary(samples: list[float]) -> dict:
            if len(samples) < 2:
                return {"count": len(samples)}
            cuts = statistics.quantiles(samples, n=100, method="inclusive")
            return {
                "count": len(samples),
                "median_ms": round(statistics.median(samples), 2),
                "p95_ms": round(cuts[94], 2),
                "p99_ms": round(cuts[98], 2),
                "max_ms": round(max(samples), 2),
                "total_s": round(sum(samples) / 1000, 3),
                "over_100ms": sum(1 for s in samples if s > 100),
            }

        with self.lock:
            return {
                "scheduling_lag": summary(self.lags_ms),
                "pool": {
                    "size": pool.size(),
                    "max_overflow": pool._max_overflow,
                    "checked_out_peak": self.checked_out_peak,
                    "checkout_wait": summary(self.pool_waits_ms),
                },
                "statements": {kind: summary(samples) for kind, samples in sorted(self.statements.items())},
                "replies": {
                    **dict(sorted(self.replies.items())),
                    "readers now": self.readers_now,
                    "readers at most": self.readers_peak,
                },
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


# --- the reply engine, through its public functions ----------------------------------------
# The engine calls these by their module-level names (write → claim, finish;
# follow → start; a reader's check → interrupt), so replacing them counts every call.


def count(what: str, n: int = 1) -> None:
    with instruments.lock:
        instruments.replies[what] += n


original_start, original_claim, original_finish = replies.start, replies.claim, replies.finish
original_interrupt, original_follow = replies.interrupt, replies.follow


def counted_start(reply_id, app=None):
    thread = original_start(reply_id, app)
    count("writers started" if thread is not None else "starts refused (written here already, or shutting down)")
    return thread


def counted_claim(reply_id, owner):
    claimed = original_claim(reply_id, owner)
    count("claims won" if claimed else "claims lost (not pending)")
    return claimed


def counted_finish(eng, reply_id, text, status, error=None):
    count(f"ended by its writer: {status}")
    return original_finish(eng, reply_id, text, status, error)


def counted_interrupt(eng, reply_id):
    ended = original_interrupt(eng, reply_id)
    if ended:
        count("ended by a reader: interrupted (lease lapsed)")
    return ended


def counted_follow(reply_id, keepalive=15.0):
    with instruments.lock:
        instruments.readers_now += 1
        instruments.readers_peak = max(instruments.readers_peak, instruments.readers_now)
        instruments.replies["readers followed"] += 1
    try:
        yield from original_follow(reply_id, keepalive)
    finally:
        with instruments.lock:
            instruments.readers_now -= 1


replies.start, replies.claim, replies.finish = counted_start, counted_claim, counted_finish
replies.interrupt, replies.follow = counted_interrupt, counted_follow

for transport in (relay.LocalRelay, relay.RedisRelay):

    def counted_publish_piece(self, reply_id, offset, text, _original=transport.publish_piece):
        count("pieces published")
        return _original(self, reply_id, offset, text)

    transport.publish_piece = counted_publish_piece

"""What every table shares: the figures' summary, the machine line, and the
README sections the tables go into."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy import text

from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p95_ms: float

    @classmethod
    def of(cls, samples_ms: list[float]) -> Timing:
        # "inclusive": a percentile within the samples; the default ("exclusive")
        # extrapolates past the largest one when there are few (a p95 above the max).
        return cls(statistics.median(samples_ms), statistics.quantiles(samples_ms, n=100, method="inclusive")[94])


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{platform.system()} {platform.machine()}, {cpu}, nproc {len(os.sched_getaffinity(0))}"


def database_name() -> str:
    if db.engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return "PostgreSQL " + db.session.scalar(text("SHOW server_version")).split()[0]


def versions() -> str:
    """The line above each table: what was measured, on what."""
    return f"{database_name()} · Python {platform.python_version()} · SQLAlchemy {sqlalchemy.__version__} · {machine()}"


def replace_section(readme_text: str, name: str, body: str) -> str:
    """Put ``body`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if not section.search(readme_text):
        raise SystemExit(f"README.md has no {start} … {end} section to replace")
    return section.sub(lambda _: f"{start}\n{body.strip()}\n{end}", readme_text, count=1)


class Neighbours:
    """How much CPU the machine's other processes (all but this one and its
    descendants: the servers, the fake model) took while the block ran:
    ``/proc`` read every second. The figures of a run whose neighbours were
    busy are slower and noisier than the code under test.

    ``serving``, given a process's command line, says whether it is a
    server process working for the benchmark (a PostgreSQL backend connected
    to its database, Redis): those are counted apart, not as neighbours."""

    INTERVAL = 1.0

    def __init__(self, serving: Callable[[str], bool] | None = None) -> None:
        self.others_seconds = 0.0
        self.serving_seconds = 0.0
        self.seconds = 0.0
        self._serving = serving
        self._serving_pids: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="neighbours", daemon=True)

    @staticmethod
    def _processes() -> dict[int, tuple[int, float]]:
        """Every process's parent and CPU seconds so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
        return found

    def _others(self, processes: dict[int, tuple[int, float]]) -> dict[int, float]:
        ours, children = {os.getpid()}, {}
        for pid, (parent, _) in processes.items():
            children.setdefault(parent, []).append(pid)
        todo = [os.getpid()]
        while todo:
            for child in children.get(todo.pop(), ()):
                ours.add(child)
                todo.append(child)
        return {pid: cpu for pid, (_, cpu) in processes.items() if pid not in ours}

    def _serves(self, pid: int) -> bool:
        if self._serving is None:
            return False
        if pid not in self._serving_pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    line = cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                return False
            if line.startswith("postgres") and not self._serving(line):
                return False  # a new backend names its database once it has one: look again next time
            self._serving_pids[pid] = self._serving(line)
        return self._serving_pids[pid]

    def _run(self) -> None:
        before, started = self._others(self._processes()), time.monotonic()
        while not self._stop.wait(self.INTERVAL):
            now = self._others(self._processes())
            for pid, cpu in now.items():
                # A process that started meanwhile counts from zero; one that ended is lost.
                used = cpu - before.get(pid, 0.0)
                if self._serves(pid):
                    self.serving_seconds += used
                else:
                    self.others_seconds += used
            before = now
        self.seconds = time.monotonic() - started

    def __enter__(self) -> Neighbours:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        share = self.others_seconds / self.seconds if self.seconds else float("nan")
        serving = (
            ""
            if self._serving is None
            else f" (and the servers it uses, counted apart:"
            f" {self.serving_seconds / self.seconds if self.seconds else float('nan'):.0%})"
        )
        return (
            f"Other processes on this machine (not the benchmark's) used {share:.0%} of one core on average"
            f" during this benchmark ({self.seconds:.0f} s){serving}."
        )

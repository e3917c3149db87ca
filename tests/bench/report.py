"""What every table shares: the figures' summary, the machine line, and the
README sections the tables go into."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import statistics
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
        return cls(statistics.median(samples_ms), statistics.quantiles(samples_ms, n=100)[94])


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
    return (f"{database_name()} · Python {platform.python_version()} · SQLAlchemy {sqlalchemy.__version__}"
            f" · {machine()}")


def replace_section(readme_text: str, name: str, body: str) -> str:
    """Put ``body`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if not section.search(readme_text):
        raise SystemExit(f"README.md has no {start} … {end} section to replace")
    return section.sub(lambda _: f"{start}\n{body.strip()}\n{end}", readme_text, count=1)

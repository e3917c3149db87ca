"""Import (issue 15): how fast a large ChatGPT export goes in, and how much
memory the process running it needs.

A ChatGPT data export is written to a temporary folder as ChatGPT hands it
out (a ZIP holding ``conversations.json``): ``CONVERSATIONS`` conversations
of ``PER_CONVERSATION`` messages each (a hidden system node and the root
besides), questions and Markdown answers of a few sentences, one question in
ten asked again (a second branch). A fresh Python process then builds the
app on an empty database, and runs the import job (``webapp.imports.jobs.run``,
what the job's thread runs) to its end; it reports the seconds the job took
and the peak resident memory of the process (``ru_maxrss``), next to what
the process held before the job began, and that of the processes it started
(the job's render workers, and the resource tracker that ``multiprocessing``
starts with them): each one's own peak (``VmHWM``, read from ``/proc`` while
the job runs, and ``ru_maxrss`` of the children once they have ended),
added up. The sum of the peaks is what the import needs at most at once.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.bench.report import ROOT
from tests.bench.seed import bench_app

CONVERSATIONS = 2_000
PER_CONVERSATION = 100
GOAL_RATE, GOAL_RSS_MB = 5_000, 300
START = 1_700_000_000.0
_WORDS = (
    "keyset pagination keeps every page equally cheap because the database seeks straight to the cursor "
    "instead of counting rows it will throw away the index on updated at and id serves both the order and "
    "the filter so a thread of a hundred thousand messages opens as fast as one of ten"
).split()


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choices(_WORDS, k=words))
    return text[0].upper() + text[1:] + "."


def _answer(rng: random.Random) -> str:
    lines = [_sentence(rng, 18), "", f"- {_sentence(rng, 6)}", f"- {_sentence(rng, 7)}", "", _sentence(rng, 14)]
    if rng.random() < 0.2:
        lines += ["", "```python", "page = list_conversations(user, cursor)", "```"]
    return "\n".join(lines)


def _node(key, parent, children, role=None, text="", created=None, hidden=False, model=None):
    if role is None:
        return {"id": key, "message": None, "parent": parent, "children": children}
    metadata = {"is_visually_hidden_from_conversation": True} if hidden else {"timestamp_": "absolute"}
    if model:
        metadata |= {"model_slug": model, "finish_details": {"type": "stop"}, "is_complete": True}
    return {
        "id": key,
        "message": {
            "id": key,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": created,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": role == "assistant" or None,
            "weight": 1.0,
            "metadata": metadata,
            "recipient": "all",
            "channel": None,
        },
        "parent": parent,
        "children": children,
    }


def conversation(n: int, rng: random.Random) -> dict:
    """One conversation of ``PER_CONVERSATION`` messages, as ChatGPT exports it."""
    cid = f"67000000-0000-4000-8000-{n:012d}"
    t = START + n * 3_600
    nodes = {"root": _node("root", None, ["system"]), "system": _node("system", "root", [], "system", "", None, True)}
    parent, at, leaf = "system", t, "system"
    count = 0
    while count < PER_CONVERSATION:
        question, answer = f"q{count}", f"a{count}"
        nodes[parent]["children"].append(question)
        nodes[question] = _node(question, parent, [answer], "user", _sentence(rng, 12), at + 1)
        nodes[answer] = _node(answer, question, [], "assistant", _answer(rng), at + 2, model="gpt-4o")
        count, at = count + 2, at + 20
        if count + 2 <= PER_CONVERSATION and rng.random() < 0.1:
            # The question asked again: a second version beside the first, which goes on.
            again, reply = f"q{count}b", f"a{count}b"
            nodes[parent]["children"].append(again)
            nodes[again] = _node(again, parent, [reply], "user", _sentence(rng, 12), at + 1)
            nodes[reply] = _node(reply, again, [], "assistant", _answer(rng), at + 2, model="gpt-4o")
            count, at = count + 2, at + 20
        parent = leaf = answer
    return {
        "title": f"Conversation {n}: {_sentence(rng, 4)}",
        "create_time": t,
        "update_time": at,
        "mapping": nodes,
        "moderation_results": [],
        "current_node": leaf,
        "conversation_id": cid,
        "default_model_slug": "gpt-4o",
        "is_archived": False,
        "safe_urls": [],
        "id": cid,
    }


def write_export(folder: Path) -> tuple[Path, int]:
    """The export ZIP, written one conversation at a time; its path and messages."""
    rng = random.Random(15)
    path = folder / "chatgpt-export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("conversations.json", "w", force_zip64=True) as entry:
            entry.write(b"[")
            for n in range(CONVERSATIONS):
                entry.write((b",\n" if n else b"\n") + json.dumps(conversation(n, rng)).encode())
            entry.write(b"\n]\n")
        archive.writestr("chat.html", "<!DOCTYPE html><title>ChatGPT Data Export</title>")
    return path, CONVERSATIONS * PER_CONVERSATION


@dataclass
class Results:
    kind: str
    messages: int
    conversations: int
    file_mb: float
    unpacked_mb: float
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float  # the process's own
    children_peak_mb: float  # the processes it started, each one's peak, added up
    children: int
    setting: str
    job: dict

    @property
    def total_peak_mb(self) -> float:
        return self.rss_peak_mb + self.children_peak_mb


def child(export: str, database_url: str) -> None:
    """In a process of its own: import ``export`` into a new account, print the figures."""
    import io

    from werkzeug.datastructures import FileStorage

    from tests.bench.report import versions
    from webapp import create_app
    from webapp.extensions import db
    from webapp.imports import create_job, job_json
    from webapp.imports.jobs import run
    from webapp.models import ImportJob, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "TESTING": True})
    app.instance_path = str(Path(export).parent / "instance")
    with app.app_context():
        db.create_all()
        user = User(username="importer", username_key="importer", password_hash="x", role="user")
        db.session.add(user)
        db.session.commit()
        with open(export, "rb") as upload:
            job = create_job(user, [FileStorage(io.BufferedReader(upload), filename="chatgpt-export.zip")])
            db.session.commit()
        job_id = job.id
        setting = versions()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = _ChildrenPeaks()
    with app.app_context(), children:
        start = time.perf_counter()
        run(job_id)
        seconds = time.perf_counter() - start
        shown = job_json(db.session.get(ImportJob, job_id))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # A child that ended between two looks at /proc: the largest ended one's peak.
    ended = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    children_kb = max(sum(children.peaks_kb.values()), ended)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "before_kb": before,
                "peak_kb": peak,
                "children_kb": children_kb,
                "children": len(children.peaks_kb),
                "setting": setting,
                "job": shown,
            }
        )
    )


class _ChildrenPeaks(threading.Thread):
    """Each descendant's peak resident memory (``VmHWM``), looked at in /proc
    every ``INTERVAL`` seconds while the block runs."""

    INTERVAL = 0.1

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks_kb: dict[int, int] = {}
        self._done = threading.Event()

    def __enter__(self) -> _ChildrenPeaks:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while True:
            self._look()
            if self._done.wait(self.INTERVAL):
                self._look()
                return

    def _look(self) -> None:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        # pid (comm) state ppid …: comm may hold spaces and parentheses
                        parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    pass
        mine, found = {os.getpid()}, True
        while found:
            found = False
            for pid, parent in parents.items():
                if parent in mine and pid not in mine:
                    mine.add(pid)
                    found = True
        for pid in mine - {os.getpid()}:
            try:
                with open(f"/proc/{pid}/status") as status:
                    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            except (OSError, StopIteration, ValueError):
                continue
            self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), hwm)


def run(kind: str) -> Results:
    with tempfile.TemporaryDirectory(prefix="parley-bench-import-") as folder:
        export, messages = write_export(Path(folder))
        with zipfile.ZipFile(export) as archive:
            unpacked = archive.getinfo("conversations.json").file_size
        with bench_app(kind) as (_app, database_url):
            figures = _run_child(export, database_url)
        return Results(
            kind,
            messages,
            CONVERSATIONS,
            export.stat().st_size / 2**20,
            unpacked / 2**20,
            figures["seconds"],
            figures["before_kb"] / 1024,
            figures["peak_kb"] / 1024,
            figures["children_kb"] / 1024,
            figures["children"],
            figures["setting"],
            figures["job"],
        )


def _run_child(export: Path, database_url: str) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", f"from tests.bench.imports import child; child({str(export)!r}, {database_url!r})"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def _rendered_by(results: Results) -> str:
    from webapp.imports.rendering import workers

    count = workers()
    if not count:
        return "in the job's thread: this machine has no core to spare"
    return f"by {count} render worker process{'es' if count > 1 else ''} while the job's thread writes"


def failed(results: Results) -> int:
    """Threads the import did not import (each one a wrong answer)."""
    job = results.job
    return 0 if (job["status"], job["imported"], job["failed"]) == ("done", results.conversations, 0) else 1


def render(results: Results) -> str:
    rate = results.messages / results.seconds
    missed = []
    if results.kind == "sqlite" and rate <= GOAL_RATE:
        missed.append(f"over {GOAL_RATE:,} messages/s")
    if results.total_peak_mb >= GOAL_RSS_MB:
        missed.append(f"peak under {GOAL_RSS_MB} MB")
    return "\n".join(
        [
            results.setting,
            "",
            (
                f"A ChatGPT export of {results.conversations:,} conversations and {results.messages:,} messages"
                f" (a ZIP of {results.file_mb:,.0f} MB, its conversations.json {results.unpacked_mb:,.0f} MB"
                f" unpacked; one question in ten asked twice) imported into an empty {results.kind} database by"
                " the import job, in a process of its own: each conversation in a transaction of its own, every"
                f" reply rendered to HTML ({_rendered_by(results)}), the full-text index kept by the database as"
                " the rows go in. Peak RSS: each process's own peak; together, their sum."
            ),
            "",
            "| messages | conversations | seconds | messages/s | peak RSS of the process | of the processes it started"
            " | together | before the job |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            (
                f"| {results.messages:,} | {results.conversations:,} | {results.seconds:.1f} | {rate:,.0f}"
                f" | {results.rss_peak_mb:,.0f} MB | {results.children_peak_mb:,.0f} MB ({results.children})"
                f" | {results.total_peak_mb:,.0f} MB | {results.rss_before_mb:,.0f} MB |"
            ),
            "",
            f"Goals (issue 15): over {GOAL_RATE:,} messages/s on SQLite, peak under {GOAL_RSS_MB} MB — "
            + ("met." if not missed else "**not met**: " + "; ".join(missed) + "."),
        ]
    )

"""The HTML of imported replies: rendered once, at import, in worker
processes while the job writes the threads before.

A reply's HTML is stored with it (a page never renders a finished message),
and rendering is most of an import's work: markdown-it is pure Python, so
threads of this process would wait for one another. A large import (at
least ``POOL_MIN_BYTES`` of conversations) on a machine with a core to
spare therefore renders in a small pool of processes of its own
(``workers``: one core is left to the job's thread and the database): the
job plans a few threads ahead (``Renderer.ahead``), hands each one's replies
to the pool, and stores the oldest once its HTML is back. What is stored,
the transaction of each thread and the report are the same either way.

The pool belongs to the job: started with its first large file, shut down
when the job ends, whatever ends it (``with Renderer(...)``). Its workers
are started afresh (``spawn``, never a fork of this threaded process) and
import ``webapp.rendering`` alone, not the app or its database (and, as
``spawn`` does, the server's main module, which gunicorn and flask guard
with ``if __name__ == "__main__"``); a worker whose server dies ends too. If
the pool cannot start, or breaks (a worker killed), the job renders in this
process from then on; a reply whose rendering fails makes its thread fail,
alone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from webapp.imports.threads import PlannedThread
from webapp.rendering import render_all, start_render_worker

log = logging.getLogger(__name__)

#: A job whose conversations are smaller than this renders in its own
#: thread: starting the workers (a new Python each) costs more than it saves.
POOL_MIN_BYTES = 8 * 1024 * 1024
MOST_WORKERS = 2


def workers() -> int:
    """Render workers for a large import: the cores this process may use,
    less one for the job itself, at most ``MOST_WORKERS``; 0 on one core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, min(MOST_WORKERS, cores - 1))


def replies_of(planned: PlannedThread) -> list[str]:
    """The texts to render: each reply that has any, in the thread's order."""
    return [message.content for message in planned.messages if message.role == "assistant" and message.content]


class Rendering:
    """A thread's replies on their way to HTML; ``result`` waits for them."""

    def __init__(self, renderer: Renderer, texts: list[str], future: Future | None):
        self._renderer, self._texts, self._future = renderer, texts, future

    @property
    def in_worker(self) -> bool:
        """Whether a worker process renders it (else this process does)."""
        return self._future is not None

    def result(self) -> list[str]:
        """The HTML of each text, in order; raises what rendering raised."""
        if self._future is not None:
            try:
                return self._future.result()
            except BrokenProcessPool:
                self._renderer.broken()
        return render_all(self._texts)


class Renderer:
    """Renders the replies of a job's threads (a context manager: leaving it
    stops the workers, if any were started)."""

    def __init__(self, size: int = 0):
        self.size = size  # workers to start; 0: render in this process
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def parallel(self) -> bool:
        return self.size > 0

    @property
    def ahead(self) -> int:
        """Threads the job plans and hands over before it stores the oldest:
        enough that no worker waits while the job writes."""
        return 2 * self.size + 1 if self.parallel else 0

    def submit(self, planned: PlannedThread) -> Rendering:
        texts = replies_of(planned)
        if not self.parallel or not texts:
            return Rendering(self, texts, None)  # rendered when its result is asked for
        try:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.size, mp_context=multiprocessing.get_context("spawn"), initializer=start_render_worker
                )
            return Rendering(self, texts, self._pool.submit(render_all, texts))
        except (OSError, RuntimeError, BrokenProcessPool):
            log.warning("the import's render workers could not start; rendering in the job's thread", exc_info=True)
            self.broken()
            return Rendering(self, texts, None)

    def broken(self) -> None:
        """The pool failed: stop what is left of it, render here from now on."""
        if self.parallel:
            log.warning("the import's render workers stopped; rendering in the job's thread from now on")
            self.size = 0
        self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

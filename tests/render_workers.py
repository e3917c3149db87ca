"""Stand-ins for ``webapp.rendering.render_all`` that the import tests hand
to render worker processes: a worker imports them by name, so they live in
a module that imports nothing of the app but its renderer."""

from __future__ import annotations

import multiprocessing
import os

from webapp.rendering import render_all

FAILS = "This reply breaks the renderer."


def render_all_but_one(texts: list[str]) -> list[str]:
    """As ``render_all``, except that one reply makes rendering raise."""
    if any(FAILS in text for text in texts):
        raise ValueError("the renderer broke")
    return render_all(texts)


def die_in_a_worker(texts: list[str]) -> list[str]:
    """A worker that renders this dies at once (killed, say); in the job's
    own process it renders as ``render_all``."""
    if multiprocessing.parent_process() is not None:
        os._exit(1)
    return render_all(texts)

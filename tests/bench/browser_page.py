"""How soon does a long thread's newest message reach the screen, and how
many bytes does the first visit cost (issue 18)?

One account with 1,000 threads, the newest of them 1,000 messages long
(200-character questions, 800-character answers), served by gunicorn with
``make run``'s settings (less the access log) on a throwaway database.
Debian's Chromium, headless, driven by Playwright, opens the thread: a new
browser context (an empty cache) for each cold visit, then the chat list
and the same thread again in that tab for a warm one (as a reader comes
back to it). The time is from the start of the navigation to the first
time the newest message is in the viewport (an ``IntersectionObserver`` on
it, set up before the page's own scripts); the bytes are every response of
the cold visit, headers and bodies as sent.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from itertools import chain
from pathlib import Path

from sqlalchemy import func, select

from tests.bench import seed
from tests.bench.http_pages import HOST, gunicorn, server_environment, sign_in
from tests.bench.report import versions
from tests.bench.seed import NOW, bench_app, insert_threads, insert_users, link_messages
from webapp.extensions import db
from webapp.models import Message

THREADS, MESSAGES = 1_000, 1_000
QUESTION, ANSWER = 200, 800  # characters
VISITS = 15  # cold, and as many warm
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
WARM_GOAL_MS, BYTES_GOAL = 100.0, 120_000
USER = "reader"

# Before the page's scripts: note when the newest message is first on screen.
WATCH = """
document.addEventListener("DOMContentLoaded", () => {
  const newest = document.getElementById(%r);
  if (!newest) { window.__newestShown = -1; return; }
  new IntersectionObserver((entries, observer) => {
    const shown = entries.find((entry) => entry.isIntersecting);
    if (shown) {
      // When the browser found it on screen, as it made the frame that
      // shows it: not when this callback got its turn, a task later.
      window.__newestShown = shown.time;
      observer.disconnect();
    }
  }).observe(newest);
});
"""


def progress(message: str) -> None:
    print(f"[browser] {message}", file=sys.stderr, flush=True)


def words(length: int, position: int) -> str:
    text = f"Message {position}. " + "Keyset pagination keeps every page of a long thread equally cheap to read. " * 12
    return text[:length].rstrip() + "."


def seed_reader() -> tuple[uuid.UUID, int]:
    """The account; its newest thread's id and newest message's id."""
    user_id = insert_users([USER])[USER]
    row, messages = seed.thread(user_id, NOW, MESSAGES, "A long thread")

    def sized(message: dict) -> dict:
        text = words(QUESTION if message["role"] == "user" else ANSWER, message["position"])
        return {**message, "content": text, "html": f"<p>{text}</p>"}

    insert_threads(chain([(row, map(sized, messages))], seed.account(user_id, THREADS - 1)))
    link_messages()
    db.session.commit()
    newest = db.session.scalar(select(func.max(Message.id)).where(Message.conversation_id == row["id"]))
    db.session.remove()
    return row["id"], newest


@dataclass(frozen=True)
class Results:
    cold_ms: list[float]
    warm_ms: list[float]
    first_bytes: int
    html_bytes: int
    versions: str


def visit(page, url: str) -> tuple[float, int, int]:
    """Open ``url`` in ``page``: ms to the newest message on screen, bytes of
    every response, bytes of the page itself."""
    finished = []
    listener = lambda request: finished.append(request)  # noqa: E731 (Playwright wants a function it can tag)
    page.on("requestfinished", listener)
    try:
        page.goto(url, wait_until="load")
        page.wait_for_function("window.__newestShown !== undefined")
        shown = page.evaluate("window.__newestShown")
        if shown < 0:
            raise SystemExit(f"{url}: the newest message is not on the page")
        sizes = [(request, request.sizes()) for request in finished]
        total = sum(size["responseBodySize"] + size["responseHeadersSize"] for _, size in sizes)
        html = sum(size["responseBodySize"] for request, size in sizes if request.url == url)
        return shown, total, html
    finally:
        page.remove_listener("requestfinished", listener)


def run(kind: str = "sqlite") -> Results:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"the browser benchmark needs Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with bench_app(kind) as (_app, database_url):
        progress("seeding")
        thread_id, newest = seed_reader()
        measured_on = versions()
        with tempfile.TemporaryDirectory(prefix="parley-bench-browser-") as directory:
            log = Path(directory) / "gunicorn.log"
            with gunicorn("wsgi:app", server_environment(database_url), "/healthz", log) as server:
                cookie = SimpleCookie(sign_in(server.port, USER))
                cookies = [
                    {"name": name, "value": morsel.value, "domain": HOST, "path": "/"}
                    for name, morsel in cookie.items()
                ]
                url = f"http://{HOST}:{server.port}/c/{thread_id}"
                cold, warm, first, html = [], [], 0, 0
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                    try:
                        for number in range(VISITS + 1):  # the first, unmeasured, warms the server
                            context = browser.new_context(viewport={"width": 1280, "height": 800})
                            context.add_cookies(cookies)
                            context.add_init_script(WATCH % f"message-{newest}")
                            page = context.new_page()
                            ms, first, html = visit(page, url)
                            # Warm: back to the chat list, then the thread again, in the same tab.
                            page.goto(f"http://{HOST}:{server.port}/", wait_until="load")
                            again, _, _ = visit(page, url)
                            context.close()
                            if number:
                                cold.append(ms)
                                warm.append(again)
                        progress(f"{VISITS} cold and {VISITS} warm visits")
                    finally:
                        browser.close()
    return Results(cold, warm, first, html, measured_on)


def render(results: Results) -> str:
    cold, warm = statistics.median(results.cold_ms), statistics.median(results.warm_ms)
    verdicts = [
        f"warm under {WARM_GOAL_MS:.0f} ms — {warm:.0f} ms, {'met' if warm < WARM_GOAL_MS else '**not met**'}",
        f"first visit under {BYTES_GOAL // 1000} KB — {results.first_bytes / 1000:.0f} KB,"
        f" {'met' if results.first_bytes < BYTES_GOAL else '**not met**'}",
    ]
    return "\n".join(
        [
            results.versions,
            "",
            f"Chromium (headless, {CHROMIUM}) through Playwright; gunicorn with `webapp/gunicorn_conf.py` (less the"
            f" access log) on {HOST}. One account of {THREADS:,} threads; its newest thread of {MESSAGES:,} messages"
            f" ({QUESTION}-character questions, {ANSWER}-character answers), of which the page shows the latest 50."
            f" {VISITS} visits each, medians.",
            "",
            "| open the thread | to the newest message on screen: median (min–max) ms | bytes |",
            "|---|---:|---:|",
            f"| cold (empty cache) | {cold:.0f} ({min(results.cold_ms):.0f}–{max(results.cold_ms):.0f})"
            f" | {results.first_bytes / 1000:.0f} KB in all, the page {results.html_bytes / 1000:.0f} KB |",
            f"| warm (the chat list, then the thread again, in the same tab) | {warm:.0f} ({min(results.warm_ms):.0f}–{max(results.warm_ms):.0f})"
            f" | the page again |",
            "",
            "Goals (issue 18): " + "; ".join(verdicts) + ".",
        ]
    )

"""Browser tests: a live Parley server and a real Chromium driven by Playwright.

Every test in this folder is marked ``browser`` (``pytest -m 'not browser'``
leaves them out). Without Chromium (``/usr/bin/chromium``, or the path in
``CHROMIUM``) they are skipped, unless ``REQUIRE_BROWSER=1`` (set by CI) turns
the skip into a failure.

Fixtures:

- ``app``: here, the app the live server serves: CSRF on (real forms), rate
  limits off, and its own 500 page instead of a propagated exception. So the
  root fixtures that build on ``app`` (``user``, ``make_user``,
  ``make_thread`` …) write to the live server's database.
- ``demo_pace_ms``: the demo assistant's pause between words (0: instant).
  A test that watches a reply stream sets it by parametrizing:
  ``@pytest.mark.parametrize("demo_pace_ms", [150])``.
- ``live_server``: the base URL (``http://127.0.0.1:<port>``) of ``app``
  served in a thread. An exception in a view fails the test.
- ``browser``: one Chromium for the whole session.
- ``page`` (1280×800) and ``phone_page`` (390×844): a page in a fresh context
  whose ``base_url`` is the live server, so ``page.goto("/login")`` works.
  A console error, a failed subresource or an uncaught page error fails the
  test at teardown.
- ``new_page(viewport=PHONE, **context_options)``: more pages, same checks.
- ``browser_errors``: what the pages reported; ``allow(regex)`` lets a test
  accept an error it expects.

Helpers (import them from here): ``check_accessibility(page)`` (axe-core, no
violations allowed), ``screenshot(page, name)`` (into test-artifacts/),
``register(page, username)``, ``sign_in(page, username)``, ``sign_out(page)``,
``tab_to(page, locator)`` and ``focus_is_visible(page)`` (the keyboard); the
sizes ``DESKTOP`` and ``PHONE``. The chat page's parts are in ``helpers.py``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, got_request_exception
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.factories import PASSWORD
from webapp.extensions import db

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
except ImportError:  # reported by the ``browser`` fixture, so the rest of the suite still runs
    sync_playwright = None

HERE = Path(__file__).parent
SCREENSHOTS = HERE.parent.parent / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
# How long an action or an expect() waits for the page: generous, for a loaded
# 2-core machine running the server, Chromium and axe at once. Waiting for
# an event costs nothing when it comes; only a failing check waits it out.
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


# --- the server ------------------------------------------------------------------------


@pytest.fixture
def demo_pace_ms() -> int:
    return 0


@pytest.fixture
def app(make_app, demo_pace_ms) -> Flask:
    app = make_app(WTF_CSRF_ENABLED=True, PROPAGATE_EXCEPTIONS=False, PARLEY_DEMO_PACE_MS=demo_pace_ms)
    with app.app_context():
        db.create_all()
    return app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-") -> None:
        pass  # one line per request drowns the output of a failing test


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    errors: list[BaseException] = []

    def record(sender, exception, **extra):
        errors.append(exception)

    got_request_exception.connect(record, app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        got_request_exception.disconnect(record, app)
    if errors:
        pytest.fail("The server raised while the test ran:\n" + "\n".join(f"- {e!r}" for e in errors), pytrace=False)


# --- the browser -----------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} REQUIRE_BROWSER=1 is set, so browser tests may not be skipped.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        _unavailable("Browser tests need the playwright and axe-playwright-python packages: pip install -e '.[test]'.")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"Browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()


class BrowserErrors:
    """Console errors, failed subresources and uncaught exceptions of a test's pages."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        #: pages that answered 4xx/5xx (not errors: a test may visit a 404 page on purpose)
        self.error_pages: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        self._documents: set[str] = set()

    def allow(self, pattern: str) -> None:
        """Accept errors matching ``pattern`` (a regex), for a test that expects them."""
        self._allowed.append(re.compile(pattern))

    def clear(self) -> None:
        self.messages.clear()

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught {error.name}: {error.message}"))
        page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if response.request.resource_type == "document":
            self._documents.add(response.url)

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        # Chromium logs every 4xx/5xx response as an error, pages included. An
        # error page is something a test may well visit; a failed stylesheet,
        # script or image is a broken page.
        url = message.location.get("url")
        if message.text.startswith("Failed to load resource") and url in self._documents:
            self.error_pages.append(url)
            return
        self.messages.append(f"console: {message.text} ({url})")

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(p.search(m) for p in self._allowed)]


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def new_page(browser: Browser, live_server: str, browser_errors: BrowserErrors):
    """Make a page in a fresh context (own cookies) at ``viewport``; the first
    made by a test is ``page``."""
    contexts: list[BrowserContext] = []

    def make(viewport: dict[str, int] = DESKTOP, **options) -> Page:
        if viewport == PHONE:
            options = {"is_mobile": True, "has_touch": True, **options}
        # The reader's time zone is the page's, not the machine's (TZ): times
        # and day groups are the same wherever the tests run.
        options = {"timezone_id": "UTC", **options}
        context = browser.new_context(viewport=viewport, base_url=live_server, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        browser_errors.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()
    unexpected = browser_errors.unexpected()
    if unexpected:
        pytest.fail("The browser reported errors:\n" + "\n".join(f"- {m}" for m in unexpected), pytrace=False)


@pytest.fixture
def page(new_page) -> Page:
    return new_page(DESKTOP)


@pytest.fixture
def phone_page(new_page) -> Page:
    return new_page(PHONE)


# --- helpers ---------------------------------------------------------------------------


# axe's default rules (WCAG 2.0–2.1 A and AA, best practices), plus WCAG 2.2's
# target size, off by default in axe, because Parley is meant for phones too.
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}


def check_accessibility(page: Page, context=None) -> None:
    """Run axe-core on the page as it is now; fail listing every violation.

    ``context`` narrows the check (axe's include/exclude), e.g. ``"#main"``.
    Playwright's ``evaluate`` is not bound by the page's CSP, so axe runs
    under ``script-src 'self'`` too.
    """
    results = Axe().run(page, context=context, options=AXE_OPTIONS)
    violations = results.response["violations"]
    if not violations:
        return
    lines = [f"{len(violations)} accessibility violation(s) on {page.url}:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}  {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = node.get("failureSummary", "").replace("\n", "\n      ")
            if summary:
                lines.append(f"      {summary}")
    pytest.fail("\n".join(lines), pytrace=False)


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG to test-artifacts/screenshots/<name>-<width>x<height>.png."""
    size = page.viewport_size
    path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=full_page, animations="disabled")
    return path


def register(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill in and send the registration form (the result is the test's to check)."""
    page.goto("/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()


def sign_in(page: Page, username: str, password: str = PASSWORD, *, remember: bool = False) -> None:
    """Sign in through the form, and wait until the signed-in header shows."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    if remember:
        page.get_by_label("Keep me signed in").check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def tab_to(page: Page, target: Locator, *, key: str = "Tab", limit: int = 40) -> list[str]:
    """Press ``key`` (Tab, or Shift+Tab to go back) until ``target`` has the
    focus; returns the ids of the landmarks (or "") that held each element
    focused on the way."""
    landmarks = []
    for _ in range(limit):
        page.keyboard.press(key)
        here, landmark = target.evaluate(
            """el => [el === document.activeElement,
                      document.activeElement.closest("nav, main, header")?.id || ""]"""
        )
        if here:
            return landmarks
        landmarks.append(landmark)
    pytest.fail(f"{limit} presses of {key} never reached {target} on {page.url}", pytrace=False)


def focus_is_visible(page: Page) -> bool:
    """Whether the focused element shows an outline."""
    return page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement);
            return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
        }"""
    )

"""What the chat browser tests share: the locators for the parts of the chat
page. (Threads are made with the ``make_thread`` fixture, straight into the
live server's database.)"""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Locator, Page, expect

from webapp.assistant import provider_for

THREAD_URL = re.compile(r"/c/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LIVE = re.compile(r"\blive\b")
CURRENT = re.compile(r"\bcurrent\b")


def set_marker(page: Page) -> None:
    """Mark the page's window; the mark is gone if the page reloads."""
    page.evaluate("window.__marker = 'still here'")


def page_kept(page: Page) -> bool:
    return page.evaluate("window.__marker") == "still here"


def count_posts(page: Page) -> list[str]:
    """The URLs of the POST requests the page makes from now on."""
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    return posts


def composer(page: Page) -> Locator:
    return page.get_by_label("Message", exact=True)


def send_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Send", exact=True)


def messages(page: Page) -> Locator:
    return page.locator("#message-list article.message")


def user_messages(page: Page) -> Locator:
    return page.locator("#message-list article.message.user .body")


def assistant_replies(page: Page) -> Locator:
    return page.locator("#message-list article.message.assistant")


def sidebar_links(page: Page) -> Locator:
    return page.locator("#thread-groups .thread-item > a")


def sidebar_item(page: Page, title: str) -> Locator:
    return page.locator("#thread-groups .thread-item").filter(has=page.get_by_role("link", name=title, exact=True))


def disclosure(scope: Page | Locator, name: str | re.Pattern[str]) -> Locator:
    """The ``<summary>`` named ``name`` (a ``str`` ends its text; a regex searches it).

    Chromium exposes a summary as a disclosure triangle, for which Playwright
    has no role to find it by.
    """
    text = name if isinstance(name, re.Pattern) else re.compile(re.escape(name) + r"\s*$")
    return scope.locator("details > summary").filter(has_text=text)


def open_sidebar_menu(page: Page, title: str) -> Locator:
    """Open the ⋯ menu of a sidebar item; returns the menu."""
    item = sidebar_item(page, title)
    disclosure(item, f"Actions for {title}").click()
    menu = item.locator(".thread-menu")
    expect(menu).to_be_visible()
    return menu


def reply_is_finished(reply: Locator, timeout: float = 30_000) -> None:
    """Wait until an assistant reply has ended and shows its final form."""
    expect(reply).not_to_have_class(LIVE, timeout=timeout)
    expect(reply.locator(".streaming-text")).to_have_count(0)


def set_demo_pace(app: Flask, ms: int) -> None:
    """Change the demo assistant's pace, for the words still to come of a reply
    being written too: a test can watch a reply slowly while it is live, then
    let it finish quickly."""
    app.config["PARLEY_DEMO_PACE_MS"] = ms
    provider = provider_for(app)
    if hasattr(provider, "pace"):  # else replies keep the old pace: slower, still correct
        provider.pace = ms / 1000

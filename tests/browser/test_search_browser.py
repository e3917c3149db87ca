"""Search in a real browser (issue 14): Ctrl+K from anywhere, hits as you
type, More results, a hit opening its thread at the message, axe."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, screenshot, sign_in
from webapp.conversations import append_message
from webapp.extensions import db
from webapp.models import Conversation


def test_ctrl_k_focuses_the_search_box_and_hits_show_as_you_type(page, app, user, make_thread):
    for n in range(3):
        make_thread(user, f"Ollama setup {n}", messages=2, ago=timedelta(hours=n + 1))
    make_thread(user, "Café in Lisbon", messages=2, ago=timedelta(days=1))
    sign_in(page, user.username)
    page.goto("/")
    box = page.get_by_role("searchbox", name="Search your chats")
    expect(box).not_to_be_focused()
    page.keyboard.press("Control+k")
    expect(box).to_be_focused()

    searches = []
    page.on("request", lambda request: searches.append(request.url) if "/search?" in request.url else None)
    box.press_sequentially("ollam", delay=30)  # faster than the 200 ms pause: one request
    results = page.locator("#sidebar-search-results")
    expect(results.get_by_role("link", name="Ollama setup 0")).to_be_visible()
    expect(results.locator(".search-hit")).to_have_count(3)
    expect(results.locator("mark").first).to_have_text("Ollama")
    assert len(searches) == 1, searches
    box.fill("cafe")
    expect(results.get_by_role("link", name="Café in Lisbon")).to_be_visible()
    expect(results.locator(".search-hit")).to_have_count(1)
    check_accessibility(page)
    screenshot(page, "search-as-you-type")

    box.press("Enter")  # the full results page
    expect(page).to_have_url("/search?q=cafe")
    expect(page.get_by_role("heading", name="Search your chats", level=1)).to_be_visible()
    page.keyboard.press("Meta+k")
    expect(page.get_by_role("searchbox", name="Words to find")).to_be_focused()


def test_more_results_appends_and_a_snippet_opens_the_thread_at_its_message(page, app, user, make_thread):
    ids = [make_thread(user, f"Airship {n:02d}", messages=1, ago=timedelta(hours=n + 1)) for n in range(22)]
    with app.app_context():
        long = db.session.get(Conversation, ids[-1])
        found = None
        for n in range(120):
            message = append_message(long, "user", "a zeppelin over the bay" if n == 10 else f"filler {n}")
            found = message if n == 10 else found
        db.session.commit()
        found_id = found.id
    sign_in(page, user.username)
    page.goto("/search?q=airship")
    hits = page.locator("#search-results .search-hit")
    expect(hits).to_have_count(20)
    page.get_by_role("link", name="More results").click()
    expect(hits).to_have_count(22)
    expect(page.get_by_role("link", name="More results")).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "search-more-results", full_page=True)

    page.goto("/search?q=zeppelin")
    page.get_by_role("link", name="You: a zeppelin over the bay").click()
    expect(page).to_have_url(f"/c/{ids[-1]}?m={found_id}#message-{found_id}")
    marked = page.locator(f"#message-{found_id}")
    expect(marked).to_have_class("message user marked")
    expect(marked).to_be_in_viewport()
    check_accessibility(page)
    screenshot(page, "search-opened-at-message")

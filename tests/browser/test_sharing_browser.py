"""Sharing a chat by link in a real browser: the share panel and its Copy
button, and the shared page signed out, on a phone, with hostile content,
and forked by another user (issue 16)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, check_accessibility, screenshot, sign_in
from tests.browser.helpers import THREAD_URL, disclosure
from webapp.conversations import append_message, create_conversation
from webapp.extensions import db
from webapp.models import User

XSS_HTML = "<img src=x onerror=alert(1)>"
XSS_LINK = "[x](javascript:alert(1))"
XSS_SCRIPT = "<script>alert(1)</script>"
LINK = re.compile(r"/s/[A-Za-z0-9_-]{32}$")


def hostile_thread(app, owner) -> str:
    """A thread of ``owner``'s whose title and messages try to run script."""
    with app.app_context():
        thread = create_conversation(db.session.get(User, owner.id), f"Plans {XSS_SCRIPT}")
        append_message(thread, "user", f"What about {XSS_HTML} and {XSS_LINK}?")
        append_message(
            thread,
            "assistant",
            f"Here is **markdown** and code:\n\n```python\nprint('hi')\n```\n\n{XSS_HTML} {XSS_LINK}",
        )
        db.session.commit()
        return str(thread.id)


def open_share_panel(page):
    disclosure(page.locator("#pane-header"), re.compile(r"Actions for ")).click()
    disclosure(page.locator("#pane-header"), re.compile(r"^Share")).click()


def test_share_copy_open_signed_out_and_stop(app, new_page, user):
    thread_id = hostile_thread(app, user)
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, user.username)
    page.goto(f"/c/{thread_id}")
    open_share_panel(page)
    page.get_by_role("button", name="Make a link").click()
    expect(page.get_by_text("People with this link can see the chat as it is now")).to_be_visible()
    expect(page.locator("#share-badge")).to_have_text("Shared")
    link = page.get_by_label("Link to this chat").input_value()
    assert LINK.search(link)
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator(".copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    check_accessibility(page)
    screenshot(page, "share-panel")

    visitor = new_page()
    visitor.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    visitor.goto(link)
    expect(visitor.get_by_role("heading", level=1)).to_have_text(f"Plans {XSS_SCRIPT}")
    expect(visitor.get_by_text("Shared with Parley")).to_be_visible()
    expect(visitor.locator("article.message")).to_have_count(2)
    expect(visitor.locator("article.message.assistant strong")).to_have_text("markdown")
    expect(visitor.locator("article.message.assistant pre")).to_contain_text("print('hi')")
    # Nothing hostile became markup or ran.
    assert visitor.locator("article img, article script, h1 script").count() == 0
    assert visitor.locator("a[href^='javascript:']").count() == 0
    assert user.username not in visitor.content()
    expect(visitor.get_by_role("link", name="Sign in")).to_be_visible()
    check_accessibility(visitor)
    screenshot(visitor, "shared-page", full_page=True)

    page.get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_role("button", name="Make a link")).to_be_visible()
    expect(page.locator("#share-badge")).to_have_text("")
    visitor.reload()
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Not found")
    assert dialogs == []


def test_the_shared_page_on_a_phone_and_continued_by_another_user(app, new_page, user, other_user):
    thread_id = hostile_thread(app, user)
    page = new_page()
    sign_in(page, user.username)
    page.goto(f"/c/{thread_id}")
    open_share_panel(page)
    page.get_by_role("button", name="Make a link").click()
    link = page.get_by_label("Link to this chat").input_value()

    phone = new_page(PHONE)
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_accessibility(phone)
    screenshot(phone, "shared-page", full_page=True)

    sign_in(phone, other_user.username)
    phone.goto(link)
    phone.get_by_role("button", name="Continue this chat").click()
    expect(phone).to_have_url(THREAD_URL)
    assert thread_id not in phone.url
    expect(phone.locator("#message-list article.message")).to_have_count(2)
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"Plans {XSS_SCRIPT}")
    check_accessibility(phone)

"""Branches in a real browser (issue 12): edit a message in place with the
keyboard, step between versions with ‹ ›, regenerate an older reply, branch
into a new chat, all of it without JavaScript too, and on a phone.

The demo assistant quotes the last user message of the branch it is sent, so
a reply's blockquote says which branch it was written for."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    PHONE,
    check_accessibility,
    screenshot,
    sign_in,
    tab_to,
)
from tests.browser.helpers import (
    CURRENT,
    LIVE,
    THREAD_URL,
    assistant_replies,
    composer,
    disclosure,
    page_kept,
    reply_is_finished,
    send_button,
    set_demo_pace,
    set_marker,
    sidebar_item,
    sidebar_links,
    user_messages,
)

# --- helpers ------------------------------------------------------------------------------


def start_chat(page: Page, text: str) -> None:
    """A new chat whose first message is ``text``, its reply finished."""
    page.goto("/")
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(page).to_have_url(THREAD_URL)
    reply_is_finished(assistant_replies(page).last)


def send(page: Page, text: str) -> None:
    """Send ``text`` in the open thread and wait for its reply to finish."""
    count = assistant_replies(page).count()
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(assistant_replies(page)).to_have_count(count + 1)
    reply_is_finished(assistant_replies(page).last)
    expect(send_button(page)).to_be_enabled()


def user_article(page: Page, index: int = 0) -> Locator:
    return page.locator("#message-list article.message.user").nth(index)


def edit_summary(article: Locator) -> Locator:
    return disclosure(article, "Edit your message")


def edit_box(article: Locator) -> Locator:
    return article.get_by_label("New version of your message")


def versions(article: Locator, of: str = "your message") -> Locator:
    return article.get_by_role("form", name=f"Versions of {of}")


def quote(reply: Locator) -> Locator:
    """What the demo reply quotes: the last user message it was sent."""
    return reply.locator(".body blockquote")


def assert_no_sideways_scroll(page: Page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page got wider than the window"


def assert_actions_fit(page: Page, article: Locator) -> None:
    """Every control of a message's actions is inside the window, none on top of another."""
    width = page.viewport_size["width"]
    boxes = []
    controls = article.locator(".message-actions").locator("button, summary")
    for i in range(controls.count()):
        control = controls.nth(i)
        if not control.is_visible():
            continue
        box = control.bounding_box()
        label = control.text_content().strip()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{label!r} sticks out of the window: {box}"
        boxes.append((label, box))
    for i, (a, first) in enumerate(boxes):
        for b, second in boxes[i + 1 :]:
            overlap_x = min(first["x"] + first["width"], second["x"] + second["width"]) - max(first["x"], second["x"])
            overlap_y = min(first["y"] + first["height"], second["y"] + second["height"]) - max(first["y"], second["y"])
            assert overlap_x <= 0.5 or overlap_y <= 0.5, f"{a!r} and {b!r} overlap: {first} {second}"


def edit_with_mouse(page: Page, article: Locator, text: str) -> None:
    """Open Edit on ``article``, replace its text, save, and wait until the
    list shows the new branch (its reply is the test's to wait for)."""
    edit_summary(article).click()
    box = edit_box(article)
    expect(box).to_be_visible()
    box.fill(text)
    article.get_by_role("button", name="Save and send").click()
    expect(page.locator("#message-list details.edit-message[open]")).to_have_count(0)  # the list was replaced
    expect(page.locator("#message-list article.message.user .body").filter(has_text=text)).to_have_count(1)


# --- 1. edit in place, with the keyboard only -----------------------------------------------


# Slow while the new reply is checked live, however slow the machine; then quick.
@pytest.mark.parametrize("demo_pace_ms", [200])
def test_edit_in_place_with_the_keyboard_only(page, app, user):
    sign_in(page, user.username)
    start_chat(page, "What is a tree?")
    set_marker(page)
    first = user_article(page)

    summary = edit_summary(first)
    tab_to(page, summary)
    page.keyboard.press("Enter")
    box = edit_box(first)
    expect(box).to_be_visible()  # loaded in place, in the message
    expect(box).to_have_value("What is a tree?")
    expect(first.locator("details.edit-message")).to_have_attribute("open", "")
    expect(box).to_be_focused()  # ready to type in
    check_accessibility(page)
    page.keyboard.press("Control+A")
    page.keyboard.type("What is a branch?")
    save = first.get_by_role("button", name="Save and send")
    tab_to(page, save)
    page.keyboard.press("Enter")

    # The new version, and its own reply being written, then finished.
    expect(user_messages(page)).to_have_text(["What is a branch?"])
    reply = assistant_replies(page).last
    expect(reply).to_have_class(LIVE)
    expect(send_button(page)).to_be_disabled()
    set_demo_pace(app, 10)
    reply_is_finished(reply)
    expect(quote(reply)).to_have_text("What is a branch?")
    expect(assistant_replies(page)).to_have_count(1)
    expect(send_button(page)).to_be_enabled()
    shown = versions(user_article(page))
    expect(shown).to_contain_text("2 / 2")
    expect(shown.get_by_role("button", name="Previous version")).to_be_enabled()
    expect(shown.get_by_role("button", name="Next version")).to_be_disabled()
    expect(page.get_by_role("heading", level=1)).to_have_text("What is a tree?")  # the title stays
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)


def test_escape_closes_an_open_edit_form(page, user):
    sign_in(page, user.username)
    start_chat(page, "Close me with Escape")
    first = user_article(page)
    summary = edit_summary(first)
    details = first.locator("details.edit-message")

    tab_to(page, summary)
    page.keyboard.press("Enter")
    box = edit_box(first)
    expect(box).to_be_visible()
    box.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Never mind")
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    expect(details).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()  # back where the form was opened from
    expect(user_messages(page)).to_have_text(["Close me with Escape"])  # nothing saved
    expect(first.get_by_role("form", name=re.compile("Versions"))).to_have_count(0)

    # Open again (the form is there already, its change cancelled), and Escape from the summary too.
    page.keyboard.press("Enter")
    expect(box).to_be_visible()
    expect(box).to_have_value("Close me with Escape")
    summary.focus()
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    check_accessibility(page)


# --- 2. ‹ › between versions --------------------------------------------------------------


def test_previous_and_next_version_show_each_branch(page, user):
    sign_in(page, user.username)
    start_chat(page, "Old wording")
    set_marker(page)
    edit_with_mouse(page, user_article(page), "New wording")
    reply_is_finished(assistant_replies(page).last)
    expect(versions(user_article(page))).to_contain_text("2 / 2")

    versions(user_article(page)).get_by_role("button", name="Previous version").click()
    expect(versions(user_article(page))).to_contain_text("1 / 2")
    expect(user_messages(page)).to_have_text(["Old wording"])
    expect(assistant_replies(page)).to_have_count(1)
    expect(quote(assistant_replies(page).last)).to_have_text("Old wording")  # its own old reply
    shown = versions(user_article(page))
    expect(shown.get_by_role("button", name="Previous version")).to_be_disabled()
    expect(shown.get_by_role("button", name="Next version")).to_be_enabled()
    check_accessibility(page)

    shown.get_by_role("button", name="Next version").click()
    expect(versions(user_article(page))).to_contain_text("2 / 2")
    expect(user_messages(page)).to_have_text(["New wording"])
    expect(quote(assistant_replies(page).last)).to_have_text("New wording")
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)

    # The branch shown is the thread's: a reload shows the same one.
    page.reload()
    expect(user_messages(page)).to_have_text(["New wording"])
    expect(versions(user_article(page))).to_contain_text("2 / 2")


# --- 3. regenerate an older reply ---------------------------------------------------------


def test_regenerate_an_older_reply_starts_a_branch_there(page, user):
    sign_in(page, user.username)
    start_chat(page, "First question")
    send(page, "Second question")
    set_marker(page)
    expect(user_messages(page)).to_have_text(["First question", "Second question"])
    older = assistant_replies(page).first
    expect(older.get_by_role("button", name="Regenerate")).to_be_visible()
    check_accessibility(page)

    older.get_by_role("button", name="Regenerate").click()

    # The new branch: the first exchange with its new reply, nothing after it.
    expect(user_messages(page)).to_have_text(["First question"])
    expect(assistant_replies(page)).to_have_count(1)
    reply = assistant_replies(page).last
    reply_is_finished(reply)
    expect(quote(reply)).to_have_text("First question")  # written from its own branch only
    expect(versions(reply, "this reply")).to_contain_text("2 / 2")
    expect(page.get_by_text("Second question")).to_have_count(0)
    expect(send_button(page)).to_be_enabled()
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)

    # The old version brings the second exchange back.
    versions(reply, "this reply").get_by_role("button", name="Previous version").click()
    expect(user_messages(page)).to_have_text(["First question", "Second question"])
    expect(assistant_replies(page)).to_have_count(2)
    expect(versions(assistant_replies(page).first, "this reply")).to_contain_text("1 / 2")
    expect(quote(assistant_replies(page).last)).to_have_text("Second question")
    check_accessibility(page)

    # And the next one the new branch again.
    versions(assistant_replies(page).first, "this reply").get_by_role("button", name="Next version").click()
    expect(user_messages(page)).to_have_text(["First question"])
    expect(assistant_replies(page)).to_have_count(1)
    assert page_kept(page), "the page reloaded"


# --- 4. branch in a new chat --------------------------------------------------------------


def test_branch_in_new_chat_copies_the_branch_up_to_a_message(page, user):
    sign_in(page, user.username)
    start_chat(page, "First question")
    send(page, "Second question")
    original = page.url

    assistant_replies(page).first.get_by_role("button", name="Branch in new chat").click()

    expect(page).not_to_have_url(original)
    expect(page).to_have_url(THREAD_URL)
    expect(user_messages(page)).to_have_text(["First question"])
    expect(assistant_replies(page)).to_have_count(1)
    expect(quote(assistant_replies(page).last)).to_have_text("First question")
    expect(page.get_by_text("Second question")).to_have_count(0)
    # The sidebar shows both, the new one first and current.
    expect(sidebar_links(page)).to_have_count(2)
    new_id = page.url.rsplit("/", 1)[1]
    first_link = sidebar_links(page).first
    expect(first_link).to_have_attribute("href", re.compile(f"/c/{new_id}$"))
    expect(first_link).to_have_attribute("aria-current", "page")
    expect(page.locator("#thread-groups .thread-item.current")).to_have_count(1)
    check_accessibility(page)

    # The new chat goes on by itself; the original is untouched.
    send(page, "Only in the copy")
    page.goto(original)
    expect(user_messages(page)).to_have_text(["First question", "Second question"])


def test_branch_in_new_chat_from_a_user_message(page, user):
    sign_in(page, user.username)
    start_chat(page, "First question")
    send(page, "Second question")

    user_article(page, 1).get_by_role("button", name="Branch in new chat").click()

    expect(user_messages(page)).to_have_text(["First question", "Second question"])
    expect(assistant_replies(page)).to_have_count(1)  # up to and including that message: no reply yet
    expect(sidebar_links(page)).to_have_count(2)
    expect(sidebar_item(page, "First question").first).to_have_class(CURRENT)


# --- 5. without JavaScript ----------------------------------------------------------------


def test_edit_and_versions_work_as_plain_forms_without_javascript(new_page, user):
    page = new_page(java_script_enabled=False)
    sign_in(page, user.username)
    page.goto("/")
    page.get_by_label("Message", exact=True).fill("Written without scripts")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(THREAD_URL)
    thread_url = page.url
    expect(user_messages(page)).to_have_text(["Written without scripts"])

    # Edit opens as a plain disclosure whose link leads to the form.
    first = user_article(page)
    edit_summary(first).click()
    first.get_by_role("link", name="Edit this message…").click()
    expect(page).to_have_url(re.compile(r"/messages/\d+/edit$"))
    first = user_article(page)
    expect(first).to_have_class(re.compile(r"\bmarked\b"))
    box = edit_box(first)
    expect(box).to_be_visible()  # the form is open on this page
    expect(box).to_have_value("Written without scripts")
    screenshot(page, "branches-edit-page-no-js")
    box.fill("Rewritten without scripts")
    first.get_by_role("button", name="Save and send").click()

    expect(page).to_have_url(thread_url)  # after the redirect, the new branch
    expect(user_messages(page)).to_have_text(["Rewritten without scripts"])
    expect(assistant_replies(page)).to_have_count(1)
    expect(quote(assistant_replies(page).last)).to_have_text("Rewritten without scripts")
    expect(versions(user_article(page))).to_contain_text("2 / 2")

    # The version buttons are plain forms too.
    versions(user_article(page)).get_by_role("button", name="Previous version").click()
    expect(page).to_have_url(thread_url)
    expect(user_messages(page)).to_have_text(["Written without scripts"])
    expect(versions(user_article(page))).to_contain_text("1 / 2")
    expect(quote(assistant_replies(page).last)).to_have_text("Written without scripts")
    versions(user_article(page)).get_by_role("button", name="Next version").click()
    expect(user_messages(page)).to_have_text(["Rewritten without scripts"])
    expect(versions(user_article(page))).to_contain_text("2 / 2")

    # Regenerate, too: a second version of the reply.
    assistant_replies(page).last.get_by_role("button", name="Regenerate").click()
    expect(page).to_have_url(thread_url)
    expect(versions(assistant_replies(page).last, "this reply")).to_contain_text("2 / 2")
    # No check_accessibility: axe runs as page script, which this context forbids.


# --- bad input ----------------------------------------------------------------------------


def test_an_empty_edit_is_refused_and_the_form_keeps_its_text(page, user, browser_errors):
    # The refusal is a 422 by design (htmx shows it as a notice), and Chromium
    # logs every 4xx fetch as a console error.
    browser_errors.allow(r"status of 422 \(UNPROCESSABLE ENTITY\) \(http://[^)]+/messages/\d+/edit\)$")
    sign_in(page, user.username)
    start_chat(page, "Keep me")
    set_marker(page)
    first = user_article(page)
    edit_summary(first).click()
    box = edit_box(first)
    expect(box).to_be_visible()
    box.fill("   ")  # passes the browser's "required", not the server
    first.get_by_role("button", name="Save and send").click()

    expect(page.get_by_role("alert")).to_contain_text("Write the new text before saving.")
    expect(box).to_be_visible()  # the form is still open, for another try
    expect(box).to_have_value("   ")
    expect(user_messages(page)).to_have_text(["Keep me"])
    expect(page.get_by_role("form", name=re.compile("Versions"))).to_have_count(0)  # nothing stored
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)


# --- 6. phone, and how it looks -----------------------------------------------------------


def test_message_actions_fit_on_a_phone(phone_page, user):
    page = phone_page
    sign_in(page, user.username)
    start_chat(page, "A question asked on a phone, long enough to wrap onto a second line or so")
    edit_with_mouse(page, user_article(page), "A shorter question")
    reply_is_finished(assistant_replies(page).last)
    assistant_replies(page).last.get_by_role("button", name="Regenerate").click()
    expect(versions(assistant_replies(page).last, "this reply")).to_contain_text("2 / 2")  # shown once written
    reply_is_finished(assistant_replies(page).last)
    expect(versions(user_article(page))).to_contain_text("2 / 2")

    assert_no_sideways_scroll(page)
    for article in (user_article(page), assistant_replies(page).last):
        article.scroll_into_view_if_needed()
        assert_actions_fit(page, article)
    check_accessibility(page)

    edit_summary(user_article(page)).click()
    expect(edit_box(user_article(page))).to_be_visible()
    assert_no_sideways_scroll(page)
    save = user_article(page).get_by_role("button", name="Save and send")
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport(ratio=1)
    check_accessibility(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_versions_and_the_edit_form_look_right(new_page, user, size, scheme):
    page = new_page(PHONE, color_scheme=scheme) if size == "phone" else new_page(color_scheme=scheme)
    suffix = "" if scheme == "light" else "-dark"
    sign_in(page, user.username)
    start_chat(page, "How do I plant a pear tree?")
    send(page, "And how deep?")
    edit_with_mouse(page, user_article(page, 1), "And how far apart?")
    reply_is_finished(assistant_replies(page).last)
    expect(versions(user_article(page, 1))).to_contain_text("2 / 2")
    assert_no_sideways_scroll(page)
    check_accessibility(page)
    user_article(page, 1).scroll_into_view_if_needed()
    screenshot(page, "branches-versions" + suffix)

    edit_summary(user_article(page, 1)).click()
    box = edit_box(user_article(page, 1))
    expect(box).to_be_visible()
    box.scroll_into_view_if_needed()
    assert_no_sideways_scroll(page)
    check_accessibility(page)
    screenshot(page, "branches-edit-form" + suffix)


def focused(page: Page) -> str:
    """The focused element, described (``body`` when focus was lost)."""
    return page.evaluate(
        """() => { const el = document.activeElement;
                   if (!el || el === document.body) return "body";
                   return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                          + " " + JSON.stringify((el.textContent || el.value || "").trim().slice(0, 40)); }"""
    )


def test_keyboard_focus_is_kept_when_the_list_is_replaced(page, user):
    """Edit, ‹ › and Regenerate replace the message list; pressed from the
    keyboard, each must leave the focus somewhere the next Tab continues
    from, not on <body>."""
    sign_in(page, user.username)
    start_chat(page, "Old wording")
    lost = []

    first = user_article(page)
    tab_to(page, edit_summary(first))
    page.keyboard.press("Enter")
    expect(edit_box(first)).to_be_visible()
    expect(edit_box(first)).to_be_focused()  # the form's autofocus, once loaded
    page.keyboard.press("Control+A")
    page.keyboard.type("New wording")
    tab_to(page, first.get_by_role("button", name="Save and send"), limit=3)
    page.keyboard.press("Enter")
    expect(user_messages(page)).to_have_text(["New wording"])
    reply_is_finished(assistant_replies(page).last)
    lost += [f"after Save and send: {focused(page)}"] if focused(page) == "body" else []

    tab_to(page, versions(user_article(page)).get_by_role("button", name="Previous version"))
    page.keyboard.press("Enter")
    expect(versions(user_article(page))).to_contain_text("1 / 2")
    lost += [f"after Previous version: {focused(page)}"] if focused(page) == "body" else []

    tab_to(page, versions(user_article(page)).get_by_role("button", name="Next version"))
    page.keyboard.press("Enter")
    expect(versions(user_article(page))).to_contain_text("2 / 2")
    lost += [f"after Next version: {focused(page)}"] if focused(page) == "body" else []

    tab_to(page, assistant_replies(page).last.get_by_role("button", name="Regenerate"))
    page.keyboard.press("Enter")
    expect(versions(assistant_replies(page).last, "this reply")).to_contain_text("2 / 2")
    reply_is_finished(assistant_replies(page).last)
    lost += [f"after Regenerate: {focused(page)}"] if focused(page) == "body" else []

    assert not lost, (
        "the keyboard focus was lost to <body> (the next Tab jumps to the composer, past the control just used) "
        + "; ".join(lost)
    )


def test_an_empty_edit_without_javascript_shows_the_form_again_with_the_error(new_page, user):
    page = new_page(java_script_enabled=False)
    sign_in(page, user.username)
    page.goto("/")
    page.get_by_label("Message", exact=True).fill("Keep me")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(THREAD_URL)
    edit_summary(user_article(page)).click()
    user_article(page).get_by_role("link", name="Edit this message…").click()
    box = edit_box(user_article(page))
    box.fill("   ")
    user_article(page).get_by_role("button", name="Save and send").click()

    # Issue 12, bad input: "the form again with the error, nothing stored".
    expect(page.get_by_text("Write the new text before saving.")).to_be_visible()
    expect(edit_box(user_article(page))).to_be_visible()
    expect(user_messages(page)).to_have_text(["Keep me"])

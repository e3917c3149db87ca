"""The chat page's finish in a real browser: focus that is never lost, menus
that Escape closes, copy buttons, message times, shortcuts, "Jump to latest",
live Markdown, the foldable sidebar, the API token shown once; at desktop and
phone sizes, light and dark, with axe on each state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, check_accessibility, screenshot, sign_in
from tests.browser.helpers import (
    LIVE,
    assistant_replies,
    composer,
    disclosure,
    reply_is_finished,
    send_button,
    set_demo_pace,
    sidebar_item,
)

FOLDED = re.compile(r"\bsidebar-folded\b")


def header(page):
    return page.locator("#pane-header")


# --- focus: rename, menus, opening a thread, the phone's drawer -------------------------------


def test_renaming_from_the_header_gives_the_keyboard_back_to_the_menu(page, user, make_thread):
    thread = make_thread(user, "Old name", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    disclosure(header(page), "Actions for Old name").click()
    field = header(page).get_by_label("Rename")
    field.fill("New name")
    field.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("New name")
    menu_button = disclosure(header(page), "Actions for New name")
    expect(menu_button).to_be_focused()
    assert page.evaluate("document.activeElement !== document.body")
    expect(header(page).get_by_label("Rename")).to_be_hidden()


def test_escape_closes_the_menus_and_saving_settings_closes_the_gear(page, user, make_thread):
    thread = make_thread(user, "Menus", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    actions = disclosure(header(page), "Actions for Menus")
    actions.click()
    rename = header(page).get_by_label("Rename")
    expect(rename).to_be_visible()
    check_accessibility(page)
    rename.focus()
    page.keyboard.press("Escape")
    expect(rename).to_be_hidden()
    expect(actions).to_be_focused()

    gear = disclosure(header(page), "Chat settings")
    gear.click()
    prompt = header(page).get_by_label("System prompt")
    expect(prompt).to_be_visible()
    screenshot(page, "chat-settings-open")
    page.keyboard.press("Escape")  # the focus is on the ⚙ button, inside the menu
    expect(prompt).to_be_hidden()

    gear.click()
    prompt.fill("Answer in French.")
    header(page).get_by_role("button", name="Save settings").click()
    expect(page.locator("#flashes")).to_contain_text("Chat settings saved.")
    expect(header(page).get_by_label("System prompt")).to_be_hidden()
    expect(disclosure(header(page), "Chat settings")).to_be_focused()
    disclosure(header(page), "Chat settings").click()
    expect(header(page).get_by_label("System prompt")).to_have_value("Answer in French.")

    # A click elsewhere closes an open menu too.
    page.locator("#messages").click()
    expect(header(page).get_by_label("System prompt")).to_be_hidden()


def test_a_title_of_spaces_is_refused_in_words(page, user, make_thread):
    thread = make_thread(user, "Spaces", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    disclosure(header(page), "Actions for Spaces").click()
    field = header(page).get_by_label("Rename")
    field.fill("   ")
    field.press("Enter")
    message = field.evaluate("el => el.validationMessage")
    assert message == "A title needs at least one letter, digit or sign; spaces alone are not a title."
    expect(page.get_by_role("heading", level=1)).to_have_text("Spaces")


def test_the_open_thread_is_scrolled_into_view_and_the_drawer_takes_the_keyboard(new_page, user, make_thread):
    threads = [make_thread(user, f"Chat {n:02d}", messages=2, ago=timedelta(hours=n)) for n in range(1, 66)]
    deep = threads[47]  # near the end of the sidebar's first page
    page = new_page()
    sign_in(page, user.username)
    page.goto(f"/c/{deep}")
    expect(composer(page)).to_be_focused()
    current = page.locator('#sidebar a[aria-current="page"]')
    expect(current).to_have_text("Chat 48")
    expect(current).to_be_in_viewport()

    phone = new_page(PHONE)
    sign_in(phone, user.username)
    phone.goto(f"/c/{deep}")
    phone.get_by_role("link", name="Show the list of chats").click()
    current = phone.locator('#sidebar a[aria-current="page"]')
    expect(current).to_be_focused()
    expect(current).to_be_in_viewport()
    check_accessibility(phone)
    screenshot(phone, "drawer-focus-on-current-thread")
    phone.keyboard.press("Escape")
    expect(phone.get_by_role("link", name="Show the list of chats")).to_be_focused()


# --- the composer: its hint, its Send button ---------------------------------------------------


def test_the_hint_says_what_enter_does_with_and_without_javascript(new_page, user, make_thread):
    thread = make_thread(user, "Hints", messages=2)
    plain = new_page(java_script_enabled=False)
    sign_in(plain, user.username)
    plain.goto(f"/c/{thread}")
    expect(plain.locator("#composer-hint")).to_contain_text("Send posts your message; Enter starts a new line.")
    expect(plain.get_by_role("button", name="Keyboard shortcuts")).to_be_hidden()
    scripted = new_page()
    sign_in(scripted, user.username)
    scripted.goto(f"/c/{thread}")
    expect(scripted.locator("#composer-hint")).to_contain_text("Enter sends; Shift+Enter starts a new line.")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_send_lines_up_with_the_text_box_and_the_hint_keeps_to_one_line(new_page, user, make_thread, viewport):
    thread = make_thread(user, "Layout", messages=2)
    page = new_page(PHONE) if viewport == "phone" else new_page()
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    box, button = composer(page).bounding_box(), send_button(page).bounding_box()
    assert abs((box["y"] + box["height"]) - (button["y"] + button["height"])) <= 1, (box, button)
    hint = page.locator("#composer-hint")
    line = float(hint.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
    assert hint.bounding_box()["height"] <= line * 1.5
    screenshot(page, f"composer-{viewport}")


# --- copy buttons, times, user Markdown --------------------------------------------------------


@pytest.mark.parametrize("demo_pace_ms", [0])
def test_copy_buttons_on_messages_and_code_blocks_work_by_keyboard(new_page, user):
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    sign_in(page, user.username)
    page.goto("/")
    composer(page).fill("Try this:\n\n```python\nprint('hi')\n```")
    composer(page).press("Enter")
    reply = assistant_replies(page).last
    reply_is_finished(reply)
    mine = page.locator("#message-list article.message.user").last
    # The user's message is Markdown: its code block has a bar naming the language.
    expect(mine.locator(".code-bar .code-lang")).to_have_text("python")
    code_copy = mine.get_by_role("button", name="Copy the python code")
    code_copy.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#announcer")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "print('hi')"
    expect(mine.locator("button[data-copy-code]")).to_contain_text("Copied")

    copy_reply = reply.get_by_role("button", name="Copy this reply")
    copy_reply.focus()
    page.keyboard.press("Space")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("This is Parley's demo assistant") and "PARLEY_LLM_BASE_URL=" in copied
    assert "Copy" not in copied.split("\n")  # the code bar's words are not part of the text
    expect(reply.get_by_role("button", name="Copy the sh code")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "copy-buttons")


def test_each_message_shows_its_time_relative_and_full_on_hover_and_focus(page, user, make_thread):
    thread = make_thread(user, "Times", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    time = page.locator("#message-list article.message").first.locator("time.message-time")
    expect(time).to_have_text("just now")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", time.get_attribute("datetime"))
    full = time.get_attribute("data-full")
    tooltip = "el => getComputedStyle(el, '::after').display"
    assert time.evaluate(tooltip) == "none"
    time.hover()
    assert time.evaluate(tooltip) == "block"
    assert time.evaluate("el => getComputedStyle(el, '::after').content") == f'"{full}"'
    page.mouse.move(0, 0)
    page.locator("#message-list article.message").first.get_by_role("button", name="Copy your message").focus()
    assert time.evaluate(tooltip) == "block"
    screenshot(page, "message-time-on-focus")


# --- shortcuts ---------------------------------------------------------------------------------


def test_keyboard_shortcuts_and_their_list(page, user, make_thread):
    thread = make_thread(user, "Shortcuts", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    # ? types a question mark in the message box; outside it, it lists the shortcuts.
    composer(page).press("?")
    expect(composer(page)).to_have_value("?")
    expect(dialog).to_be_hidden()
    page.locator("#messages").focus()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    check_accessibility(page)
    screenshot(page, "shortcuts-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    composer(page).press("Control+/")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")

    # Shift+Esc: to the message box from anywhere.
    page.get_by_role("link", name="New chat").focus()
    page.keyboard.press("Shift+Escape")
    expect(composer(page)).to_be_focused()

    # Ctrl+K: the search box; Ctrl+Shift+O: a new chat.
    page.keyboard.press("Control+k")
    expect(page.get_by_label("Search your chats")).to_be_focused()
    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="New chat", level=1)).to_be_visible()


def test_the_shortcuts_dialog_in_dark_mode_on_a_phone(new_page, user, make_thread):
    thread = make_thread(user, "Dark", messages=2)
    page = new_page(PHONE, color_scheme="dark")
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    page.locator("#messages").focus()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_in_viewport(ratio=1)
    check_accessibility(page)
    screenshot(page, "shortcuts-dialog-dark")


# --- the message list: following a reply, jumping back to the end ---------------------------


# Slow while the reply is followed, however slow the machine; then quick.
@pytest.mark.parametrize("demo_pace_ms", [150])
def test_the_list_follows_a_reply_and_jump_to_latest_brings_it_back(page, app, user, make_thread):
    thread = make_thread(user, "Long", messages=40)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    messages = page.locator("#messages")
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_hidden()
    composer(page).fill("Write a long one")
    composer(page).press("Enter")
    reply = assistant_replies(page).last
    expect(reply).to_have_class(LIVE)
    # At the end, the list follows the reply as it grows.
    page.wait_for_function("() => document.querySelector('#message-list .live .streaming-text pre') !== null")
    assert abs(messages.evaluate("el => el.scrollTop")) <= 2
    expect(reply.locator(".body")).to_be_in_viewport()
    set_demo_pace(app, 10)
    reply_is_finished(reply)

    # Scrolled up, it stays where the reader is, and offers the way back.
    messages.evaluate("el => el.scrollTo(0, -el.scrollHeight)")
    expect(jump).to_be_visible()
    first = page.locator("#message-list article.message").first
    expect(first).to_be_in_viewport()
    check_accessibility(page)
    screenshot(page, "jump-to-latest")
    jump.focus()
    page.keyboard.press("Enter")
    expect(jump).to_be_hidden()
    page.wait_for_function("() => Math.abs(document.getElementById('messages').scrollTop) <= 2")
    expect(composer(page)).to_be_focused()


# --- live Markdown ---------------------------------------------------------------------------------


# Slow while the reply is checked live, however slow the machine; then quick.
@pytest.mark.parametrize("demo_pace_ms", [200])
def test_a_reply_is_markdown_while_it_streams_and_as_on_a_reload_when_done(page, app, user):
    sign_in(page, user.username)
    page.goto("/")
    composer(page).fill("Hello, markdown")
    composer(page).press("Enter")
    reply = assistant_replies(page).last
    expect(reply).to_have_class(LIVE)
    # Bold and the quote are rendered while the reply is still being written.
    expect(reply.locator(".streaming-text strong")).to_have_text("demo assistant")
    expect(reply.locator(".streaming-text blockquote")).to_have_text("Hello, markdown")
    expect(reply).to_have_class(LIVE)
    assert "**" not in reply.locator(".streaming-text").inner_text()
    screenshot(page, "live-markdown")
    set_demo_pace(app, 10)
    reply_is_finished(reply)
    streamed = reply.locator(".body").inner_html()
    reply_id = reply.get_attribute("id")
    page.reload()
    reloaded = page.locator(f"#{reply_id} .body")
    expect(reloaded.locator("strong")).to_have_text("demo assistant")
    assert reloaded.inner_html() == streamed


# --- the sidebar folds away on a desktop --------------------------------------------------------


def test_the_sidebar_folds_away_and_stays_folded(new_page, user, make_thread):
    thread = make_thread(user, "Folding", messages=2)
    page = new_page()
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    sidebar = page.get_by_role("navigation", name="Chats")
    toggle = page.get_by_role("button", name="List of chats")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    check_accessibility(page)
    screenshot(page, "sidebar-folded")
    page.reload()
    expect(page.locator("html")).to_have_class(FOLDED)
    expect(page.get_by_role("navigation", name="Chats")).to_be_hidden()
    # Ctrl+K brings it back, to search.
    page.keyboard.press("Control+k")
    expect(page.get_by_label("Search your chats")).to_be_focused()
    expect(page.get_by_role("button", name="List of chats")).to_have_attribute("aria-expanded", "true")
    expect(sidebar_item(page, "Folding")).to_be_visible()

    phone = new_page(PHONE)
    sign_in(phone, user.username)
    phone.goto(f"/c/{thread}")
    expect(phone.get_by_role("button", name="List of chats")).to_be_hidden()
    expect(phone.get_by_role("link", name="Show the list of chats")).to_be_visible()


# --- an API token, shown once ------------------------------------------------------------------------


def test_a_new_token_is_shown_once_in_view_highlighted_with_a_copy_button(new_page, user):
    page = new_page(permissions=["clipboard-read", "clipboard-write"], color_scheme="dark")
    sign_in(page, user.username)
    page.goto("/settings")
    page.get_by_label("Name").fill("backup script")
    page.get_by_role("button", name="Create token").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    value = page.get_by_label("New token")
    expect(value).to_be_focused()
    expect(value).to_be_in_viewport()
    token = value.input_value()
    assert token.startswith("parley_")
    page.get_by_role("button", name="Copy the new token").click()
    expect(page.locator("#new-token-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    check_accessibility(page)
    screenshot(page, "new-token")
    page.reload()
    expect(page.get_by_label("New token")).to_have_count(0)
    expect(page.get_by_role("cell", name="backup script", exact=True)).to_be_visible()


@pytest.mark.parametrize("demo_pace_ms", [0])
def test_a_thread_with_code_times_and_copy_on_a_phone_in_dark_mode(new_page, user):
    page = new_page(PHONE, color_scheme="dark")
    sign_in(page, user.username)
    page.goto("/")
    composer(page).fill("A list:\n\n- one\n- **two**\n\nand https://example.org")
    composer(page).press("Enter")
    reply = assistant_replies(page).last
    reply_is_finished(reply)
    mine = page.locator("#message-list article.message.user").last
    expect(mine.locator("li strong")).to_have_text("two")
    expect(mine.get_by_role("link", name="https://example.org")).to_have_attribute("href", "https://example.org")
    expect(reply.get_by_role("button", name="Copy the sh code")).to_be_visible()
    expect(reply.locator("time.message-time")).to_have_text("just now")
    # Nothing is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check_accessibility(page)
    screenshot(page, "thread-phone-dark", full_page=False)


# --- the sidebar's activity times -----------------------------------------------------------------


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_each_sidebar_item_says_how_long_ago_it_was_active(new_page, user, make_thread, viewport):
    make_thread(user, "Last week", messages=2, ago=timedelta(days=40))
    make_thread(user, "Earlier today", messages=2, ago=timedelta(minutes=7))
    current = make_thread(user, "Just now", messages=2)
    page = new_page(PHONE, color_scheme="dark") if viewport == "phone" else new_page()
    sign_in(page, user.username)
    page.goto(f"/c/{current}")
    if viewport == "phone":
        page.get_by_role("link", name="Show the list of chats").click()
    times = page.locator("#thread-groups .thread-item time")
    expect(times).to_have_text(["now", "7 min", re.compile(r"^(\d{1,2} [A-Z][a-z]{2}|[A-Z][a-z]{2} \d{4})$")])
    assert times.first.get_attribute("title").endswith("(UTC)")
    expect(sidebar_item(page, "Earlier today").locator("time")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "sidebar-activity-times")

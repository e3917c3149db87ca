"""The chat page in a real browser: new chats, posting, the sidebar, rename and
delete, load earlier, infinite scroll, no JavaScript, XSS, keyboard and phone
(issue 4). The assistant's streamed replies are in test_replies_browser.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, check_accessibility, focus_is_visible, screenshot, sign_in, tab_to
from tests.browser.helpers import (
    CURRENT,
    LIVE,
    THREAD_URL,
    assistant_replies,
    composer,
    count_posts,
    disclosure,
    open_sidebar_menu,
    page_kept,
    reply_is_finished,
    send_button,
    set_demo_pace,
    set_marker,
    sidebar_item,
    sidebar_links,
    user_messages,
)

XSS_HTML = "<img src=x onerror=alert(1)>"
XSS_LINK = "[x](javascript:alert(1))"


# --- 1. a new chat --------------------------------------------------------------------


# Slow while the reply is watched growing, however slow the machine; then quick.
@pytest.mark.parametrize("demo_pace_ms", [200])
def test_a_new_chat_starts_without_a_reload_and_its_reply_streams_in(page, app, user):
    sign_in(page, user.username)
    page.goto("/")
    expect(page.get_by_role("heading", name="New chat", level=1)).to_be_visible()
    expect(page.get_by_text("No chats yet.")).to_be_visible()
    set_marker(page)

    composer(page).fill("Hello, Parley")
    composer(page).press("Enter")

    expect(page).to_have_url(THREAD_URL)
    expect(user_messages(page)).to_have_text(["Hello, Parley"])
    expect(page.get_by_role("heading", name="Hello, Parley", level=1)).to_be_visible()
    expect(page).to_have_title("Hello, Parley · Parley")
    first = sidebar_links(page).first
    expect(first).to_have_text("Hello, Parley")
    expect(first).to_have_attribute("aria-current", "page")
    expect(page.locator("#thread-groups .thread-item.current")).to_have_count(1)

    # The reply streams: its text grows while it is still being written, and
    # Send stays disabled until it ends.
    reply = assistant_replies(page).last
    text = reply.locator(".streaming-text")
    expect(text).not_to_be_empty()
    expect(send_button(page)).to_be_disabled()
    expect(reply).to_have_class(LIVE)
    before = text.text_content()
    grown = page.wait_for_function(
        """([el, before]) => el.isConnected && el.closest("article").classList.contains("live")
                             && el.textContent.length > before.length && el.textContent""",
        arg=[text.element_handle(), before],
        timeout=10_000,
    ).json_value()
    # Rendered as it comes (Markdown marks vanish once closed), the text only grows.
    assert grown.startswith("This is") and len(grown.strip()) > len(before.strip()), (before, grown)
    # Screen readers hear the reply once it is whole (#announcer), not word by word.
    assert text.evaluate("el => el.closest('[aria-live]') === null")

    set_demo_pace(app, 10)
    reply_is_finished(reply)
    expect(reply.locator(".body strong")).to_have_text("demo assistant")
    expect(reply.locator(".body pre")).to_contain_text("PARLEY_LLM_BASE_URL=")
    expect(reply.locator(".body blockquote")).to_have_text("Hello, Parley")
    expect(send_button(page)).to_be_enabled()
    expect(page.locator("#announcer")).to_contain_text("The assistant replied")
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)


# --- 2. posting moves a thread to the top ---------------------------------------------


def test_posting_in_an_older_thread_moves_it_to_the_top(page, user, make_thread):
    older = make_thread(user, "Older chat", messages=2, ago=timedelta(days=3))
    make_thread(user, "Newer chat", messages=2, ago=timedelta(hours=1))
    sign_in(page, user.username)
    page.goto(f"/c/{older}")
    expect(sidebar_links(page)).to_have_text(["Newer chat", "Older chat"])
    expect(page.get_by_role("heading", name="Previous 7 days")).to_be_visible()
    expect(sidebar_item(page, "Older chat")).to_have_class(CURRENT)
    check_accessibility(page)
    set_marker(page)

    composer(page).fill("A new thought")
    composer(page).press("Enter")

    expect(user_messages(page).last).to_have_text("A new thought")
    expect(sidebar_links(page)).to_have_text(["Older chat", "Newer chat"])
    expect(sidebar_item(page, "Older chat")).to_have_class(CURRENT)
    expect(page.get_by_role("heading", name="Previous 7 days")).to_have_count(0)
    reply_is_finished(assistant_replies(page).last)
    expect(page).to_have_url(re.compile(f"/c/{older}$"))
    assert page_kept(page), "the page reloaded"


# --- 3. the composer ------------------------------------------------------------------


def test_the_composer_refuses_what_it_cannot_send_and_keeps_the_text(page, user, browser_errors):
    # The server's refusal is a 422 by design (htmx swaps the re-rendered
    # composer), and Chromium logs every 4xx fetch as a console error.
    browser_errors.allow(r"status of 422 \(UNPROCESSABLE ENTITY\) \(http://[^)]+/c\)$")
    sign_in(page, user.username)
    page.goto("/")
    posts = count_posts(page)
    box = composer(page)

    # Shift+Enter is a new line, not a send.
    box.press_sequentially("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    expect(box).to_have_value("first line\nsecond line")

    # Empty and white space only: refused in the browser, with a reason.
    box.fill("")
    box.press("Enter")
    send_button(page).click()
    box.fill("   \n  ")
    box.press("Enter")
    assert box.evaluate("el => el.validationMessage") == "Write a message before sending."
    send_button(page).click()

    # One character too many: a clear message, and the text stays.
    too_long = "x" * 16_001
    box.fill(too_long)
    assert_layout_holds(page)
    box.press("Enter")
    assert box.evaluate("el => el.validationMessage") == (
        "A message can be at most 16,000 characters; this one has 16,001."
    )
    send_button(page).click()
    expect(box).to_have_value(too_long)
    expect(page).to_have_url(re.compile(r"/$"))

    # Should the browser's check be bypassed, the server says the same, in the
    # page, and keeps the text too.
    box.evaluate("el => { delete el.dataset.maxLength; el.setCustomValidity(''); }")
    box.press("Enter")
    error = page.get_by_role("alert")
    expect(error).to_have_text("A message can be at most 16,000 characters; this one has 16,001.")
    expect(composer(page)).to_have_value(too_long)
    expect(composer(page)).to_have_attribute("aria-invalid", "true")
    expect(composer(page)).to_have_accessible_description(re.compile("at most 16,000 characters"))
    assert len(posts) == 1, f"the browser sent what it should have refused: {posts}"
    check_accessibility(page)
    screenshot(page, "composer-too-long")

    # Shortened, it sends.
    composer(page).fill("Short enough")
    composer(page).press("Enter")
    expect(page).to_have_url(THREAD_URL)
    expect(user_messages(page)).to_have_text(["Short enough"])
    expect(page.get_by_role("alert")).to_have_count(0)


def assert_layout_holds(page) -> None:
    """Nothing pushes the page wider than the window, and Send is in reach."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page got wider than the window"
    expect(send_button(page)).to_be_in_viewport(ratio=1)


def test_a_long_unbroken_line_wraps_in_the_composer(page, user):
    sign_in(page, user.username)
    page.goto("/")
    composer(page).fill("https://example.org/" + "a" * 300)
    assert_layout_holds(page)
    composer(page).press("Enter")
    expect(page).to_have_url(THREAD_URL)
    reply_is_finished(assistant_replies(page).last)
    assert_layout_holds(page)
    expect(user_messages(page).last).to_be_in_viewport()


# --- 4. rename and delete -------------------------------------------------------------


def test_rename_and_delete_from_the_sidebar_and_the_header(page, user, make_thread):
    first = make_thread(user, "First chat", messages=2, ago=timedelta(minutes=30))
    second = make_thread(user, "Second chat", messages=2, ago=timedelta(minutes=20))
    make_thread(user, "Third chat", messages=2, ago=timedelta(minutes=10))
    sign_in(page, user.username)
    page.goto(f"/c/{first}")
    expect(sidebar_links(page)).to_have_text(["Third chat", "Second chat", "First chat"])
    set_marker(page)

    # Rename the open thread from its sidebar item: it moves to the top, and
    # the header follows.
    menu = open_sidebar_menu(page, "First chat")
    check_accessibility(page)
    menu.get_by_label("Rename").fill("Renamed in the sidebar")
    menu.get_by_role("button", name="Save").click()
    expect(sidebar_links(page)).to_have_text(["Renamed in the sidebar", "Third chat", "Second chat"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed in the sidebar")
    expect(sidebar_item(page, "Renamed in the sidebar")).to_have_class(CURRENT)

    # Rename another thread from the sidebar: it moves up, the header stays.
    menu = open_sidebar_menu(page, "Second chat")
    menu.get_by_label("Rename").fill("Second, renamed")
    menu.get_by_role("button", name="Save").click()
    expect(sidebar_links(page)).to_have_text(["Second, renamed", "Renamed in the sidebar", "Third chat"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed in the sidebar")
    expect(sidebar_item(page, "Renamed in the sidebar")).to_have_class(CURRENT)

    # Rename from the header menu.
    header = page.locator("#pane-header")
    disclosure(header, "Actions for Renamed in the sidebar").click()
    header.get_by_label("Rename").fill("Renamed in the header")
    check_accessibility(page)
    header.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed in the header")
    expect(sidebar_links(page)).to_have_text(["Renamed in the header", "Second, renamed", "Third chat"])
    expect(page).to_have_title("Renamed in the header · Parley")

    # Move another thread to the trash from the sidebar: no confirmation, Undo instead.
    menu = open_sidebar_menu(page, "Third chat")
    check_accessibility(page)
    menu.get_by_role("button", name="Move to trash").click()
    expect(sidebar_links(page)).to_have_text(["Renamed in the header", "Second, renamed"])
    expect(page.locator("#flashes").filter(has_text="“Third chat” is in the trash.")).to_be_visible()
    expect(sidebar_item(page, "Renamed in the header")).to_have_class(CURRENT)
    expect(page).to_have_url(re.compile(f"/c/{first}$"))
    assert page_kept(page), "the page reloaded"

    # Move the open thread to the trash from its header: back to a new chat.
    disclosure(header, "Actions for Renamed in the header").click()
    header.get_by_role("button", name="Move to trash").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="New chat", level=1)).to_be_visible()
    expect(sidebar_links(page)).to_have_text(["Second, renamed"])
    assert page.goto(f"/c/{first}").status == 404
    assert page.goto(f"/c/{second}").ok


def test_acting_on_a_thread_deleted_elsewhere_shows_a_notice(page, new_page, user, make_thread, browser_errors):
    # The post to the deleted thread is answered 404 by design, and Chromium
    # logs every 4xx fetch as a console error.
    browser_errors.allow(r"status of 404 \(NOT FOUND\) \(http://[^)]+/c/[0-9a-f-]+/messages\)$")
    thread = make_thread(user, "Doomed chat", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")
    other = new_page()
    sign_in(other, user.username)
    other.goto(f"/c/{thread}")
    other_header = other.locator("#pane-header")
    disclosure(other_header, "Actions for Doomed chat").click()
    other_header.get_by_role("button", name="Move to trash").click()
    expect(other).to_have_url(re.compile(r"/$"))

    # The first tab still shows the thread; posting in it gets a notice, not a page.
    set_marker(page)
    composer(page).fill("Anyone there?")
    composer(page).press("Enter")
    notice = page.locator("#flashes").get_by_role("alert")
    expect(notice).to_contain_text("Not found.")
    expect(composer(page)).to_have_value("Anyone there?")
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)
    screenshot(page, "notice-not-found")


# --- 5. load earlier ------------------------------------------------------------------


def test_a_long_thread_opens_at_the_newest_message_and_loads_earlier_ones_in_place(page, user, make_thread):
    thread = make_thread(user, "Long chat", messages=120)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")

    messages = page.locator("#message-list article.message")
    expect(messages).to_have_count(50)
    expect(messages.first).to_contain_text("Message 071")
    expect(messages.last).to_contain_text("Message 120")
    expect(messages.last).to_be_in_viewport()
    expect(messages.first).not_to_be_in_viewport()

    # Scroll up to the button; the message below it is the one to keep still.
    load = page.get_by_role("link", name="Load earlier messages")
    load.scroll_into_view_if_needed()
    anchor = page.locator("article.message", has_text="Message 071")
    before = anchor.bounding_box()
    set_marker(page)
    load.click()

    expect(messages).to_have_count(100)
    expect(messages.first).to_contain_text("Message 021")
    after = anchor.bounding_box()
    assert abs(after["y"] - before["y"]) <= 1, (before, after)
    expect(messages.last).not_to_be_in_viewport()

    page.get_by_role("link", name="Load earlier messages").click()
    expect(messages).to_have_count(120)
    expect(messages.first).to_contain_text("Message 001")
    expect(page.get_by_role("link", name="Load earlier messages")).to_have_count(0)
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)


# --- 6. infinite sidebar --------------------------------------------------------------


def test_the_sidebar_loads_more_threads_as_it_scrolls(page, user, make_thread):
    for n in range(1, 121):
        make_thread(user, f"Chat {n}", messages=0, ago=timedelta(hours=121 - n))
    sign_in(page, user.username)
    page.goto("/")
    links = sidebar_links(page)
    expect(links).to_have_count(50)
    expect(links.first).to_have_text("Chat 120")

    scroller = page.locator("#thread-groups")
    for shown in (100, 120):
        scroller.evaluate("el => el.scrollTo(0, el.scrollHeight)")
        expect(links).to_have_count(shown)
    expect(links.last).to_have_text("Chat 1")
    titles = links.all_text_contents()
    assert titles == [f"Chat {n}" for n in range(120, 0, -1)]
    # Groups continue across pages rather than repeating their headings.
    headings = page.locator("#thread-groups h2").all_text_contents()
    assert len(headings) == len(set(headings)), headings
    expect(page.get_by_text("Show older chats")).to_have_count(0)
    check_accessibility(page)


# --- 7. no JavaScript -----------------------------------------------------------------


def test_everything_works_with_javascript_off(new_page, user):
    page = new_page(java_script_enabled=False)
    sign_in(page, user.username)
    page.goto("/")

    page.get_by_label("Message", exact=True).fill("Hello without scripts")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(THREAD_URL)
    thread_url = page.url
    expect(user_messages(page)).to_have_text(["Hello without scripts"])
    reply = assistant_replies(page).last
    expect(reply.locator(".body pre")).to_contain_text("PARLEY_LLM_BASE_URL=")
    expect(reply.get_by_role("button", name="Regenerate")).to_be_visible()
    expect(sidebar_links(page)).to_have_text(["Hello without scripts"])

    page.get_by_label("Message", exact=True).fill("A second message")
    page.get_by_role("button", name="Send").click()
    expect(user_messages(page)).to_have_text(["Hello without scripts", "A second message"])
    expect(assistant_replies(page)).to_have_count(2)
    expect(assistant_replies(page).last.locator(".body blockquote")).to_have_text("A second message")
    # No check_accessibility here: axe runs as page script, which this context
    # forbids (page.evaluate never returns). These pages are the same HTML the
    # other tests check with scripts on.

    # Without scripts the sidebar menu leads to the thread's header, whose
    # menu holds the same forms.
    menu = open_sidebar_menu(page, "Hello without scripts")
    menu.get_by_role("link", name="Rename or delete…").click()
    header = page.locator("#pane-header")
    disclosure(header, "Actions for Hello without scripts").click()
    header.get_by_label("Rename").fill("Renamed without scripts")
    header.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed without scripts")
    expect(sidebar_links(page)).to_have_text(["Renamed without scripts"])
    assert page.url == thread_url

    disclosure(header, "Actions for Renamed without scripts").click()
    header.get_by_role("button", name="Move to trash").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("No chats yet.")).to_be_visible()
    # Undo, as a plain form: back to the thread.
    page.locator("#flashes").get_by_role("button", name="Undo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed without scripts")


# --- 10. XSS ----------------------------------------------------------------------------


# A little pace, so that the hostile text also travels as streamed tokens.
@pytest.mark.parametrize("demo_pace_ms", [5])
def test_hostile_titles_and_messages_render_inert(page, user):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # Count every <img> that enters any page this test loads, however briefly
    # (a streamed token is swapped in as HTML), from the parser's first node
    # on: the chat page itself has none. No image, no onerror to wait for.
    page.add_init_script(
        """
        window.__images = 0;
        new MutationObserver(records => records.forEach(record => record.addedNodes.forEach(node => {
            if (node.nodeType === 1 && (node.matches("img") || node.querySelector("img"))) window.__images++;
        }))).observe(document, {subtree: true, childList: true});
        """
    )
    sign_in(page, user.username)
    page.goto("/")

    composer(page).fill(XSS_HTML)
    composer(page).press("Enter")
    expect(page).to_have_url(THREAD_URL)
    expect(user_messages(page)).to_have_text([XSS_HTML])
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_HTML)
    expect(sidebar_links(page)).to_have_text([XSS_HTML])
    reply_is_finished(assistant_replies(page).last)
    expect(assistant_replies(page).last.locator("blockquote")).to_have_text(XSS_HTML)

    composer(page).fill(XSS_LINK)
    composer(page).press("Enter")
    expect(user_messages(page).last).to_have_text(XSS_LINK)
    reply_is_finished(assistant_replies(page).last)

    menu = open_sidebar_menu(page, XSS_HTML)
    menu.get_by_label("Rename").fill(XSS_LINK)
    menu.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_LINK)
    expect(sidebar_links(page)).to_have_text([XSS_LINK])

    assert page.evaluate("window.__images") == 0, "an <img> was added to the page"

    # Seen again from a fresh page load, the same.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_LINK)
    expect(page).to_have_title(f"{XSS_LINK} · Parley")
    assert page.evaluate("window.__images") == 0, "an <img> was in the page as it loaded"
    for where in ("#message-list", "#thread-groups", "#pane-header"):
        assert page.locator(f"{where} img").count() == 0, f"an <img> got into {where}"
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if "javascript:" in h.lower()], hrefs
    expect(assistant_replies(page).last.locator("blockquote")).to_have_text(XSS_LINK)
    assert dialogs == []


# --- 11. keyboard only ----------------------------------------------------------------


def test_chat_with_the_keyboard_only(page, user, make_thread):
    thread = make_thread(user, "Keyboard chat", messages=2)
    sign_in(page, user.username)
    page.goto(f"/c/{thread}")

    # Opening a thread puts the keyboard in its composer.
    expect(composer(page)).to_be_focused()
    page.keyboard.type("Typed, not clicked")
    page.keyboard.press("Enter")
    expect(user_messages(page).last).to_have_text("Typed, not clicked")
    reply_is_finished(assistant_replies(page).last)
    # The focus stays in the composer, ready for the next message.
    expect(composer(page)).to_be_focused()
    page.keyboard.type("And again")
    page.keyboard.press("Enter")
    expect(user_messages(page)).to_have_text(["Message 001", "Typed, not clicked", "And again"])
    reply_is_finished(assistant_replies(page).last)

    # Back from the composer to the thread's menu in the sidebar.
    item = sidebar_item(page, "Keyboard chat")
    summary = disclosure(item, "Actions for Keyboard chat")
    tab_to(page, summary, key="Shift+Tab")
    expect(item.locator(".thread-actions")).to_have_css("opacity", "1")
    assert focus_is_visible(page), "the focused menu button shows no outline"
    page.keyboard.press("Enter")
    rename = item.get_by_label("Rename")
    expect(rename).to_be_visible()
    check_accessibility(page)
    page.keyboard.press("Tab")
    expect(rename).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")
    expect(rename).to_be_hidden()
    page.keyboard.press("Space")
    expect(rename).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("Renamed by keyboard")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Renamed by keyboard")
    expect(sidebar_links(page).first).to_have_text("Renamed by keyboard")


# --- 12. phone ------------------------------------------------------------------------


def test_on_a_phone_the_drawer_opens_and_a_thread_can_be_picked(phone_page, user, make_thread):
    page = phone_page
    make_thread(user, "On the go", messages=4, ago=timedelta(hours=2))
    make_thread(user, "Another chat", messages=2)
    sign_in(page, user.username)
    page.goto("/")
    sidebar = page.get_by_role("navigation", name="Chats")
    expect(sidebar).not_to_be_in_viewport()
    # Shut, the drawer is out of the keyboard's way too.
    assert "sidebar" not in tab_to(page, composer(page))

    page.get_by_role("link", name="Show the list of chats").click()
    expect(sidebar).to_be_in_viewport(ratio=1)
    expect(sidebar_links(page)).to_have_text(["Another chat", "On the go"])
    check_accessibility(page)
    screenshot(page, "chat-drawer-open")

    sidebar_links(page).filter(has_text="On the go").click()
    expect(page).to_have_url(THREAD_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("On the go")
    expect(sidebar).not_to_be_in_viewport()
    expect(composer(page)).to_be_in_viewport()
    expect(send_button(page)).to_be_in_viewport()
    composer(page).tap()
    composer(page).fill("Sent from a phone")
    send_button(page).tap()
    expect(user_messages(page).last).to_have_text("Sent from a phone")
    expect(user_messages(page).last).to_be_in_viewport()
    reply_is_finished(assistant_replies(page).last)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_accessibility(page)


# --- screenshots of each state, at both sizes -----------------------------------------


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_chat_pages_look_right(new_page, user, make_thread, size):
    viewport = PHONE if size == "phone" else None
    page = new_page(viewport) if viewport else new_page()
    make_thread(user, "Planning the garden", messages=6, ago=timedelta(days=1, hours=2))
    make_thread(
        user, "A question about tax forms that goes on and on well past any width", messages=2, ago=timedelta(days=9)
    )
    sign_in(page, user.username)
    page.goto("/")
    check_accessibility(page)
    screenshot(page, "chat-new")

    composer(page).fill("How do I list the files in a folder, longest first?")
    composer(page).press("Enter")
    reply_is_finished(assistant_replies(page).last)
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    check_accessibility(page)
    screenshot(page, "chat-thread")

    header = page.locator("#pane-header")
    disclosure(header, re.compile("Actions for")).click()
    expect(header.get_by_label("Rename")).to_be_in_viewport(ratio=1)
    expect(header.get_by_role("button", name="Save")).to_be_in_viewport(ratio=1)
    check_accessibility(page)
    screenshot(page, "chat-rename-menu")


def test_the_chat_page_reads_well_in_dark_mode(new_page, user, make_thread):
    page = new_page(color_scheme="dark")
    make_thread(user, "An older chat", messages=2, ago=timedelta(days=2))
    sign_in(page, user.username)
    page.goto("/")
    check_accessibility(page)
    composer(page).fill("Show me some code")
    composer(page).press("Enter")
    reply_is_finished(assistant_replies(page).last)
    disclosure(sidebar_item(page, "An older chat"), "Actions for An older chat").click()
    check_accessibility(page)
    screenshot(page, "chat-thread-dark")

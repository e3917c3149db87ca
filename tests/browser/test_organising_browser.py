"""Organising in a real browser (issue 13): the trash with Undo, pin from the
⋯ menu, select mode with the keyboard only and with Shift+click, the trash
page, and the pages at phone width (light and dark), axe on every state."""

from __future__ import annotations

import re
import uuid
import zipfile
from datetime import timedelta

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import PHONE, check_accessibility, focus_is_visible, screenshot, sign_in, tab_to
from tests.browser.helpers import (
    CURRENT,
    disclosure,
    open_sidebar_menu,
    page_kept,
    set_marker,
    sidebar_item,
    sidebar_links,
)
from webapp import organising
from webapp.extensions import db
from webapp.models import Conversation


def make_threads(make_thread, user, *titles: str) -> dict[str, uuid.UUID]:
    """Threads titled ``titles``, the first the most recently active; their ids by title."""
    return {title: make_thread(user, title, messages=2, ago=timedelta(hours=n + 1)) for n, title in enumerate(titles)}


def notices(page: Page) -> Locator:
    return page.locator("#flashes")


def select_boxes(page: Page) -> Locator:
    return page.locator("#thread-groups input[data-select-box]")


def ticked(boxes: Locator) -> list[bool]:
    return boxes.evaluate_all("boxes => boxes.map(box => box.checked)")


def selected_count(page: Page, form: str = "#bulk-sidebar") -> Locator:
    return page.locator(f"{form} [data-select-count]")


def fits_the_window(page: Page) -> None:
    """No horizontal scroll: the page is no wider than the window."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def with_ids(app, ids: list[uuid.UUID], change) -> None:
    """Apply ``change`` to each thread straight in the database."""
    with app.app_context():
        for each in ids:
            change(db.session.get(Conversation, each))
        db.session.commit()


# --- 1. Undo after a move to the trash --------------------------------------------------------


def test_move_to_trash_offers_undo_which_puts_the_thread_back_in_its_place(page, user, make_thread):
    ids = make_threads(make_thread, user, "Newest chat", "Middle chat", "Oldest chat")
    sign_in(page, user.username)
    page.goto(f"/c/{ids['Newest chat']}")
    expect(sidebar_links(page)).to_have_text(["Newest chat", "Middle chat", "Oldest chat"])
    set_marker(page)

    menu = open_sidebar_menu(page, "Middle chat")
    trash = menu.get_by_role("button", name="Move to trash")
    expect(trash).to_be_visible()
    check_accessibility(page)
    screenshot(page, "organising-thread-menu")
    trash.focus()
    page.keyboard.press("Enter")

    expect(sidebar_links(page)).to_have_text(["Newest chat", "Oldest chat"])
    notice = notices(page).locator(".flash-undo")
    expect(notice).to_have_text(re.compile(r"“Middle chat” is in the trash\.\s*Undo"))
    undo = notice.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    # The menu went with the thread: the keyboard is on Undo, not lost.
    expect(undo).to_be_focused()
    expect(page).to_have_url(re.compile(f"/c/{ids['Newest chat']}$"))
    check_accessibility(page)
    screenshot(page, "organising-undo-notice")

    page.keyboard.press("Enter")
    # Back where it was, between the two, not on top: restoring is not activity.
    expect(sidebar_links(page)).to_have_text(["Newest chat", "Middle chat", "Oldest chat"])
    expect(sidebar_item(page, "Middle chat").get_by_role("link")).to_be_focused()
    expect(notices(page)).to_contain_text("“Middle chat” is restored.")
    expect(notices(page).get_by_role("button", name="Undo")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("Newest chat")
    assert page_kept(page), "the page reloaded"
    check_accessibility(page)

    # The open thread, from its header: the new-chat page says where it went.
    page.goto(f"/c/{ids['Oldest chat']}")
    header = page.locator("#pane-header")
    disclosure(header, "Actions for Oldest chat").click()
    header.get_by_role("button", name="Move to trash").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="New chat", level=1)).to_be_visible()
    expect(sidebar_links(page)).to_have_text(["Newest chat", "Middle chat"])
    notice = notices(page).locator(".flash-undo")
    expect(notice).to_contain_text("“Oldest chat” is in the trash.")
    check_accessibility(page)
    screenshot(page, "organising-undo-after-deleting-the-open-thread")

    notice.get_by_role("button", name="Undo").click()
    expect(sidebar_links(page)).to_have_text(["Newest chat", "Middle chat", "Oldest chat"])
    expect(notices(page)).to_contain_text("“Oldest chat” is restored.")
    check_accessibility(page)


# --- 2. pin ---------------------------------------------------------------------------------


def test_pin_from_the_menu_puts_the_thread_under_pinned_and_unpin_moves_it_back(page, user, make_thread):
    ids = make_threads(make_thread, user, "Recent chat", "Older chat", "Oldest chat")
    sign_in(page, user.username)
    page.goto(f"/c/{ids['Recent chat']}")
    expect(page.get_by_role("heading", name="Pinned")).to_have_count(0)

    open_sidebar_menu(page, "Oldest chat").get_by_role("button", name="Pin", exact=True).click()
    pinned = page.get_by_role("list", name="Pinned")
    expect(page.locator("#thread-groups h2").first).to_have_text("Pinned")
    expect(pinned.get_by_role("link")).to_have_text(["Oldest chat"])
    expect(sidebar_links(page)).to_have_text(["Oldest chat", "Recent chat", "Older chat"])
    expect(notices(page)).to_contain_text("“Oldest chat” is pinned.")
    check_accessibility(page)
    screenshot(page, "organising-pinned")

    # The menu now offers Unpin, and Unpin puts it back among the days.
    open_sidebar_menu(page, "Oldest chat").get_by_role("button", name="Unpin").click()
    expect(page.get_by_role("heading", name="Pinned")).to_have_count(0)
    expect(sidebar_links(page)).to_have_text(["Recent chat", "Older chat", "Oldest chat"])
    expect(notices(page)).to_contain_text("“Oldest chat” is unpinned.")
    check_accessibility(page)

    # From the header of the open thread, the same.
    header = page.locator("#pane-header")
    disclosure(header, "Actions for Recent chat").click()
    header.get_by_role("button", name="Pin", exact=True).click()
    expect(pinned.get_by_role("link")).to_have_text(["Recent chat"])
    disclosure(header, "Actions for Recent chat").click()
    expect(header.get_by_role("button", name="Unpin")).to_be_visible()
    check_accessibility(page)


# --- 3. select mode with the keyboard only ----------------------------------------------------


def test_select_mode_with_the_keyboard_only(page, user, make_thread):
    titles = [f"Keyboard chat {n}" for n in range(1, 7)]
    make_threads(make_thread, user, *titles)
    sign_in(page, user.username)
    page.goto("/")
    expect(sidebar_links(page)).to_have_text(titles)

    select = page.get_by_role("link", name="Select chats")
    tab_to(page, select)
    page.keyboard.press("Enter")
    done = page.get_by_role("link", name="Done selecting")
    expect(done).to_be_focused()
    # Out and in again: the keyboard stays on the toggle each time.
    page.keyboard.press("Enter")
    expect(select).to_be_focused()
    expect(select_boxes(page)).to_have_count(0)
    page.keyboard.press("Enter")
    expect(done).to_be_focused()
    boxes = select_boxes(page)
    expect(boxes).to_have_count(6)
    expect(selected_count(page)).to_have_text("None")
    check_accessibility(page)

    # Space ticks the second box; Shift+Space on the fifth ticks the range between.
    tab_to(page, boxes.nth(1))  # past the first box and the link of each thread
    assert focus_is_visible(page), "the focused checkbox shows no outline"
    page.keyboard.press("Space")
    assert ticked(boxes) == [False, True, False, False, False, False]
    expect(selected_count(page)).to_have_text("1")
    tab_to(page, boxes.nth(4))
    page.keyboard.press("Shift+Space")
    assert ticked(boxes) == [False, True, True, True, True, False]
    expect(page.locator("#bulk-sidebar .bulk-status")).to_have_text(re.compile(r"^\s*4 selected\."))
    check_accessibility(page)
    screenshot(page, "organising-select-mode-keyboard")

    archive = page.locator("#bulk-sidebar").get_by_role("button", name="Archive")
    tab_to(page, archive, key="Shift+Tab")
    page.keyboard.press("Enter")
    archived = titles[1:5]
    expect(notices(page)).to_have_text("4 chats archived.")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(sidebar_links(page)).to_have_text([titles[0], titles[5]])
    check_accessibility(page)

    page.goto("/archive")
    expect(page.get_by_role("heading", name="Archive", level=1)).to_be_visible()
    expect(page.locator(".organised-list .thread-item a")).to_have_text(archived)
    check_accessibility(page)


# --- 4. Shift+click ---------------------------------------------------------------------------


def test_shift_click_ticks_a_range_and_the_actions_apply_to_it(page, user, make_thread):
    titles = [f"Mouse chat {n}" for n in range(1, 7)]
    ids = make_threads(make_thread, user, *titles)
    sign_in(page, user.username)
    page.goto(f"/c/{ids[titles[5]]}")
    page.get_by_role("link", name="Select chats").click()
    boxes = select_boxes(page)
    expect(boxes).to_have_count(6)
    # The open thread stays highlighted in select mode.
    expect(sidebar_item(page, titles[5])).to_have_class(CURRENT)

    boxes.nth(4).click()
    boxes.nth(1).click(modifiers=["Shift"])  # a range upwards, too
    assert ticked(boxes) == [False, True, True, True, True, False]
    expect(selected_count(page)).to_have_text("4")
    # Shift+click on a ticked box unticks the range from the last one clicked.
    boxes.nth(2).click(modifiers=["Shift"])
    assert ticked(boxes) == [False, False, False, True, True, False]
    expect(selected_count(page)).to_have_text("2")
    check_accessibility(page)

    # "Select all shown", then back to none.
    select_all = page.get_by_role("button", name="Select all shown")
    select_all.click()
    assert ticked(boxes) == [True] * 6
    expect(selected_count(page)).to_have_text("6")
    page.get_by_role("button", name="Select none").click()
    assert ticked(boxes) == [False] * 6
    expect(selected_count(page)).to_have_text("None")

    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])
    assert ticked(boxes) == [True, True, True, False, False, False]
    # Export: the ticked threads as one ZIP, select mode left as it was.
    with page.expect_download() as download:
        page.locator("#bulk-sidebar").get_by_role("button", name="Export").click()
    assert download.value.suggested_filename.endswith(".zip"), download.value.suggested_filename
    with zipfile.ZipFile(download.value.path()) as archive:
        markdown = sorted(name for name in archive.namelist() if name.endswith(".md"))
    assert [name.rsplit("-", 1)[-1] for name in markdown] == ["1.md", "2.md", "3.md"], markdown
    assert ticked(boxes) == [True, True, True, False, False, False]
    page.locator("#bulk-sidebar").get_by_role("button", name="Move to trash").click()
    expect(notices(page)).to_have_text("3 chats moved to the trash.")
    # Back on the thread that was open, out of select mode.
    expect(page).to_have_url(re.compile(f"/c/{ids[titles[5]]}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(titles[5])
    expect(sidebar_links(page)).to_have_text(titles[3:])
    expect(sidebar_item(page, titles[5])).to_have_class(CURRENT)
    expect(select_boxes(page)).to_have_count(0)
    check_accessibility(page)

    page.goto("/trash")
    trashed = page.locator(".organised-list .item-title")
    expect(trashed).to_have_count(3)  # trashed in the same instant: in no particular order
    assert sorted(trashed.all_text_contents()) == titles[:3]
    check_accessibility(page)


# --- 5. the trash page ------------------------------------------------------------------------


def test_the_trash_page_restores_deletes_forever_and_empties(app, page, user, make_thread):
    ids = make_threads(make_thread, user, "Kept chat", "Trashed one", "Trashed two", "Trashed three")
    with_ids(app, [ids["Trashed three"], ids["Trashed two"], ids["Trashed one"]], organising.move_to_trash)
    sign_in(page, user.username)
    page.goto("/")
    expect(sidebar_links(page)).to_have_text(["Kept chat"])
    page.get_by_role("navigation", name="Chats").get_by_role("link", name="Trash").click()
    expect(page).to_have_url(re.compile(r"/trash$"))
    expect(page.get_by_role("heading", name="Trash", level=1)).to_be_visible()
    items = page.locator(".organised-list .thread-item")
    # Most recently trashed first, each with the day it goes for good.
    expect(items.locator(".item-title")).to_have_text(["Trashed one", "Trashed two", "Trashed three"])
    expect(items.locator(".item-meta")).to_have_text([re.compile(r"^deleted for good on \S")] * 3)
    check_accessibility(page)
    screenshot(page, "organising-trash")

    items.filter(has_text="Trashed two").get_by_role("button", name="Restore").click()
    expect(notices(page)).to_contain_text("“Trashed two” is restored.")
    expect(items.locator(".item-title")).to_have_text(["Trashed one", "Trashed three"])
    expect(sidebar_links(page)).to_have_text(["Kept chat", "Trashed two"])
    check_accessibility(page)

    items.filter(has_text="Trashed one").get_by_role("button", name="Delete forever").click()
    expect(notices(page)).to_contain_text("“Trashed one” is deleted for good.")
    expect(items.locator(".item-title")).to_have_text(["Trashed three"])
    assert page.request.get(f"/c/{ids['Trashed one']}").status == 404
    check_accessibility(page)

    disclosure(page.locator(".organised-page"), "Empty trash…").click()
    expect(page.get_by_text("Delete every chat in the trash for good? This cannot be undone.")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "organising-empty-trash-confirm")
    page.get_by_role("button", name="Empty trash", exact=True).click()
    expect(notices(page)).to_contain_text("The trash is empty: 1 chat deleted for good.")
    expect(page.get_by_text("The trash is empty.", exact=True)).to_be_visible()
    expect(items).to_have_count(0)
    expect(sidebar_links(page)).to_have_text(["Kept chat", "Trashed two"])
    check_accessibility(page)


# --- 6. phone width, light and dark -----------------------------------------------------------


def test_on_a_phone_the_trash_the_archive_and_select_mode_fit(app, new_page, user, make_thread):
    titles = [f"A chat with a rather long title that has to wrap on a phone, number {n}" for n in range(1, 9)]
    ids = make_threads(make_thread, user, *titles)
    with_ids(app, [ids[t] for t in titles[2:4]], organising.move_to_trash)
    with_ids(app, [ids[t] for t in titles[4:6]], lambda c: organising.set_archived(c, True))
    with_ids(app, [ids[titles[6]]], lambda c: organising.set_pinned(c, True))

    for scheme in ("light", "dark"):
        page = new_page(PHONE, color_scheme=scheme)
        sign_in(page, user.username)
        for path, heading in (("/trash", "Trash"), ("/archive", "Archive")):
            page.goto(path)
            expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
            expect(page.locator(".organised-list .thread-item")).to_have_count(2)
            fits_the_window(page)
            check_accessibility(page)
            screenshot(page, f"organising-{heading.lower()}-phone-{scheme}", full_page=True)

        page.goto("/")
        page.get_by_role("link", name="Show the list of chats").click()
        sidebar = page.get_by_role("navigation", name="Chats")
        expect(sidebar).to_be_in_viewport(ratio=1)
        sidebar.get_by_role("link", name="Select chats").click()
        boxes = select_boxes(page)
        expect(boxes).to_have_count(4)
        boxes.nth(0).tap()
        boxes.nth(2).click(modifiers=["Shift"])
        assert ticked(boxes) == [True, True, True, False]
        expect(selected_count(page)).to_have_text("3")
        expect(sidebar.get_by_role("link", name="Done selecting")).to_be_in_viewport()
        fits_the_window(page)
        check_accessibility(page)
        screenshot(page, f"organising-select-mode-phone-{scheme}")

        # Out of select mode, a thread to the trash from its menu: the open
        # drawer would hide the notice, so its Undo floats above the drawer.
        sidebar.get_by_role("link", name="Done selecting").click()
        expect(select_boxes(page)).to_have_count(0)
        open_sidebar_menu(page, titles[1]).get_by_role("button", name="Move to trash").click()
        expect(sidebar_links(page)).to_have_count(3)
        undo = notices(page).get_by_role("button", name="Undo")
        expect(undo).to_be_in_viewport(ratio=1)
        expect(sidebar).to_be_in_viewport(ratio=1)
        fits_the_window(page)
        check_accessibility(page)
        screenshot(page, f"organising-undo-in-the-drawer-phone-{scheme}")
        undo.click()  # fails if the drawer is over it
        expect(sidebar_links(page)).to_have_count(4)
        expect(sidebar_links(page).nth(2)).to_have_text(titles[1])


# --- 7. select mode on the search page and the archive ----------------------------------------


def test_select_mode_on_the_search_page_and_the_archive_comes_back_to_the_page(page, user, make_thread):
    make_threads(make_thread, user, "Zeppelin over Lisbon", "Other chat", "Zeppelin over Porto", "Zeppelin at sea")
    sign_in(page, user.username)
    page.goto("/search?q=zeppelin")
    hits = page.locator("#search-results .search-hit")
    expect(hits).to_have_count(3)
    expect(page.locator("#search-results input[data-select-box]")).to_have_count(3)
    # Every chat the search finds, not only the ticked ones (none are).
    page.get_by_label("Act on every chat this search finds, not only the ticked ones").check()
    check_accessibility(page)
    screenshot(page, "organising-search-select")
    page.locator("#bulk-search").get_by_role("button", name="Archive", exact=True).click()
    expect(notices(page)).to_have_text("3 chats archived.")
    expect(page).to_have_url("/search?q=zeppelin")
    expect(hits.locator(".badge")).to_have_text(["Archived"] * 3)
    expect(sidebar_links(page)).to_have_text(["Other chat"])
    check_accessibility(page)

    page.goto("/archive")
    items = page.locator(".organised-list .thread-item")
    expect(items).to_have_count(3)
    page.get_by_role("button", name="Select all shown").click()
    expect(selected_count(page, "#bulk-list")).to_have_text("3")
    check_accessibility(page)
    page.locator("#bulk-list").get_by_role("button", name="Unarchive").click()
    expect(notices(page)).to_have_text("3 chats moved out of the archive.")
    expect(page).to_have_url(re.compile(r"/archive$"))
    expect(page.get_by_text("No archived chats.")).to_be_visible()
    expect(sidebar_links(page)).to_have_text(
        ["Zeppelin over Lisbon", "Other chat", "Zeppelin over Porto", "Zeppelin at sea"]
    )
    check_accessibility(page)

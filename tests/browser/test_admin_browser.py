"""The admin area in a real browser (issue 6): an admin renames and deletes
another user's thread and that user sees it; every admin page passes axe and
is screenshotted at desktop and phone sizes; a role changes by keyboard only;
a hostile title stays text."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, check_accessibility, focus_is_visible, screenshot, sign_in, tab_to
from webapp import administration as actions
from webapp.extensions import db
from webapp.models import Conversation, User

HOSTILE = "<img src=x onerror=alert(1)>"


# --- helpers -----------------------------------------------------------------------------


def title_row(page: Page, title: str):
    """The admin table's row whose title (its row header) is ``title``."""
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=title, exact=True))


def sidebar(page: Page):
    return page.get_by_role("navigation", name="Chats")


def fail_on_dialogs(page: Page) -> list[str]:
    """Record (and dismiss) every alert, confirm or prompt; the test asserts none came."""
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def assert_no_sideways_scroll(page: Page) -> None:
    """The page itself never scrolls sideways; a wide table scrolls in its own box."""
    width = page.viewport_size["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} scrolls sideways ({scroll_width}px wide at {width}px)"


def assert_buttons_level(page: Page, rows) -> None:
    """In each row, the action buttons line up: none sits lower than the others."""
    buttons = ".row-actions > .button, .row-actions > * > .button, .row-actions > * > summary"
    all_tops = rows.evaluate_all(
        "(rows, buttons) => rows.map(row => [...row.querySelectorAll(buttons)]"
        "  .map(b => Math.round(b.getBoundingClientRect().top)))",
        buttons,
    )
    assert any(all_tops), f"no action buttons found on {page.url}"
    for tops in all_tops:
        assert len(set(tops)) <= 1, f"the action buttons of a row on {page.url} are not level: {tops}"


# --- an admin renames and deletes another user's thread; that user sees it --------------


def test_admin_renames_and_deletes_another_users_thread_and_the_owner_sees_it(
    app, new_page, admin_user, other_user, make_user, make_thread
):
    threads = [("Doomed thread", 2), ("Rude title", 3), ("Keep me", 1)]
    bob = {title: make_thread(other_user, title, messages=n) for title, n in threads}
    make_thread(make_user("carol"), "Carol's plans", messages=2)

    # Bob is signed in in his own browser context, and has the threads in his sidebar.
    owner = new_page(DESKTOP)
    sign_in(owner, other_user.username)
    for title in ("Doomed thread", "Rude title", "Keep me"):
        expect(sidebar(owner).get_by_role("link", name=title, exact=True)).to_be_visible()
    doomed_url = f"/c/{bob['Doomed thread']}"

    admin = new_page(DESKTOP)
    dialogs = fail_on_dialogs(admin)
    sign_in(admin, admin_user.username)
    admin.goto("/admin/conversations")
    expect(admin.get_by_role("heading", name="Conversations", level=1)).to_be_visible()
    expect(title_row(admin, "Carol's plans")).to_be_visible()
    check_accessibility(admin)

    # Filter by owner: the username in another case still finds him.
    admin.get_by_label("Owner").fill("BOB")
    admin.get_by_role("button", name="Filter").click()
    expect(admin).to_have_url(re.compile(r"/admin/conversations\?.*user=BOB"))
    table = admin.get_by_role("table", name=re.compile("^Threads of bob, newest activity first"))
    expect(table).to_be_visible()
    expect(table.get_by_role("rowheader")).to_have_text(["Keep me", "Rude title", "Doomed thread"])
    expect(title_row(admin, "Carol's plans")).to_have_count(0)
    check_accessibility(admin)

    # Rename inline: the row's form opens in place and the row is swapped.
    row = title_row(admin, "Rude title")
    row.locator("summary", has_text="Rename").click()
    title_field = row.get_by_label("New title")
    expect(title_field).to_have_value("Rude title")
    check_accessibility(admin)  # with the inline form open
    title_field.fill("A polite title")
    row.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_have_text("Renamed “Rude title” to “A polite title”.")
    renamed = title_row(admin, "A polite title")
    expect(renamed).to_be_visible()
    expect(renamed.get_by_role("link", name="A polite title")).to_be_focused()
    expect(title_row(admin, "Rude title")).to_have_count(0)
    expect(admin).to_have_url(re.compile(r"user=BOB"))  # still on the filtered list

    # Move to the trash, through the confirmation step.
    row = title_row(admin, "Doomed thread")
    delete_button = row.get_by_role("button", name="Delete thread")
    expect(delete_button).to_be_hidden()
    row.locator("summary", has_text="Delete…").click()
    expect(row.get_by_text("Move “Doomed thread” of bob to the trash? It can be restored for 30 days.")).to_be_visible()
    check_accessibility(admin)  # with the confirmation open
    delete_button.click()
    expect(admin.get_by_role("status")).to_have_text("Moved “Doomed thread” of bob to the trash.")
    expect(admin.locator(f"#conv-{bob['Doomed thread']}")).to_have_text("Moved “Doomed thread” of bob to the trash.")
    expect(title_row(admin, "Doomed thread")).to_have_count(0)

    # A reload shows the table as it now is.
    admin.reload()
    expect(table.get_by_role("rowheader")).to_have_text(["A polite title", "Keep me"])

    # The read-only view of the renamed thread.
    title_row(admin, "A polite title").get_by_role("link", name="A polite title").click()
    expect(admin.get_by_role("heading", name="A polite title", level=1)).to_be_visible()
    messages = admin.locator("#message-list article.message")
    expect(messages).to_have_count(3)
    expect(messages.first.locator(".who")).to_have_text("bob")
    for control in ("Regenerate", "Retry", "Stop", "Send"):
        expect(admin.get_by_role("button", name=control)).to_have_count(0)
    expect(admin.get_by_role("textbox", name=re.compile("message", re.I))).to_have_count(0)
    check_accessibility(admin)

    # The audit log names both actions, whose thread it was, and the titles.
    admin.get_by_role("navigation", name="Admin").get_by_role("link", name="Audit log").click()
    expect(admin.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    rows = admin.get_by_role("table", name="Admin actions, newest first").locator("tbody tr")
    expect(rows).to_have_count(2)
    deleted, renamed = rows.nth(0).locator("th, td"), rows.nth(1).locator("th, td")
    # When, who, what, which, whose, before, after, detail:
    expect(deleted).to_have_text(
        [
            re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"),
            "root",
            "Deleted a thread",
            f"thread {bob['Doomed thread']}",
            "bob",
            "Doomed thread",
            "",
            "moved to the trash",
        ]
    )
    expect(renamed).to_have_text(
        [
            re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"),
            "root",
            "Renamed a thread",
            f"thread {bob['Rude title']}",
            "bob",
            "Rude title",
            "A polite title",
            "",
        ]
    )
    check_accessibility(admin)

    # Bob's next request: the new title in his sidebar, the deleted thread gone.
    owner.reload()
    expect(sidebar(owner).get_by_role("link", name="A polite title", exact=True)).to_be_visible()
    expect(sidebar(owner).get_by_role("link", name="Keep me", exact=True)).to_be_visible()
    expect(sidebar(owner).get_by_role("link", name="Rude title")).to_have_count(0)
    expect(sidebar(owner).get_by_role("link", name="Doomed thread")).to_have_count(0)
    owner.get_by_role("link", name="A polite title", exact=True).click()
    expect(owner.get_by_role("heading", name="A polite title", level=1)).to_be_visible()
    response = owner.goto(doomed_url)
    assert response.status == 404
    expect(owner.get_by_role("heading", name="Not found", level=1)).to_be_visible()
    check_accessibility(owner)

    # The admin still sees it, in the trash, and can restore it or delete it for good.
    admin.goto(f"/admin/conversations/{bob['Doomed thread']}")
    expect(admin.get_by_role("status").filter(has_text="In the trash: deleted for good on")).to_be_visible()
    check_accessibility(admin)
    admin.get_by_role("button", name="Delete forever").click()
    expect(admin).to_have_url(re.compile(r"/admin/conversations\?state=trash$"))
    with app.app_context():
        assert db.session.get(Conversation, bob["Doomed thread"]) is None
    assert dialogs == []


# --- every admin page: axe, and how it looks ------------------------------------------------


@pytest.fixture
def busy_instance(app, admin_user, other_user, make_user, make_thread) -> dict[str, uuid.UUID]:
    """Accounts, threads (long titles, a hostile one) and a few audit events,
    so the tables have something to wrap, scroll and show; the threads' ids
    by title."""
    carol = make_user("carol")
    long_named = make_user("a_rather_long_username_of_32_ch", role="admin")
    dave = make_user("dave")
    long_title = "Planning the quarterly offsite: venues, travel budget, dietary needs and the agenda for day two"
    unbroken = "Supercalifragilisticexpialidocious" * 3
    threads = [
        (other_user, "Trip to Lisbon", 12),
        (other_user, long_title, 4),
        (other_user, HOSTILE, 1),
        (other_user, "Untitled draft", 0),
        (carol, "Recipes", 1_204),
        (carol, unbroken, 2),
        (long_named, "Server migration checklist", 30),
    ]
    ids = {title: make_thread(owner, title, messages=n) for owner, title, n in threads}
    with app.app_context():
        root, dave = db.session.get(User, admin_user.id), db.session.get(User, dave.id)
        actions.rename_thread(root, db.session.get(Conversation, ids["Trip to Lisbon"]), "Trip to Lisbon in May")
        actions.rename_thread(root, db.session.get(Conversation, ids[unbroken]), f"{unbroken} (renamed)")
        actions.delete_thread(root, db.session.get(Conversation, ids["Untitled draft"]))
        actions.set_active(root, dave, False)
        actions.set_role(root, db.session.get(User, dave.id), "admin")
        db.session.commit()
    return ids


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_admin_pages_pass_axe_fit_the_screen_and_are_screenshotted(new_page, busy_instance, admin_user, size):
    ids = busy_instance
    page = new_page(PHONE if size == "phone" else DESKTOP)
    dialogs = fail_on_dialogs(page)
    sign_in(page, admin_user.username)

    page.goto("/admin/conversations")
    expect(title_row(page, "Recipes")).to_be_visible()
    check_accessibility(page)
    assert_no_sideways_scroll(page)
    assert_buttons_level(page, page.locator(".admin-table tbody tr"))
    screenshot(page, "admin-conversations", full_page=True)

    page.goto("/admin/conversations?user=carol&q=recipes")
    expect(page.get_by_role("table", name=re.compile("^Threads of carol with “recipes” in the title"))).to_be_visible()
    check_accessibility(page)
    assert_no_sideways_scroll(page)

    page.goto(f"/admin/conversations/{ids['Server migration checklist']}")
    expect(page.get_by_role("heading", name="Server migration checklist", level=1)).to_be_visible()
    check_accessibility(page)
    assert_no_sideways_scroll(page)
    field = page.get_by_label("New title").bounding_box()
    rename = page.get_by_role("button", name="Rename").bounding_box()
    delete = page.locator(".thread-admin-actions summary").bounding_box()
    if size == "desktop":  # all on one line, level at the bottom
        assert rename["x"] > field["x"] + field["width"], "the Rename button wrapped under the title field"
        assert rename["y"] + rename["height"] == pytest.approx(delete["y"] + delete["height"], abs=1)
    else:  # the field takes the width, the buttons go below it
        assert rename["y"] >= field["y"] + field["height"]

    page.goto("/admin/users")
    expect(page.get_by_role("table", name=re.compile("^Accounts, by username"))).to_be_visible()
    check_accessibility(page)
    assert_no_sideways_scroll(page)
    assert_buttons_level(page, page.locator(".admin-table tbody tr"))
    screenshot(page, "admin-users", full_page=True)

    page.get_by_role("link", name="Delete… bob").click()
    expect(page.get_by_role("heading", name="Delete the account bob?")).to_be_visible()
    expect(page.get_by_text("with everything it owns: 4 threads and 17 messages, those in its trash")).to_be_visible()
    check_accessibility(page)
    assert_no_sideways_scroll(page)

    # An admin's own account: the confirmation page says why it cannot be done.
    page.goto(f"/admin/users/{admin_user.id}/delete")
    expect(page.get_by_role("alert")).to_have_text("You cannot delete your own account. Ask another admin to do it.")
    check_accessibility(page)

    page.goto("/admin/audit")
    expect(page.get_by_role("table", name="Admin actions, newest first").locator("tbody tr")).to_have_count(5)
    check_accessibility(page)
    assert_no_sideways_scroll(page)
    screenshot(page, "admin-audit", full_page=True)
    assert dialogs == []


def test_admin_pages_read_well_in_dark_mode(new_page, busy_instance, admin_user):
    page = new_page(color_scheme="dark")
    sign_in(page, admin_user.username)
    for path in (
        "/admin/conversations",
        f"/admin/conversations/{busy_instance['Recipes']}",
        "/admin/users",
        "/admin/audit",
    ):
        page.goto(path)
        check_accessibility(page)
    page.goto("/admin/users")
    screenshot(page, "admin-users-dark")


# --- keyboard only ----------------------------------------------------------------------------


def test_promote_a_user_to_admin_with_the_keyboard_only(page, admin_user, other_user, make_user):
    make_user("carol")
    sign_in(page, admin_user.username)
    page.goto("/admin/users")

    # From the top of the page: past the header, the admin menu, the search form and the table's scroll box.
    tab_to(page, page.get_by_role("button", name="Make admin bob"))
    assert focus_is_visible(page), "the focused Make admin button shows no outline"
    page.keyboard.press("Enter")

    bob = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="bob", exact=True))
    expect(page.get_by_role("status")).to_have_text("bob is now an admin.")
    expect(bob.get_by_role("cell", name="admin", exact=True)).to_be_visible()
    # Focus comes back to the button just pressed, now the opposite action.
    expect(bob.get_by_role("button", name="Remove admin bob")).to_be_focused()
    assert focus_is_visible(page)
    # Carol's row is as it was.
    carol = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="carol", exact=True))
    expect(carol.get_by_role("button", name="Make admin carol")).to_be_visible()

    # Still by keyboard: back up to the admin menu and on to the audit log, which records the change.
    tab_to(page, page.get_by_role("navigation", name="Admin").get_by_role("link", name="Audit log"), key="Shift+Tab")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    event = page.get_by_role("table", name="Admin actions, newest first").locator("tbody tr").first
    expect(event.locator("td")).to_have_text(
        ["root", "Changed a role", re.compile(r"^account \d+$"), "bob", "user", "admin", ""]
    )


# --- hostile input ---------------------------------------------------------------------------------


def test_a_hostile_title_shows_as_text_in_the_admin_pages(new_page, admin_user, other_user, make_thread):
    ids = {title: make_thread(other_user, title, messages=n) for title, n in [(HOSTILE, 2), ("Harmless", 1)]}
    # Without the CSP, markup let through would run (and its image fail to
    # load), so the dialog and error checks do not rest on the CSP alone.
    page = new_page(bypass_csp=True)
    dialogs = fail_on_dialogs(page)
    sign_in(page, admin_user.username)

    page.goto("/admin/conversations")
    link = title_row(page, HOSTILE).get_by_role("link", name=HOSTILE, exact=True)
    expect(link).to_have_text(HOSTILE)
    assert page.locator("main img").count() == 0

    # Its delete confirmation, a title search that echoes it, and the thread view.
    title_row(page, HOSTILE).locator("summary", has_text="Delete…").click()
    expect(page.get_by_text(f"Move “{HOSTILE}” of bob to the trash?")).to_be_visible()
    page.get_by_label("Words in the title").fill(HOSTILE)
    page.get_by_role("button", name="Filter").click()
    caption = f"All threads with “{HOSTILE}” in the title, newest activity first"
    expect(page.get_by_role("table", name=caption)).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", name=HOSTILE, level=1)).to_be_visible()
    expect(page).to_have_title(f"{HOSTILE} · Admin · Parley")

    # An admin renames a thread to a hostile title: the swapped row, the notice
    # and the audit log show it as text too.
    page.goto("/admin/conversations")
    row = title_row(page, "Harmless")
    row.locator("summary", has_text="Rename").click()
    row.get_by_label("New title").fill("<script>alert(2)</script>")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Renamed “Harmless” to “<script>alert(2)</script>”.")
    expect(title_row(page, "<script>alert(2)</script>")).to_be_visible()
    page.goto("/admin/audit")
    expect(page.get_by_role("cell", name="<script>alert(2)</script>", exact=True)).to_be_visible()

    assert page.locator("main img, main script").count() == 0
    page.goto(f"/admin/conversations/{ids[HOSTILE]}")
    assert page.locator("main img, main script").count() == 0
    assert dialogs == [], f"the page ran script from a title: {dialogs}"

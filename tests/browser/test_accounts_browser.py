"""Accounts in a real browser: registration, sign-in and out, and how the pages
read, look and work by keyboard (issue 3)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    check_accessibility,
    focus_is_visible,
    register,
    screenshot,
    sign_in,
    sign_out,
)
from tests.factories import PASSWORD


def header_nav(page):
    return page.get_by_role("navigation", name="Account")


def test_first_user_registers_signs_out_and_in_again_and_sees_the_admin_link(page):
    register(page, "Founder")

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("As the first account, you are this instance's admin")).to_be_visible()
    expect(header_nav(page)).to_contain_text("Founder")
    expect(header_nav(page).get_by_role("link", name="Admin")).to_be_visible()

    sign_out(page)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)

    sign_in(page, "founder")
    expect(page).to_have_url(re.compile(r"/$"))
    header_nav(page).get_by_role("link", name="Admin").click()
    expect(page.get_by_role("navigation", name="Admin")).to_be_visible()
    expect(page.get_by_role("heading", name="Conversations", level=1)).to_be_visible()


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/login", False),
        ("/register", False),
        ("/no-such-page", False),
        ("/", True),
        ("/settings", True),
        ("/no-such-page", True),
    ],
)
def test_pages_have_no_accessibility_violations(page, make_user, path, signed_in):
    if signed_in:
        make_user("alice", role="admin")
        sign_in(page, "alice")
    page.goto(path)
    check_accessibility(page)
    if path == "/no-such-page":
        screenshot(page, f"not-found-{'signed-in' if signed_in else 'anonymous'}")


def test_forms_showing_errors_have_no_accessibility_violations(page, user):
    page.goto("/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The username or password is wrong.")
    check_accessibility(page)

    screenshot(page, "login-error")

    register(page, "x", "short")
    expect(page.get_by_text("A username has 3 to 32 characters.")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "register-errors")


def test_pages_read_well_in_dark_mode(new_page, user):
    page = new_page(color_scheme="dark")
    for path in ("/login", "/register"):
        page.goto(path)
        check_accessibility(page)
    sign_in(page, user.username)
    page.goto("/settings")
    check_accessibility(page)
    screenshot(page, "settings-dark")


def assert_fits_the_screen(page) -> None:
    """No sideways scrolling, and no card pressed against the screen's edges."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} scrolls sideways"
    for box in page.locator(".card").evaluate_all("cards => cards.map(c => c.getBoundingClientRect().toJSON())"):
        assert box["left"] >= 8 and box["right"] <= width - 8, f"a card on {page.url} touches the edge: {box}"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_account_pages_fit_the_screen(new_page, admin_user, size):
    # An admin's header holds the most links.
    page = new_page(PHONE) if size == "phone" else new_page()
    for name in ("login", "register"):
        page.goto(f"/{name}")
        assert_fits_the_screen(page)
        screenshot(page, name)
    sign_in(page, admin_user.username)
    for name in ("settings", "home"):
        page.goto("/settings" if name == "settings" else "/")
        assert_fits_the_screen(page)
        screenshot(page, name, full_page=True)


def test_sign_in_with_the_keyboard_only(page, user):
    page.goto("/login")
    # The username field has autofocus; from there the form is typed and tabbed through.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    assert focus_is_visible(page)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Keep me signed in")).to_be_focused()
    assert focus_is_visible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    assert focus_is_visible(page), "the focused Sign in button shows no outline"
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_skip_link_appears_on_focus_and_moves_to_the_content(page, user):
    sign_in(page, user.username)
    page.goto("/settings")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Current password")).to_be_focused()


def test_hostile_username_is_refused_and_shown_as_text(page):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    register(page, "<script>alert(1)</script>")

    expect(page.get_by_text("A username may use only letters, digits, dots, dashes and underscores.")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("<script>alert(1)</script>")
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    assert page.locator("main script").count() == 0
    assert dialogs == []


def test_a_refused_form_puts_focus_on_the_first_field_in_error(page, other_user):
    register(page, "alice", "short")
    password = page.get_by_label("Password", exact=True)
    expect(password).to_be_focused()
    expect(password).to_have_accessible_description(re.compile("A password needs at least 10 characters"))

    sign_in(page, other_user.username)
    page.goto("/settings")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill("a brand new password")
    page.get_by_label("Repeat the new password").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    current = page.get_by_label("Current password")
    expect(current).to_be_focused()
    expect(current).to_have_accessible_description("That is not your current password.")

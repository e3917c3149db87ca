"""The browser harness itself catches what it promises to catch."""

from __future__ import annotations

import pytest

from tests.browser.conftest import check_accessibility


def test_axe_runs_under_the_content_security_policy_and_reports_violations(page, live_server):
    response = page.goto("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=/static/favicon.svg>')")
    with pytest.raises(pytest.fail.Exception, match=r"image-alt \(critical\)"):
        check_accessibility(page)


def test_csp_violations_and_page_errors_are_collected(page, browser_errors):
    page.goto("/login")
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text, timeout=10_000):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=https://example.invalid/x.png>')")
    with page.expect_event("pageerror", timeout=10_000):
        page.evaluate("setTimeout(() => { throw new Error('boom') }, 0)")
    assert any("Content Security Policy" in m for m in browser_errors.messages), browser_errors.messages
    assert any("boom" in m for m in browser_errors.messages), browser_errors.messages
    browser_errors.clear()


def test_error_pages_are_not_browser_errors(page, browser_errors, live_server):
    assert page.goto("/no-such-page").status == 404
    page.context.close()  # delivers every event still on its way
    assert browser_errors.error_pages == [f"{live_server}/no-such-page"]
    assert browser_errors.unexpected() == []

"""The assistant's replies in a real browser: stop and regenerate, a reload
mid-reply, and two tabs on one thread (issue 5). The demo assistant writes
slowly here, so each reply can be watched while it streams, however slow the
machine; once watched, a reply is let finish quickly."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, sign_in
from tests.browser.helpers import (
    LIVE,
    THREAD_URL,
    assistant_replies,
    composer,
    page_kept,
    reply_is_finished,
    send_button,
    set_demo_pace,
    set_marker,
)

# The demo reply starts with these words ("This is Parley's **demo assistant**: …").
OPENING = "This is Parley's demo"  # rendered as it streams: the ** are gone
ENDING = "LM Studio work the same way"


def start_chat(page, text: str = "Tell me something"):
    """Send the first message of a new chat; returns the reply's article."""
    page.goto("/")
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(page).to_have_url(THREAD_URL)
    return assistant_replies(page).last


@pytest.mark.parametrize("demo_pace_ms", [300])
def test_stop_keeps_the_partial_reply_and_regenerate_writes_a_new_one(page, app, make_user):
    make_user("alice")
    sign_in(page, "alice")
    reply = start_chat(page)
    set_marker(page)
    streaming = reply.locator(".streaming-text")
    expect(streaming).to_contain_text(OPENING)
    expect(send_button(page)).to_be_disabled()
    check_accessibility(page)

    reply.get_by_role("button", name="Stop").click()

    status = reply.locator(".status-line")
    expect(status).to_contain_text("Stopped.")
    reply_is_finished(reply)
    body = reply.locator(".body")
    expect(body).to_contain_text("This is Parley's demo")  # kept, and rendered as Markdown now
    expect(body.locator("strong")).to_contain_text("demo")
    expect(body).not_to_contain_text(ENDING)
    expect(send_button(page)).to_be_enabled()
    expect(page.locator("#announcer")).to_have_text("The reply was stopped.")
    expect(reply.locator(".streaming-text")).to_have_count(0)  # its stream is closed: nothing more comes
    check_accessibility(page)

    # Regenerate writes a new version beside the stopped one, which is kept.
    set_demo_pace(app, 20)
    reply.get_by_role("button", name="Regenerate").click()
    expect(reply).to_have_class(LIVE)  # the thread's last reply is the new version now
    expect(send_button(page)).to_be_disabled()
    expect(reply.get_by_role("button", name="Stop")).to_be_visible()
    reply_is_finished(reply)
    expect(reply.locator(".status-line")).to_have_count(0)
    expect(body).to_contain_text(ENDING)
    expect(body.locator("pre")).to_contain_text("PARLEY_LLM_BASE_URL=")
    expect(send_button(page)).to_be_enabled()
    versions = reply.get_by_role("form", name="Versions of this reply")
    expect(versions).to_contain_text("2 / 2")
    check_accessibility(page)

    versions.get_by_role("button", name="Previous version").click()
    expect(versions).to_contain_text("1 / 2")
    expect(reply.locator(".status-line")).to_contain_text("Stopped.")
    expect(body).not_to_contain_text(ENDING)
    expect(assistant_replies(page)).to_have_count(1)
    assert page_kept(page), "the page reloaded"


@pytest.mark.parametrize("demo_pace_ms", [300])
def test_a_reload_mid_reply_shows_what_has_arrived_and_carries_on(page, app, make_user):
    make_user("alice")
    sign_in(page, "alice")
    reply = start_chat(page)
    streaming = reply.locator(".streaming-text")
    expect(streaming).to_contain_text(OPENING)
    so_far = streaming.text_content().strip()

    page.reload()

    reply = assistant_replies(page).last
    streaming = reply.locator(".streaming-text")
    expect(streaming).to_contain_text(so_far)
    expect(reply).to_have_class(LIVE)  # what had arrived is there, and the reply is not over yet
    expect(send_button(page)).to_be_disabled()
    set_demo_pace(app, 10)
    reply_is_finished(reply)
    body = reply.locator(".body")
    expect(body.locator("pre")).to_contain_text("PARLEY_LLM_BASE_URL=")
    expect(body).to_contain_text(ENDING)
    assert body.text_content().count("This is Parley's") == 1, "the text was repeated"
    expect(send_button(page)).to_be_enabled()


@pytest.mark.parametrize("demo_pace_ms", [300])
def test_two_tabs_on_one_thread_both_see_the_reply_complete(page, app, make_user, browser_errors):
    make_user("alice")
    sign_in(page, "alice")
    reply = start_chat(page)
    expect(reply.locator(".streaming-text")).to_contain_text(OPENING)

    second = page.context.new_page()  # same cookies: the same user in another tab
    browser_errors.watch(second)
    second.goto(page.url)
    other = assistant_replies(second).last
    expect(other).to_have_class(LIVE)
    expect(other.locator(".streaming-text")).to_contain_text(OPENING)
    expect(send_button(second)).to_be_disabled()
    set_demo_pace(app, 10)

    for tab, article in ((page, reply), (second, other)):
        reply_is_finished(article)
        expect(article.locator(".body pre")).to_contain_text("PARLEY_LLM_BASE_URL=")
        expect(article.locator(".body")).to_contain_text(ENDING)
        assert article.locator(".body").text_content().count("This is Parley's") == 1
        expect(send_button(tab)).to_be_enabled()
    assert without_signing_time(reply.inner_html()) == without_signing_time(other.inner_html())


def without_signing_time(html: str) -> str:
    """HTML with each CSRF token cut to the reader's secret it signs: the rest
    holds the second it was signed in, and each tab's stream renders the
    finished reply itself, either side of a second's turn."""
    return re.sub(r'(name="csrf_token" value="[^".]+)\.[^"]*"', r'\1"', html)

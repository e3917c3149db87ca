"""The composer's model picker and a model server's failure, in a real browser,
against the fake OpenAI-compatible server of tests/fake_llm.py."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, check_accessibility, screenshot, sign_in
from tests.browser.helpers import assistant_replies, composer, reply_is_finished
from tests.fake_llm import FakeLLM
from webapp.extensions import db


@pytest.fixture
def fake_llm():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, fake_llm) -> Flask:
    app = make_app(
        WTF_CSRF_ENABLED=True,
        PROPAGATE_EXCEPTIONS=False,
        PARLEY_LLM_BASE_URL=fake_llm.base_url,
        PARLEY_LLM_MODEL="fake-small",
        PARLEY_LLM_TIMEOUT=2,
    )
    with app.app_context():
        db.create_all()
    return app


def picker(page):
    return page.locator("#composer").get_by_label("Model")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_model_picked_in_the_composer_answers_and_stays_the_chats(new_page, user, fake_llm, viewport):
    page = new_page(PHONE, color_scheme="dark") if viewport == "phone" else new_page()
    sign_in(page, user.username)
    page.goto("/")
    expect(picker(page)).to_have_value("fake-small")  # the server's default
    picker(page).select_option("fake-large")
    composer(page).fill("Which model are you?")
    composer(page).press("Enter")
    reply_is_finished(assistant_replies(page).last)
    assert fake_llm.requests[-1]["model"] == "fake-large"
    expect(picker(page)).to_have_value("fake-large")
    check_accessibility(page)
    screenshot(page, "model-picker")
    page.reload()
    expect(picker(page)).to_have_value("fake-large")
    # By keyboard: back to the small one, for the next reply.
    picker(page).focus()
    page.keyboard.press("ArrowDown")
    expect(picker(page)).to_have_value("fake-small")
    composer(page).fill("And now?")
    composer(page).press("Enter")
    expect(assistant_replies(page)).to_have_count(2)
    reply_is_finished(assistant_replies(page).last)
    assert fake_llm.requests[-1]["model"] == "fake-small"


def test_a_model_server_failure_is_told_plainly(page, user, fake_llm):
    fake_llm.behaviour.status = 500
    sign_in(page, user.username)
    page.goto("/")
    composer(page).fill("Hello?")
    composer(page).press("Enter")
    reply = assistant_replies(page).last
    reply_is_finished(reply)
    expect(reply.get_by_role("alert")).to_have_text(
        "The assistant is not available right now. Try again later; if it keeps failing, tell your administrator."
    )
    expect(reply).not_to_contain_text(fake_llm.base_url)
    expect(reply.get_by_role("button", name="Retry")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "model-failure-for-users")

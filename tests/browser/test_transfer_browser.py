"""Import and export in a real browser (issue 15): the import page from the
account menu, an upload that lands on its job's page, the progress bar that
htmx keeps up to date until the report, axe on each state."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, screenshot, sign_in
from tests.browser.helpers import page_kept, set_marker
from tests.imports import FIXTURES, running_import
from webapp.extensions import db
from webapp.models import ImportJob, utcnow

JOB_PAGE = re.compile(r"/import/[0-9a-f-]{36}$")


def test_an_upload_lands_on_its_job_page_which_ends_in_the_report(page, app, user):
    sign_in(page, user.username)
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import chats", level=1)).to_be_visible()
    check_accessibility(page)
    screenshot(page, "import-page")

    page.get_by_label("Export file").set_input_files(
        [FIXTURES / "chatgpt-modern-export.json", FIXTURES / "openwebui-export.json"]
    )
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page).to_have_url(JOB_PAGE)
    report = page.locator("#import-job")
    expect(report.get_by_role("heading", name="Import finished")).to_be_visible(timeout=15_000)
    expect(report.get_by_role("status")).to_contain_text("5 chats")
    expect(report).to_contain_text("Corrupted entry")
    check_accessibility(page)
    screenshot(page, "import-report", full_page=True)

    page.get_by_role("link", name="your list").click()
    expect(page.get_by_role("link", name="Deploying the staging cluster")).to_be_visible()
    page.get_by_role("link", name="Chat with reasoning").click()
    expect(page.locator("#message-list")).to_contain_text("Thought for 3 seconds")


def test_the_progress_bar_follows_the_job_without_a_reload(page, app, user):
    job_id = running_import(app, user, bytes_done=350, imported=12)
    sign_in(page, user.username)
    page.goto(f"/import/{job_id}")
    bar = page.get_by_role("progressbar", name="Importing…")
    expect(bar).to_have_attribute("value", "35")
    check_accessibility(page)
    screenshot(page, "import-progress")
    set_marker(page)

    with app.app_context():
        row = db.session.get(ImportJob, job_id)
        row.bytes_done, row.imported = 800, 30
        db.session.commit()
    expect(bar).to_have_attribute("value", "80")
    with app.app_context():
        row = db.session.get(ImportJob, job_id)
        row.status, row.bytes_done, row.imported, row.messages, row.finished_at = "done", 1000, 41, 820, utcnow()
        db.session.commit()
    expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    expect(page.locator("#import-job").get_by_role("status")).to_contain_text("41 chats (820 messages)")
    assert page_kept(page)
    check_accessibility(page)


def test_the_import_page_on_a_phone(phone_page, app, user):
    sign_in(phone_page, user.username)
    phone_page.goto("/import")
    expect(phone_page.get_by_role("button", name="Import", exact=True)).to_be_visible()
    check_accessibility(phone_page)
    screenshot(phone_page, "import-page")

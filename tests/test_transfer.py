"""Taking history out (the account's ZIP, the chosen threads' ZIP, the
admin's export of an account) and the import pages and API (issue 15)."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
import uuid
import zipfile

import pytest
from sqlalchemy import select

from tests.api.conftest import bearer, make_token
from tests.factories import HTMX, add_thread, sign_in
from tests.html import parse
from tests.imports import fixture, running_import, threads_of
from webapp.branches import edit_message, regenerate
from webapp.conversations import append_message, get_conversation, set_thread_settings
from webapp.extensions import db
from webapp.imports import wait_for_imports
from webapp.models import AuditEvent, Conversation, ImportJob, User, utcnow

JOB_URL = re.compile(r"/import/([0-9a-f-]{36})$")


def unzip(response) -> zipfile.ZipFile:
    assert (response.status_code, response.mimetype) == (200, "application/zip"), response.status_code
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def conversations_json(archive: zipfile.ZipFile) -> list[dict]:
    return json.loads(archive.read("conversations.json"))


@pytest.fixture
def signed_in(client, user):
    sign_in(client, user)
    return user


@pytest.fixture
def branching(app, user):
    """alice's thread with an edited question and a regenerated reply, a model
    and a system prompt; the first branch shown again."""
    with app.app_context():
        alice = db.session.get(User, user.id)
        thread = add_thread(alice, "Lisbon trams", messages=2)
        set_thread_settings(thread, "llama3.1:8b", "Be brief.")
        first_question, first_reply = thread_messages(thread)
        edited, pending = edit_message(thread, first_question, "Which tram goes to Belém?")
        pending.status, pending.content = "complete", "The 15E."
        regenerate(thread, first_reply).status = "error"
        db.session.commit()
        return thread.id


def thread_messages(thread):
    from webapp.models import Message

    return list(db.session.scalars(select(Message).where(Message.conversation_id == thread.id).order_by(Message.id)))


# --- the account's export ---------------------------------------------------------------------


def test_the_settings_page_offers_the_export_and_the_import(client, signed_in):
    page = parse(client.get("/settings").text)
    data = page.one("region", "Your data")
    assert data.one("link", "Export all chats")["href"] == "/settings/export"
    assert data.one("link", "Import chats from ChatGPT, Open WebUI or Parley")["href"] == "/import"
    assert parse(client.get("/").text).one("navigation", "Account").one("link", "Import")["href"] == "/import"


def test_the_account_export_holds_every_branch_and_a_markdown_file_per_thread(app, client, signed_in, branching):
    with app.app_context():
        alice = db.session.get(User, signed_in.id)
        add_thread(alice, "Lisbon trams", messages=1)  # the same title: its own file name
        trashed = add_thread(alice, "In the trash", messages=1)
        trashed.deleted_at = utcnow()
        db.session.commit()
    day = f"{utcnow():%Y-%m-%d}"
    response = client.get("/settings/export")
    # The export's day: the one its request began on or ended on (at midnight they differ).
    assert response.headers["Content-Disposition"] in {
        f'attachment; filename="parley-export-alice-{when}.zip"' for when in (day, f"{utcnow():%Y-%m-%d}")
    }
    archive = unzip(response)
    assert archive.namelist() == [
        "conversations.json",
        f"markdown/{day}-Lisbon-trams.md",
        f"markdown/{day}-Lisbon-trams-2.md",
    ]
    threads = conversations_json(archive)
    assert [t["conversation"]["title"] for t in threads] == ["Lisbon trams", "Lisbon trams"]
    first = threads[0]
    assert first["conversation"]["id"] == str(branching)
    assert (first["conversation"]["model"], first["conversation"]["system_prompt"]) == ("llama3.1:8b", "Be brief.")
    # Every branch, in the order added, in the API's shapes.
    assert [(m["role"], m["content"], m["status"]) for m in first["messages"]] == [
        ("user", "Message 001", "complete"),
        ("assistant", "Message 002", "complete"),
        ("user", "Which tram goes to Belém?", "complete"),
        ("assistant", "The 15E.", "complete"),
        ("assistant", "", "error"),
    ]
    assert set(first["messages"][0]) >= {"id", "conversation_id", "parent_id", "role", "content", "created_at"}
    markdown = archive.read(f"markdown/{day}-Lisbon-trams.md").decode()
    assert markdown.startswith("# Lisbon trams\n")
    # The shown branch only: the regenerated reply's branch.
    assert "Which tram goes to Belém?" not in markdown or "Message 001" not in markdown


def test_any_title_gives_a_markdown_file_name_safe_to_unpack(app, client, signed_in):
    titles = ["../../etc/passwd", "a/b\\c", "<script>alert(1)</script>", "🎉 Party 🎉", "x" * 255, "𝐀" * 255, ".."]
    with app.app_context():
        alice = db.session.get(User, signed_in.id)
        for title in titles:
            add_thread(alice, title, messages=1)
        db.session.commit()
    names = unzip(client.get("/settings/export")).namelist()[1:]
    stems = {re.fullmatch(r"markdown/\d{4}-\d\d-\d\d-([^/]+)\.md", name).group(1) for name in names}
    bold = next(stem for stem in stems if stem.startswith("𝐀"))
    assert stems == {"etc-passwd", "a-b-c", "script-alert-1-script", "Party", "x" * 80, bold, "chat"}
    # Most file systems take at most 255 bytes a name; 𝐀 is four.
    assert set(bold) == {"𝐀"} and all(len(name.removeprefix("markdown/").encode()) <= 255 for name in names)


def test_an_export_imports_back_exactly_into_another_account(app, client, signed_in, branching, make_user):
    exported = client.get("/settings/export").get_data()
    maria = make_user("maria")
    sign_in(client, maria)
    response = client.post("/import", data={"file": (io.BytesIO(exported), "parley-export.zip")})
    assert response.status_code == 303
    wait_for_imports(app)
    [original] = threads_of(app, signed_in)
    [copy] = threads_of(app, maria)
    assert copy.id != original.id and copy.source_id == f"parley:{original.id}"
    for name in ("title", "model", "system_prompt", "created_at", "updated_at", "pinned", "archived", "shown"):
        assert getattr(copy, name) == getattr(original, name), name
    assert [(m.position, m.parent, m.role, m.content, m.status, m.created_at) for m in copy.messages] == [
        (m.position, m.parent, m.role, m.content, m.status, m.created_at) for m in original.messages
    ]


def test_an_untitled_thread_stays_untitled_through_an_export_and_an_import(
    app, client, signed_in, make_thread, make_user
):
    make_thread(signed_in, None, messages=2)
    exported = client.get("/settings/export").get_data()
    maria = make_user("maria")
    sign_in(client, maria)
    assert client.post("/import", data={"file": (io.BytesIO(exported), "parley-export.zip")}).status_code == 303
    wait_for_imports(app)
    [copy] = threads_of(app, maria)
    assert (copy.title, copy.shown_texts) == (None, ["Message 001", "Message 002"])


def test_a_thread_with_no_messages_comes_back_through_an_export_and_an_import(
    app, client, signed_in, make_thread, make_user
):
    make_thread(signed_in, "Started through the API", messages=0)
    exported = client.get("/settings/export").get_data()
    maria = make_user("maria")
    sign_in(client, maria)
    client.post("/import", data={"file": (io.BytesIO(exported), "parley-export.zip")})
    wait_for_imports(app)
    [original] = threads_of(app, signed_in)
    [copy] = threads_of(app, maria)
    assert (copy.title, copy.created_at, copy.updated_at, copy.message_count, copy.messages, copy.shown) == (
        "Started through the API",
        original.created_at,
        original.updated_at,
        0,
        [],
        [],
    )


def test_the_export_streams_in_constant_memory(app, client, signed_in, monkeypatch):
    """Five times the messages (both many batches of them), about the same
    peak memory while writing the ZIP."""
    from webapp import exports

    monkeypatch.setattr(exports, "BATCH", 50)

    def peak_while_exporting(messages: int) -> int:
        with app.app_context():
            alice = db.session.get(User, signed_in.id)
            thread = add_thread(alice, f"Long {messages}")
            for n in range(messages):
                append_message(thread, "user" if n % 2 else "assistant", f"Message {n}: " + "lorem ipsum " * 40)
            db.session.commit()
            thread_id = thread.id
        tracemalloc.start()
        try:
            response = client.get("/c/export.zip", query_string={"ids": str(thread_id)}, buffered=False)
            size = sum(len(chunk) for chunk in response.response)
            response.close()
            return tracemalloc.get_traced_memory()[1], size
        finally:
            tracemalloc.stop()

    small_peak, small_size = peak_while_exporting(300)
    large_peak, large_size = peak_while_exporting(1500)
    assert large_size > 4 * small_size
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)


def test_chosen_threads_export_leaves_out_others_and_the_trash(app, client, signed_in, other_user, make_thread):
    mine = make_thread(signed_in, "Mine", messages=2)
    also = make_thread(signed_in, "Also mine", messages=1)
    make_thread(signed_in, "Not chosen", messages=1)
    theirs = make_thread(other_user, "Theirs", messages=1)
    trashed = make_thread(signed_in, "Trashed", messages=1)
    with app.app_context():
        db.session.get(Conversation, trashed).deleted_at = utcnow()
        db.session.commit()
    response = client.get(
        "/c/export.zip", query_string=[("ids", str(i)) for i in (mine, also, theirs, trashed)] + [("ids", "nope")]
    )
    assert response.headers["Content-Disposition"].startswith('attachment; filename="parley-chats-alice-')
    titles = [t["conversation"]["title"] for t in conversations_json(unzip(response))]
    assert titles == ["Mine", "Also mine"]
    refused = client.get("/c/export.zip")
    assert refused.status_code == 422
    assert "Choose the chats to export." in refused.text


def test_an_admin_exports_an_account_and_the_audit_log_says_so(app, client, admin_user, make_user):
    carol = make_user("carol")
    with app.app_context():
        add_thread(db.session.get(User, carol.id), "Carol's plans", messages=2)
        db.session.commit()
    sign_in(client, admin_user)
    row = parse(client.get("/admin/users").text).one("row", re.compile("carol"))
    assert row.one("button", "Export the chats of carol")
    archive = unzip(client.post(f"/admin/users/{carol.id}/export"))
    assert [t["conversation"]["title"] for t in conversations_json(archive)] == ["Carol's plans"]
    with app.app_context():
        event = db.session.scalars(select(AuditEvent)).one()
        assert (event.action, event.actor_name, event.target_owner_name, event.detail) == (
            "export_user",
            "root",
            "carol",
            "1 thread",
        )
    assert "Exported an account" in client.get("/admin/audit").text


# --- the import page ------------------------------------------------------------------------------


def test_the_import_page_takes_a_file_and_follows_the_job_to_its_report(app, client, signed_in):
    page = parse(client.get("/import").text)
    form = page.one("form", action="/import")
    assert form["enctype"] == "multipart/form-data"
    assert form.by_label("Export file")["name"] == "file"
    response = client.post("/import", data={"file": (io.BytesIO(fixture("chatgpt-modern-export.json")[1]), "c.json")})
    assert response.status_code == 303
    job_id = JOB_URL.search(response.headers["Location"]).group(1)
    wait_for_imports(app)
    report = parse(client.get(f"/import/{job_id}").text)
    assert report.one("heading", level=2).text == "Import finished"
    assert "2 chats" in report.one("status", re.compile("Imported")).text
    assert "Corrupted entry" in report.text and "mapping" in report.text
    # The partial that htmx polls for, and the list of the latest imports.
    partial = client.get(f"/import/{job_id}", headers=HTMX)
    assert partial.text.lstrip().startswith('<section id="import-job"') and "hx-get" not in partial.text
    latest = parse(client.get("/import").text).one("region", "Your latest imports")
    assert latest.one("link", re.compile(r"\d"))["href"] == f"/import/{job_id}"
    assert "2 imported, 0 already here, 1 failed" in latest.text


def test_a_running_job_polls_and_shows_its_progress(app, client, signed_in):
    job_id = running_import(app, signed_in, bytes_done=420, imported=7)
    page = parse(client.get(f"/import/{job_id}").text)
    section = page.one("region", "Importing…")
    assert section["hx-get"] == f"/import/{job_id}" and section["hx-trigger"] == "every 1s"
    assert section.one("progressbar", "Importing…")["value"] == "42"
    assert "7 chats imported so far" in section.text


def test_an_import_without_a_file_is_refused(client, signed_in):
    response = client.post("/import", data={})
    assert response.status_code == 422
    assert "Choose a file to import." in parse(response.text).one("form", action="/import").text


def multipart(data: bytes, filename: str = "conversations.json") -> dict:
    """A request with ``data`` as the ``file`` field, built here: the test
    client spools a large body to a file that it leaves open when the app
    refuses to read it."""
    boundary = "parley-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_an_upload_over_the_limit_is_413_with_a_message(make_app, client_for, make_user):
    app = make_app(PARLEY_IMPORT_MAX_MB=1)
    client = client_for(app)
    sign_in(client, make_user("zoe"))
    response = client.post("/import", **multipart(b"[" + b" " * (1024 * 1024 + 10) + b"]"))
    assert response.status_code == 413
    assert "larger than 1 MB" in parse(response.text).one("alert").text
    with app.app_context():
        assert db.session.scalar(select(ImportJob)) is None


def test_another_users_import_is_not_found(app, client, signed_in, other_user):
    with app.app_context():
        job = ImportJob(user_id=other_user.id, status="done", files=[], errors=[])
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    assert client.get(f"/import/{job_id}").status_code == 404
    assert client.get(f"/import/{uuid.uuid4()}").status_code == 404


# --- the API ------------------------------------------------------------------------------------


def test_the_api_imports_in_the_background_and_reports(app, client, user, other_user):
    token = bearer(make_token(app, user))
    response = client.post(
        "/api/import",
        headers=token,
        data={"file": (io.BytesIO(fixture("openwebui-export.json")[1]), "openwebui.json")},
    )
    assert response.status_code == 202
    job = response.json["job"]
    assert response.headers["Location"] == f"/api/import/{job['id']}"
    assert job["status"] in ("queued", "running", "done") and job["files"] == ["openwebui.json"]
    wait_for_imports(app)
    # The job itself, as POST answered it inside {"job": …}.
    done = client.get(f"/api/import/{job['id']}", headers=token).json
    assert set(done) == set(job) and done["id"] == job["id"]
    assert {k: done[k] for k in ("status", "imported", "skipped", "failed", "errors", "messages")} == {
        "status": "done",
        "imported": 3,
        "skipped": 0,
        "failed": 0,
        "errors": [],
        "messages": 6,
    }
    assert done["progress"] == 1.0 and done["formats"] == ["Open WebUI"]
    theirs = client.get(f"/api/import/{job['id']}", headers=bearer(make_token(app, other_user)))
    assert (theirs.status_code, theirs.json["error"]["code"]) == (404, "not_found")


def test_the_api_refuses_an_import_without_a_file_and_one_too_large(make_app, client_for, make_user):
    app = make_app(PARLEY_IMPORT_MAX_MB=1)
    client = client_for(app)
    token = bearer(make_token(app, make_user("zoe")))
    missing = client.post("/api/import", headers=token, data={})
    assert (missing.status_code, missing.json["error"]["field"]) == (422, "file")
    big = client.post("/api/import", headers=token, **multipart(b" " * (1024 * 1024 + 1)))
    assert (big.status_code, big.json["error"]["code"]) == (413, "too_large")
    assert "larger than 1 MB" in big.json["error"]["message"]


def test_the_api_exports_the_account(app, client, user, make_thread):
    make_thread(user, "Through the API", messages=2)
    archive = unzip(client.get("/api/export", headers=bearer(make_token(app, user))))
    assert [t["conversation"]["title"] for t in conversations_json(archive)] == ["Through the API"]


def test_imported_threads_open_like_any_other(app, client, signed_in):
    client.post("/import", data={"file": (io.BytesIO(fixture("chatgpt-multimodal.json")[1]), "c.json")})
    wait_for_imports(app)
    with app.app_context():
        chart = db.session.scalars(select(Conversation).where(Conversation.title == "Chart from a photo")).one()
        get_conversation(db.session.get(User, signed_in.id), chart.id)
        chart_id = chart.id
    page = parse(client.get(f"/c/{chart_id}").text)
    assert page.one("heading", level=1).text == "Chart from a photo"
    assert "[Generated image 1024×1024: A bar chart of quarterly sales: Q2 900, Q3 1200]" in page.text
    assert page.one("link", "Chart from a photo")["href"] == f"/c/{chart_id}"  # in the sidebar

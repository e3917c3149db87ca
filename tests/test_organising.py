"""Organising threads: pin, archive, the trash (Undo, restore, purge, empty,
the purge after PARLEY_TRASH_DAYS), and bulk actions; the data layer first,
then the pages (plain and htmx), then the API."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from tests.factories import HTMX, add_thread, sign_in
from tests.html import parse, sidebar_titles
from tests.plans import query_plan
from webapp import organising
from webapp.conversations import append_message, get_conversation, list_conversations
from webapp.errors import Conflict, InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import Chore, Conversation, Message, Share, User, utcnow
from webapp.organising import bulk, list_sidebar, list_trash, move_to_trash, purge_expired, purge_when_due
from webapp.search import search
from webapp.shares import find_share, share_thread


def titles(page) -> list[str]:
    return [conversation.title for conversation in page.items]


def thread_state(app, thread_id) -> tuple | None:
    with app.app_context():
        row = db.session.execute(
            select(Conversation.pinned, Conversation.archived, Conversation.deleted_at.is_not(None)).where(
                Conversation.id == thread_id
            )
        ).one_or_none()
        return tuple(row) if row else None


# --- the data layer --------------------------------------------------------------------------


def test_pinned_threads_head_the_sidebar_and_pinning_is_not_activity(ctx, user):
    old = add_thread(user, "Old", ago=timedelta(days=3))
    add_thread(user, "New")
    before = old.updated_at
    organising.set_pinned(old, True)
    db.session.commit()
    assert titles(list_sidebar(user)) == ["Old", "New"]
    assert db.session.get(Conversation, old.id).updated_at == before


def test_the_sidebar_pages_through_pinned_then_the_rest_without_gaps(ctx, user):
    for n in range(7):
        thread = add_thread(user, f"t{n}", ago=timedelta(minutes=n))
        thread.pinned = n % 3 == 0  # t0, t3, t6
    db.session.commit()
    seen, cursor = [], None
    while True:
        page = list_sidebar(user, cursor, limit=2)
        seen += titles(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == ["t0", "t3", "t6", "t1", "t2", "t4", "t5"]


def test_archived_and_trashed_threads_leave_the_sidebar_and_posting_brings_an_archived_one_back(ctx, user):
    kept, archived, trashed = (add_thread(user, title) for title in ("Kept", "Archived", "Trashed"))
    organising.set_archived(archived, True)
    move_to_trash(trashed)
    db.session.commit()
    assert titles(list_sidebar(user)) == ["Kept"]
    assert titles(organising.list_archive(user)) == ["Archived"]
    assert titles(list_trash(user)) == ["Trashed"]
    assert titles(list_conversations(user, state="trash")) == ["Trashed"]
    append_message(archived, "user", "back again")
    db.session.commit()
    assert titles(list_sidebar(user)) == ["Archived", "Kept"]


def test_a_thread_in_the_trash_is_gone_everywhere_but_the_trash(ctx, user):
    thread = add_thread(user, "Zeppelin notes", messages=2)
    token = share_thread(thread).token
    db.session.commit()
    move_to_trash(thread)
    db.session.commit()
    with pytest.raises(NotFound):
        get_conversation(user, thread.id)
    assert search(user, "zeppelin").items == []
    with pytest.raises(NotFound):
        find_share(token)
    organising.restore(db.session.get(Conversation, thread.id))
    db.session.commit()
    assert find_share(token).conversation_id == thread.id  # the link works again
    assert [hit.conversation.id for hit in search(user, "zeppelin").items] == [thread.id]


def test_restore_keeps_its_place_and_its_pin(ctx, user):
    thread = add_thread(user, "Pinned one", ago=timedelta(days=2))
    thread.pinned = True
    before = thread.updated_at
    move_to_trash(thread)
    organising.restore(thread)
    db.session.commit()
    restored = db.session.get(Conversation, thread.id)
    assert (restored.pinned, restored.deleted_at, restored.updated_at) == (True, None, before)


def test_purge_deletes_only_a_thread_in_the_trash_with_everything_it_holds(ctx, user):
    thread = add_thread(user, "Doomed", messages=3)
    share_thread(thread)
    db.session.commit()
    with pytest.raises(Conflict):
        organising.purge(thread)
    move_to_trash(thread)
    organising.purge(thread)
    db.session.commit()
    assert db.session.get(Conversation, thread.id) is None
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert db.session.scalar(select(func.count()).select_from(Share)) == 0


def test_the_purge_takes_what_has_been_in_the_trash_longer_than_the_setting(app, ctx, user):
    now = utcnow()
    due, not_yet, active = (add_thread(user, title) for title in ("Due", "Not yet", "Active"))
    due.deleted_at = now - timedelta(days=30, seconds=1)
    not_yet.deleted_at = now - timedelta(days=29, hours=23)
    db.session.commit()
    assert purge_expired(now) == 1
    db.session.commit()
    assert sorted(db.session.scalars(select(Conversation.title))) == ["Active", "Not yet"]
    app.config["PARLEY_TRASH_DAYS"] = 1
    assert purge_expired(now) == 1
    db.session.commit()
    assert list(db.session.scalars(select(Conversation.title))) == ["Active"]


def test_with_no_trash_delete_is_at_once(app, ctx, user):
    app.config["PARLEY_TRASH_DAYS"] = 0
    thread = add_thread(user, "Gone", messages=1)
    assert move_to_trash(thread) is False
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_the_hourly_purge_runs_once_an_hour_whoever_asks(ctx, user):
    thread = add_thread(user, "Old trash")
    thread.deleted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    now = utcnow()
    assert purge_when_due(now) == 1
    assert purge_when_due(now + timedelta(minutes=59)) is None  # another instance, within the hour
    assert purge_when_due(now + timedelta(minutes=61)) == 0
    assert db.session.scalar(select(func.count()).select_from(Chore)) == 1


def test_the_app_purges_by_itself_in_the_background(make_app, user):
    app = make_app(PARLEY_AUTOMATIC_PURGE=True)
    with app.app_context():
        db.create_all()
        owner = db.session.merge(user) if False else None  # noqa: F841  (user lives in another app's database)
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        thread = add_thread(alice, "Old trash")
        thread.deleted_at = utcnow() - timedelta(days=31)
        db.session.commit()
        thread_id = thread.id
    app.test_client().get("/healthz")
    deadline = time.monotonic() + 30
    while True:
        with app.app_context():
            if db.session.get(Conversation, thread_id) is None:
                break
        assert time.monotonic() < deadline, "the purge did not run"
        threading.Event().wait(0.05)


def test_bulk_acts_on_the_users_own_threads_only_and_counts_the_rest(ctx, user, other_user):
    mine = [add_thread(user, f"m{n}") for n in range(3)]
    theirs = add_thread(other_user, "theirs")
    db.session.commit()
    result = bulk(user, "archive", [mine[0].id, mine[1].id, theirs.id, uuid.uuid4()])
    db.session.commit()
    assert (result.done, result.not_found) == (2, 2)
    assert result.notice == "2 chats archived. 2 not found."
    assert db.session.get(Conversation, theirs.id).archived is False
    assert titles(organising.list_archive(user)) == ["m1", "m0"]
    result = bulk(user, "restore", [mine[2].id])  # not in the trash: nothing to restore
    assert (result.done, result.not_found) == (0, 1)


def test_bulk_is_one_transaction(ctx, user):
    threads = [add_thread(user, f"t{n}") for n in range(3)]
    db.session.commit()
    bulk(user, "delete", [thread.id for thread in threads])
    db.session.rollback()  # the request failed after the action: nothing of it stays
    assert titles(list_sidebar(user)) == ["t2", "t1", "t0"]


def test_bulk_refuses_unknown_actions_and_malformed_ids(ctx, user):
    with pytest.raises(InvalidInput):
        organising.check_action("explode")
    with pytest.raises(InvalidInput):
        organising.parse_ids(["not-an-id"])


def test_bulk_delete_keeps_the_date_of_what_was_already_in_the_trash(ctx, user):
    old = add_thread(user, "Old trash")
    old.deleted_at = when = utcnow() - timedelta(days=10)
    new = add_thread(user, "New")
    db.session.commit()
    result = bulk(user, "delete", [old.id, new.id])
    db.session.commit()
    assert result.done == 2
    assert db.session.get(Conversation, old.id).deleted_at == when


def test_the_purge_command(app, ctx, user):
    thread = add_thread(user, "Old trash")
    thread.deleted_at = utcnow() - timedelta(days=40)
    db.session.commit()
    result = CliRunner().invoke(app.cli, ["purge-trash"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 chat in the trash for more than 30 days." in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def alice(client, user):
    sign_in(client, user)
    return user


def test_pin_from_the_menu_puts_it_under_pinned(app, client, alice, make_thread):
    old = make_thread(alice, "Old", ago=timedelta(days=3))
    make_thread(alice, "New")
    response = client.post(f"/c/{old}/pin", data={"pinned": "1"})
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{old}")
    page = parse(client.get("/").text)
    assert [item.by_role("link")[0].text for item in page.one("list", "Pinned").by_role("listitem")] == ["Old"]
    assert sidebar_titles(client.get("/").text) == ["Old", "New"]
    assert thread_state(app, old) == (True, False, False)
    htmx = client.post(
        f"/c/{old}/pin", data={"pinned": "0"}, headers={**HTMX, "HX-Current-URL": f"http://localhost/c/{old}"}
    )
    html = parse(htmx.text)
    assert html.by_id("flashes").has_text("“Old” is unpinned.")
    assert html.by_id("pane-header")["hx-swap-oob"] == "true"  # its menu now says Pin
    assert sidebar_titles(htmx.text) == ["New", "Old"]


def test_archive_and_the_archive_page(app, client, alice, make_thread):
    thread = make_thread(alice, "Old project")
    response = client.post(f"/c/{thread}/archive", data={"archived": "1"})
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    home = parse(client.get("/").text)
    assert sidebar_titles(str(home)) == []
    assert home.one("link", "Archive")["href"] == "/archive"
    archive = parse(client.get("/archive").text)
    assert archive.one("heading", level=1).text == "Archive"
    item = archive.by_id(f"thread-{thread}")
    assert item.one("link", "Old project")["href"] == f"/c/{thread}"
    assert item.one("checkbox", "Select “Old project”")["form"] == "bulk-list"
    assert client.get(f"/c/{thread}").status_code == 200  # still readable
    client.post(f"/c/{thread}/archive", data={"archived": "0", "next": "/archive"})
    assert thread_state(app, thread) == (False, False, False)


def test_a_bad_flag_is_refused(client, alice, make_thread):
    thread = make_thread(alice)
    assert client.post(f"/c/{thread}/pin", data={"pinned": "yes"}).status_code == 422


def test_undo_after_delete_restores_it_in_place_over_htmx(app, client, alice, make_thread):
    thread = make_thread(alice, "Oops", ago=timedelta(days=1))
    make_thread(alice, "Newer")
    deleted = client.post(f"/c/{thread}/delete", headers={**HTMX, "HX-Current-URL": "http://localhost/"})
    undo = parse(deleted.text).by_id("flashes").one("form", action=f"/c/{thread}/restore")
    assert undo.one("button", "Undo")
    restored = client.post(undo["action"], headers={**HTMX, "HX-Current-URL": "http://localhost/"})
    assert parse(restored.text).by_id("flashes").has_text("“Oops” is restored.")
    assert sidebar_titles(restored.text) == ["Newer", "Oops"]  # its old place: not activity
    assert thread_state(app, thread) == (False, False, False)


def test_undo_without_javascript_goes_to_the_thread(client, alice, make_thread):
    thread = make_thread(alice, "Oops")
    client.post(f"/c/{thread}/delete")
    response = client.post(f"/c/{thread}/restore")
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{thread}")
    assert client.get(f"/c/{thread}").status_code == 200


def test_the_trash_page_lists_with_purge_dates_and_offers_restore_and_delete_forever(app, client, alice, make_thread):
    first, second = make_thread(alice, "First"), make_thread(alice, "Second")
    client.post(f"/c/{first}/delete")
    client.post(f"/c/{second}/delete")
    page = parse(client.get("/trash").text)
    assert page.one("heading", level=1).text == "Trash"
    items = [item for item in page.by_role("listitem") if (item.get("id") or "").startswith("thread-")]
    assert [item["id"] for item in items] == [f"thread-{second}", f"thread-{first}"]  # latest trashed first
    assert items[0].has_text("deleted for good on")
    assert items[0].one("form", action=f"/c/{second}/restore").one("button", "Restore “Second”")
    assert items[0].one("form", action=f"/c/{second}/purge").one("button", "Delete forever “Second”")
    response = client.post(f"/c/{second}/purge")
    assert (response.status_code, response.headers["Location"]) == (303, "/trash")
    assert thread_state(app, second) is None
    assert "“Second” is deleted for good." in client.get("/trash").text


def test_empty_trash_deletes_only_the_trash_of_the_user(app, client, alice, other_user, make_thread):
    mine, kept = make_thread(alice, "Mine"), make_thread(alice, "Kept")
    theirs = make_thread(other_user, "Theirs")
    client.post(f"/c/{mine}/delete")
    with app.app_context():
        db.session.execute(update(Conversation).where(Conversation.id == theirs).values(deleted_at=utcnow()))
        db.session.commit()
    response = client.post("/trash/empty")
    assert (response.status_code, response.headers["Location"]) == (303, "/trash")
    assert thread_state(app, mine) is None
    assert thread_state(app, kept) == (False, False, False)
    assert thread_state(app, theirs) == (False, False, True)


def test_restoring_a_purged_thread_is_404_and_purging_a_live_one_is_409(app, client, alice, make_thread):
    thread = make_thread(alice, "Here")
    assert client.post(f"/c/{thread}/purge").status_code == 409
    assert thread_state(app, thread) == (False, False, False)
    client.post(f"/c/{thread}/delete")
    client.post(f"/c/{thread}/purge")
    response = client.post(f"/c/{thread}/restore")
    assert response.status_code == 404
    assert "deleted for good" in response.text


def test_another_users_thread_cannot_be_pinned_trashed_restored_or_purged(app, client, alice, other_user, make_thread):
    theirs = make_thread(other_user, "Theirs")
    for action, data in (("pin", {"pinned": "1"}), ("archive", {"archived": "1"}), ("delete", {})):
        assert client.post(f"/c/{theirs}/{action}", data=data).status_code == 404
    with app.app_context():
        db.session.execute(update(Conversation).where(Conversation.id == theirs).values(deleted_at=utcnow()))
        db.session.commit()
    for action in ("restore", "purge"):
        assert client.post(f"/c/{theirs}/{action}").status_code == 404
    assert thread_state(app, theirs) == (False, False, True)


def test_bulk_from_the_sidebar_select_mode(app, client, alice, other_user, make_thread):
    ones = [make_thread(alice, f"t{n}") for n in range(3)]
    theirs = make_thread(other_user, "Theirs")
    select = parse(client.get("/sidebar?select=1").text)
    form = select.one("form", "Act on the selected chats")
    assert form["action"] == "/c/bulk"
    assert [button["value"] for button in form.by_role("button") if button.get("name") == "action"] == [
        "pin",
        "unpin",
        "archive",
        "delete",
        "export",
    ]
    assert select.by_id(f"thread-{ones[0]}").one("checkbox")["form"] == form["id"]
    response = client.post(
        "/c/bulk",
        data={"action": "archive", "ids": [str(ones[0]), str(ones[1]), str(theirs)]},
        headers={"Referer": "http://localhost/archive"},
    )
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    assert "2 chats archived. 1 not found." in client.get("/").text
    assert thread_state(app, theirs) == (False, False, False)
    assert [thread_state(app, one)[1] for one in ones] == [True, True, False]


def test_bulk_from_a_thread_page_goes_back_to_it_unless_it_went_to_the_trash(app, client, alice, make_thread):
    shown, other = make_thread(alice, "Shown"), make_thread(alice, "Other")
    # Select mode entered from the thread's page keeps it highlighted (and so
    # does leaving it), and its form comes back to the thread.
    from_thread = {**HTMX, "HX-Current-URL": f"http://localhost/c/{shown}"}
    page = parse(client.get("/sidebar?select=1", headers=from_thread).text)
    assert "current" in page.by_id(f"thread-{shown}").classes
    form = page.one("form", "Act on the selected chats")
    assert [field["value"] for field in form.having(name="next")] == [f"/c/{shown}"]
    done = parse(client.get("/sidebar", headers=from_thread).text)
    assert "current" in done.by_id(f"thread-{shown}").classes

    response = client.post("/c/bulk", data={"action": "archive", "ids": [str(other)], "next": f"/c/{shown}"})
    assert (response.status_code, response.headers["Location"]) == (303, f"/c/{shown}")
    # The thread shown itself to the trash: its page is gone, so the new-chat page.
    response = client.post("/c/bulk", data={"action": "delete", "ids": [str(shown)], "next": f"/c/{shown}"})
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    assert thread_state(app, shown) == (False, False, True)
    assert "1 chat moved to the trash." in client.get("/").text


@pytest.mark.parametrize("page", ["/archive", "/trash", "/search?q=zeppelin"])
def test_bulk_from_the_archive_the_trash_and_search_comes_back_to_the_page(app, client, alice, make_thread, page):
    thread = make_thread(alice, "Zeppelin")
    if page != "/search?q=zeppelin":
        client.post("/c/bulk", data={"action": "archive" if page == "/archive" else "delete", "ids": [str(thread)]})
    form = parse(client.get(page).text).one("form", "Act on the selected chats")
    [next_url] = [field["value"] for field in form.having(name="next")]
    assert next_url == page
    action = {"/archive": "unarchive", "/trash": "restore"}.get(page, "pin")
    response = client.post("/c/bulk", data={"action": action, "ids": [str(thread)], "next": next_url})
    assert (response.status_code, response.headers["Location"]) == (303, page)
    assert thread_state(app, thread) == ((True, False, False) if action == "pin" else (False, False, False))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "explode", "ids": "x"}, "Choose an action"),
        ({"action": "pin"}, "Tick the chats"),
        ({"action": "pin", "ids": "not-an-id"}, "is not a chat id"),
        ({"action": "pin", "all": "1"}, "Say which chats"),
    ],
)
def test_bulk_bad_input_is_400_and_changes_nothing(app, client, alice, make_thread, data, message):
    thread = make_thread(alice)
    response = client.post("/c/bulk", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert thread_state(app, thread) == (False, False, False)


def test_bulk_on_every_search_result_and_the_whole_trash(app, client, alice, make_thread):
    hits = [make_thread(alice, f"Zeppelin {n}") for n in range(25)]  # more than a page of results
    other = make_thread(alice, "Other")
    response = client.post("/c/bulk", data={"action": "delete", "all": "1", "q": "zeppelin"})
    assert response.status_code == 303
    assert "25 chats moved to the trash." in client.get("/").text
    assert [thread_state(app, hit)[2] for hit in hits] == [True] * 25
    assert thread_state(app, other) == (False, False, False)
    client.post("/c/bulk", data={"action": "restore", "all": "1", "scope": "trash"})
    assert [thread_state(app, hit)[2] for hit in hits] == [False] * 25


def test_search_marks_archived_hits_and_offers_select_mode(client, alice, make_thread):
    thread = make_thread(alice, "Zeppelin archive")
    client.post(f"/c/{thread}/archive", data={"archived": "1"})
    page = parse(client.get("/search?q=zeppelin").text)
    hit = page.one("listitem", "Zeppelin archive Archived")
    assert hit.one("checkbox", "Select “Zeppelin archive”")["form"] == "bulk-search"
    everything = page.one("form", "Act on the selected chats")
    assert [field["value"] for field in everything.having(name="q")] == ["zeppelin"]


# --- the admin --------------------------------------------------------------------------------------


def test_admin_sees_the_trash_and_restores_or_purges_with_audit(app, client, admin_user, user, make_thread):
    from webapp.models import AuditEvent

    thread = make_thread(user, "Alice's")
    sign_in(client, admin_user)
    client.post(f"/admin/conversations/{thread}/delete")
    trash = parse(client.get("/admin/conversations?state=trash").text)
    row = trash.by_id(f"conv-{thread}")
    assert row.one("form", action=f"/admin/conversations/{thread}/restore")
    assert client.post(f"/admin/conversations/{thread}/restore").status_code == 303
    assert thread_state(app, thread) == (False, False, False)
    response = client.post("/admin/conversations/bulk", data={"action": "delete", "ids": str(thread)})
    assert response.status_code == 303
    client.post("/admin/conversations/bulk", data={"action": "purge", "ids": str(thread)})
    assert thread_state(app, thread) is None
    assert client.post("/admin/conversations/bulk", data={"action": "pin", "ids": str(thread)}).status_code == 400
    assert client.get("/admin/conversations?state=nowhere").status_code == 422
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["delete_thread", "restore_thread", "delete_thread", "purge_thread"]


@pytest.mark.parametrize("paged", [False, True], ids=["first page", "next page"])
def test_the_sidebar_walks_its_index_in_order(ctx, user, paged):
    for n in range(6):
        thread = add_thread(user, f"t{n}", ago=timedelta(minutes=n))
        thread.pinned = n < 3
    db.session.commit()
    cursor = list_sidebar(user, limit=2).next_cursor if paged else None
    plan = query_plan(lambda: list_sidebar(user, cursor, limit=2))
    assert "ix_conversations_user_sidebar" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    db.session.rollback()


def test_bulk_export_answers_the_chosen_threads_as_one_zip(client, alice, other_user, make_thread):
    import io
    import json
    import zipfile

    ticked, other = make_thread(alice, "Ticked", messages=2), make_thread(alice, "Zeppelin talk")
    make_thread(alice, "Left out")
    theirs = make_thread(other_user, "Theirs")

    def exported(data) -> list[str]:
        response = client.post("/c/bulk", data=data)
        assert (response.status_code, response.mimetype) == (200, "application/zip")
        assert response.headers["Content-Disposition"].startswith('attachment; filename="parley-chats-alice-')
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            return sorted(item["conversation"]["title"] for item in json.loads(archive.read("conversations.json")))

    assert exported({"action": "export", "ids": [str(ticked), str(theirs)]}) == ["Ticked"]
    assert exported({"action": "export", "all": "1", "q": "zeppelin"}) == ["Zeppelin talk"]
    assert other  # found by the search, not ticked

"""The admin data layer: every action, its audit event, and the rules that
keep at least one admin able to sign in."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text, update

from tests.factories import add_thread, add_user
from tests.plans import query_plan
from webapp.administration import (
    account_footprint,
    bulk_threads,
    delete_account,
    delete_thread,
    list_accounts,
    list_all_conversations,
    purge_thread,
    removal_refusal,
    rename_thread,
    restore_thread,
    set_active,
    set_role,
    title_words,
)
from webapp.audit import CLI_ACTOR, list_events
from webapp.errors import Conflict, InvalidInput
from webapp.extensions import db
from webapp.models import AuditEvent, Conversation, Message, User, utcnow


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


@pytest.fixture
def people(ctx):
    """An admin (root), two users (alice, bob); alice has a thread with messages."""
    root = add_user("root", "admin")
    alice = add_user("Alice")
    bob = add_user("bob")
    thread = add_thread(alice, "Alice's plans", messages=3)
    db.session.commit()
    return root, alice, bob, thread


# --- threads ------------------------------------------------------------------------------


def test_rename_thread_renames_counts_as_activity_and_is_audited(people):
    root, alice, _, thread = people
    before = thread.updated_at
    event_ = rename_thread(root, thread, "  Better   title ")
    db.session.commit()
    assert thread.title == "Better title"
    assert thread.updated_at > before
    assert (event_.action, event_.actor_id, event_.actor_name) == ("rename_thread", root.id, "root")
    assert (event_.target_type, event_.target_id, event_.target_owner_name) == ("conversation", str(thread.id), "Alice")
    assert (event_.old_value, event_.new_value) == ("Alice's plans", "Better title")
    assert event_.created_at.tzinfo is not None


def test_rename_and_its_audit_event_share_one_transaction(people):
    root, _, _, thread = people
    rename_thread(root, thread, "Not kept")
    db.session.rollback()
    assert db.session.get(Conversation, thread.id).title == "Alice's plans"
    assert events() == []


def test_rename_to_the_same_title_changes_and_logs_nothing(people):
    root, _, _, thread = people
    before = thread.updated_at
    assert rename_thread(root, thread, " Alice's   plans ") is None
    db.session.commit()
    assert thread.updated_at == before
    assert events() == []


@pytest.mark.parametrize(
    ("title", "message"), [("", "cannot be empty"), ("   ", "cannot be empty"), ("x" * 256, "at most 255")]
)
def test_rename_refuses_what_the_owner_could_not_set(people, title, message):
    root, _, _, thread = people
    with pytest.raises(InvalidInput, match=message):
        rename_thread(root, thread, title)
    db.session.commit()
    assert db.session.get(Conversation, thread.id).title == "Alice's plans"
    assert events() == []


def test_delete_restore_and_purge_of_a_thread_are_each_audited_with_title_and_owner(people):
    root, alice, _, thread = people
    thread_id = thread.id
    delete_thread(root, thread)
    db.session.commit()
    assert db.session.get(Conversation, thread_id).deleted_at is not None
    assert count(Message) == 3  # in the trash, not gone
    restore_thread(root, db.session.get(Conversation, thread_id))
    db.session.commit()
    assert db.session.get(Conversation, thread_id).deleted_at is None
    with pytest.raises(Conflict):  # only a thread in the trash is purged
        purge_thread(root, db.session.get(Conversation, thread_id))
    db.session.rollback()
    delete_thread(root, db.session.get(Conversation, thread_id))
    purge_thread(root, db.session.get(Conversation, thread_id))
    db.session.commit()
    assert db.session.get(Conversation, thread_id) is None
    assert count(Message) == 0
    assert [(e.action, e.target_id, e.target_owner_name, e.old_value, e.detail) for e in events()] == [
        ("delete_thread", str(thread_id), "Alice", "Alice's plans", "moved to the trash"),
        ("restore_thread", str(thread_id), "Alice", "Alice's plans", None),
        ("delete_thread", str(thread_id), "Alice", "Alice's plans", "moved to the trash"),
        ("purge_thread", str(thread_id), "Alice", "Alice's plans", "3 messages deleted with it"),
    ]


def test_with_no_trash_an_admin_delete_is_for_good(app, people):
    root, _, _, thread = people
    app.config["PARLEY_TRASH_DAYS"] = 0
    thread_id = thread.id
    delete_thread(root, thread)
    db.session.commit()
    assert db.session.get(Conversation, thread_id) is None
    assert [(e.action, e.detail) for e in events()] == [("delete_thread", "3 messages deleted with it")]


def test_bulk_acts_on_anyones_threads_auditing_each_and_counts_what_it_could_not(people):
    import uuid

    root, alice, bob, thread = people
    bobs = add_thread(bob, "Bob's", messages=1)
    db.session.commit()
    result = bulk_threads(root, "delete", [thread.id, bobs.id, uuid.uuid4()])
    db.session.commit()
    assert (result.done, result.not_found) == (2, 1)
    assert sorted(e.target_owner_name for e in events()) == ["Alice", "bob"]
    result = bulk_threads(root, "purge", [thread.id, bobs.id])
    db.session.commit()
    assert (result.done, result.not_found) == (2, 0)
    assert count(Message) == 0
    with pytest.raises(InvalidInput):
        bulk_threads(root, "pin", [thread.id])


# --- roles and status -----------------------------------------------------------------------


def test_promote_and_demote_are_audited_with_old_and_new_role(people):
    root, alice, _, _ = people
    set_role(root, alice, "admin")
    db.session.commit()
    assert alice.is_admin
    set_role(root, alice, "user")
    db.session.commit()
    assert not alice.is_admin
    assert [(e.action, e.old_value, e.new_value, e.target_owner_name) for e in events()] == [
        ("set_role", "user", "admin", "Alice"),
        ("set_role", "admin", "user", "Alice"),
    ]


def test_setting_the_role_it_has_changes_and_logs_nothing(people):
    root, alice, _, _ = people
    assert set_role(root, alice, "user") is None
    assert events() == []


@pytest.mark.parametrize("role", ["root", "", None, "ADMIN"])
def test_unknown_role_is_refused(people, role):
    root, alice, _, _ = people
    with pytest.raises(InvalidInput, match="admin or user"):
        set_role(root, alice, role)


def test_disabling_replaces_the_session_token_and_enabling_keeps_it(people):
    root, alice, _, _ = people
    old_token = alice.session_token
    set_active(root, alice, False)
    db.session.commit()
    assert not alice.active
    disabled_token = alice.session_token
    assert disabled_token != old_token
    set_active(root, alice, True)
    db.session.commit()
    assert alice.active and alice.session_token == disabled_token
    assert [(e.action, e.old_value, e.new_value) for e in events()] == [
        ("disable_user", "active", "disabled"),
        ("enable_user", "disabled", "active"),
    ]


def test_disabling_a_disabled_account_logs_nothing(people):
    root, alice, _, _ = people
    set_active(root, alice, False)
    assert set_active(root, alice, False) is None
    assert len(events()) == 1


# --- the last admin, and admins' own accounts ------------------------------------------------


REMOVALS = {
    "demote": lambda actor, user: set_role(actor, user, "user"),
    "disable": lambda actor, user: set_active(actor, user, False),
    "delete": lambda actor, user: delete_account(actor, user),
}


@pytest.mark.parametrize("removal", REMOVALS)
def test_the_last_active_admin_cannot_be_removed(people, removal):
    root, _, _, _ = people
    with pytest.raises(Conflict, match="root is the last active admin"):
        REMOVALS[removal](None, root)
    db.session.rollback()
    root = db.session.get(User, root.id)
    assert (root.role, root.active) == ("admin", True)
    assert events() == []


@pytest.mark.parametrize("removal", REMOVALS)
def test_a_disabled_admin_does_not_count_as_another_admin(people, removal):
    root, _, _, _ = people
    add_user("sleeper", "admin", active=False)
    with pytest.raises(Conflict, match="last active admin"):
        REMOVALS[removal](None, root)


@pytest.mark.parametrize("removal", REMOVALS)
def test_with_another_active_admin_an_admin_can_be_removed(people, removal):
    root, alice, _, _ = people
    set_role(None, alice, "admin")
    REMOVALS[removal](alice, root)
    db.session.commit()
    assert (
        db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True)))
        == 1
    )


@pytest.mark.parametrize("removal", REMOVALS)
def test_an_admin_cannot_remove_their_own_account(people, removal):
    root, alice, _, _ = people
    set_role(None, alice, "admin")  # so it is not about being the last admin
    db.session.commit()
    with pytest.raises(Conflict, match="your own account"):
        REMOVALS[removal](root, root)
    db.session.rollback()
    root = db.session.get(User, root.id)
    assert (root.role, root.active) == ("admin", True)


def test_removing_a_disabled_admin_is_allowed_even_with_one_active_admin(people):
    root, _, _, _ = people
    sleeper = add_user("sleeper", "admin", active=False)
    sleeper_id = sleeper.id
    set_role(root, sleeper, "user")
    delete_account(root, sleeper)
    db.session.commit()
    assert db.session.get(User, sleeper_id) is None
    assert [(e.action, e.target_owner_name, e.old_value, e.new_value) for e in events()] == [
        ("set_role", "sleeper", "admin", "user"),
        ("delete_user", "sleeper", "user", None),
    ]
    assert (root.role, root.active) == ("admin", True)


def test_promoting_and_enabling_work_when_no_admin_is_active(people):
    """The way back in from the command line, when every admin was disabled."""
    root, alice, _, _ = people
    db.session.execute(update(User).values(active=False))
    db.session.commit()
    set_role(None, alice, "admin")
    set_active(None, alice, True)
    db.session.commit()
    assert alice.is_admin and alice.active


def test_removal_refusal_says_why_before_the_form_is_sent(people):
    root, alice, _, _ = people
    assert removal_refusal(root, root, "delete", "deleted").startswith("You cannot delete your own account")
    assert removal_refusal(None, root, "delete", "deleted").startswith("root is the last active admin")
    assert removal_refusal(root, alice, "delete", "deleted") is None


def test_two_admins_removing_each_other_at_once_leave_one_admin(app, make_user):
    """Each request checks before it writes; the second must see the first."""
    one_id, two_id = make_user("one", "admin").id, make_user("two", "admin").id
    first_written, first_may_commit, second_asking = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first():
        with app.app_context():
            set_role(db.session.get(User, one_id), db.session.get(User, two_id), "user")
            first_written.set()
            first_may_commit.wait(30)
            db.session.commit()

    def second():
        with app.app_context():
            try:
                set_role(db.session.get(User, two_id), db.session.get(User, one_id), "user")
                db.session.commit()
                outcome["second"] = "committed"
            except Conflict as error:
                db.session.rollback()
                outcome["second"] = error

    def note_the_second_asking(conn, cursor, statement, *args):
        if threading.current_thread() is threads[1]:
            second_asking.set()

    with app.app_context():
        engine = db.engine
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_written.wait(30)
    event.listen(engine, "before_cursor_execute", note_the_second_asking)
    try:
        threads[1].start()
        # The second is at the database while the first holds its change…
        assert second_asking.wait(30)
    finally:
        event.remove(engine, "before_cursor_execute", note_the_second_asking)
    first_may_commit.set()  # …which the first now commits
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    assert isinstance(outcome["second"], Conflict), outcome
    with app.app_context():
        admins = db.session.scalars(select(User.username).where(User.role == "admin")).all()
        assert admins == ["one"]


# --- deleting accounts -------------------------------------------------------------------------


def test_delete_account_takes_everything_it_owns_and_nothing_else(people):
    root, alice, bob, thread = people
    add_thread(alice, "second", messages=2)
    bobs = add_thread(bob, "Bob's", messages=1)
    db.session.commit()
    assert account_footprint(alice) == (2, 5)
    alice_id = alice.id
    event_ = delete_account(root, alice)
    db.session.commit()
    assert db.session.get(User, alice_id) is None
    assert db.session.scalars(select(Conversation.id)).all() == [bobs.id]
    assert count(Message) == 1
    assert (event_.action, event_.target_id, event_.target_owner_name, event_.old_value) == (
        "delete_user",
        str(alice_id),
        "Alice",
        "user",
    )
    assert event_.detail == "2 threads and 5 messages deleted with it"


def test_audit_events_outlive_their_target_and_their_actor(people):
    root, alice, bob, thread = people
    rename_thread(root, thread, "Renamed")
    set_role(root, bob, "admin")
    db.session.commit()
    delete_account(bob, alice)  # takes the renamed thread with it
    delete_account(bob, root)  # the actor of the first two events
    db.session.commit()
    db.session.expire_all()
    logged = events()
    assert [e.action for e in logged] == ["rename_thread", "set_role", "delete_user", "delete_user"]
    assert [(e.actor_id, e.actor_name) for e in logged[:2]] == [(None, "root"), (None, "root")]
    assert logged[0].target_owner_name == "Alice" and logged[0].new_value == "Renamed"
    assert [e.actor_name for e in logged[2:]] == ["bob", "bob"]


def test_the_command_line_is_named_as_the_actor(people):
    _, alice, _, _ = people
    event_ = set_role(None, alice, "admin")
    assert (event_.actor_id, event_.actor_name) == (None, CLI_ACTOR)


# --- listing threads ---------------------------------------------------------------------------


@pytest.fixture
def many(ctx):
    """Three owners' threads with distinct, known activity times."""
    owners = [add_user("ann"), add_user("Ben"), add_user("cat")]
    now = utcnow()
    titles = [
        "Trip to Lisbon",
        "lisbon food",
        "Budget 2026",
        "100% done",
        "snake_case names",
        "back\\slash",
        "Trip planning",
        None,
        "LISBON trip notes",
        "misc",
    ]
    made = []
    for i, title in enumerate(titles):
        conversation = add_thread(owners[i % 3], title)
        conversation.updated_at = now - timedelta(minutes=i)
        made.append(conversation)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # Statistics, as a live database has them: without any, the planner
        # sees no difference between one owner's index and everyone's.
        db.session.execute(text("ANALYZE conversations"))
        db.session.commit()
    return owners, made


def everything(**filters) -> list:
    """Walk every page of the admin table (3 rows a page)."""
    rows, cursor = [], None
    while True:
        page = list_all_conversations(cursor, limit=3, **filters)
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_all_threads_newest_activity_first_with_owner_names(many):
    owners, made = many
    rows = everything()
    assert [row.Conversation.id for row in rows] == [c.id for c in made]
    assert [row.owner_name for row in rows[:3]] == ["ann", "Ben", "cat"]


def test_a_tie_in_activity_is_broken_by_id_without_losing_rows(many):
    owners, made = many
    db.session.execute(update(Conversation).values(updated_at=utcnow()))
    db.session.commit()
    rows = everything()
    assert sorted(row.Conversation.id for row in rows) == sorted(c.id for c in made)
    assert len(rows) == 10


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lisbon", ["Trip to Lisbon", "lisbon food", "LISBON trip notes"]),
        ("TRIP lisbon", ["Trip to Lisbon", "LISBON trip notes"]),
        ("lisbon trip lisbon", ["Trip to Lisbon", "LISBON trip notes"]),
        ("lisb TRI", ["Trip to Lisbon", "LISBON trip notes"]),  # word starts, as search reads them
        ("isbon", []),
        # Punctuation separates words (as in the search index): a wildcard is
        # never one, and a query of punctuation alone finds nothing.
        ("100%", ["100% done"]),
        ("%", []),
        ("snake_", ["snake_case names"]),
        ("_", []),
        ("back\\slash", ["back\\slash"]),
        ("\\", []),
        ("nothing-like-this", []),
    ],
)
def test_title_filter_needs_every_word_start_in_any_case_and_wildcards_are_text(many, q, expected):
    rows = everything(words=title_words(q))
    assert [row.Conversation.title for row in rows] == expected


def test_owner_filter(many):
    owners, made = many
    rows = everything(owner=owners[1])
    assert [row.Conversation.id for row in rows] == [c.id for c in made[1::3]]
    assert {row.owner_name for row in rows} == {"Ben"}
    assert [row.Conversation.title for row in everything(owner=owners[0], words=["trip"])] == [
        "Trip to Lisbon",
        "Trip planning",
    ]


@pytest.mark.parametrize(
    ("q", "message"), [("x" * 256, "at most 255 characters"), (" ".join("abcdefghijk"), "at most 10 words")]
)
def test_title_search_has_limits(q, message):
    with pytest.raises(InvalidInput, match=message):
        title_words(q)


def test_a_page_of_threads_is_one_query_whatever_the_number_of_owners(many, count_queries):
    with count_queries() as seen:
        rows = list_all_conversations(limit=50).items
        assert {row.owner_name for row in rows} == {"ann", "Ben", "cat"}
    assert len(seen) == 1, seen


@pytest.mark.parametrize("paged", [False, True], ids=["first page", "next page"])
@pytest.mark.parametrize(
    ("owned", "index"), [(False, "ix_conversations_recent"), (True, "ix_conversations_user_recent")]
)
def test_the_admin_table_walks_an_index_in_order(many, paged, owned, index):
    owners, made = many
    cursor = list_all_conversations(limit=2).next_cursor if paged else None
    plan = query_plan(lambda: list_all_conversations(cursor, owner=owners[0] if owned else None, limit=2))
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    if paged:
        assert "<" in plan, plan  # the cursor is an index condition, not a filter over every row
    db.session.rollback()


# --- listing accounts -----------------------------------------------------------------------------


def test_accounts_by_username_with_thread_counts_in_two_queries(people, count_queries):
    root, alice, bob, _ = people
    add_thread(bob, "one")
    add_thread(bob, "two")
    db.session.commit()
    with count_queries() as seen:
        page = list_accounts()
        rows = [(row.user.username, row.threads) for row in page.items]
    assert rows == [("Alice", 1), ("bob", 2), ("root", 0)]
    assert len(seen) == 2, seen


def test_accounts_page_by_cursor_and_filter_by_part_of_the_name(ctx):
    for name in ["dora", "Dave", "eve", "d_x", "dxx", "adam", "Bea"]:
        add_user(name)
    db.session.commit()
    first = list_accounts(limit=2)
    assert [row.user.username for row in first.items] == ["adam", "Bea"]
    seen, cursor = [], None
    while True:
        page = list_accounts(cursor, limit=2)
        seen += [row.user.username for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # Where "_" sorts depends on the database's collation; each name comes once.
    assert sorted(seen) == sorted(["dora", "Dave", "eve", "d_x", "dxx", "adam", "Bea"])
    assert [row.user.username for row in list_accounts(q="D_").items] == ["d_x"]
    assert [row.user.username for row in list_accounts(q="DA").items] == ["adam", "Dave"]


@pytest.mark.parametrize("cursor", ["<script>", "x" * 40, "a b"])
def test_bad_accounts_cursor_is_refused(ctx, cursor):
    with pytest.raises(InvalidInput, match="cursor is not valid"):
        list_accounts(cursor)


# --- the audit log --------------------------------------------------------------------------------


def test_audit_log_pages_newest_first(people):
    root, alice, bob, thread = people
    for i in range(5):
        rename_thread(root, thread, f"title {i}")
    db.session.commit()
    first = list_events(limit=3)
    assert [e.new_value for e in first.items] == ["title 4", "title 3", "title 2"]
    second = list_events(first.next_cursor, limit=3)
    assert [e.new_value for e in second.items] == ["title 1", "title 0"]
    assert second.next_cursor is None
    with pytest.raises(InvalidInput):
        list_events("abc")


def test_audit_actions_are_checked_by_the_database(people):
    root, *_ = people
    db.session.add(AuditEvent(actor_name="root", action="format_disk", target_type="user", target_id="1"))
    with pytest.raises(Exception, match="(?i)check"):
        db.session.flush()
    db.session.rollback()

"""The data layer: conversations and messages, scoped to their owner."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from webapp.branches import list_messages
from webapp.conversations import (
    append_message,
    create_conversation,
    get_any_conversation,
    get_conversation,
    list_conversations,
    rename_conversation,
    start_reply,
)
from webapp.error_pages import status_of
from webapp.errors import InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import Conversation, Message
from webapp.organising import delete_for_good


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


# --- create -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (None, None),
        ("Trip plans", "Trip plans"),
        ("  padded  ", "padded"),
        ("two\nlines", "two lines"),
        ("x" * 255, "x" * 255),
        ("  " + "x" * 255 + "  ", "x" * 255),
    ],
)
def test_create_conversation_stores_cleaned_title(ctx, user, given, stored):
    conversation = create_conversation(user, given)
    db.session.commit()
    assert get_conversation(user, conversation.id).title == stored


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("x" * 256, "at most 255 characters"),
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        (42, "must be text"),
        ("a\x00b", "NUL"),
    ],
)
def test_create_conversation_refuses_bad_title_and_writes_nothing(ctx, user, title, message):
    with pytest.raises(InvalidInput, match=message) as error:
        create_conversation(user, title)
    assert error.value.field == "title"
    assert status_of(error.value) == 422
    db.session.commit()
    assert count(Conversation) == 0


def test_new_conversation_has_utc_timestamps_and_no_messages(ctx, user):
    conversation = create_conversation(user)
    db.session.commit()
    db.session.expire_all()
    loaded = get_conversation(user, conversation.id)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.updated_at == loaded.created_at
    assert loaded.message_count == 0
    assert list_messages(loaded).items == []


# --- get: scoped to the owner -------------------------------------------------


def test_get_conversation_returns_own(ctx, user):
    conversation = create_conversation(user, "mine")
    assert get_conversation(user, str(conversation.id)) is conversation


def test_other_users_conversation_is_not_found(ctx, user, other_user):
    theirs = create_conversation(other_user, "theirs")
    db.session.commit()
    with pytest.raises(NotFound) as error:
        get_conversation(user, theirs.id)
    with pytest.raises(NotFound) as missing:
        get_conversation(user, uuid.uuid4())
    assert str(error.value) == str(missing.value)


@pytest.mark.parametrize("bad_id", ["", "nope", "1", "../etc", "0" * 33, "%00"])
def test_malformed_conversation_id_is_not_found(ctx, user, bad_id):
    with pytest.raises(NotFound):
        get_conversation(user, bad_id)
    with pytest.raises(NotFound):
        get_any_conversation(bad_id)


def test_admin_lookup_finds_any_users_conversation(ctx, user, admin_user):
    conversation = create_conversation(user, "anyone's")
    db.session.commit()
    assert get_any_conversation(str(conversation.id)).user_id == user.id


# --- append -----------------------------------------------------------------


def test_append_message_bumps_activity_in_the_same_transaction(ctx, user):
    conversation = create_conversation(user)
    db.session.commit()
    before = conversation.updated_at
    message = append_message(conversation, "user", "Hello there")
    db.session.commit()
    db.session.expire_all()
    conversation = get_conversation(user, conversation.id)
    assert conversation.updated_at > before
    assert conversation.updated_at == message.created_at
    assert conversation.message_count == 1
    assert message.position == 1
    assert message.status == "complete"


def test_rolled_back_append_leaves_nothing(ctx, user):
    conversation = create_conversation(user)
    db.session.commit()
    before = conversation.updated_at
    append_message(conversation, "user", "lost")
    db.session.rollback()
    conversation = get_conversation(user, conversation.id)
    assert conversation.message_count == 0
    assert conversation.updated_at == before
    assert count(Message) == 0


@pytest.mark.parametrize("role", ["user", "assistant", "system", "tool"])
def test_append_accepts_each_role(ctx, user, role):
    conversation = create_conversation(user)
    append_message(conversation, role, "text")
    db.session.commit()
    assert [m.role for m in list_messages(conversation).items] == [role]


def test_append_keeps_tool_calls_json(ctx, user):
    conversation = create_conversation(user)
    calls = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}]
    append_message(conversation, "assistant", "", tool_calls=calls)
    db.session.commit()
    db.session.expire_all()
    assert list_messages(conversation).items[0].tool_calls == calls


@pytest.mark.parametrize(
    ("role", "content", "tool_calls", "field", "message"),
    [
        ("user", "", None, "content", "Write a message"),
        ("user", " \n\t ", None, "content", "Write a message"),
        ("user", "x" * 16_001, None, "content", "at most 16,000 characters; this one has 16,001"),
        ("robot", "hi", None, "role", "must be one of"),
        ("user", None, None, "content", "must be text"),
        ("assistant", "a\x00b", None, "content", "NUL"),
        ("assistant", "hi", {"not": "a list"}, "tool_calls", "must be a list"),
    ],
)
def test_append_refuses_bad_input_and_writes_nothing(ctx, user, role, content, tool_calls, field, message):
    conversation = create_conversation(user)
    db.session.commit()
    updated_at = conversation.updated_at
    with pytest.raises(InvalidInput, match=message) as error:
        append_message(conversation, role, content, tool_calls=tool_calls)
    assert error.value.field == field
    db.session.commit()
    db.session.expire_all()
    assert count(Message) == 0
    conversation = get_conversation(user, conversation.id)
    assert (conversation.message_count, conversation.updated_at) == (0, updated_at)


def test_user_message_of_exactly_16000_characters_is_kept(ctx, user):
    conversation = create_conversation(user)
    append_message(conversation, "user", "x" * 16_000)
    db.session.commit()
    assert len(list_messages(conversation).items[0].content) == 16_000


def test_start_reply_adds_an_empty_pending_assistant_message_after_the_last(ctx, user):
    conversation = create_conversation(user)
    question = append_message(conversation, "user", "What is 2 + 2?")
    reply = start_reply(conversation)
    db.session.commit()
    assert (reply.role, reply.content, reply.status) == ("assistant", "", "pending")
    assert reply.position == question.position + 1
    assert conversation.message_count == 2


def test_append_to_deleted_conversation_is_not_found(ctx, user):
    conversation = create_conversation(user)
    db.session.commit()
    assert conversation.id  # loaded before the row goes, as in a request
    db.session.execute(Conversation.__table__.delete())
    with pytest.raises(NotFound):
        append_message(conversation, "user", "anyone there?")


# --- list conversations --------------------------------------------------------


def test_user_with_no_conversations_gets_empty_page(ctx, user):
    page = list_conversations(user)
    assert page.items == []
    assert page.next_cursor is None


def test_conversations_list_newest_activity_first_and_only_own(ctx, user, other_user):
    first = create_conversation(user, "first")
    second = create_conversation(user, "second")
    create_conversation(other_user, "not yours")
    db.session.commit()
    append_message(first, "user", "bump")
    db.session.commit()
    assert [c.title for c in list_conversations(user).items] == ["first", "second"]
    rename_conversation(second, "renamed")
    db.session.commit()
    assert [c.title for c in list_conversations(user).items] == ["renamed", "first"]


def test_conversation_pages_follow_the_cursor_without_gaps_or_repeats(ctx, user):
    same_time = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [create_conversation(user, f"t{i}").id for i in range(25)]
    # Ties on updated_at are broken by id, so pages stay stable.
    db.session.execute(update(Conversation).where(Conversation.id.in_(ids[:10])).values(updated_at=same_time))
    db.session.commit()
    seen, cursor, pages = [], None, 0
    while True:
        page = list_conversations(user, cursor, limit=7)
        seen += [c.id for c in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 4
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    keys = [(c.updated_at, c.id) for c in (db.session.get(Conversation, i) for i in seen)]
    assert keys == sorted(keys, reverse=True)


def test_exactly_one_full_page_has_no_next_cursor(ctx, user):
    for i in range(5):
        create_conversation(user, f"t{i}")
    assert list_conversations(user, limit=5).next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "12-notahex", "-", "9" * 40 + "-" + "0" * 32])
def test_bad_conversation_cursor_is_invalid_input(ctx, user, cursor):
    with pytest.raises(InvalidInput) as error:
        list_conversations(user, cursor)
    assert error.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_conversation_limit_out_of_range_is_invalid_input(ctx, user, limit):
    with pytest.raises(InvalidInput, match="between 1 and 100"):
        list_conversations(user, limit=limit)


# --- list messages --------------------------------------------------------------


def test_messages_keep_insertion_order_when_timestamps_tie(ctx, user):
    conversation = create_conversation(user)
    for i in range(6):
        append_message(conversation, "user", f"m{i}")
    db.session.execute(update(Message).values(created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.session.commit()
    db.session.expire_all()
    assert [m.content for m in list_messages(conversation).items] == [f"m{i}" for i in range(6)]


def test_long_conversation_pages_back_from_the_latest(ctx, user):
    conversation = create_conversation(user)
    for i in range(1, 1_201):
        append_message(conversation, "user" if i % 2 else "assistant", f"m{i}")
    db.session.commit()
    assert conversation.message_count == 1_200

    page = list_messages(conversation)
    assert [m.content for m in page.items] == [f"m{i}" for i in range(1_151, 1_201)]
    collected = page.items
    while page.next_cursor:
        page = list_messages(conversation, before=page.next_cursor, limit=200)
        collected = page.items + collected
    assert [m.position for m in collected] == list(range(1, 1_201))


def test_messages_of_another_conversation_never_mix_in(ctx, user, other_user):
    mine = create_conversation(user)
    theirs = create_conversation(other_user)
    append_message(mine, "user", "mine")
    append_message(theirs, "user", "theirs")
    db.session.commit()
    assert [m.content for m in list_messages(mine).items] == ["mine"]


@pytest.mark.parametrize("before", ["abc", "-1", "1.5", "１２"])
def test_bad_message_cursor_is_invalid_input(ctx, user, before):
    conversation = create_conversation(user)
    with pytest.raises(InvalidInput) as error:
        list_messages(conversation, before=before)
    assert error.value.field == "before"


@pytest.mark.parametrize("before", ["2147483648", "999999999999999999", "0"])
def test_a_cursor_that_names_no_message_of_the_thread_is_invalid_input(ctx, user, other_user, before):
    conversation = create_conversation(user)
    for text in ("one", "two"):
        append_message(conversation, "user", text)
    theirs = append_message(create_conversation(other_user), "user", "theirs")
    db.session.commit()
    for cursor in (before, str(theirs.id)):
        with pytest.raises(InvalidInput) as error:
            list_messages(conversation, before=cursor)
        assert error.value.field == "before"


# --- rename -------------------------------------------------------------------------


def test_rename_trims_bumps_activity_and_can_clear(ctx, user):
    conversation = create_conversation(user, "old")
    db.session.commit()
    before = conversation.updated_at
    rename_conversation(conversation, "  new name ")
    db.session.commit()
    assert (conversation.title, conversation.updated_at > before) == ("new name", True)
    rename_conversation(conversation, None)
    db.session.commit()
    assert get_conversation(user, conversation.id).title is None


def test_rename_refuses_256_characters_and_keeps_the_old_title(ctx, user):
    conversation = create_conversation(user, "old")
    db.session.commit()
    updated_at = conversation.updated_at
    with pytest.raises(InvalidInput, match="at most 255"):
        rename_conversation(conversation, "y" * 256)
    db.session.rollback()
    conversation = get_conversation(user, conversation.id)
    assert (conversation.title, conversation.updated_at) == ("old", updated_at)


# --- delete ----------------------------------------------------------------------------


def test_delete_conversation_removes_its_messages_only(ctx, user):
    doomed = create_conversation(user)
    kept = create_conversation(user)
    for i in range(3):
        append_message(doomed, "user", f"m{i}")
    append_message(kept, "user", "stays")
    db.session.commit()
    doomed_id = doomed.id
    delete_for_good(doomed)
    db.session.commit()
    with pytest.raises(NotFound):
        get_conversation(user, doomed_id)
    assert count(Message, conversation_id=doomed_id) == 0
    assert count(Message) == 1


# --- concurrency -------------------------------------------------------------------------


def test_concurrent_appends_all_persist_in_one_consistent_order(ctx, app, user):
    conversation = create_conversation(user)
    db.session.commit()
    conversation_id, user_id = conversation.id, user.id
    writers, per_writer = 4, 25
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            with app.app_context():
                from webapp.models import User

                owner = db.session.get(User, user_id)
                start.wait()
                for i in range(per_writer):
                    append_message(get_conversation(owner, conversation_id), "user", f"w{n}-{i}")
                    db.session.commit()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    db.session.expire_all()
    conversation = get_conversation(user, conversation_id)
    messages = list_messages(conversation, limit=200).items
    assert conversation.message_count == writers * per_writer
    assert [m.position for m in messages] == list(range(1, writers * per_writer + 1))
    assert sorted(m.content for m in messages) == sorted(f"w{n}-{i}" for n in range(writers) for i in range(per_writer))
    # Each writer's own messages appear in the order it wrote them.
    for n in range(writers):
        mine = [m.content for m in messages if m.content.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(per_writer)]

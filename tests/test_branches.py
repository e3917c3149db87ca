"""A thread is a tree: versions of a message, branches, switching, forking."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from tests.factories import HTMX, sign_in
from tests.html import parse
from webapp import branches
from webapp.branches import (
    list_all_messages,
    list_later,
    list_messages,
    messages_around,
    show_branch,
    versions_of,
)
from webapp.conversations import append_message, create_conversation, get_message, post_message
from webapp.errors import InvalidInput, NotFound
from webapp.extensions import db
from webapp.models import Conversation, Message


def contents(messages) -> list[str]:
    return [message.content for message in messages]


def line(conversation: Conversation, n: int) -> list[Message]:
    """``n`` messages in turn, on one branch."""
    return [append_message(conversation, "user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(n)]


# --- the data layer ------------------------------------------------------------------------


def test_appends_make_one_branch_that_ends_at_the_current_message(ctx, user):
    conversation = create_conversation(user)
    messages = line(conversation, 4)
    db.session.commit()
    assert [m.parent_id for m in messages] == [None, *(m.id for m in messages[:-1])]
    assert conversation.current_message_id == messages[-1].id
    assert contents(list_messages(conversation).items) == ["m0", "m1", "m2", "m3"]


def test_the_pane_pages_up_the_shown_branch_only(ctx, user):
    conversation = create_conversation(user)
    trunk = line(conversation, 6)
    # A version of m3 with a branch of its own below it, shown now.
    post_message(conversation, "user", "m3 again", parent=trunk[2].id)
    line(conversation, 3)
    db.session.commit()
    page = list_messages(conversation, limit=4)
    assert contents(page.items) == ["m3 again", "m0", "m1", "m2"]
    assert page.next_cursor == str(page.items[0].id)
    above = list_messages(conversation, before=page.next_cursor, limit=4)
    assert contents(above.items) == ["m0", "m1", "m2"] and above.next_cursor is None
    # Every message of every branch is still there, in the order added.
    assert conversation.message_count == 10
    assert len(list_all_messages(conversation, limit=200).items) == 10


def test_a_message_opened_by_its_id_shows_its_branch_around_it(ctx, user):
    conversation = create_conversation(user)
    messages = line(conversation, 80)
    db.session.commit()
    around = messages_around(conversation, messages[40].id, radius=5)
    assert contents(around.items) == [f"m{i}" for i in range(35, 46)]
    assert around.before.next_cursor == str(messages[35].id)
    assert around.after.next_cursor == str(messages[45].id)
    later = list_later(conversation, around.after.next_cursor, limit=50)
    assert contents(later.items) == [f"m{i}" for i in range(46, 80)] and later.next_cursor is None


def test_later_messages_follow_the_newest_reply_at_each_step(ctx, user):
    conversation = create_conversation(user)
    first = append_message(conversation, "user", "q")
    append_message(conversation, "assistant", "old answer", parent=first.id)
    append_message(conversation, "assistant", "new answer", parent=first.id)
    db.session.commit()
    assert contents(list_later(conversation, str(first.id)).items) == ["new answer"]


def test_versions_say_where_a_message_stands_among_its_siblings(ctx, user):
    conversation = create_conversation(user)
    question = append_message(conversation, "user", "q")
    answers = [append_message(conversation, "assistant", f"a{i}", parent=question.id) for i in range(3)]
    db.session.commit()
    versions = versions_of(conversation, [question, *answers])
    assert question.id not in versions  # one version only
    middle = versions[answers[1].id]
    assert (middle.index, middle.count, middle.previous_id, middle.next_id) == (2, 3, answers[0].id, answers[2].id)
    assert versions[answers[0].id].previous_id is None and versions[answers[2].id].next_id is None


def test_first_messages_are_versions_of_each_other(ctx, user):
    conversation = create_conversation(user)
    first = append_message(conversation, "user", "hello")
    again, _ = branches.edit_message(conversation, first, "hello again")
    db.session.commit()
    assert again.parent_id is None
    assert versions_of(conversation, [again])[again.id].index == 2


def test_showing_a_branch_goes_down_through_the_newest_reply(ctx, user):
    conversation = create_conversation(user)
    trunk = line(conversation, 4)
    other = post_message(conversation, "user", "other", parent=trunk[0].id)[0]
    tip = append_message(conversation, "assistant", "other tip")
    db.session.commit()
    updated = conversation.updated_at
    show_branch(conversation, trunk[1])
    assert conversation.current_message_id == trunk[3].id
    show_branch(conversation, other)
    assert conversation.current_message_id == tip.id
    assert conversation.updated_at == updated  # switching is not activity


def test_editing_a_user_message_adds_a_version_with_its_own_reply(ctx, user):
    conversation = create_conversation(user)
    trunk = line(conversation, 4)
    edited, reply = branches.edit_message(conversation, trunk[2], "m2, better")
    db.session.commit()
    assert edited.parent_id == trunk[1].id and reply.parent_id == edited.id
    assert (reply.role, reply.status) == ("assistant", "pending")
    assert contents(list_messages(conversation).items) == ["m0", "m1", "m2, better", ""]
    assert get_message(conversation, trunk[2].id).content == "m2"  # the old version stays


def test_editing_a_reply_saves_it_as_written(ctx, user):
    conversation = create_conversation(user)
    trunk = line(conversation, 2)
    edited, reply = branches.edit_message(conversation, trunk[1], "a better answer")
    db.session.commit()
    assert reply is None
    assert (edited.role, edited.status, edited.parent_id) == ("assistant", "complete", trunk[0].id)
    assert "<p>a better answer</p>" in edited.html


@pytest.mark.parametrize(("content", "error"), [("   ", "Write a message"), ("x" * 16_001, "at most 16,000")])
def test_a_bad_edit_is_refused_and_stores_nothing(ctx, user, content, error):
    conversation = create_conversation(user)
    trunk = line(conversation, 2)
    db.session.commit()
    with pytest.raises(InvalidInput, match=error):
        branches.edit_message(conversation, trunk[0], content)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 2


def test_only_a_reply_is_written_again(ctx, user):
    conversation = create_conversation(user)
    question = line(conversation, 1)[0]
    with pytest.raises(InvalidInput, match="Only a reply"):
        branches.regenerate(conversation, question)


def test_the_api_switch_shows_any_message_of_the_thread_and_no_other(ctx, user, other_user):
    conversation = create_conversation(user)
    trunk = line(conversation, 3)
    theirs = append_message(create_conversation(other_user), "user", "theirs")
    db.session.commit()
    branches.set_current_message(conversation, trunk[0].id)
    assert contents(list_messages(conversation).items) == ["m0"]
    for wrong in (theirs.id, 0, "1", True, None):
        with pytest.raises(InvalidInput):
            branches.set_current_message(conversation, wrong)
    assert conversation.current_message_id == trunk[0].id


def test_a_parent_from_another_thread_is_not_found(ctx, user, other_user):
    conversation = create_conversation(user)
    theirs = append_message(create_conversation(other_user), "user", "theirs")
    with pytest.raises(NotFound):
        append_message(conversation, "user", "hi", parent=theirs.id)


def test_a_fork_copies_the_branch_up_to_the_message(ctx, user, other_user):
    conversation = create_conversation(user, "Original")
    trunk = line(conversation, 5)
    branches.edit_message(conversation, trunk[3], "m3 edited")  # another branch: not copied
    db.session.commit()
    copy = branches.fork(other_user, conversation, trunk[2])
    db.session.commit()
    assert (copy.user_id, copy.title, copy.message_count) == (other_user.id, "Original", 3)
    copied = list_messages(copy).items
    assert contents(copied) == ["m0", "m1", "m2"]
    assert [m.created_at for m in copied] == [m.created_at for m in trunk[:3]]
    assert {m.conversation_id for m in copied} == {copy.id}


def test_two_regenerates_at_once_each_write_a_version(app, user):
    with app.app_context():
        conversation = create_conversation(db.session.get(type(user), user.id))
        reply = line(conversation, 2)[1]
        db.session.commit()
        conversation_id, reply_id = conversation.id, reply.id
    start, made = threading.Barrier(2), []

    def regenerate():
        with app.app_context():
            thread = db.session.get(Conversation, conversation_id)
            start.wait()
            made.append(branches.regenerate(thread, get_message(thread, reply_id)).id)
            db.session.commit()

    workers = [threading.Thread(target=regenerate) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    with app.app_context():
        conversation = db.session.get(Conversation, conversation_id)
        siblings = versions_of(conversation, [db.session.get(Message, reply_id)])[reply_id]
        assert siblings.count == 3 and len(set(made)) == 2


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def thread(app, client, user, make_thread):
    """alice, signed in, with a thread of two exchanges."""
    sign_in(client, user)
    return make_thread(user, "Branches", messages=4)


def message_ids(app, thread_id) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(select(Message.id).where(Message.conversation_id == thread_id).order_by(Message.id))
        )


def shown(client, thread_id) -> list[str]:
    html = parse(client.get(f"/c/{thread_id}").text)
    return [" ".join(article.tag.find(class_="body").get_text().split()) for article in html.by_role("article")]


def test_editing_from_the_page_shows_the_new_branch_with_its_reply(app, client, thread):
    first, reply, second, _ = message_ids(app, thread)
    response = client.post(f"/c/{thread}/messages/{second}/edit", data={"content": "Message 003, again"})
    assert response.status_code == 303 and response.headers["Location"] == f"/c/{thread}"
    texts = shown(client, thread)
    assert texts[:3] == ["Message 001", "Message 002", "Message 003, again"]
    assert "demo assistant" in texts[3]  # its reply, written before the redirect
    page = parse(client.get(f"/c/{thread}").text)
    versions = page.one("form", "Versions of your message")
    assert "2 / 2" in versions.text
    assert versions.one("button", "Previous version")["value"] == str(second)
    assert versions.one("button", "Next version").has("disabled")


def test_editing_over_htmx_answers_the_new_branch_and_the_sidebar(app, client, thread):
    second = message_ids(app, thread)[2]
    response = client.post(f"/c/{thread}/messages/{second}/edit", data={"content": "Changed"}, headers=HTMX)
    assert response.status_code == 200
    html = parse(response.text)
    assert html.top["id"] == "message-list"
    assert "Changed" in html.top.text and "Message 004" not in html.top.text
    assert html.find_id("send-button") is not None and html.find_id("thread-groups") is not None


def test_the_edit_form_loads_in_place_and_opens_on_its_own_page_without_javascript(app, client, thread):
    second = message_ids(app, thread)[2]
    partial = parse(client.get(f"/c/{thread}/messages/{second}/edit", headers=HTMX).text)
    assert partial.by_label("New version of your message").text == "Message 003"
    page = parse(client.get(f"/c/{thread}/messages/{second}/edit").text)
    assert page.one("heading", level=1).text == "Branches"
    assert page.by_label("New version of your message").text == "Message 003"


@pytest.mark.parametrize(("content", "status"), [("", 422), ("   ", 422), ("x" * 16_001, 422)])
def test_a_bad_edit_from_the_page_changes_nothing(app, client, thread, content, status):
    before = message_ids(app, thread)
    response = client.post(f"/c/{thread}/messages/{before[2]}/edit", data={"content": content})
    assert response.status_code == status
    assert message_ids(app, thread) == before


def test_regenerating_an_older_reply_branches_there(app, client, thread):
    first, reply, second, last = message_ids(app, thread)
    client.post(f"/c/{thread}/messages/{reply}/regenerate")
    texts = shown(client, thread)
    assert texts[0] == "Message 001" and len(texts) == 2 and "demo assistant" in texts[1]
    # The old branch is a click away: the previous version of the reply.
    client.post(f"/c/{thread}/branch", data={"message": str(reply)})
    assert shown(client, thread) == ["Message 001", "Message 002", "Message 003", "Message 004"]


def test_a_fork_opens_a_new_thread_of_the_branch(app, client, thread):
    first, reply, *_ = message_ids(app, thread)
    response = client.post(f"/c/{thread}/messages/{reply}/fork")
    assert response.status_code == 303
    copy = uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])
    assert copy != thread
    assert shown(client, copy) == ["Message 001", "Message 002"]


def test_opening_a_message_by_its_id_marks_it(app, client, user, make_thread):
    sign_in(client, user)
    long = make_thread(user, "Long", messages=120)
    ids = message_ids(app, long)
    html = parse(client.get(f"/c/{long}?m={ids[10]}").text)
    articles = html.by_role("article")
    assert articles[0]["id"] == f"message-{ids[0]}" and articles[-1]["id"] == f"message-{ids[35]}"
    assert "marked" in html.find_id(f"message-{ids[10]}")["class"]
    later = html.one("link", "Load later messages")["href"]
    more = parse(client.get(later, headers=HTMX).text)
    assert more.by_role("article")[0]["id"] == f"message-{ids[36]}"


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("POST", "/c/{thread}/messages/{other}/edit", {"content": "x"}),
        ("GET", "/c/{thread}/messages/{other}/edit", None),
        ("POST", "/c/{thread}/messages/{other}/regenerate", None),
        ("POST", "/c/{thread}/messages/{other}/fork", None),
        ("POST", "/c/{thread}/branch", {"message": "{other}"}),
        ("POST", "/c/{thread}/messages", {"content": "x", "parent": "{other}"}),
        ("GET", "/c/{thread}?m={other}", None),
    ],
)
def test_a_message_of_another_thread_is_404_and_changes_nothing(
    app, client, thread, other_user, make_thread, method, path, data
):
    theirs = make_thread(other_user, "Theirs", messages=2)
    other = message_ids(app, theirs)[1]
    before = message_ids(app, thread)
    values = {"thread": thread, "other": other}
    form = {name: value.format(**values) for name, value in (data or {}).items()}
    response = client.open(path.format(**values), method=method, data=form or None)
    assert response.status_code == 404
    assert message_ids(app, thread) == before


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def api(app, client, user):
    from webapp.tokens import create_token

    with app.app_context():
        _, plaintext = create_token(db.session.get(type(user), user.id), "branches")
        db.session.commit()
    headers = {"Authorization": f"Bearer {plaintext}"}

    class Api:
        def __getattr__(self, method):
            return lambda path, **kw: client.open(path, method=method.upper(), headers=headers, **kw)

    return Api()


def test_the_api_branches_switches_and_lists_every_message(api):
    thread = api.post("/api/conversations", json={"title": "t"}).json["id"]
    url = f"/api/conversations/{thread}/messages"
    first = api.post(url, json={"role": "user", "content": "one"}).json
    assert first["parent_id"] is None
    second = api.post(url, json={"role": "assistant", "content": "two"}).json
    assert second["parent_id"] == first["id"]
    version = api.post(url, json={"role": "assistant", "content": "two, again", "parent_id": first["id"]}).json
    assert version["parent_id"] == first["id"]
    assert [m["content"] for m in api.get(url).json["items"]] == ["one", "two, again"]
    assert [m["content"] for m in api.get(url + "?all=1").json["items"]] == ["one", "two", "two, again"]
    conversation = api.patch(f"/api/conversations/{thread}", json={"current_message_id": second["id"]}).json
    assert conversation["current_message_id"] == second["id"]
    assert [m["content"] for m in api.get(url).json["items"]] == ["one", "two"]


@pytest.mark.parametrize("value", [0, -1, "2", 1.5, True, 2**63])
def test_the_api_refuses_a_bad_parent_or_switch(api, value):
    thread = api.post("/api/conversations", json={}).json["id"]
    api.post(f"/api/conversations/{thread}/messages", json={"role": "user", "content": "one"})
    bad = api.post(f"/api/conversations/{thread}/messages", json={"role": "user", "content": "x", "parent_id": value})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "parent_id"
    switch = api.patch(f"/api/conversations/{thread}", json={"current_message_id": value})
    assert switch.status_code == 422 and switch.json["error"]["field"] == "current_message_id"
    assert [m["content"] for m in api.get(f"/api/conversations/{thread}/messages?all=1").json["items"]] == ["one"]

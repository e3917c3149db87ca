"""/api/conversations/<id>/messages: append and read history."""

from __future__ import annotations

import uuid

import pytest

MESSAGE_KEYS = {"id", "conversation_id", "parent_id", "role", "content", "tool_calls", "status", "created_at"}


@pytest.fixture
def conversation(api) -> dict:
    return api.create_conversation("chat")


def messages_url(conversation: dict) -> str:
    return f"/api/conversations/{conversation['id']}/messages"


def history(api, conversation: dict, **query) -> dict:
    response = api.get(messages_url(conversation), query_string=query)
    assert response.status_code == 200
    return response.json


# --- append -------------------------------------------------------------------


def test_append_returns_201_with_the_message_and_bumps_the_conversation(api, conversation):
    response = api.post(messages_url(conversation), json={"role": "user", "content": "Hello there"})
    assert response.status_code == 201
    message = response.json
    assert set(message) == MESSAGE_KEYS
    assert isinstance(message["id"], int)
    assert message["conversation_id"] == conversation["id"]
    assert (message["role"], message["content"], message["status"]) == ("user", "Hello there", "complete")
    assert message["tool_calls"] is None

    after = api.get(f"/api/conversations/{conversation['id']}").json
    assert after["message_count"] == 1
    assert after["updated_at"] == message["created_at"]
    assert after["updated_at"] > conversation["updated_at"]


@pytest.mark.parametrize("role", ["user", "assistant", "system", "tool"])
def test_every_role_can_be_written(api, conversation, role):
    assert api.add_message(conversation["id"], "text", role=role)["role"] == role
    assert [m["role"] for m in history(api, conversation)["items"]] == [role]


def test_an_agents_tool_calls_are_kept_as_json(api, conversation):
    calls = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}]
    message = api.add_message(conversation["id"], "", role="assistant", tool_calls=calls)
    assert message["tool_calls"] == calls
    assert history(api, conversation)["items"][0]["tool_calls"] == calls


def test_posting_does_not_start_a_reply_unless_asked(api, conversation):
    message = api.add_message(conversation["id"], "Hi")
    assert "reply" not in message
    assert len(history(api, conversation)["items"]) == 1


def test_reply_true_also_creates_the_pending_assistant_message(api, conversation):
    message = api.add_message(conversation["id"], "What is 2 + 2?", reply=True)
    reply = message["reply"]
    assert set(reply) == MESSAGE_KEYS
    assert (reply["role"], reply["content"], reply["status"]) == ("assistant", "", "pending")
    assert reply["id"] != message["id"]

    items = history(api, conversation)["items"]
    assert [m["id"] for m in items] == [message["id"], reply["id"]]
    assert api.get(f"/api/conversations/{conversation['id']}").json["message_count"] == 2


def test_reply_false_is_a_plain_append(api, conversation):
    assert "reply" not in api.add_message(conversation["id"], "Hi", reply=False)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"role": "user", "content": ""}, "content", "Write a message"),
        ({"role": "user", "content": " \n "}, "content", "Write a message"),
        # Zero-width space, word joiner, right-to-left mark: nothing to see.
        ({"role": "user", "content": "\u200b\u2060\u200f"}, "content", "Write a message"),
        ({"role": "user", "content": "x" * 16_001}, "content", "at most 16,000"),
        ({"role": "user", "content": 5}, "content", "must be text"),
        ({"role": "robot", "content": "hi"}, "role", "must be one of"),
        ({"role": "assistant", "content": "hi", "tool_calls": {"a": 1}}, "tool_calls", "must be a list"),
        ({"role": "assistant", "content": "hi", "tool_calls": [{"id": "a\x00b"}]}, "tool_calls", "NUL"),
        ({"role": "tool", "content": "hi", "tool_calls": [{"a\x00": 1}]}, "tool_calls", "NUL"),
        ({"content": "hi"}, "role", "required"),
        ({"role": "user"}, "content", "required"),
        ({"role": "user", "content": "hi", "status": "complete"}, "status", "Unknown field"),
        ({"role": "user", "content": "hi", "reply": "yes"}, "reply", "true or false"),
        ({"role": "assistant", "content": "hi", "reply": True}, "reply", "Only a user message"),
    ],
)
def test_bad_message_is_422_naming_the_field_and_stores_nothing(api, conversation, body, field, message):
    response = api.post(messages_url(conversation), json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["field"] == field
    assert message in response.json["error"]["message"]
    assert history(api, conversation)["items"] == []
    assert api.get(f"/api/conversations/{conversation['id']}").json == conversation


def test_a_user_message_of_exactly_16000_characters_is_kept(api, conversation):
    assert len(api.add_message(conversation["id"], "x" * 16_000)["content"]) == 16_000


def test_an_append_is_five_statements(api, conversation, count_queries):
    """The token with its account, the thread, the thread's count (which
    takes the lock), the message, the thread's shown branch."""
    api.add_message(conversation["id"], "first")  # the token's use this minute is recorded
    with count_queries() as statements:
        api.add_message(conversation["id"], "second")
    assert [statement.split()[0] for statement in statements] == ["SELECT", "SELECT", "UPDATE", "INSERT", "UPDATE"]


def test_appending_to_a_missing_conversation_is_404(api):
    response = api.post(f"/api/conversations/{uuid.uuid4()}/messages", json={"role": "user", "content": "hi"})
    assert response.status_code == 404


# --- history ------------------------------------------------------------------


def test_history_is_oldest_first(api, conversation):
    for text in ("one", "two", "three"):
        api.add_message(conversation["id"], text)
    page = history(api, conversation)
    assert [m["content"] for m in page["items"]] == ["one", "two", "three"]
    assert page["next_cursor"] is None


def test_history_pages_back_from_the_latest_by_before(api, conversation):
    for i in range(5):
        api.add_message(conversation["id"], f"m{i}")
    latest = history(api, conversation, limit=2)
    assert [m["content"] for m in latest["items"]] == ["m3", "m4"]
    earlier = history(api, conversation, limit=2, before=latest["next_cursor"])
    assert [m["content"] for m in earlier["items"]] == ["m1", "m2"]
    earliest = history(api, conversation, limit=2, before=earlier["next_cursor"])
    assert [m["content"] for m in earliest["items"]] == ["m0"]
    assert earliest["next_cursor"] is None


def test_history_shows_50_by_default(api, conversation):
    for i in range(51):
        api.add_message(conversation["id"], f"m{i}")
    page = history(api, conversation)
    assert len(page["items"]) == 50
    assert page["items"][0]["content"] == "m1"
    assert page["next_cursor"] is not None


@pytest.mark.parametrize("limit", ["1", "200"])
def test_history_accepts_limits_from_1_to_200(api, conversation, limit):
    assert api.get(messages_url(conversation), query_string={"limit": limit}).status_code == 200


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_history_refuses_other_limits(api, conversation, limit):
    response = api.get(messages_url(conversation), query_string={"limit": limit})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "limit"


@pytest.mark.parametrize("before", ["", "abc", "-1", "1.5", "9" * 19])
def test_history_refuses_a_bad_cursor(api, conversation, before):
    response = api.get(messages_url(conversation), query_string={"before": before})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "before"


def test_history_of_a_missing_conversation_is_404(api):
    assert api.get(f"/api/conversations/{uuid.uuid4()}/messages").status_code == 404

"""/api/conversations: create, list, get, rename, delete."""

from __future__ import annotations

import re
import uuid

import pytest

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def titles(page: dict) -> list:
    return [item["title"] for item in page["items"]]


# --- create -------------------------------------------------------------------


def test_create_returns_201_with_the_conversation_and_its_location(api, user):
    response = api.post("/api/conversations", json={"title": "  Trip   plans "})
    assert response.status_code == 201
    body = response.json
    assert set(body) == {
        "id",
        "title",
        "user_id",
        "created_at",
        "updated_at",
        "message_count",
        "current_message_id",
        "pinned",
        "archived",
        "deleted_at",
    }
    assert body["current_message_id"] is None
    assert (body["pinned"], body["archived"], body["deleted_at"]) == (False, False, None)
    assert uuid.UUID(body["id"])
    assert body["title"] == "Trip plans"
    assert body["user_id"] == user.id
    assert body["message_count"] == 0
    assert ISO_UTC.match(body["created_at"])
    assert body["updated_at"] == body["created_at"]
    assert response.headers["Location"] == f"/api/conversations/{body['id']}"
    assert api.get(response.headers["Location"]).json == body


@pytest.mark.parametrize(
    "request_kwargs",
    [{}, {"json": {}}, {"json": {"title": None}}],
    ids=["no body", "empty object", "null title"],
)
def test_create_without_a_title_makes_an_untitled_conversation(api, request_kwargs):
    response = api.post("/api/conversations", **request_kwargs)
    assert response.status_code == 201
    assert response.json["title"] is None


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("x" * 256, "at most 255 characters"),
        (42, "must be text"),
        (["a"], "must be text"),
        ("a\x00b", "NUL"),
    ],
)
def test_create_with_a_bad_title_is_422_and_stores_nothing(api, title, message):
    response = api.post("/api/conversations", json={"title": title})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["field"] == "title"
    assert message in response.json["error"]["message"]
    assert api.get("/api/conversations").json["items"] == []


# --- list ---------------------------------------------------------------------


def test_list_is_newest_activity_first_and_only_the_callers(api, other_api):
    first = api.create_conversation("first")
    api.create_conversation("second")
    other_api.create_conversation("bob's")
    api.add_message(first["id"])  # activity moves it to the top

    page = api.get("/api/conversations").json
    assert titles(page) == ["first", "second"]
    assert page["next_cursor"] is None


def test_list_pages_by_cursor_without_gaps_or_repeats(api):
    for i in range(5):
        api.create_conversation(f"c{i}")
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/conversations", query_string=query).json
        assert len(page["items"]) <= 2
        seen += titles(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["c4", "c3", "c2", "c1", "c0"]


def test_list_shows_20_by_default(api):
    for i in range(21):
        api.create_conversation(f"c{i}")
    page = api.get("/api/conversations").json
    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


@pytest.mark.parametrize("limit", ["1", "100"])
def test_list_accepts_limits_from_1_to_100(api, limit):
    assert api.get("/api/conversations", query_string={"limit": limit}).status_code == 200


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "", "1.5", "9" * 5000])
def test_list_refuses_other_limits(api, limit):
    response = api.get("/api/conversations", query_string={"limit": limit})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "limit"


@pytest.mark.parametrize("cursor", ["", "nonsense", "12-xyz", "-", "99999999999999999999999-" + "0" * 32])
def test_list_refuses_a_bad_cursor(api, cursor):
    response = api.get("/api/conversations", query_string={"cursor": cursor})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "cursor"


# --- get ----------------------------------------------------------------------


def test_get_returns_the_conversation(api):
    created = api.create_conversation("mine")
    response = api.get(f"/api/conversations/{created['id']}")
    assert response.status_code == 200
    assert response.json == created


@pytest.mark.parametrize("conversation_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_get_of_a_missing_or_malformed_id_is_404(api, conversation_id):
    response = api.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


# --- rename -------------------------------------------------------------------


def test_rename_sets_the_title_and_counts_as_activity(api):
    created = api.create_conversation("old")
    response = api.patch(f"/api/conversations/{created['id']}", json={"title": " new  name "})
    assert response.status_code == 200
    assert response.json["title"] == "new name"
    assert response.json["updated_at"] > created["updated_at"]
    assert api.get(f"/api/conversations/{created['id']}").json == response.json


def test_rename_to_null_clears_the_title(api):
    created = api.create_conversation("old")
    response = api.patch(f"/api/conversations/{created['id']}", json={"title": None})
    assert response.status_code == 200
    assert response.json["title"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": ""}, "title"),
        ({"title": "ok", "pinned": "yes"}, "pinned"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_rename_is_422_and_keeps_the_old_title(api, body, field):
    created = api.create_conversation("old")
    response = api.patch(f"/api/conversations/{created['id']}", json=body)
    assert response.status_code == 422
    assert response.json["error"]["field"] == field
    assert api.get(f"/api/conversations/{created['id']}").json == created


def test_rename_of_a_missing_conversation_is_404(api):
    response = api.patch(f"/api/conversations/{uuid.uuid4()}", json={"title": "x"})
    assert response.status_code == 404


# --- delete -------------------------------------------------------------------


def test_delete_is_204_and_removes_the_conversation_with_its_messages(api):
    created = api.create_conversation("doomed")
    api.add_message(created["id"])
    kept = api.create_conversation("kept")

    response = api.delete(f"/api/conversations/{created['id']}")
    assert response.status_code == 204
    assert response.data == b""
    assert api.get(f"/api/conversations/{created['id']}").status_code == 404
    assert api.get(f"/api/conversations/{created['id']}/messages").status_code == 404
    assert api.get("/api/conversations").json["items"] == [kept]


def test_deleting_twice_is_404_the_second_time(api):
    created = api.create_conversation()
    assert api.delete(f"/api/conversations/{created['id']}").status_code == 204
    assert api.delete(f"/api/conversations/{created['id']}").status_code == 404

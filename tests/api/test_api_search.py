"""GET /api/search: the caller's threads that hold every word, with snippets."""

from __future__ import annotations

SEARCH_KEYS = {"items", "next_cursor"}


def test_search_finds_the_callers_threads_with_their_matching_messages(api, other_api):
    mine = api.create_conversation("Trip to Lisbon")
    message = api.add_message(mine["id"], "Which tram goes to Belém? " + "and more " * 30)
    theirs = other_api.create_conversation("Lisbon too")
    other_api.add_message(theirs["id"], "tram in Belém")
    response = api.get("/api/search", query_string={"q": "belem TRAM"})
    assert response.status_code == 200
    assert set(response.json) == SEARCH_KEYS and response.json["next_cursor"] is None
    [hit] = response.json["items"]
    assert hit["conversation"]["id"] == mine["id"]
    [found] = hit["messages"]
    assert {key: found[key] for key in ("id", "role", "content")} == {
        key: message[key] for key in ("id", "role", "content")
    }
    assert found["snippet"].startswith("Which tram goes to Belém?") and found["snippet"].endswith("…")


def test_a_title_only_hit_has_no_messages(api):
    api.create_conversation("Zeppelin plans")
    [hit] = api.get("/api/search?q=zepp").json["items"]
    assert hit["messages"] == []


def test_pages_of_twenty_follow_the_cursor(api):
    ids = [api.create_conversation(f"airship {n}")["id"] for n in range(23)]
    first = api.get("/api/search?q=airship").json
    assert len(first["items"]) == 20 and first["next_cursor"]
    rest = api.get("/api/search", query_string={"q": "airship", "cursor": first["next_cursor"]}).json
    assert rest["next_cursor"] is None
    found = [hit["conversation"]["id"] for hit in first["items"] + rest["items"]]
    assert found == ids[::-1]


def test_an_empty_query_finds_nothing(api):
    api.create_conversation("anything")
    assert api.get("/api/search").json == {"items": [], "next_cursor": None}
    assert api.get("/api/search?q=%20%22*").json == {"items": [], "next_cursor": None}


def test_a_query_over_200_characters_is_refused(api):
    response = api.get("/api/search", query_string={"q": "a" * 201})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "q"
    assert api.get("/api/search", query_string={"q": "a" * 200}).status_code == 200


def test_a_bad_cursor_is_refused(api):
    response = api.get("/api/search?q=x&cursor=nonsense")
    assert (response.status_code, response.json["error"]["field"]) == (422, "cursor")


def test_search_needs_credentials(anonymous):
    assert anonymous.get("/api/search?q=x").status_code == 401

"""The API's side of organising: PATCH pinned/archived, DELETE to the trash or for good, restore, state=."""

from __future__ import annotations


def test_api_trash_restore_permanent_state_and_patch(api, app):
    created = api.create_conversation("Via API")
    url = f"/api/conversations/{created['id']}"
    pinned = api.patch(url, json={"pinned": True, "archived": True})
    assert (pinned.json["pinned"], pinned.json["archived"]) == (True, True)
    assert pinned.json["updated_at"] == created["updated_at"]  # not activity
    assert [c["id"] for c in api.get("/api/conversations?state=archived").json["items"]] == [created["id"]]
    assert api.get("/api/conversations").json["items"] == []
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    trash = api.get("/api/conversations?state=trash").json["items"]
    assert [c["id"] for c in trash] == [created["id"]] and trash[0]["deleted_at"]
    restored = api.post(f"{url}/restore")
    assert restored.status_code == 200 and restored.json["deleted_at"] is None
    assert api.delete(f"{url}?permanent=1").status_code == 204
    assert api.post(f"{url}/restore").status_code == 404
    assert api.get("/api/conversations?state=gone").status_code == 422
    assert api.delete(f"{url}?permanent=yes").status_code == 422

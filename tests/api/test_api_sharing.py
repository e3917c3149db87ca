"""/api/conversations/<id>/share: make, refresh and revoke a thread's link."""

from __future__ import annotations

import re

from tests.api.conftest import Caller

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LINK = re.compile(r"^http://localhost/s/[A-Za-z0-9_-]{32}$")


def share(caller: Caller, conversation_id: str):
    return caller.post(f"/api/conversations/{conversation_id}/share")


def test_sharing_answers_the_link_and_when_it_was_made(callers):
    alice, _ = callers
    thread = alice.create_conversation("Plans")
    alice.add_message(thread["id"], "first")
    response = share(alice, thread["id"])
    assert response.status_code == 201
    assert set(response.json) == {"url", "created_at"}
    assert LINK.match(response.json["url"]) and ISO_UTC.match(response.json["created_at"])
    page = alice.client.get(response.json["url"].removeprefix("http://localhost"))
    assert page.status_code == 200 and "first" in page.text


def test_sharing_again_refreshes_the_snapshot_under_the_same_link(api):
    thread = api.create_conversation("Plans")
    made = share(api, thread["id"]).json
    api.add_message(thread["id"], "added later")
    path = made["url"].removeprefix("http://localhost")
    assert "added later" not in api.client.get(path).text
    again = share(api, thread["id"])
    assert again.status_code == 200 and again.json == made
    assert "added later" in api.client.get(path).text


def test_delete_revokes_the_link(api):
    thread = api.create_conversation("Plans")
    path = share(api, thread["id"]).json["url"].removeprefix("http://localhost")
    assert api.delete(f"/api/conversations/{thread['id']}/share").status_code == 204
    assert api.client.get(path).status_code == 404
    again = api.delete(f"/api/conversations/{thread['id']}/share")
    assert again.status_code == 404 and again.json["error"]["code"] == "not_found"


def test_another_users_thread_cannot_be_shared_or_unshared(api, other_api):
    thread = api.create_conversation("Plans")
    share(api, thread["id"])
    assert share(other_api, thread["id"]).status_code == 404
    assert other_api.delete(f"/api/conversations/{thread['id']}/share").status_code == 404


def test_an_anonymous_caller_gets_401(anonymous, api):
    thread = api.create_conversation("Plans")
    assert share(anonymous, thread["id"]).status_code == 401


def test_with_sharing_off_the_share_routes_are_404_in_json(make_app, client_for, user):
    from tests.api.conftest import bearer, make_token

    app = make_app(PARLEY_SHARING="off")
    off = Caller(client_for(app), bearer(make_token(app, user)))
    thread = off.create_conversation("Plans")
    response = share(off, thread["id"])
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert off.delete(f"/api/conversations/{thread['id']}/share").status_code == 404

"""Personal API tokens on the settings page: made, shown once, used, revoked."""

from __future__ import annotations

import re

import pytest

from tests.html import parse
from webapp.extensions import db
from webapp.models import ApiToken


def create(client, name="laptop script"):
    return client.post("/settings/tokens", data={"name": name})


def test_a_new_token_is_shown_once_and_works_with_the_api(app, client, auth, user):
    auth.login()
    response = create(client)
    # Post/redirect/get: a reload of the page shown does not post again.
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings"
    page = parse(client.get("/settings").text)
    shown = page.one("status", re.compile("shown only this once"))
    assert shown["id"] == "new-token"
    token = shown.by_label("New token")["value"]
    assert token.startswith("parley_")
    assert shown.by_label("New token").has("autofocus")  # which scrolls it into view
    assert shown.one("button", "Copy the new token")["data-copy"] == "new-token-value"
    assert page.one("table", "Your API tokens").one("cell", "laptop script")
    again = client.get("/settings").text
    assert token not in again and "shown only this once" not in again
    api = app.test_client()
    listed = api.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    with app.app_context():
        stored = db.session.scalars(db.select(ApiToken)).one()
        assert stored.token_hash != token and token not in stored.token_hash


def test_revoking_a_token_locks_it_out(app, client, auth, user):
    auth.login()
    token = parse(client.get(create(client).headers["Location"]).text).by_label("New token")["value"]
    revoke = parse(client.get("/settings").text).one("button", "Revoke laptop script").closest("form")
    response = client.post(revoke["action"])
    assert (response.status_code, response.headers["Location"]) == (303, "/settings")
    assert "You have no tokens." in client.get("/settings").text
    refused = app.test_client().get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json["error"]["code"]


@pytest.mark.parametrize(
    ("name", "message"), [("", "Give the token a name"), ("\u200b\ufeff", "Give the token a name"), ("x" * 101, "100")]
)
def test_a_bad_token_name_is_refused(app, client, auth, user, name, message):
    auth.login()
    response = create(client, name)
    assert response.status_code == 422
    assert message in response.text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 0


def test_another_users_token_cannot_be_revoked(app, client, auth, user, other_user):
    auth.login("bob")
    create(client, "bob's")
    with app.app_context():
        bobs = db.session.scalars(db.select(ApiToken)).one().id
    client.post("/logout")
    auth.login("alice")
    assert client.post(f"/settings/tokens/{bobs}/delete").status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, bobs) is not None

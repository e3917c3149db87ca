"""Who may call the API: tokens, sessions, CSRF, isolation and rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.api.conftest import Caller, bearer, csrf_token_for, make_token
from tests.factories import sign_in
from webapp.extensions import db
from webapp.models import ApiToken, User
from webapp.tokens import LAST_USED_RESOLUTION, revoke_token

# Every endpoint that needs a caller: method, path ({id}: an existing
# conversation), JSON body.
ENDPOINTS = [
    ("POST", "/api/conversations", {"title": "x"}),
    ("GET", "/api/conversations", None),
    ("GET", "/api/conversations/{id}", None),
    ("PATCH", "/api/conversations/{id}", {"title": "x"}),
    ("DELETE", "/api/conversations/{id}", None),
    ("POST", "/api/conversations/{id}/messages", {"role": "user", "content": "hi"}),
    ("GET", "/api/conversations/{id}/messages", None),
]
ONE_CONVERSATION = [e for e in ENDPOINTS if "{id}" in e[1]]
WRITES = [e for e in ENDPOINTS if e[0] != "GET"]


def call(caller: Caller, endpoint, conversation_id: str, **kwargs):
    method, path, body = endpoint
    return caller.request(method, path.format(id=conversation_id), json=body, **kwargs)


def endpoint_id(endpoint) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


def last_used_at(app, plaintext_name: str):
    with app.app_context():
        return db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == plaintext_name))


# --- no or bad credentials ----------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_anonymous_calls_are_401_json_not_a_redirect(api, anonymous, endpoint):
    conversation = api.create_conversation("alice's")
    response = call(anonymous, endpoint, conversation["id"])
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "authorization",
    ["Bearer nope", "Bearer parley_" + "x" * 43, "Bearer ", "Bearer", "Basic YWxpY2U6c2VjcmV0", "parley_abc"],
)
def test_a_bad_authorization_header_is_401_invalid_token(client, token, authorization):
    response = client.get("/api/conversations", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_a_bad_token_is_refused_even_with_a_valid_session(client, user):
    # A script that sends a wrong token must learn so, not act as whoever is signed in.
    sign_in(client, user)
    response = client.get("/api/conversations", headers=bearer("parley_" + "x" * 43))
    assert response.status_code == 401


def test_the_token_wins_over_the_session_cookie(app, client, user, other_user):
    sign_in(client, user)
    Caller(client).create_conversation("alice's")
    bobs_token = make_token(app, other_user)
    page = client.get("/api/conversations", headers=bearer(bobs_token)).json
    assert page["items"] == []
    created = client.post("/api/conversations", json={"title": "bob's"}, headers=bearer(bobs_token)).json
    assert created["user_id"] == other_user.id


def test_a_token_request_gets_no_session_cookie(api):
    # A script has no use for one, and must not start acting as a browser.
    response = api.post("/api/conversations", json={"title": "x"})
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_the_openapi_document_needs_no_credentials(anonymous):
    response = anonymous.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")


# --- token lifecycle ----------------------------------------------------------


def test_token_lifecycle_use_records_last_used_and_revoking_ends_it(app, client, user):
    plaintext = make_token(app, user, "laptop")
    assert last_used_at(app, "laptop") is None

    assert client.get("/api/conversations", headers=bearer(plaintext)).status_code == 200
    first_use = last_used_at(app, "laptop")
    assert first_use is not None

    # Within the minute, further requests write nothing.
    assert client.get("/api/conversations", headers=bearer(plaintext)).status_code == 200
    assert last_used_at(app, "laptop") == first_use

    # A minute on, the next request records the new time.
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "laptop"))
        token.last_used_at = first_use - LAST_USED_RESOLUTION
        token_id = token.id
        db.session.commit()
    assert client.get("/api/conversations", headers=bearer(plaintext)).status_code == 200
    assert last_used_at(app, "laptop") > first_use

    with app.app_context():
        revoke_token(db.session.get(User, user.id), token_id)
        db.session.commit()
    response = client.get("/api/conversations", headers=bearer(plaintext))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_revoking_one_token_leaves_the_others_working(app, client, user):
    keep, drop = make_token(app, user, "keep"), make_token(app, user, "drop")
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "drop"))
        revoke_token(db.session.get(User, user.id), token.id)
        db.session.commit()
    assert client.get("/api/conversations", headers=bearer(drop)).status_code == 401
    assert client.get("/api/conversations", headers=bearer(keep)).status_code == 200


def test_a_disabled_accounts_token_and_session_stop_working(app, user, token):
    token_client, session_client = app.test_client(), app.test_client()
    sign_in(session_client, user)
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert token_client.get("/api/conversations", headers=bearer(token)).status_code == 401
    assert session_client.get("/api/conversations").status_code == 401


def test_a_session_whose_login_ended_is_401(app, client, user):
    sign_in(client, user)
    with app.app_context():
        db.session.get(User, user.id).session_token = "replaced-by-a-password-change"
        db.session.commit()
    assert client.get("/api/conversations").status_code == 401


# --- session auth and CSRF ----------------------------------------------------


def test_a_signed_in_browser_can_use_the_api(session_api, user):
    created = session_api.create_conversation("from the page")
    assert created["user_id"] == user.id
    assert session_api.get("/api/conversations").json["items"] == [created]


@pytest.mark.parametrize("endpoint", WRITES, ids=endpoint_id)
def test_a_cookie_write_without_the_csrf_header_is_403_and_changes_nothing(app, csrf_app, user, token, endpoint):
    conversation = Caller(app.test_client(), bearer(token)).create_conversation("before")
    client = csrf_app.test_client()
    sign_in(client, user)

    response = call(Caller(client), endpoint, conversation["id"])
    assert response.status_code == 403
    assert response.json["error"]["code"] == "csrf_failed"
    assert "X-CSRFToken" in response.json["error"]["message"]
    page = client.get("/api/conversations").json
    assert page["items"] == [conversation]
    assert client.get(f"/api/conversations/{conversation['id']}/messages").json["items"] == []


def test_a_cookie_write_with_a_wrong_csrf_token_is_403(csrf_app, user):
    client = csrf_app.test_client()
    sign_in(client, user)
    csrf_token_for(csrf_app, client)
    response = client.post("/api/conversations", json={}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 403


@pytest.mark.parametrize("endpoint", WRITES, ids=endpoint_id)
def test_a_cookie_write_with_the_csrf_header_succeeds(app, csrf_app, user, token, endpoint):
    conversation = Caller(app.test_client(), bearer(token)).create_conversation("before")
    client = csrf_app.test_client()
    sign_in(client, user)
    headers = {"X-CSRFToken": csrf_token_for(csrf_app, client)}
    assert call(Caller(client), endpoint, conversation["id"], headers=headers).status_code in (200, 201, 204)


@pytest.mark.parametrize("endpoint", WRITES, ids=endpoint_id)
def test_a_bearer_write_needs_no_csrf_token(app, csrf_app, token, endpoint):
    conversation = Caller(app.test_client(), bearer(token)).create_conversation("before")
    response = call(Caller(csrf_app.test_client(), bearer(token)), endpoint, conversation["id"])
    assert response.status_code in (200, 201, 204)


def test_a_cookie_read_needs_no_csrf_token(csrf_app, user):
    client = csrf_app.test_client()
    sign_in(client, user)
    assert client.get("/api/conversations").status_code == 200


# --- isolation ----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ONE_CONVERSATION, ids=endpoint_id)
def test_another_users_conversation_is_404_and_untouched(callers, endpoint):
    alice, bob = callers
    conversation = alice.create_conversation("alice's")
    alice.add_message(conversation["id"], "private")

    response = call(bob, endpoint, conversation["id"])
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert alice.get(f"/api/conversations/{conversation['id']}").json["title"] == "alice's"
    assert [m["content"] for m in alice.get(f"/api/conversations/{conversation['id']}/messages").json["items"]] == [
        "private"
    ]


def test_a_list_shows_only_the_callers_conversations(callers):
    alice, bob = callers
    alice.create_conversation("alice's")
    bobs = bob.create_conversation("bob's")
    assert bob.get("/api/conversations").json["items"] == [bobs]


def test_a_created_conversation_belongs_to_the_caller(callers, user, other_user):
    alice_caller, bob_caller = callers
    assert bob_caller.create_conversation("mine")["user_id"] == other_user.id
    assert alice_caller.get("/api/conversations").json["items"] == []


def test_a_cursor_from_another_users_list_shows_only_the_callers_own(callers):
    alice, bob = callers
    bobs_older = bob.create_conversation("bob's, older")
    for i in range(3):
        alice.create_conversation(f"a{i}")
    cursor = alice.get("/api/conversations", query_string={"limit": 1}).json["next_cursor"]
    # A cursor is only a position in time: it pages through the caller's own.
    assert bob.get("/api/conversations", query_string={"cursor": cursor}).json["items"] == [bobs_older]


# --- rate limits ----------------------------------------------------------------


@pytest.fixture
def limited_app(app, make_app):
    """Rate limits on (they are off in tests), two writes a minute (same database)."""
    return make_app(RATELIMIT_ENABLED=True, API_WRITE_RATE_LIMIT="2 per minute")


def test_too_many_writes_are_429_with_retry_after(limited_app, token):
    api = Caller(limited_app.test_client(), bearer(token))
    conversation = api.create_conversation("one")
    api.add_message(conversation["id"])

    response = api.post("/api/conversations", json={"title": "three"})
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert [c["title"] for c in api.get("/api/conversations").json["items"]] == ["one"]


def test_reads_are_not_rate_limited(limited_app, token):
    api = Caller(limited_app.test_client(), bearer(token))
    for _ in range(5):
        assert api.get("/api/conversations").status_code == 200
    assert api.post("/api/conversations").status_code == 201


def test_the_write_limit_is_per_account_not_per_address(limited_app, user, other_user):
    # Both test clients come from the same address.
    alice_api = Caller(limited_app.test_client(), bearer(make_token(limited_app, user)))
    bob_api = Caller(limited_app.test_client(), bearer(make_token(limited_app, other_user)))
    alice_api.create_conversation()
    alice_api.create_conversation()
    assert alice_api.post("/api/conversations").status_code == 429
    assert bob_api.post("/api/conversations").status_code == 201


def test_an_accounts_tokens_and_session_share_one_budget(limited_app, user):
    first = Caller(limited_app.test_client(), bearer(make_token(limited_app, user, "one")))
    second = Caller(limited_app.test_client(), bearer(make_token(limited_app, user, "two")))
    session_client = limited_app.test_client()
    sign_in(session_client, user)
    first.create_conversation()
    second.create_conversation()
    assert session_client.post("/api/conversations").status_code == 429

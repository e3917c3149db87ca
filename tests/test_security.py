"""Headers, cookies and error pages that every response gets."""

from __future__ import annotations

import pytest

from tests.factories import HTMX, PASSWORD
from tests.html import parse


@pytest.mark.parametrize("path", ["/login", "/healthz", "/no-such-page", "/static/css/parley.css"])
def test_security_headers_on_every_response(client, path):
    with client.get(path) as response:  # closes the static file it streams
        pass
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script(client):
    page = client.get("/login").text
    assert "<script>" not in page
    assert " on" + "click=" not in page


def test_session_cookie_is_httponly_and_samesite_lax(client, auth, user):
    response = auth.login(remember="y")
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]


def test_cookies_are_secure_when_configured(make_app, user):
    client = make_app(PARLEY_SECURE_COOKIES=True).test_client()  # on the database where alice is
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_404_page_matches_the_site(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "There is nothing here" in response.text
    page = parse(response.text)
    assert page.one("banner").one("link", "Parley")["href"] == "/"  # the site's own header
    assert page.one("heading", level=1).text == "Not found"


def test_404_for_htmx_is_an_inline_notice(client):
    response = client.get("/no-such-page", headers=HTMX)
    assert response.status_code == 404
    notice = parse(response.text).top
    assert notice.role == "alert" and notice.text.startswith("Not found.")
    assert "<html" not in response.text


def test_405_page(client):
    response = client.put("/login")
    assert response.status_code == 405
    assert "cannot be done this way" in response.text


def test_413_page_for_a_body_over_the_limit(client):
    response = client.post("/login", data={"username": "x" * (2 * 1024 * 1024), "password": "y"})
    assert response.status_code == 413
    assert "too large" in response.text


def test_500_page_leaks_nothing(make_app):
    app = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret database password in a traceback")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "The server hit a problem" in response.text
    assert "secret" not in response.text
    assert "Traceback" not in response.text


def test_admin_area_is_403_for_users_and_login_for_anonymous(client, auth, user):
    assert client.get("/admin/").status_code == 302
    auth.login()
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "admins only" in response.text


def test_admin_area_opens_for_admins(client, auth, admin_user):
    auth.login("root")
    assert client.get("/admin/").status_code == 200

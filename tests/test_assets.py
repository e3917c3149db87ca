"""What a browser downloads (``webapp/assets.py``): static files under
versioned URLs kept for a year, and answers compressed for a browser's own
requests only."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import sign_in
from tests.html import parse
from webapp.extensions import db
from webapp.models import Message

STATIC = Path(__file__).resolve().parents[1] / "static"
BROWSER = {"Sec-Fetch-Site": "same-origin", "Accept-Encoding": "gzip"}


def static_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


def test_static_files_have_versioned_urls_kept_for_a_year(client):
    urls = static_urls(client.get("/login").text)
    assert any("parley.css" in url for url in urls) and any("htmx.min.js" in url for url in urls)
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        response = client.get(url)
        assert response.status_code == 200
        assert response.cache_control.max_age == 365 * 24 * 3600 and response.cache_control.immutable
        response.close()


@pytest.mark.parametrize("query", ["", "?v=000000000000"])
def test_a_static_url_without_its_version_is_asked_again_each_time(client, query):
    response = client.get(f"/static/js/parley.js{query}")
    assert response.status_code == 200
    assert not response.cache_control.immutable and response.cache_control.max_age != 365 * 24 * 3600
    response.close()


def test_a_changed_file_gets_a_new_url(app, tmp_path):
    app.static_folder = str(tmp_path)
    (tmp_path / "a.css").write_text("body { color: red }")
    with app.test_request_context():
        from flask import url_for

        before = url_for("static", filename="a.css")
        (tmp_path / "a.css").write_text("body { color: blue }")
        assert url_for("static", filename="a.css") != before


def test_a_browsers_own_requests_get_compressed_answers(client, user, make_thread):
    thread = make_thread(user, messages=6)
    sign_in(client, user)
    plain = client.get(f"/c/{thread}").data
    response = client.get(f"/c/{thread}", headers=BROWSER)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    shown = gzip.decompress(response.data).decode()

    def messages(page: str) -> str:  # the CSRF tokens aside: they carry the time they were made
        return re.sub(r'value="[^"]*"', "", str(parse(page).by_id("message-list").tag))

    assert messages(shown) == messages(plain.decode()) and "Message 006" in shown
    script = client.get(static_urls(plain.decode())[-1], headers=BROWSER)
    assert script.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(script.data) == (STATIC / "js" / "parley.js").read_bytes()
    script.close()


@pytest.mark.parametrize("site", ["cross-site", "same-site", None])
def test_other_sites_and_scripts_get_plain_answers(client, user, make_thread, site):
    # Another site's requests must not measure compressed pages (BREACH);
    # a script (no Sec-Fetch-Site) expects plain JSON.
    thread = make_thread(user, messages=2)
    sign_in(client, user)
    headers = {"Accept-Encoding": "gzip"} | ({"Sec-Fetch-Site": site} if site else {})
    for url in (f"/c/{thread}", f"/api/conversations/{thread}/messages"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers


def test_a_reply_stream_is_never_compressed(client, user, make_thread, app):
    thread = make_thread(user, messages=2)
    sign_in(client, user)
    with app.app_context():
        reply = db.session.scalars(select(Message).where(Message.role == "assistant")).one().id
    response = client.get(f"/c/{thread}/messages/{reply}/stream", headers=BROWSER)
    assert response.mimetype == "text/event-stream"
    assert "Content-Encoding" not in response.headers
    response.close()

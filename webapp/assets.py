"""What a browser downloads, made small and kept.

- **Static files under versioned URLs**: ``url_for("static", …)`` adds
  ``v=``, a digest of the file, so that a browser may keep each file for a
  year without asking again (``Cache-Control: immutable``); a changed file
  has a new URL. Without ``v=`` (an old page, a hand-typed URL) a file is
  revalidated as Flask does by default.
- **Compression** (Flask-Compress): pages, partials, CSS and scripts go
  zstd- or gzip-compressed to a browser that accepts it; a thread page
  of 140 KB travels as about 12 KB. A reply's Server-Sent Events are not
  (``text/event-stream`` is not among Flask-Compress's types: a compressor
  would hold back what must be sent at once), nor is a ZIP (compressed
  already).

  A compressed page's length can give away a secret in it (the BREACH
  attack: a page that repeats what another site put in its URL beside a
  CSRF token). That needs the other site to make the reader's browser ask
  for the page many times; such requests say ``Sec-Fetch-Site: cross-site``
  (or ``same-site``), and their answers go uncompressed. The session cookie
  is ``SameSite=Lax`` besides, so that only top-level navigations carry it.
"""

from __future__ import annotations

import functools
import hashlib
import os

from flask import Flask, Response, request
from flask_compress import Compress

YEAR = 365 * 24 * 3600
#: ``Sec-Fetch-Site`` values of requests whose answers may be compressed: a
#: browser's own for the app's pages, and for what the reader typed or
#: bookmarked. Scripts (which send none) get plain answers, as they expect.
_OWN_REQUESTS = {"same-origin", "none"}

compress = Compress()


@functools.lru_cache(maxsize=256)
def _digest(path: str, modified: int, size: int) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:12]


def static_version(app: Flask, filename: str) -> str | None:
    """The version of a static file (a digest of it), or None if there is no such file."""
    path = os.path.join(app.static_folder or "", filename)
    try:
        found = os.stat(path)
    except OSError:
        return None
    return _digest(path, found.st_mtime_ns, found.st_size)


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_ALGORITHM", ["zstd", "gzip"])
    app.config.setdefault("COMPRESS_STREAMS", False)
    app.config["COMPRESS_REGISTER"] = False  # compressed only by the hook below
    compress.init_app(app)

    @app.after_request
    def compressed(response: Response) -> Response:
        if request.headers.get("Sec-Fetch-Site", "") in _OWN_REQUESTS:
            if request.endpoint == "static" and response.status_code == 200 and response.is_streamed:
                # A static file is sent from disk as a stream; read (a few
                # dozen KB at most) to be compressed as a whole.
                response.direct_passthrough = False
                response.make_sequence()
            return compress.after_request(response)
        response.vary.add("Accept-Encoding")
        return response

    @app.url_defaults
    def versioned_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = static_version(app, values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def keep_versioned_static(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code == 200 and request.args.get("v"):
            if request.args["v"] == static_version(app, request.view_args.get("filename", "")):
                response.cache_control.public = True
                response.cache_control.max_age = YEAR
                response.cache_control.immutable = True
                response.cache_control.no_cache = None
        return response

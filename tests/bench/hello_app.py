"""The baselines of the HTTP benchmarks, served by the same gunicorn
settings as Parley: the least a Flask app can do per request (``/``), and
the least it can do to answer a given number of bytes (``/bytes/<n>``, a
page of that size held in memory), the yardstick of ``page_cost.py``."""

import functools

from flask import Flask, Response

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"


@functools.cache
def _body(size: int) -> bytes:
    line = b"<p>" + b"x" * 75 + b"</p>\n"
    return (line * (size // len(line) + 1))[:size]


@app.route("/bytes/<int:size>", methods=["GET", "POST"])
def same_bytes(size: int):
    return Response(_body(size), mimetype="text/html")

"""The baseline of the HTTP benchmark: the least a Flask app can do per
request, served by the same gunicorn settings as Parley."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"

"""gunicorn settings for ``make run``: ``gunicorn -c python:webapp.gunicorn_conf wsgi:app``.

Threaded workers, because a streamed reply holds its request open for as long
as the model talks; each thread holds one stream. Override any of these on
the command line, e.g. ``--bind 0.0.0.0:8000 --workers 2``; ``make run``
takes the address from ``HOST`` and ``PORT`` (or ``BIND``).
"""

import os
import signal
import threading


def bind_address() -> str:
    """Where to listen: ``BIND`` (gunicorn's form: ``host:port``,
    ``unix:/path``), else ``HOST`` (default 127.0.0.1) and ``PORT``
    (default 5000)."""
    if os.environ.get("BIND"):
        return os.environ["BIND"]
    host = os.environ.get("HOST") or "127.0.0.1"
    port = os.environ.get("PORT") or "5000"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"PORT must be a port number from 1 to 65535, not {port!r}.")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


bind = bind_address()
workers = 1
worker_class = "gthread"
threads = 256
# A stream sends a keep-alive comment every 15 s; a worker that sends nothing
# for this long is stuck and gets restarted.
timeout = 60
# On SIGTERM running replies get PARLEY_SHUTDOWN_GRACE seconds to finish
# (webapp.replies.shutdown); the worker waits that long and a little more
# for their readers to receive the end.
graceful_timeout = int(os.environ.get("PARLEY_SHUTDOWN_GRACE") or 20) + 10
keepalive = 5
accesslog = "-"
# gunicorn's runtime control socket is one per account (~/.gunicorn): two
# instances would fight over it, and Parley does not use it.
control_socket_disable = True


def post_worker_init(worker):
    """On SIGTERM (a deploy, a scale-down), start ending the worker's replies
    at once, beside gunicorn's own graceful stop of its requests."""
    from webapp.replies import shutdown

    app = worker.wsgi
    gunicorn_handler = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        grace = app.config["PARLEY_SHUTDOWN_GRACE"]
        threading.Thread(target=shutdown, args=(app, grace), name="parley-shutdown", daemon=True).start()
        gunicorn_handler(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)

"""gunicorn settings for ``make run``: ``gunicorn -c python:webapp.gunicorn_conf wsgi:app``.

Threaded workers, because a streamed reply holds its request open for as long
as the model talks; each thread holds one stream. Override any of these on
the command line, e.g. ``--bind 0.0.0.0:8000 --workers 2``.
"""

bind = "127.0.0.1:5000"
workers = 1
worker_class = "gthread"
threads = 256
# A stream sends a keep-alive comment every 15 s; a worker that sends nothing
# for this long is stuck and gets restarted.
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
# gunicorn's runtime control socket is one per account (~/.gunicorn): two
# instances would fight over it, and Parley does not use it.
control_socket_disable = True

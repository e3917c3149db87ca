"""gunicorn settings of the HTTP benchmark: the project's own
(``webapp/gunicorn_conf.py``), without the access log.

An access log line costs gunicorn about 0.1 ms of CPU per request even when
it goes to /dev/null (it is formatted all the same), and no command-line
flag turns it off once the config sets it. That is a third of what the bare
"hello" app costs, so it would hide part of the difference the benchmark
measures. The address comes from ``--bind``.
"""

from webapp.gunicorn_conf import *  # noqa: F403

accesslog = None

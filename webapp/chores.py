"""Work the app does by itself, now and then: today, purging the trash.

Each process looks at the clock on every request (a comparison, nothing
more); once its hour is up, it asks the database, in a thread of its own so
that no request waits, whether any instance has purged in the last hour
(``organising.purge_when_due``). However many processes and instances
there are, the purge runs about once an hour.
"""

from __future__ import annotations

import threading
import time

from flask import Flask

CHECK_EVERY = 3600.0  # seconds between one process's looks at the database


def init_app(app: Flask) -> None:
    if not app.config["PARLEY_AUTOMATIC_PURGE"]:
        return
    lock = threading.Lock()
    due = [time.monotonic()]  # the first request of a new process looks at once

    @app.before_request
    def purge_trash_when_due() -> None:
        now = time.monotonic()
        if now < due[0] or not lock.acquire(blocking=False):
            return
        try:
            due[0] = now + CHECK_EVERY
        finally:
            lock.release()
        threading.Thread(target=_purge, args=(app,), name="purge-trash", daemon=True).start()


def _purge(app: Flask) -> None:
    from webapp.extensions import db
    from webapp.organising import purge_when_due

    with app.app_context():
        try:
            purged = purge_when_due()
        except Exception:
            app.logger.exception("The trash purge failed; it is tried again within the hour.")
            db.session.rollback()
            return
        finally:
            db.session.remove()
        if purged:
            app.logger.info("Purged %d chat(s) from the trash.", purged)

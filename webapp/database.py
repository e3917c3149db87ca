"""Engine set-up that depends on which database is behind it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Wait for a writer instead of failing at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL: readers never wait for the writer. NORMAL is durable in WAL mode
    # except for the last transactions on power loss, not on a crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction commits (and never,
    if it rolls back): for telling other threads about what it wrote."""
    from webapp.extensions import db

    event.listen(db.session(), "after_commit", lambda _session: callback(), once=True)


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as plain SQLAlchemy types in new migrations,
    so that a migration never imports the app's code."""
    from webapp.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False

"""Engine set-up that depends on which database is behind it, and what it
means when the database cannot answer."""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import Dialect, Engine, Select, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.sql.compiler import Compiled

#: How long a SQLite write waits for another writer's lock, by default: the
#: Flask config key ``SQLITE_BUSY_TIMEOUT_MS`` changes it.
SQLITE_BUSY_TIMEOUT_MS = 5000

#: Seconds a client is told to wait (``Retry-After``) when the database
#: cannot answer.
RETRY_AFTER_SECONDS = 5

log = logging.getLogger(__name__)

# SQLite's result codes for a database that cannot answer now (the low byte
# of an extended code): busy, locked, I/O error, cannot open the file.
_SQLITE_UNAVAILABLE = {5, 6, 10, 14}


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot answer *now* (it is down
    or restarting, the connection broke, every pooled connection is busy,
    or SQLite's write lock stayed taken), rather than that the request or
    the code is wrong: the same request may succeed in a moment."""
    if isinstance(error, (PoolTimeout, InterfaceError)):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        # SQLite reports mistakes in SQL as OperationalError too.
        return code & 0xFF in _SQLITE_UNAVAILABLE
    # PostgreSQL (psycopg): lost connections, shutdown, out of resources.
    return True


def _sqlite_on_connect(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Wait for a writer instead of failing at once with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # WAL: readers never wait for the writer. NORMAL is durable in WAL mode
    # except for the last transactions on power loss, not on a crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# The statements before which pysqlite would begin a transaction itself (it
# looks at the first word), and SAVEPOINT, which begins one in SQLite.
_FIRST_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT)\b", re.IGNORECASE)
_SQLITE_BUSY = 5


def _take_write_lock(cursor: sqlite3.Cursor, statement: str) -> None:
    """Before a transaction's first write, take SQLite's write lock with
    ``BEGIN IMMEDIATE``, and wait once more if it stays taken.

    pysqlite runs reads outside any transaction and begins one just before
    the first write; that stays (a transaction that read first and must
    then take the lock fails at once, whatever the busy timeout, if another
    writer got in meanwhile). What changes is that the lock is taken here,
    explicitly, before anything is read or written in the transaction, so
    when the busy timeout runs out it is always safe to wait once more. If
    the lock is still taken then, the error reaches the request, which
    answers 503 (``is_unavailable``).
    """
    if cursor.connection.in_transaction or not _FIRST_WRITE.match(statement):
        return
    try:
        sqlite3.Cursor.execute(cursor, "BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF != _SQLITE_BUSY:
            raise
        log.warning("SQLite's write lock stayed taken for the busy timeout; waiting once more")
        sqlite3.Cursor.execute(cursor, "BEGIN IMMEDIATE")


class _WriteLockingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        _take_write_lock(self, sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        _take_write_lock(self, sql)
        return super().executemany(sql, parameters)


class _WriteLockingConnection(sqlite3.Connection):
    """A pysqlite connection whose cursors take the write lock as above.
    It waits in the driver's own call, not in an engine event: SQLAlchemy
    runs an event's listeners in a loop that must not block."""

    def cursor(self, factory: Any = _WriteLockingCursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)


def _sqlite_connect_args(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    cparams["factory"] = _WriteLockingConnection


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction commits (and never,
    if it rolls back): for telling other threads about what it wrote."""
    from webapp.extensions import db

    event.listen(db.session(), "after_commit", lambda _session: callback(), once=True)


def read_row(engine: Engine, statement: Select, values: dict[str, Any]) -> tuple | None:
    """The first row of ``statement``, read through the driver itself: for
    the one read that every signed-in request makes before anything else,
    where SQLAlchemy's execution of a statement costs more than the read.
    The values are the driver's own (no type conversion: an SQLite boolean
    is 0 or 1). The engine's statement listeners see the read, and its
    errors reach the request as SQLAlchemy's would (``is_unavailable``), a
    lost connection dropped from the pool."""
    compiled = _compiled(statement, engine.dialect)
    parameters = compiled.construct_params(values)
    if compiled.positiontup is not None:
        parameters = tuple(parameters[name] for name in compiled.positiontup)
    driver_error = engine.dialect.loaded_dbapi.Error
    connection = None
    try:
        connection = engine.raw_connection()
        cursor = connection.cursor()
        if engine.dispatch.before_cursor_execute:
            engine.dispatch.before_cursor_execute(None, cursor, compiled.string, parameters, None, False)
        cursor.execute(compiled.string, parameters)
        row = cursor.fetchone()
        cursor.close()
        return row
    except driver_error as error:
        lost = connection is not None and engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            compiled.string, parameters, error, driver_error, connection_invalidated=lost, dialect=engine.dialect
        ) from error
    finally:
        if connection is not None:
            connection.close()  # back to the pool, rolled back


@functools.lru_cache(maxsize=32)  # bounded: each engine (each test's app) has a dialect of its own
def _compiled(statement: Select, dialect: Dialect) -> Compiled:
    return statement.compile(dialect=dialect)


def configure_engine(engine: Engine) -> None:
    """Called with the app's context pushed: settings come from its config."""
    if engine.dialect.name == "sqlite":
        busy_timeout_ms = current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", SQLITE_BUSY_TIMEOUT_MS)
        event.listen(engine, "do_connect", _sqlite_connect_args)
        event.listen(engine, "connect", lambda *args: _sqlite_on_connect(busy_timeout_ms, *args))


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as plain SQLAlchemy types in new migrations,
    so that a migration never imports the app's code."""
    from webapp.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False

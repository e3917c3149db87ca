"""What plan the database chooses for a query: tests that a list walks its
index in order, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import event

from webapp.extensions import db


def query_plan(run) -> str:
    """The plan the database chooses for the last statement ``run`` executes."""
    seen: list[tuple] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, parameters = seen[-1]
    connection = db.session.connection()
    cursor = connection.connection.dbapi_connection.cursor()
    if engine.dialect.name == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
    # Tables this small are cheaper to read whole; ask whether the index can
    # serve the order at all.
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("SET LOCAL enable_bitmapscan = off")
    cursor.execute("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in cursor.fetchall())

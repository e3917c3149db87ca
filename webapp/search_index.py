"""The full-text index behind search: the database's own, kept in step by
the database itself, in the same transaction as every write.

- **SQLite**: two FTS5 tables, ``message_search`` (external content: the
  words of ``messages.content``, no second copy of the text) and
  ``conversation_search`` (titles), tokenized by ``unicode61`` with
  ``remove_diacritics 2`` and prefix indexes of 2 and 3 characters. Triggers
  on ``messages`` and ``conversations`` update them on every insert, update
  and delete, cascades included, whichever code wrote the row (a page, the
  API, the reply writer's own connection, a migration).
- **PostgreSQL**: the words of each message in a stored generated column,
  ``messages.search_words`` (``to_tsvector`` of the text in the
  ``parley_search`` configuration: ``simple`` after ``unaccent``; null while
  a reply is being written), made from the first ``MESSAGE_WORDS_CHARS``
  characters of the text (a tsvector holds at most 1 MB), with a GIN index;
  a GIN index on the same expression of titles. The database computes the column with every write,
  no trigger needed, and a search reads it rather than analysing the text of
  every row it looks at.

Both index the same words: runs of letters and digits (PostgreSQL's text is
first cut there, as SQLite's tokenizer cuts it), in any case, accents
removed. A reply is indexed once it ends: while it is ``pending`` or
``streaming`` its text changes every few seconds and is not searchable.

These objects are not in the models (SQLAlchemy cannot declare them), so:
the migration that adds them calls ``create_search_index``; ``db.create_all``
(the tests) does too, through the ``after_create`` event below; and the
comparison of migrations with models leaves them out through
``include_object``, the one place that knows their names.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, event

from webapp.models import LIVE_STATUSES, Conversation

#: The PostgreSQL text search configuration: every word, lower-cased, unaccented.
TS_CONFIG = "parley_search"

#: Searchable messages: not a reply still being written.
_NOT_LIVE = f"status NOT IN ({', '.join(repr(status) for status in LIVE_STATUSES)})"

#: Index objects outside the models, by name (tables, indexes, triggers).
SQLITE_TABLES = ("message_search", "conversation_search")
SQLITE_TRIGGERS = tuple(f"{table}_{event}" for table in SQLITE_TABLES for event in ("insert", "update", "delete"))
POSTGRESQL_INDEXES = ("ix_messages_search", "ix_conversations_search")
#: PostgreSQL: the generated column of message words (not in the models).
WORDS_COLUMN = "search_words"
#: PostgreSQL: the words of a message are those of its first this many
#: characters. A tsvector holds at most 1 MB: a long text of different words
#: (a log, a list of ids) made more, and the message could not be written at
#: all. 100,000 characters make at most about 600 KB (one-letter words of
#: four-byte letters); SQLite indexes the whole text.
MESSAGE_WORDS_CHARS = 100_000

_TOKENIZER = "tokenize = 'unicode61 remove_diacritics 2'"
#: SQLite: the lengths of word starts FTS5 keeps lists of, besides whole
#: words. A query word of such a length is one list, which FTS5 can seek in
#: (a thread's messages, a page of ids); a longer one makes FTS5 merge the
#: lists of every word it starts, anew for each query: a cost that grows with
#: the index. Up to 6 covers most words people type; each length adds to the
#: index (2 to 6: about 1.6 times the size of 2 and 3 alone).
MESSAGE_PREFIXES = "2 3 4 5 6"
_TITLE_PREFIXES = "2 3"  # titles are one row a thread: every list is short


def words_expression(column: str) -> str:
    """PostgreSQL: the tsvector of a text column, as the indexes hold it
    (a query must use exactly this expression for the index to serve it)."""
    return f"to_tsvector('{TS_CONFIG}'::regconfig, regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g'))"


def _not_live(row: str) -> str:
    return f"{row}.{_NOT_LIVE}"


def _sqlite_statements() -> list[str]:
    return [*_sqlite_message_statements(MESSAGE_PREFIXES), *_sqlite_title_statements()]


def _sqlite_message_statements(prefixes: str) -> list[str]:
    return [
        (
            "CREATE VIRTUAL TABLE message_search USING fts5(content, content = 'messages', content_rowid = 'id', "
            f"{_TOKENIZER}, prefix = '{prefixes}')"
        ),
        f"""CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN {_not_live("new")} BEGIN
            INSERT INTO message_search (rowid, content) VALUES (new.id, new.content);
        END""",
        # External content: the index is told the words it held, to remove them.
        f"""CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN {_not_live("old")} BEGIN
            INSERT INTO message_search (message_search, rowid, content) VALUES ('delete', old.id, old.content);
        END""",
        f"""CREATE TRIGGER message_search_update AFTER UPDATE OF content, status ON messages BEGIN
            INSERT INTO message_search (message_search, rowid, content)
                SELECT 'delete', old.id, old.content WHERE {_not_live("old")};
            INSERT INTO message_search (rowid, content) SELECT new.id, new.content WHERE {_not_live("new")};
        END""",
        # What was there before the index: every finished message.
        f"INSERT INTO message_search (rowid, content) SELECT id, content FROM messages WHERE {_NOT_LIVE}",
    ]


def _sqlite_title_statements() -> list[str]:
    return [
        # Conversations have no integer key of their own (a UUID; the hidden
        # rowid may change on VACUUM), so each title row carries the thread's
        # id as a token of its own, by which the triggers find it.
        (
            "CREATE VIRTUAL TABLE conversation_search USING fts5(title, conversation_id, "
            f"{_TOKENIZER}, prefix = '{_TITLE_PREFIXES}')"
        ),
        """CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversations BEGIN
            INSERT INTO conversation_search (title, conversation_id) VALUES (coalesce(new.title, ''), new.id);
        END""",
        """CREATE TRIGGER conversation_search_update AFTER UPDATE OF title ON conversations BEGIN
            UPDATE conversation_search SET title = coalesce(new.title, '')
            WHERE rowid IN (SELECT rowid FROM conversation_search
                            WHERE conversation_search MATCH '{conversation_id} : "' || old.id || '"');
        END""",
        """CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversations BEGIN
            DELETE FROM conversation_search
            WHERE rowid IN (SELECT rowid FROM conversation_search
                            WHERE conversation_search MATCH '{conversation_id} : "' || old.id || '"');
        END""",
        # What was there before the index: every title.
        "INSERT INTO conversation_search (title, conversation_id) SELECT coalesce(title, ''), id FROM conversations",
    ]


def _postgresql_statements(connection: Connection) -> list[str]:
    mapped = (
        "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart, "
        "int, uint, float, sfloat, version, email, url, host, url_path, file"
    )
    title_words = words_expression("coalesce(title, '')")
    # A managed database may need its administrator to allow this once
    # (see the README); without unaccent, accents could not be ignored.
    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    # Named with its schema: it may be installed in one outside the search
    # path (an ``extensions`` schema, or another schema of the same database).
    unaccent = connection.exec_driver_sql(
        "SELECT quote_ident(nspname) FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = extnamespace "
        "WHERE extname = 'unaccent'"
    ).scalar()
    return [
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {TS_CONFIG}",
        f"CREATE TEXT SEARCH CONFIGURATION {TS_CONFIG} (COPY = simple)",
        f"ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG} ALTER MAPPING FOR {mapped} WITH {unaccent}.unaccent, simple",
        *_postgresql_message_words(),
        f"CREATE INDEX ix_conversations_search ON conversations USING gin ({title_words})",
    ]


def _postgresql_message_words(chars: int | None = MESSAGE_WORDS_CHARS) -> list[str]:
    text = f"left(content, {chars})" if chars else "content"
    return [
        f"ALTER TABLE messages ADD COLUMN {WORDS_COLUMN} tsvector GENERATED ALWAYS AS "
        f"(CASE WHEN {_NOT_LIVE} THEN {words_expression(text)} END) STORED",
        f"CREATE INDEX ix_messages_search ON messages USING gin ({WORDS_COLUMN})",
    ]


def store_message_words(connection: Connection, chars: int | None = MESSAGE_WORDS_CHARS) -> None:
    """PostgreSQL: the stored column of message words, made from the first
    ``chars`` characters of each (``None``: all of it, as 0011 first made
    it), and its index: in place of an index on the expression of message
    words (as the index was first made), or of the column made from another
    length. Nothing to do on SQLite, or where the column is so made already."""
    if connection.dialect.name != "postgresql":
        return
    made = _words_column_expression(connection)
    if made is not None and _chars_of(made) == chars:
        return
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_messages_search")
    connection.exec_driver_sql(f"ALTER TABLE messages DROP COLUMN IF EXISTS {WORDS_COLUMN}")
    for statement in _postgresql_message_words(chars):
        connection.exec_driver_sql(statement)


def _chars_of(expression: str) -> int | None:
    """How many characters of a message the column's expression reads (as
    PostgreSQL writes it back: ``"left"(content, 100000)``); None: all."""
    found = re.search(r'left"?\(content, (\d+)\)', expression)
    return int(found.group(1)) if found else None


def index_message_prefixes(connection: Connection, prefixes: str = MESSAGE_PREFIXES) -> None:
    """SQLite: make the index of messages anew with lists of word starts of
    ``prefixes`` lengths (FTS5 cannot add them to an index), from the
    messages there. Nothing to do on PostgreSQL, whose GIN index seeks by
    any word start, or where the index has these lengths already."""
    if connection.dialect.name != "sqlite" or _message_prefixes(connection) == prefixes:
        return
    for trigger in SQLITE_TRIGGERS:  # on messages: they outlive the table they write to
        if trigger.startswith("message_search_"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    connection.exec_driver_sql("DROP TABLE IF EXISTS message_search")
    for statement in _sqlite_message_statements(prefixes):
        connection.exec_driver_sql(statement)


def _message_prefixes(connection: Connection) -> str | None:
    made = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'message_search'").scalar()
    found = re.search(r"prefix = '([^']*)'", made or "")
    return found.group(1) if found else None


def _words_column_expression(connection: Connection) -> str | None:
    """PostgreSQL: the expression of the stored column of message words, or
    None where there is no such column."""
    found = (
        "SELECT generation_expression FROM information_schema.columns WHERE table_schema = current_schema() "
        f"AND table_name = 'messages' AND column_name = '{WORDS_COLUMN}'"
    )
    return connection.exec_driver_sql(found).scalar()


def create_search_index(connection: Connection) -> None:
    """Create the index for this connection's database and fill it from the
    rows already there (the migration, and ``db.create_all``)."""
    dialect = connection.dialect.name
    if search_index_exists(connection):
        return
    statements = _sqlite_statements() if dialect == "sqlite" else _postgresql_statements(connection)
    for statement in statements:
        connection.exec_driver_sql(statement)


def search_index_exists(connection: Connection) -> bool:
    if connection.dialect.name == "sqlite":
        found = "SELECT count(*) FROM sqlite_master WHERE name = 'message_search'"
    else:
        # This schema's (the search path's), not another schema's of the database.
        found = (
            "SELECT count(*) FROM (SELECT to_regclass('ix_messages_search') AS found) AS index WHERE found IS NOT NULL"
        )
    return bool(connection.exec_driver_sql(found).scalar())


def drop_search_index(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for table in SQLITE_TABLES:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    else:
        for index in POSTGRESQL_INDEXES:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
        connection.exec_driver_sql(f"ALTER TABLE messages DROP COLUMN IF EXISTS {WORDS_COLUMN}")
        connection.exec_driver_sql(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {TS_CONFIG}")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic's comparison of the database with the models: leave out
    the search index, which the models cannot declare (see above). FTS5
    keeps its data in shadow tables named after the virtual table."""
    if type_ == "table" and name and any(name == t or name.startswith(t + "_") for t in SQLITE_TABLES):
        return False
    if type_ == "column" and name == WORDS_COLUMN:
        return False
    return not (type_ == "index" and name in POSTGRESQL_INDEXES)


def _on_create_all(target: Any, connection: Connection, **kw: Any) -> None:
    # ``db.create_all`` makes the tables from the models; the index follows
    # the last of the two tables it reads (the migration calls it itself).
    create_search_index(connection)


event.listen(Conversation.__table__.metadata, "after_create", _on_create_all)

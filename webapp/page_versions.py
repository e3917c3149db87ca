"""Each account's page version: a number that the database itself raises
with every write to what the account's pages show, so that a page rendered
at one version may be served again for as long as the version stays
(``webapp.page_cache``).

``users.page_version`` is raised by triggers, in the same transaction as the
write, whichever code made it (a page, the API, the reply writer, an import,
an admin, a migration, another instance): on the account's row itself, and
on its threads, messages, share links and API tokens.

- **SQLite**: a trigger per table and kind of write raises the version at
  once. SQLite writes one transaction at a time, so no two can wait on each
  other for the account's row.
- **PostgreSQL**: each account's version is raised once per transaction,
  at its commit: a trigger on threads, messages, links and tokens notes the
  account as a row is written (in a setting local to the transaction, with
  no lock), and the first of the triggers deferred to the commit raises
  every account noted, in the order of their ids. An import of ten thousand
  messages writes the account's row once; a transaction locks that row only
  once it has written every other, so that a rename beside a reply being
  written never waits on it in the middle; and two transactions that each
  change the threads of several accounts (an admin's bulk action, the trash
  purge) lock their rows in one order, so that one waits for the other
  rather than both for each other. What writes the account's row itself
  first (deleting the account) deletes its threads before it
  (``accounts.delete_user``), and a reply's lease, renewed for every reply a
  process writes at once, is no change a page shows. Left: a transaction
  that wrote an account's own row (which locks it there and then) and the
  threads of other accounts could still meet another raising the same
  accounts the other way round; none does (a role, a password, a deletion
  writes one account's rows alone).

These objects are not in the models (SQLAlchemy cannot declare triggers):
the migrations that make them call ``create_page_version_triggers``, and
``db.create_all`` (the tests) does too, through the ``after_create`` event
below.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event

from webapp.models import Message, User

#: The tables whose rows pages show, and how a row names its account.
_ACCOUNT_OF = {
    "conversations": "{row}.user_id",
    "messages": "(SELECT user_id FROM conversations WHERE id = {row}.conversation_id)",
    "shares": "{row}.user_id",
    "api_tokens": "{row}.user_id",
}
#: The kinds of write, and the row (the new or the old) that names the account.
_ROWS = {"INSERT": "new", "UPDATE": "new", "DELETE": "old"}
#: A message's columns that no page shows: the lease by which a process
#: holds a reply it writes, renewed every few seconds for all its replies at
#: once (of any number of accounts).
_UNSHOWN = {"lease_owner", "lease_until"}


def _event(table: str, kind: str) -> str:
    """The write a trigger fires on: for an update of messages, of the columns pages show."""
    if (table, kind) != ("messages", "UPDATE"):
        return kind
    return "UPDATE OF " + ", ".join(c.name for c in Message.__table__.c if c.name != "id" and c.name not in _UNSHOWN)


_BUMP = "UPDATE users SET page_version = page_version + 1 WHERE id = {account}"

_POSTGRESQL_FUNCTION = "parley_raise_page_version"
_POSTGRESQL_NOTE = "parley_note_page_version"
#: The settings, local to a transaction, of the accounts it has written, and
#: of those it has raised.
_NOTED = "parley.page_version_accounts"
_RAISED = "parley.raised_page_versions"


def _trigger_name(table: str, kind: str) -> str:
    return f"{table}_page_version_{kind.lower()}"


def _note_name(table: str, kind: str) -> str:
    return f"{table}_page_version_note_{kind.lower()}"


def _sqlite_statements() -> list[str]:
    statements = [
        # Any change to the account's own row (its name, its role) shows on
        # its pages; the raise itself changes the version, and stops there.
        """CREATE TRIGGER users_page_version AFTER UPDATE ON users
            WHEN new.page_version = old.page_version BEGIN
            UPDATE users SET page_version = page_version + 1 WHERE id = new.id;
        END"""
    ]
    for table, account in _ACCOUNT_OF.items():
        for kind, row in _ROWS.items():
            statements.append(
                f"""CREATE TRIGGER {_trigger_name(table, kind)} AFTER {_event(table, kind)} ON {table} BEGIN
                    {_BUMP.format(account=account.format(row=row))};
                END"""
            )
    return statements


def _postgresql_statements() -> list[str]:
    # As a row is written, its account is noted in a setting local to the
    # transaction (one setting, not one per account, which a pooled
    # connection would keep for good): ",3,17,", each account once, in the
    # order of the first writes. At the commit, the first of the deferred
    # triggers to fire raises every account noted and not yet raised, in the
    # order of their ids; the others find none left. The accounts raised are
    # the noted list as it was then: it only grows (a savepoint rolled back
    # takes back its notes and its raises alike).
    branches = "\n".join(
        f"""    {"IF" if i == 0 else "ELSIF"} TG_TABLE_NAME = '{table}' THEN
        SELECT {account.format(row="changed")} INTO account;"""
        for i, (table, account) in enumerate(_ACCOUNT_OF.items())
    )
    statements = [
        f"""CREATE OR REPLACE FUNCTION {_POSTGRESQL_NOTE}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    account bigint;
    noted text;  -- ",3,17,": the accounts this transaction has written
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
{branches}
    END IF;
    noted := coalesce(current_setting('{_NOTED}', true), '');
    IF account IS NOT NULL AND position(',' || account || ',' IN noted) = 0 THEN
        PERFORM set_config('{_NOTED}', coalesce(nullif(noted, ''), ',') || account || ',', true);
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END
$$""",
        f"""CREATE OR REPLACE FUNCTION {_POSTGRESQL_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('{_NOTED}', true), '');
    raised text := coalesce(current_setting('{_RAISED}', true), '');  -- the beginning of noted
    accounts bigint[];
BEGIN
    IF length(noted) > length(raised) THEN
        accounts := string_to_array(btrim(substr(noted, length(raised) + 1), ','), ',')::bigint[];
        -- The rows locked in one order, whatever order they were written
        -- in, and as an update locks them: not FOR UPDATE, which would wait
        -- for any transaction yet to commit a row naming the account (its
        -- foreign key holds a share of the account's row).
        PERFORM 1 FROM users WHERE id = ANY(accounts) ORDER BY id FOR NO KEY UPDATE;
        UPDATE users SET page_version = page_version + 1 WHERE id = ANY(accounts);
        PERFORM set_config('{_RAISED}', noted, true);
    END IF;
    RETURN NULL;
END
$$""",
        """CREATE OR REPLACE FUNCTION parley_raise_own_page_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.page_version = OLD.page_version THEN
        NEW.page_version := OLD.page_version + 1;
    END IF;
    RETURN NEW;
END
$$""",
        """CREATE TRIGGER users_page_version BEFORE UPDATE ON users
            FOR EACH ROW EXECUTE FUNCTION parley_raise_own_page_version()""",
    ]
    for table in _ACCOUNT_OF:
        for kind in _ROWS:
            # Before the row is written, so before any raise that may follow
            # it (at the end of the statement, under SET CONSTRAINTS ...
            # IMMEDIATE).
            statements.append(
                f"""CREATE TRIGGER {_note_name(table, kind)} BEFORE {_event(table, kind)} ON {table}
                    FOR EACH ROW EXECUTE FUNCTION {_POSTGRESQL_NOTE}()"""
            )
            statements.append(
                f"""CREATE CONSTRAINT TRIGGER {_trigger_name(table, kind)} AFTER {_event(table, kind)} ON {table}
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {_POSTGRESQL_FUNCTION}()"""
            )
    return statements


#: Every trigger, by name, and the table it is on: on both databases, and
#: on PostgreSQL only (the notes of the accounts written).
_TABLE_OF = {"users_page_version": "users", **{_trigger_name(t, kind): t for t in _ACCOUNT_OF for kind in _ROWS}}
_POSTGRESQL_TABLE_OF = {_note_name(t, kind): t for t in _ACCOUNT_OF for kind in _ROWS}
TRIGGERS = tuple(_TABLE_OF)
POSTGRESQL_TRIGGERS = tuple(_POSTGRESQL_TABLE_OF)


def _triggers_on(connection: Connection) -> dict[str, str]:
    if connection.dialect.name == "postgresql":
        return {**_TABLE_OF, **_POSTGRESQL_TABLE_OF}
    return _TABLE_OF


def page_version_triggers(connection: Connection) -> set[str]:
    """The names of the triggers that are there, of those the database should
    have (a migration that copies a table, as SQLite's batch mode does, would
    leave its triggers behind)."""
    if connection.dialect.name == "postgresql":
        found = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%(tables)s)"
        rows = connection.exec_driver_sql(found, {"tables": sorted(set(_TABLE_OF.values()))})
    else:
        rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {name for (name,) in rows} & set(_triggers_on(connection))


def create_page_version_triggers(connection: Connection) -> None:
    """Make the triggers, unless they are there (``db.create_all`` may run on made tables)."""
    if page_version_triggers(connection):
        return
    statements = _postgresql_statements() if connection.dialect.name == "postgresql" else _sqlite_statements()
    for statement in statements:
        connection.exec_driver_sql(statement)


def drop_page_version_triggers(connection: Connection) -> None:
    postgresql = connection.dialect.name == "postgresql"
    for name, table in _triggers_on(connection).items():
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{f' ON {table}' if postgresql else ''}")
    if postgresql:
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_POSTGRESQL_FUNCTION}()")
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_POSTGRESQL_NOTE}()")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS parley_raise_own_page_version()")


def _on_create_all(target: Any, connection: Connection, **kw: Any) -> None:
    # ``db.create_all`` makes the tables from the models; the migration calls it itself.
    create_page_version_triggers(connection)


event.listen(User.__table__.metadata, "after_create", _on_create_all)

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
- **PostgreSQL**: the triggers on threads, messages, links and tokens are
  deferred to the commit, and raise each account's version once per
  transaction: an import of ten thousand messages writes the account's row
  once, and a transaction locks that row only once it has written every
  other, so that a rename beside a reply being written never waits on it
  in the middle. What writes the account's row itself first (deleting the
  account) deletes its threads before it (``accounts.delete_user``), and a
  reply's lease, renewed for every reply a process writes at once, is no
  change a page shows. Left: two transactions that each change the threads
  of several accounts (an admin's bulk action, the trash purge), at the same
  moment, on the same accounts, in opposite orders, can deadlock at their
  commits; PostgreSQL ends one of them with an error, and its action can be
  done again.

These objects are not in the models (SQLAlchemy cannot declare triggers):
the migration that adds them calls ``create_page_version_triggers``, and
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


def _trigger_name(table: str, kind: str) -> str:
    return f"{table}_page_version_{kind.lower()}"


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
    # The account of the row, then the raise, once per account and
    # transaction: a setting local to the transaction lists the accounts
    # raised (one setting, not one per account, which a pooled connection
    # would keep for good).
    branches = "\n".join(
        f"""    {"IF" if i == 0 else "ELSIF"} TG_TABLE_NAME = '{table}' THEN
        SELECT {account.format(row="changed")} INTO account;"""
        for i, (table, account) in enumerate(_ACCOUNT_OF.items())
    )
    statements = [
        f"""CREATE OR REPLACE FUNCTION {_POSTGRESQL_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    account bigint;
    raised text;  -- ",3,17,": the accounts this transaction has raised
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
{branches}
    END IF;
    raised := coalesce(current_setting('parley.raised_page_versions', true), '');
    IF account IS NOT NULL AND position(',' || account || ',' IN raised) = 0 THEN
        UPDATE users SET page_version = page_version + 1 WHERE id = account;
        PERFORM set_config('parley.raised_page_versions', coalesce(nullif(raised, ''), ',') || account || ',', true);
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
            statements.append(
                f"""CREATE CONSTRAINT TRIGGER {_trigger_name(table, kind)} AFTER {_event(table, kind)} ON {table}
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {_POSTGRESQL_FUNCTION}()"""
            )
    return statements


#: Every trigger, by name, and the table it is on.
_TABLE_OF = {"users_page_version": "users", **{_trigger_name(t, kind): t for t in _ACCOUNT_OF for kind in _ROWS}}
TRIGGERS = tuple(_TABLE_OF)


def page_version_triggers(connection: Connection) -> set[str]:
    """The names of the triggers that are there (a migration that copies a
    table, as SQLite's batch mode does, would leave its triggers behind)."""
    if connection.dialect.name == "postgresql":
        found = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%(tables)s)"
        rows = connection.exec_driver_sql(found, {"tables": sorted(set(_TABLE_OF.values()))})
    else:
        rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {name for (name,) in rows} & set(TRIGGERS)


def create_page_version_triggers(connection: Connection) -> None:
    """Make the triggers, unless they are there (``db.create_all`` may run on made tables)."""
    if page_version_triggers(connection):
        return
    statements = _postgresql_statements() if connection.dialect.name == "postgresql" else _sqlite_statements()
    for statement in statements:
        connection.exec_driver_sql(statement)


def drop_page_version_triggers(connection: Connection) -> None:
    postgresql = connection.dialect.name == "postgresql"
    for name, table in _TABLE_OF.items():
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{f' ON {table}' if postgresql else ''}")
    if postgresql:
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_POSTGRESQL_FUNCTION}()")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS parley_raise_own_page_version()")


def _on_create_all(target: Any, connection: Connection, **kw: Any) -> None:
    # ``db.create_all`` makes the tables from the models; the migration calls it itself.
    create_page_version_triggers(connection)


event.listen(User.__table__.metadata, "after_create", _on_create_all)

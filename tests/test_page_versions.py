"""The database's raises of the page versions (webapp/page_versions.py) as
transactions meet: each account raised once per transaction, whatever it
writes and in whatever order, and two transactions that raise the same
accounts never deadlock on them at their commits (PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, Engine, Uuid, bindparam, text

from webapp.extensions import db
from webapp.models import User
from webapp.page_versions import POSTGRESQL_TRIGGERS, TRIGGERS, page_version_triggers

NEW_THREAD = text(
    "INSERT INTO conversations (id, user_id, title, message_count, pinned, archived, created_at, updated_at)"
    " VALUES (:id, :user, :title, 0, false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
).bindparams(bindparam("id", type_=Uuid))
RENAME = text("UPDATE conversations SET title = :title WHERE id = :id").bindparams(bindparam("id", type_=Uuid))


@pytest.fixture
def engine(app) -> Engine:
    with app.app_context():
        return db.engine


@pytest.fixture
def postgresql(engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time, and raises with each row")
    return engine


def versions(engine: Engine) -> dict[int, int]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT id, page_version FROM users")).all())


def rename(connection: Connection, thread: uuid.UUID) -> None:
    connection.execute(RENAME, {"title": f"Renamed {uuid.uuid4().hex[:6]}", "id": thread})


def version_of(connection: Connection, account: User) -> int:
    return connection.execute(text("SELECT page_version FROM users WHERE id = :id"), {"id": account.id}).scalar()


def wait_until_blocked(watcher: Connection, pid: int, by: int) -> None:
    """Until the backend ``pid`` waits for a lock that ``by`` holds: the
    server is asked again at once until it says so (no guess at a time)."""
    deadline = time.monotonic() + 10
    blocked = text("SELECT CAST(:by AS integer) = ANY(pg_blocking_pids(:pid))")
    while not watcher.execute(blocked, {"pid": pid, "by": by}).scalar():
        assert time.monotonic() < deadline, f"backend {pid} never waited for {by}"


def rises(before: dict[int, int], after: dict[int, int], accounts) -> dict[int, int]:
    """How far each account's version rose."""
    return {account.id: after[account.id] - before[account.id] for account in accounts}


def every_trigger(connection: Connection) -> set[str]:
    """The page-version triggers a database should have: PostgreSQL's notes too."""
    only_postgresql = set(POSTGRESQL_TRIGGERS) if connection.dialect.name == "postgresql" else set()
    return set(TRIGGERS) | only_postgresql


def test_two_transactions_raising_the_same_accounts_in_opposite_orders_both_commit(postgresql, make_user, make_thread):
    """A writes the threads of accounts 1, 3 and 2, B of accounts 2 and 1;
    both commit at once. Raising in the order of the first writes, A would
    hold 1 and wait for 2 while B held 2 and waited for 1. A third
    transaction holds account 3's row until both commits wait, so that the
    commits meet at their worst: A has raised 1 when B's commit starts."""
    first, second, third = sorted((make_user(name) for name in ("alice", "bob", "carol")), key=lambda a: a.id)
    threads = {side: {a.id: make_thread(a, f"{side}'s") for a in (first, second, third)} for side in "AB"}
    before = versions(postgresql)
    a, b, holder = (postgresql.connect() for _ in range(3))
    watcher = postgresql.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        pids = {}
        for name, connection in {"A": a, "B": b, "holder": holder}.items():
            # A commit that waits too long fails, rather than hangs the tests.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            pids[name] = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        for account in (first, third, second):
            rename(a, threads["A"][account.id])
        for account in (second, first):
            rename(b, threads["B"][account.id])
        holder.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": third.id})
        with ThreadPoolExecutor(2) as pool:
            a_commits = pool.submit(a.commit)
            wait_until_blocked(watcher, pids["A"], by=pids["holder"])
            b_commits = pool.submit(b.commit)
            wait_until_blocked(watcher, pids["B"], by=pids["A"])
            holder.rollback()
            a_commits.result()
            b_commits.result()
    finally:
        for connection in (holder, a, b, watcher):
            connection.close()
    after = versions(postgresql)
    assert rises(before, after, (first, second, third)) == {
        first.id: 2,
        second.id: 2,
        third.id: 1,
    }


def test_two_new_threads_of_one_account_commit_without_waiting_for_each_other(postgresql, user):
    """Each insert holds a share of the account's row (its foreign key) until
    its commit; the raise locks the row as an update does, which that share
    lets by (a FOR UPDATE would wait for the other, and the other for it)."""
    before = versions(postgresql)
    a, b = postgresql.connect(), postgresql.connect()
    try:
        for connection in (a, b):
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            connection.execute(NEW_THREAD, {"id": uuid.uuid4(), "user": user.id, "title": "Side by side"})
        a.commit()
        b.commit()
    finally:
        a.close()
        b.close()
    assert versions(postgresql)[user.id] == before[user.id] + 2


def test_a_transaction_writing_many_accounts_raises_each_once(app, engine, make_user, make_thread):
    accounts = [make_user(f"user{n}") for n in range(6)]
    threads = {account.id: [make_thread(account, "One"), make_thread(account, "Two")] for account in accounts}
    before = versions(engine)
    with engine.connect() as connection:
        for round_ in range(3):
            # From the last account to the first, and back, and again.
            for account in accounts[:: -1 if round_ % 2 == 0 else 1]:
                for thread in threads[account.id]:
                    rename(connection, thread)
        connection.commit()
    after = versions(engine)
    rows = 1 if engine.dialect.name == "postgresql" else 3 * 2  # SQLite: one with each row
    assert rises(before, after, accounts) == {a.id: rows for a in accounts}


def test_a_write_in_a_savepoint_rolled_back_raises_nothing(app, engine, user, other_user, make_thread):
    mine, theirs = make_thread(user), make_thread(other_user)
    before = versions(engine)
    with engine.connect() as connection:
        savepoint = connection.begin_nested()
        rename(connection, theirs)
        savepoint.rollback()
        rename(connection, mine)
        connection.commit()
    after = versions(engine)
    assert (after[user.id] - before[user.id], after[other_user.id] - before[other_user.id]) == (1, 0)


def test_writes_after_the_raises_have_fired_are_raised_too(postgresql, user, other_user, make_user, make_thread):
    """``SET CONSTRAINTS ALL IMMEDIATE`` fires the raises before the commit;
    what the transaction writes after is raised still, each account once."""
    carol = make_user("carol")
    mine, theirs, carols = make_thread(user), make_thread(other_user), make_thread(carol)
    before = versions(postgresql)
    with postgresql.connect() as connection:
        rename(connection, mine)
        connection.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        assert version_of(connection, user) == before[user.id] + 1  # at once, in the transaction
        rename(connection, mine)
        rename(connection, theirs)  # raised at the end of the statement, still immediate
        assert version_of(connection, other_user) == before[other_user.id] + 1
        connection.execute(text("SET CONSTRAINTS ALL DEFERRED"))
        rename(connection, theirs)
        rename(connection, carols)  # raised at the commit
        connection.commit()
    after = versions(postgresql)
    assert rises(before, after, (user, other_user, carol)) == {
        user.id: 1,
        other_user.id: 1,
        carol.id: 1,
    }


def test_going_back_to_0015_restores_its_triggers(make_app):
    """0016 orders the raises at the commit on PostgreSQL, and its downgrade
    puts 0015's back; on SQLite it changes nothing."""
    app = make_app()
    with app.app_context():
        upgrade()
        connection = db.session.connection()
        postgresql = connection.dialect.name == "postgresql"
        assert page_version_triggers(connection) == every_trigger(connection)
        db.session.remove()
        downgrade(revision="0015")
        assert page_version_triggers(db.session.connection()) == set(TRIGGERS)
        # 0015's raises, once per account and transaction.
        db.session.add(User(username="alice", username_key="alice", password_hash="x", role="user", active=True))
        db.session.commit()
        account = db.session.scalar(db.select(User).where(User.username == "alice"))
        version = account.page_version
        for title in ("One", "Two"):
            db.session.execute(NEW_THREAD, {"id": uuid.uuid4(), "user": account.id, "title": title})
        db.session.commit()
        db.session.refresh(account)
        assert account.page_version == version + (1 if postgresql else 2)
        db.session.remove()
        upgrade()
        assert page_version_triggers(db.session.connection()) == every_trigger(db.session.connection())

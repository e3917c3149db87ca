"""page versions on PostgreSQL: a commit raises its accounts in the order of their ids

Two transactions that each changed the threads of several accounts at the
same moment (an admin's bulk action, the trash purge) locked the accounts'
rows at their commits in the order of their first writes, and could
deadlock. A trigger now notes each account as its rows are written, and the
first deferred trigger to fire at the commit raises every account noted, in
the order of their ids (see ``webapp/page_versions.py``). Nothing changes
on SQLite.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 13:40:00.000000

"""

from alembic import op

from webapp.page_versions import create_page_version_triggers, drop_page_version_triggers

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: 0015's raise, which each deferred trigger made for its own row's account.
RAISE_0015 = """CREATE OR REPLACE FUNCTION parley_raise_page_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    account bigint;
    raised text;  -- ",3,17,": the accounts this transaction has raised
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    IF TG_TABLE_NAME = 'conversations' THEN
        SELECT changed.user_id INTO account;
    ELSIF TG_TABLE_NAME = 'messages' THEN
        SELECT (SELECT user_id FROM conversations WHERE id = changed.conversation_id) INTO account;
    ELSIF TG_TABLE_NAME = 'shares' THEN
        SELECT changed.user_id INTO account;
    ELSIF TG_TABLE_NAME = 'api_tokens' THEN
        SELECT changed.user_id INTO account;
    END IF;
    raised := coalesce(current_setting('parley.raised_page_versions', true), '');
    IF account IS NOT NULL AND position(',' || account || ',' IN raised) = 0 THEN
        UPDATE users SET page_version = page_version + 1 WHERE id = account;
        PERFORM set_config('parley.raised_page_versions', coalesce(nullif(raised, ''), ',') || account || ',', true);
    END IF;
    RETURN NULL;
END
$$"""


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    drop_page_version_triggers(connection)
    create_page_version_triggers(connection)


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    # The deferred triggers are 0015's; the notes go, and the raise is 0015's again.
    for table in ("conversations", "messages", "shares", "api_tokens"):
        for kind in ("insert", "update", "delete"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_page_version_note_{kind} ON {table}")
    connection.exec_driver_sql("DROP FUNCTION IF EXISTS parley_note_page_version()")
    connection.exec_driver_sql(RAISE_0015)

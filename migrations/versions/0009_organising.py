"""organising: pinned and archived threads, a trash, and the chores table

``deleted_at`` puts a thread in the trash; partial indexes keep the sidebar,
the admin table, the archive, the trash and the purge each reading only its
own threads.
``chores`` records when the hourly trash purge last ran, for every instance.
The audit log learns ``restore_thread`` and ``purge_thread``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 01:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ACTIONS = (
    "rename_thread",
    "delete_thread",
    "set_role",
    "disable_user",
    "enable_user",
    "delete_user",
    "revoke_share",
)
NEW_ACTIONS = ("restore_thread", "purge_thread")
# (SQLite form, PostgreSQL form): SQLite uses a partial index only for a
# query whose condition is written as the index's is, and SQLAlchemy writes
# ``archived == false()`` as ``archived = 0`` there.
SIDEBAR = ("deleted_at IS NULL AND archived = 0", "deleted_at IS NULL AND NOT archived")
ARCHIVE = ("deleted_at IS NULL AND archived = 1", "deleted_at IS NULL AND archived")
TRASH = ("deleted_at IS NOT NULL", "deleted_at IS NOT NULL")


def _actions(actions):
    return f"action IN ({', '.join(repr(action) for action in actions)})"


def _partial(where):
    return {"sqlite_where": sa.text(where[0]), "postgresql_where": sa.text(where[1])}


def upgrade():
    # Plain ADD COLUMN on both databases: a batch copy of the table would
    # drop SQLite's search triggers on it.
    op.add_column("conversations", sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("conversations", sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("conversations", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    # The walks by activity (everyone's, one user's) cover the active threads
    # only: the archive and the trash have indexes of their own.
    op.drop_index("ix_conversations_recent", table_name="conversations")
    op.create_index("ix_conversations_recent", "conversations", ["updated_at", "id"], unique=False, **_partial(SIDEBAR))
    op.drop_index("ix_conversations_user_recent", table_name="conversations")
    op.create_index(
        "ix_conversations_user_recent",
        "conversations",
        ["user_id", "updated_at", "id"],
        unique=False,
        **_partial(SIDEBAR),
    )
    op.create_index(
        "ix_conversations_user_sidebar",
        "conversations",
        ["user_id", "pinned", "updated_at", "id"],
        unique=False,
        **_partial(SIDEBAR),
    )
    op.create_index(
        "ix_conversations_user_archive",
        "conversations",
        ["user_id", "updated_at", "id"],
        unique=False,
        **_partial(ARCHIVE),
    )
    op.create_index(
        "ix_conversations_user_trash", "conversations", ["user_id", "deleted_at", "id"], unique=False, **_partial(TRASH)
    )
    op.create_index("ix_conversations_trash", "conversations", ["deleted_at", "id"], unique=False, **_partial(TRASH))
    op.create_table(
        "chores",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chores")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_action"), _actions(ACTIONS + NEW_ACTIONS))


def downgrade():
    op.execute(f"DELETE FROM audit_events WHERE {_actions(NEW_ACTIONS)}")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_action"), _actions(ACTIONS))
    op.drop_table("chores")
    op.drop_index("ix_conversations_trash", table_name="conversations")
    op.drop_index("ix_conversations_user_trash", table_name="conversations")
    op.drop_index("ix_conversations_user_archive", table_name="conversations")
    op.drop_index("ix_conversations_user_sidebar", table_name="conversations")
    op.drop_index("ix_conversations_recent", table_name="conversations")
    op.create_index("ix_conversations_recent", "conversations", ["updated_at", "id"], unique=False)
    op.drop_index("ix_conversations_user_recent", table_name="conversations")
    op.create_index("ix_conversations_user_recent", "conversations", ["user_id", "updated_at", "id"], unique=False)
    # SQLite (3.35+) drops a column in place, keeping the table's triggers.
    op.drop_column("conversations", "deleted_at")
    op.drop_column("conversations", "archived")
    op.drop_column("conversations", "pinned")

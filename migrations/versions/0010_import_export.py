"""import and export: import jobs, where an imported thread came from, and
the audit log's record of an admin exporting an account

``import_jobs`` holds each import's progress and report, so that any
instance can show it. ``conversations.source_id`` names the thread an
import came from (a ChatGPT, Open WebUI or Parley id), unique per account,
so that importing the same file again skips what is already there. The
audit log learns ``export_user``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 03:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
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
    "restore_thread",
    "purge_thread",
)
NEW_ACTIONS = ("export_user",)
STATUSES = ("queued", "running", "done", "failed")
HAS_SOURCE = "source_id IS NOT NULL"


def _in(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade():
    # Plain ADD COLUMN and CREATE INDEX: a batch copy of the table would
    # drop SQLite's search triggers on it.
    op.add_column("conversations", sa.Column("source_id", sa.String(length=255), nullable=True))
    op.create_index(
        "ix_conversations_user_source",
        "conversations",
        ["user_id", "source_id"],
        unique=True,
        sqlite_where=sa.text(HAS_SOURCE),
        postgresql_where=sa.text(HAS_SOURCE),
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("formats", sa.String(length=64), nullable=True),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_import_jobs_status")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_import_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index("ix_import_jobs_user_recent", "import_jobs", ["user_id", "created_at"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_action"), _in("action", ACTIONS + NEW_ACTIONS))


def downgrade():
    op.execute(f"DELETE FROM audit_events WHERE {_in('action', NEW_ACTIONS)}")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_action"), _in("action", ACTIONS))
    op.drop_index("ix_import_jobs_user_recent", table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_index("ix_conversations_user_source", table_name="conversations")
    # SQLite (3.35+) drops a column in place, keeping the table's triggers.
    op.drop_column("conversations", "source_id")

"""share links: a thread's link and the snapshot of its branch that it shows

Also lets the audit log record an admin revoking a link (``revoke_share``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

ACTIONS = ("rename_thread", "delete_thread", "set_role", "disable_user", "enable_user", "delete_user")


def _actions(actions):
    return f"action IN ({', '.join(repr(action) for action in actions)})"


def upgrade():
    op.create_table(
        "shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_shares_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_shares_conversation_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shares_token_hash")),
    )
    op.create_table(
        "shared_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"], ["shares.id"], name=op.f("fk_shared_messages_share_id_shares"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_messages")),
        sa.UniqueConstraint("share_id", "position", name=op.f("uq_shared_messages_share_id")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_action"), _actions(ACTIONS + ("revoke_share",)))


def downgrade():
    op.execute("DELETE FROM audit_events WHERE action = 'revoke_share'")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_audit_events_action"), _actions(ACTIONS))
    op.drop_table("shared_messages")
    op.drop_table("shares")

"""the thread becomes a tree: each message's parent, each thread's current message

Every existing thread is one branch: each message's parent is the one before
it, and the current message is the last.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 22:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_message_id", BigId, nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", BigId, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_parent_id_messages"), "messages", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_messages_conversation_parent", ["conversation_id", "parent_id", "id"], unique=False)
    op.execute(
        """
        UPDATE messages SET parent_id = (
            SELECT previous.id FROM messages AS previous
            WHERE previous.conversation_id = messages.conversation_id
              AND previous.position = messages.position - 1
        )
        """
    )
    op.execute(
        """
        UPDATE conversations SET current_message_id = (
            SELECT last.id FROM messages AS last
            WHERE last.conversation_id = conversations.id
              AND last.position = conversations.message_count
        )
        """
    )


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_conversation_parent")
        batch_op.drop_constraint(batch_op.f("fk_messages_parent_id_messages"), type_="foreignkey")
        batch_op.drop_column("parent_id")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("current_message_id")

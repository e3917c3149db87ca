"""shares know their owner: an account's links by an index of their own

The settings page listed an account's share links by joining every thread
of the account to the links; on SQLite, with no statistics, that read all
the account's threads (12 ms at 100,000). ``shares.user_id`` is copied from
the thread (a thread never changes hands, and takes its link with it) and
indexed with the links' order. A plain ADD COLUMN (nullable: SQLite cannot
add a NOT NULL column without a default): a batch copy of ``shares`` would
drop it, and with it, by cascade, every snapshot.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 05:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("shares", sa.Column("user_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE shares SET user_id = (SELECT conversations.user_id FROM conversations"
        " WHERE conversations.id = shares.conversation_id)"
    )
    op.create_index("ix_shares_user_recent", "shares", ["user_id", "created_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_shares_user_recent", table_name="shares")
    # SQLite (3.35+) drops a column in place: no copy of the table, no cascade.
    op.drop_column("shares", "user_id")

"""search on PostgreSQL: each message's words in a stored column

The index of 0008 held the words of an expression, which a search had to
compute again for every row it looked at; now the database keeps them in
``messages.search_words`` (generated, stored) with a GIN index on it.
Nothing changes on SQLite. See ``webapp/search_index.py``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 02:05:00.000000

"""

from alembic import op

from webapp.search_index import store_message_words, words_expression

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    store_message_words(op.get_bind())


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS search_words")
    op.execute(
        f"CREATE INDEX ix_messages_search ON messages USING gin ({words_expression('content')})"
        " WHERE status NOT IN ('pending', 'streaming')"
    )

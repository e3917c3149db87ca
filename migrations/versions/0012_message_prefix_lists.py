"""search on SQLite: lists of word starts of 2 to 6 characters

The index of messages kept lists of word starts of 2 and 3 characters only;
a longer query word (``model``) made FTS5 merge the lists of every word it
starts, for every query, at a cost that grew with the account. The index is
made anew with lists of 2 to 6 characters, from the messages there.
Nothing changes on PostgreSQL. See ``webapp/search_index.py``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:15:00.000000

"""

from alembic import op

from webapp.search_index import index_message_prefixes

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    index_message_prefixes(op.get_bind())


def downgrade():
    index_message_prefixes(op.get_bind(), "2 3")

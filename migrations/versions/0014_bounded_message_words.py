"""search on PostgreSQL: a message's words from its first 100,000 characters

A tsvector holds at most 1 MB of words: a long message of many different
words (a log, a list of ids) made more, and could not be written at all
(the API answered 503; an import lost the thread). The stored column of
message words is made anew from the first ``MESSAGE_WORDS_CHARS``
characters of each message. Nothing changes on SQLite. See
``webapp/search_index.py``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 08:30:00.000000

"""

from alembic import op

from webapp.search_index import store_message_words

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    store_message_words(op.get_bind())


def downgrade():
    store_message_words(op.get_bind(), None)

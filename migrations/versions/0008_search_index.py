"""search: the database's own full-text index over message text and titles

SQLite: FTS5 tables kept in step by triggers; PostgreSQL: GIN indexes on
``to_tsvector`` (``unaccent`` is created if missing; see the README for a
managed database). The index is filled from the rows already there. What
it is exactly lives in ``webapp/search_index.py``, which ``db.create_all``
uses too, so that the tests search the same index as production.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 23:10:00.000000

"""

from alembic import op

from webapp.search_index import create_search_index, drop_search_index

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    create_search_index(op.get_bind())


def downgrade():
    drop_search_index(op.get_bind())

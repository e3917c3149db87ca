"""page versions: a number per account that the database raises with every
write to what the account's pages show

``users.page_version``, and the triggers that raise it, on the account's
row and on its threads, messages, share links and API tokens (see
``webapp/page_versions.py``). A page rendered at one version is served
again from memory while the version stays (``webapp/page_cache.py``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

from webapp.page_versions import create_page_version_triggers, drop_page_version_triggers

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("page_version", sa.BigInteger(), server_default="0", nullable=False))
    create_page_version_triggers(op.get_bind())


def downgrade():
    drop_page_version_triggers(op.get_bind())
    # SQLite (3.35+) drops a column in place: no copy of the table.
    op.drop_column("users", "page_version")

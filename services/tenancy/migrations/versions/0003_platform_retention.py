"""Platform step 2: the indexes the retention purge of outbox and inbox deletes by.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from shared.migrations import add_retention_indexes, drop_retention_indexes

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_retention_indexes(op)


def downgrade() -> None:
    drop_retention_indexes(op)

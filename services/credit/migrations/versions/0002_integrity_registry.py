"""Integrity registry: records, notice steps, bans, candidates, pledges, city credit pushes.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from services.credit.tables import (
    bans,
    candidates,
    credit_shares,
    metadata,
    notice_steps,
    pledges,
    records,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [records, notice_steps, bans, candidates, pledges, credit_shares]


def upgrade() -> None:
    metadata.create_all(op.get_bind(), tables=TABLES)


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), tables=list(reversed(TABLES)))

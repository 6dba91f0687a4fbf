"""Allocation step 2: priority groups decided at qualification, quotas and selection time
slots of a round, the applicant's account for choosing online.

Frozen DDL. Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSONB = postgresql.JSONB(astext_type=sa.Text())
_EMPTY = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.add_column(
        "waiting_entries",
        sa.Column("priority_groups", _JSONB, server_default=_EMPTY, nullable=False),
    )
    op.add_column("household_links", sa.Column("applicant_account", sa.Text(), nullable=True))
    op.add_column("rounds", sa.Column("quotas", _JSONB, server_default=_EMPTY, nullable=False))
    op.add_column("rounds", sa.Column("unit_size_rules", _JSONB, nullable=True))
    op.add_column(
        "rounds", sa.Column("selection_starts_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "rounds", sa.Column("slot_minutes", sa.Integer(), server_default="30", nullable=False)
    )
    op.add_column(
        "rounds",
        sa.Column("households_per_slot", sa.Integer(), server_default="5", nullable=False),
    )
    op.add_column("rounds", sa.Column("selection_file", sa.LargeBinary(), nullable=True))
    op.add_column("rounds", sa.Column("quotas_file", sa.LargeBinary(), nullable=True))
    op.add_column("round_pool", sa.Column("selection_order", sa.Integer(), nullable=True))
    # A pool row is written three times in one round's life (freeze, rank, selection order),
    # the last two in the draw's transaction: room on the page keeps those updates HOT (no
    # index entries), which is most of the draw's time at 20,000 households.
    op.execute("ALTER TABLE round_pool SET (fillfactor = 30)")


def downgrade() -> None:
    op.execute("ALTER TABLE round_pool RESET (fillfactor)")
    op.drop_column("round_pool", "selection_order")
    for column in (
        "quotas_file",
        "selection_file",
        "households_per_slot",
        "slot_minutes",
        "selection_starts_at",
        "unit_size_rules",
        "quotas",
    ):
        op.drop_column("rounds", column)
    op.drop_column("household_links", "applicant_account")
    op.drop_column("waiting_entries", "priority_groups")

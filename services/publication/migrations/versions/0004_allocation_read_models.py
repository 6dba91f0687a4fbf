"""Allocation read models: the public waiting list, lottery rounds and their ranking, and the
allocation results waiting for their notice.

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waiting_households",
        sa.Column("household_reference", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.UUID(), nullable=True),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("priority_tier", sa.Integer(), nullable=True),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("suspended_reason", sa.Text(), nullable=True),
        sa.Column("suspended_until", sa.Date(), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_reference"),
    )
    op.create_index(
        "waiting_households_order",
        "waiting_households",
        ["category", "priority_tier", "qualified_at", "household_reference"],
        postgresql_where=sa.text("status = 'waiting'"),
    )
    op.create_table(
        "lottery_rounds",
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("pool_digest", sa.Text(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("cut_off", sa.DateTime(timezone=True), nullable=True),
        sa.Column("objection_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shortlist_notice_id", sa.UUID(), nullable=True),
        sa.Column("commitment", sa.Text(), nullable=True),
        sa.Column("public_input", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("seed", sa.Text(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("round_id"),
    )
    op.create_table(
        "lottery_ranks",
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("household_reference", sa.Text(), nullable=False),
        sa.Column("priority_tier", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "rank"),
    )
    op.create_table(
        "allocation_results",
        sa.Column("allocation_id", sa.UUID(), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("household_reference", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_id", sa.UUID(), nullable=True),
        sa.PrimaryKeyConstraint("allocation_id"),
    )
    op.create_index(
        "allocation_results_unpublished",
        "allocation_results",
        ["allocated_at"],
        postgresql_where=sa.text("notice_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("allocation_results_unpublished", table_name="allocation_results")
    op.drop_table("allocation_results")
    op.drop_table("lottery_ranks")
    op.drop_table("lottery_rounds")
    op.drop_index("waiting_households_order", table_name="waiting_households")
    op.drop_table("waiting_households")

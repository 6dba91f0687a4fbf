"""Allocation timelines: results awaiting their notice (F4), contracts awaiting signature (N3,
F6), annual confirmations awaiting the household (N4), and the tracking-number lookup.

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_results",
        sa.Column("allocation_id", sa.UUID(), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("household_reference", sa.Text(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("publish_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("allocation_id"),
    )
    op.create_index(
        "ix_allocation_results_unpublished",
        "allocation_results",
        ["publish_due_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "contracts",
        sa.Column("contract_id", sa.UUID(), nullable=False),
        sa.Column("allocation_id", sa.UUID(), nullable=False),
        sa.Column("household_reference", sa.Text(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("sign_by", sa.Date(), nullable=True),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contract_id"),
    )
    op.create_index(
        "ix_contracts_unsigned_remind",
        "contracts",
        ["remind_at"],
        postgresql_where=sa.text("signed_at IS NULL"),
    )
    op.create_table(
        "waiting_confirmations",
        sa.Column("entry_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("household_reference", sa.Text(), nullable=False),
        sa.Column("confirm_by", sa.Date(), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    op.create_index(
        "ix_waiting_confirmations_unconfirmed_remind",
        "waiting_confirmations",
        ["remind_at"],
        postgresql_where=sa.text("confirmed_at IS NULL"),
    )
    op.create_index("ix_applications_tracking_no", "applications", ["tracking_no"])


def downgrade() -> None:
    op.drop_index("ix_applications_tracking_no", table_name="applications")
    op.drop_index("ix_waiting_confirmations_unconfirmed_remind", table_name="waiting_confirmations")
    op.drop_table("waiting_confirmations")
    op.drop_index("ix_contracts_unsigned_remind", table_name="contracts")
    op.drop_table("contracts")
    op.drop_index("ix_allocation_results_unpublished", table_name="allocation_results")
    op.drop_table("allocation_results")

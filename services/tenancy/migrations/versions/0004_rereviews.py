"""Annual re-review per lease and campaign; a violation may come without a visit (a household
that did not cooperate with its re-review).

Frozen DDL: written out here rather than derived from tables.py.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rereviews",
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), primary_key=True),
        sa.Column("campaign", sa.Integer, primary_key=True),
        sa.Column("application_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_reference", sa.Text, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("requested_at", _ts, nullable=False),
        sa.Column("reminded_at", _ts),
        sa.Column("household_found", sa.Boolean),
        sa.Column("meets_continuation", sa.Boolean),
        sa.Column("income_band", sa.Text),
        sa.Column("verified_at", _ts),
        sa.Column("rent_band", sa.Text),
        sa.Column("exit_on", sa.Date),
        sa.Column("exit_id", UUID(as_uuid=True), sa.ForeignKey("exits.id")),
        sa.Column("violation_id", UUID(as_uuid=True), sa.ForeignKey("violations.id")),
        sa.Column("concluded_at", _ts),
        sa.CheckConstraint(
            "status IN ('requested','continued','band_changed','graded_exit','exit_noticed',"
            "'officer_decides','not_cooperated')",
            name="rereviews_status",
        ),
    )
    op.create_index("rereviews_status_idx", "rereviews", ["status", "deadline"])
    op.alter_column("violations", "visit_id", existing_type=UUID(as_uuid=True), nullable=True)


def downgrade() -> None:
    op.alter_column("violations", "visit_id", existing_type=UUID(as_uuid=True), nullable=False)
    op.drop_index("rereviews_status_idx", table_name="rereviews")
    op.drop_table("rereviews")

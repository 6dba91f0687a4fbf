"""Monthly electricity use per let unit from the power company, and the vacancy leads found
in it.

Frozen DDL: written out here rather than derived from tables.py.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "power_readings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("requested_at", _ts, nullable=False),
        sa.Column("kwh", sa.Numeric(10, 1)),
        sa.Column("answered_at", _ts),
        sa.Column("answered_by", sa.Text),
        sa.UniqueConstraint("unit_id", "month", name="power_readings_unit_month"),
    )
    op.create_index("power_readings_lease_idx", "power_readings", ["lease_id", "month"])
    op.create_index(
        "power_readings_pending_idx",
        "power_readings",
        ["month"],
        postgresql_where=sa.text("kwh IS NULL"),
    )
    op.create_table(
        "vacancy_leads",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_reference", sa.Text, nullable=False),
        sa.Column("streak_from", sa.Date, nullable=False),
        sa.Column("streak_to", sa.Date, nullable=False),
        sa.Column("months", sa.Integer, nullable=False),
        sa.Column("visit_due", sa.Date, nullable=False),
        sa.Column("detected_at", _ts, nullable=False),
        sa.UniqueConstraint("lease_id", "streak_from", name="vacancy_leads_streak"),
    )


def downgrade() -> None:
    op.drop_table("vacancy_leads")
    op.drop_index("power_readings_pending_idx", table_name="power_readings")
    op.drop_index("power_readings_lease_idx", table_name="power_readings")
    op.drop_table("power_readings")

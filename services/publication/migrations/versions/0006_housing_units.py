"""The housing stock as disclosed (六公开: 房源), from allocation.units_changed.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_tz = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "housing_units",
        sa.Column("unit_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("project_code", sa.Text, nullable=False),
        sa.Column("project_name", sa.Text, nullable=False),
        sa.Column("building_code", sa.Text, nullable=False),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("area_m2", sa.Numeric(10, 2), nullable=False),
        sa.Column("rooms", sa.Integer, nullable=False),
        sa.Column("floor", sa.Integer, nullable=False),
        sa.Column("accessible", sa.Boolean, nullable=False),
        sa.Column("base_rent_per_m2", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("updated_at", _tz, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("housing_units")

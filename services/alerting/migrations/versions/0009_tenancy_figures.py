"""Tenancy's figures for the cockpit and the periodic reports (准入、使用、退出).

Frozen DDL: ``tenancy_leases``, ``tenancy_arrears_steps``, ``tenancy_visits_due``,
``tenancy_visits``, ``tenancy_violations``, ``tenancy_rereviews``, ``tenancy_exits``.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)
_uuid = pg.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "tenancy_leases",
        sa.Column("lease_id", _uuid, nullable=False),
        sa.Column("unit_id", _uuid, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("opened_at", _ts, nullable=False),
        sa.Column("vacated_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("lease_id"),
    )
    op.create_index("ix_tenancy_leases_unit", "tenancy_leases", ["unit_id"])
    op.create_table(
        "tenancy_arrears_steps",
        sa.Column("lease_id", _uuid, nullable=False),
        sa.Column("taken_at", _ts, nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("arrears_months", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lease_id", "taken_at"),
    )
    op.create_table(
        "tenancy_visits_due",
        sa.Column("lease_id", _uuid, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("lease_id", "due_on"),
    )
    op.create_table(
        "tenancy_visits",
        sa.Column("visit_id", _uuid, nullable=False),
        sa.Column("lease_id", _uuid, nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("visit_id"),
    )
    op.create_table(
        "tenancy_violations",
        sa.Column("violation_id", _uuid, nullable=False),
        sa.Column("lease_id", _uuid, nullable=False),
        sa.Column("opened_at", _ts, nullable=True),
        sa.Column("closed_at", _ts, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("violation_id"),
    )
    op.create_table(
        "tenancy_rereviews",
        sa.Column("lease_id", _uuid, nullable=False),
        sa.Column("campaign", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("concluded_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("lease_id", "campaign"),
    )
    op.create_table(
        "tenancy_exits",
        sa.Column("unit_id", _uuid, nullable=False),
        sa.Column("vacated_on", sa.Date(), nullable=False),
        sa.Column("lease_id", _uuid, nullable=True),
        sa.Column("how", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "vacated_on"),
    )


def downgrade() -> None:
    for table in (
        "tenancy_exits",
        "tenancy_rereviews",
        "tenancy_violations",
        "tenancy_visits",
        "tenancy_visits_due",
        "tenancy_arrears_steps",
        "tenancy_leases",
    ):
        op.drop_table(table)

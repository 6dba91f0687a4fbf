"""Typical-case exposure on records (four eyes) and the periodic export to the central bank
branch (人行征信).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("records", sa.Column("exposure_summary", sa.Text))
    op.add_column("records", sa.Column("exposure_proposed_by", sa.Text))
    op.add_column("records", sa.Column("exposure_proposed_at", _ts))
    op.add_column("records", sa.Column("exposure_approved_by", sa.Text))
    op.add_column("records", sa.Column("exposed_at", _ts))
    op.create_table(
        "pboc_exports",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("covers_from", _ts),
        sa.Column("covers_to", _ts, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("ban_count", sa.Integer, nullable=False),
        sa.Column("content", pg.JSONB, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.UniqueConstraint("period_start", name="pboc_exports_period"),
    )


def downgrade() -> None:
    op.drop_table("pboc_exports")
    for column in (
        "exposed_at",
        "exposure_approved_by",
        "exposure_proposed_at",
        "exposure_proposed_by",
        "exposure_summary",
    ):
        op.drop_column("records", column)

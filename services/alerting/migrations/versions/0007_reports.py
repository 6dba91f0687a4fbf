"""Periodic reports (定期通报): the stored monthly and batch reports, and the rejection time
of an application (the reports count rejections by month); the named handler of a stage (N1
reminds them).

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "applications", sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("stages", sa.Column("handler", sa.Text(), nullable=True))
    op.create_table(
        "periodic_reports",
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=True),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("report_id"),
        sa.UniqueConstraint("kind", "period", name="uq_periodic_reports_kind_period"),
    )


def downgrade() -> None:
    op.drop_table("periodic_reports")
    op.drop_column("stages", "handler")
    op.drop_column("applications", "rejected_at")

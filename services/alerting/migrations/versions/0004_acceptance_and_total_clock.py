"""The acceptance stage's suspension and the application's overall limit (R8T).

Frozen DDL: ``stages.suspended_at`` (the acceptance clock stopped by a supplement notice) and
the columns and index the total-limit sweep reads on ``applications``.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OPEN = "status NOT IN ('qualified', 'published', 'withdrawn', 'rejected')"


def upgrade() -> None:
    op.add_column(
        "applications", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "applications", sa.Column("total_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "applications",
        sa.Column("total_suspended_days", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_applications_total_due",
        "applications",
        ["total_due_at"],
        unique=False,
        postgresql_where=sa.text(_OPEN),
    )
    op.add_column("stages", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("stages", "suspended_at")
    op.drop_index(
        "ix_applications_total_due", table_name="applications", postgresql_where=sa.text(_OPEN)
    )
    op.drop_column("applications", "total_suspended_days")
    op.drop_column("applications", "total_due_at")
    op.drop_column("applications", "submitted_at")

"""Historical import: the three tiers' signatures of a migrating city's old cases.

Frozen DDL for ``review_legacy_signatures``.

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
        "review_legacy_signatures",
        sa.Column("legacy_case_no", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("signed_at", _tz, nullable=False),
        sa.Column("case_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("signer", sa.Text(), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("opinion_quality", sa.Text(), nullable=False),
        sa.Column("row_sha256", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.Column("imported_at", _tz, nullable=False),
        sa.PrimaryKeyConstraint("legacy_case_no", "stage", "role", "signed_at"),
    )


def downgrade() -> None:
    op.drop_table("review_legacy_signatures")

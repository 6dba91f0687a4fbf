"""Credit notices to the public: announcements of undeliverable notice letters (公告送达) and
typical cases exposed (典型案例曝光).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_tz = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "credit_notices",
        sa.Column("record_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("subject_kind", sa.Text),
        sa.Column("subject_display", sa.Text, nullable=False),
        sa.Column("subject_id_masked", sa.Text),
        sa.Column("behaviour", sa.Text),
        sa.Column("record_no", sa.Text),
        sa.Column("severity", sa.Text),
        sa.Column("kind_title", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("correction_deadline", sa.Date),
        sa.Column("filed_on", sa.Date),
        sa.Column("ban_ends_on", sa.Date),
        sa.Column("published_at", _tz, nullable=False),
        sa.Column("withdrawn_on", sa.Date),
    )


def downgrade() -> None:
    op.drop_table("credit_notices")

"""Review consults credit bans: members' id hashes on the case, the stop reason, and the bans
heard from credit.

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


def upgrade() -> None:
    op.add_column(
        "review_cases",
        sa.Column(
            "member_id_hashes",
            pg.ARRAY(sa.Text),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.add_column("review_cases", sa.Column("stop_reason", sa.Text))
    op.create_table(
        "review_bans",
        sa.Column("record_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("id_hash", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("lifted_on", sa.Date),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_bans_id_hash", "review_bans", ["id_hash"])


def downgrade() -> None:
    op.drop_index("ix_review_bans_id_hash", table_name="review_bans")
    op.drop_table("review_bans")
    op.drop_column("review_cases", "stop_reason")
    op.drop_column("review_cases", "member_id_hashes")

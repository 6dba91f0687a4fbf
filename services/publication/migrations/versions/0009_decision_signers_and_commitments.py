"""Who signed a review opinion on each application, for the objection conclusion's
separation of duties; the lottery commitments published before each draw.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_signers",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("signer", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("application_id", "signer"),
    )
    op.create_table(
        "lottery_commitments",
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("pool_digest", sa.Text(), nullable=False),
        sa.Column("commitment", sa.Text(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("round_id"),
    )


def downgrade() -> None:
    op.drop_table("lottery_commitments")
    op.drop_table("decision_signers")

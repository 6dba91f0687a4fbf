"""Who signed a review opinion on each application, for the objection conclusion's
separation of duties.

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


def downgrade() -> None:
    op.drop_table("decision_signers")

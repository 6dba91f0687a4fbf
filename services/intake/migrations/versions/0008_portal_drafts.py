"""The online application's drafts (网上申请草稿): one sealed payload per applicant account.

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_drafts",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_index("portal_drafts_updated", "portal_drafts", ["updated_at"])


def downgrade() -> None:
    op.drop_index("portal_drafts_updated", table_name="portal_drafts")
    op.drop_table("portal_drafts")

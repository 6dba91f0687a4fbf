"""The progress page's missing materials: what a supplementary-materials notice asked for
(material names only, no personal data) and its deadline.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("applications", sa.Column("supplement_items", pg.JSONB(), nullable=True))
    op.add_column("applications", sa.Column("supplement_deadline", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("applications", "supplement_deadline")
    op.drop_column("applications", "supplement_items")

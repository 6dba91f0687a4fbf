"""Review tables: cases, stage runs, append-only signatures, suspensions, verification results,
objections.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.review.tables import ALL_TABLES, SIGNATURES_IMMUTABLE_DDL, metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=list(ALL_TABLES))
    for statement in SIGNATURES_IMMUTABLE_DDL:
        bind.execute(sa.text(statement))


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=list(reversed(ALL_TABLES)))
    bind.execute(sa.text("DROP FUNCTION IF EXISTS review_signatures_immutable()"))

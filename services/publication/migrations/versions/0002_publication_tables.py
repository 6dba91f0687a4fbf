"""Publication tables: application read model, notices and entries, objections, agency
blacklist, provincial push log.

Revision ID: 0002
"""

from alembic import op

from services.publication.tables import metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())

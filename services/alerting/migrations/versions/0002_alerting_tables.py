"""Alerting tables: timelines (read models), alerts, tickets, ticket events, notifications.

Revision ID: 0002
"""

from alembic import op

from services.alerting.tables import metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables of this revision are exactly services.alerting.tables at this revision;
    # later changes get their own revisions with explicit operations.
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())

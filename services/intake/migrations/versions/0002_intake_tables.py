"""Intake tables: applications, members, materials, supplement notices, credit-ban projection.

Revision ID: 0002
"""

from alembic import op

from services.intake.tables import (
    INTAKE_TABLES,
    notice_seq,
    receipt_seq,
    tracking_seq,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SEQUENCES = (tracking_seq, receipt_seq, notice_seq)


def upgrade() -> None:
    bind = op.get_bind()
    for sequence in _SEQUENCES:
        sequence.create(bind)
    for table in INTAKE_TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(INTAKE_TABLES):
        table.drop(bind)
    for sequence in _SEQUENCES:
        sequence.drop(bind)

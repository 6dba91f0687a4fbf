"""Platform step 3: the signed checkpoints of the audit chain (docs/audit.md).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from shared.migrations import add_audit_checkpoints, drop_audit_checkpoints

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_checkpoints(op)


def downgrade() -> None:
    drop_audit_checkpoints(op)

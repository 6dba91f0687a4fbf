"""The complaints ledger (投诉举报台账) and its transfers of clues.

Frozen DDL: ``complaints``, ``complaint_transfers`` and the ledger number sequence.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("complaint_no_seq")))
    op.create_table(
        "complaints",
        sa.Column("complaint_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("complaint_no", sa.Text(), nullable=False),
        sa.Column("check_code_sha256", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("agency_name", sa.Text(), nullable=True),
        sa.Column("org_credit_code", sa.Text(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("complainant_name", sa.Text(), nullable=True),
        sa.Column("complainant_mobile", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("filed_at", _ts, nullable=False),
        sa.Column("due_at", _ts, nullable=False),
        sa.Column("due_working_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("answered_at", _ts, nullable=True),
        sa.Column("credit_referred_by", sa.Text(), nullable=True),
        sa.Column("credit_referred_at", _ts, nullable=True),
        sa.PrimaryKeyConstraint("complaint_id"),
        sa.UniqueConstraint("complaint_no"),
    )
    op.create_index(
        "ix_complaints_open_due",
        "complaints",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_complaints_unit", "complaints", ["unit", "filed_at"], unique=False)
    op.create_table(
        "complaint_transfers",
        sa.Column("transfer_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("complaint_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("to_body", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("transferred_by", sa.Text(), nullable=False),
        sa.Column("transferred_at", _ts, nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"]),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index("ix_complaint_transfers_complaint_id", "complaint_transfers", ["complaint_id"])


def downgrade() -> None:
    op.drop_table("complaint_transfers")
    op.drop_index("ix_complaints_unit", table_name="complaints")
    op.drop_index("ix_complaints_open_due", table_name="complaints")
    op.drop_table("complaints")
    op.execute(sa.schema.DropSequence(sa.Sequence("complaint_no_seq")))

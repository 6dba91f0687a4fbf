"""Applicant messages (及时告知): the in-portal message and its SMS delivery.

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applicant_messages",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sms_status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("applicant_messages_application", "applicant_messages", ["application_id"])
    op.create_index(
        "applicant_messages_pending",
        "applicant_messages",
        ["created_at"],
        postgresql_where=sa.text("sms_status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("applicant_messages_pending", table_name="applicant_messages")
    op.drop_index("applicant_messages_application", table_name="applicant_messages")
    op.drop_table("applicant_messages")

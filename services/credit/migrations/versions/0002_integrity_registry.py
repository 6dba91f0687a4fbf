"""Integrity registry: records, notice steps, bans, candidates, pledges, city credit pushes.

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``; a later change to the tables is a new revision with its own operations.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "candidates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("discrepancies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("suggested_kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("record_id", sa.UUID(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "id_hash", name="candidates_case_subject"),
    )
    op.create_index("candidates_status_idx", "candidates", ["status", "created_at"], unique=False)
    op.create_table(
        "pledges",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("tracking_no", sa.Text(), nullable=False),
        sa.Column("street", sa.Text(), nullable=False),
        sa.Column("applicant_id_hash", sa.Text(), nullable=False),
        sa.Column("member_id_hashes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("applicant_name_masked", sa.Text(), nullable=False),
        sa.Column("applicant_id_masked", sa.Text(), nullable=False),
        sa.Column("pledge_version", sa.Text(), nullable=False),
        sa.Column("pledge_signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_index(
        op.f("ix_pledges_applicant_id_hash"), "pledges", ["applicant_id_hash"], unique=False
    )
    op.create_table(
        "records",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("record_no", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("subject_id_masked", sa.Text(), nullable=True),
        sa.Column("subject_name_masked", sa.Text(), nullable=True),
        sa.Column("org_name", sa.Text(), nullable=True),
        sa.Column("org_credit_code", sa.Text(), nullable=True),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("candidate_id", sa.UUID(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.Text(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("stage_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correction_deadline", sa.Date(), nullable=True),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("approved_by IS NULL OR approved_by <> recorded_by", name="four_eyes"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_no"),
    )
    op.create_index(op.f("ix_records_id_hash"), "records", ["id_hash"], unique=False)
    op.create_index("records_stage_idx", "records", ["stage"], unique=False)
    op.create_table(
        "bans",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("lifted_on", sa.Date(), nullable=True),
        sa.Column("early", sa.Boolean(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("lift_requested_by", sa.Text(), nullable=True),
        sa.Column("lift_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lift_approved_by", sa.Text(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "lift_approved_by IS NULL OR lift_approved_by <> lift_requested_by",
            name="lift_four_eyes",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id"),
    )
    op.create_index(
        "bans_expiry_idx",
        "bans",
        ["ends_on"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index("bans_id_hash_idx", "bans", ["id_hash", "status"], unique=False)
    op.create_table(
        "credit_shares",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id"),
    )
    op.create_index(
        "credit_shares_due_idx",
        "credit_shares",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "notice_steps",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("taken_by", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document_no", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("correction_deadline", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("notice_steps_record_idx", "notice_steps", ["record_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("notice_steps_record_idx", table_name="notice_steps")
    op.drop_table("notice_steps")
    op.drop_index(
        "credit_shares_due_idx",
        table_name="credit_shares",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("credit_shares")
    op.drop_index("bans_id_hash_idx", table_name="bans")
    op.drop_index(
        "bans_expiry_idx", table_name="bans", postgresql_where=sa.text("status = 'active'")
    )
    op.drop_table("bans")
    op.drop_index("records_stage_idx", table_name="records")
    op.drop_index(op.f("ix_records_id_hash"), table_name="records")
    op.drop_table("records")
    op.drop_index(op.f("ix_pledges_applicant_id_hash"), table_name="pledges")
    op.drop_table("pledges")
    op.drop_index("candidates_status_idx", table_name="candidates")
    op.drop_table("candidates")

"""Review tables: cases, stage runs, append-only signatures, suspensions, verification results,
objections.

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
        "review_cases",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("tracking_no", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("district", sa.Text(), nullable=False),
        sa.Column("street", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("applicant_name_masked", sa.Text(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("current_run_id", sa.UUID(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("notice_id", sa.UUID(), nullable=True),
        sa.Column("publicity_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publicity_closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publicity_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publicity_closed_early", sa.Boolean(), nullable=True),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
    )
    op.create_table(
        "review_objections",
        sa.Column("objection_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("notice_id", sa.UUID(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("objection_id"),
    )
    op.create_index(
        op.f("ix_review_objections_application_id"),
        "review_objections",
        ["application_id"],
        unique=False,
    )
    op.create_table(
        "review_verifications",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("verification_case_id", sa.UUID(), nullable=False),
        sa.Column("recommendation", sa.Text(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("discrepancies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("missing_departments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parameters_version", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_table(
        "review_stage_runs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("signatures", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("requires_verification", sa.Boolean(), nullable=False),
        sa.Column("time_limit", sa.Integer(), nullable=False),
        sa.Column("suspension_limit", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("next_staff_role", sa.Text(), nullable=True),
        sa.Column("next_signature", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("yellow_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fallback_years", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("suspended_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "stage", "round"),
    )
    op.create_index(
        "ix_review_stage_runs_todo",
        "review_stage_runs",
        ["status", "next_staff_role", "due_at"],
        unique=False,
    )
    op.create_table(
        "review_signatures",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("signer", sa.Text(), nullable=False),
        sa.Column("signer_name", sa.Text(), nullable=False),
        sa.Column("signer_org", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects"],
            ["review_signatures.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["review_stage_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index("ix_review_signatures_run", "review_signatures", ["run_id"], unique=False)
    op.create_table(
        "review_suspensions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("missing_items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("suspended_by", sa.Text(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumes_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumes_on", sa.Date(), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=True),
        sa.Column("resumed_by", sa.Text(), nullable=True),
        sa.Column("suspended_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["review_stage_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_review_suspensions_open",
        "review_suspensions",
        ["resumes_by"],
        unique=False,
        postgresql_where=sa.text("resumed_at IS NULL"),
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION review_signatures_immutable() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'review_signatures is append-only (% refused)', TG_OP;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER review_signatures_no_change
        BEFORE UPDATE OR DELETE ON review_signatures
        FOR EACH ROW EXECUTE FUNCTION review_signatures_immutable()
        """
    )
    op.execute(
        """
        ALTER TABLE review_signatures ENABLE ALWAYS TRIGGER review_signatures_no_change
        """
    )
    op.execute(
        """
        CREATE TRIGGER review_signatures_no_truncate
        BEFORE TRUNCATE ON review_signatures
        FOR EACH STATEMENT EXECUTE FUNCTION review_signatures_immutable()
        """
    )
    op.execute(
        """
        ALTER TABLE review_signatures ENABLE ALWAYS TRIGGER review_signatures_no_truncate
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS review_signatures_immutable() CASCADE
        """
    )
    op.drop_index(
        "ix_review_suspensions_open",
        table_name="review_suspensions",
        postgresql_where=sa.text("resumed_at IS NULL"),
    )
    op.drop_table("review_suspensions")
    op.drop_index("ix_review_signatures_run", table_name="review_signatures")
    op.drop_table("review_signatures")
    op.drop_index("ix_review_stage_runs_todo", table_name="review_stage_runs")
    op.drop_table("review_stage_runs")
    op.drop_table("review_verifications")
    op.drop_index(op.f("ix_review_objections_application_id"), table_name="review_objections")
    op.drop_table("review_objections")
    op.drop_table("review_cases")

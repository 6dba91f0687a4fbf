"""Verification tables: cases, department requests and answers, admission parameter sets.

The admission parameters of each category are seeded from the city configuration when the
service starts (``parameters.seed_from_city``), not here: the migration does not know which
city file the service will run with.

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
        "admission_parameter_sets",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'approved') = (version IS NOT NULL)", name="admission_parameters_versioned"
        ),
        sa.CheckConstraint(
            "status <> 'approved' OR proposed_by = 'system:city-config' OR decided_by <> proposed_by",
            name="admission_parameters_four_eyes",
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected')", name="admission_parameters_status"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city", "category", "version", name="admission_parameters_version"),
    )
    op.create_table(
        "verification_cases",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("tracking_no", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("district", sa.Text(), nullable=False),
        sa.Column("street", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recommendation", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("status IN ('open', 'completed')", name="verification_case_status"),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("application_id"),
    )
    op.create_index(
        "verification_cases_open_due",
        "verification_cases",
        ["due_on"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "department_requests",
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("time_limit_working_days", sa.Integer(), nullable=False),
        sa.Column(
            "deadline_fallback", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("subjects", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("no_record", sa.Boolean(), nullable=True),
        sa.Column("empty", sa.Boolean(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=True),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'answered')", name="department_request_status"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["verification_cases.case_id"],
        ),
        sa.PrimaryKeyConstraint("request_id"),
        sa.UniqueConstraint("case_id", "department", name="department_request_once_per_case"),
    )
    op.create_index(
        "department_requests_by_department",
        "department_requests",
        ["department", "status", "requested_at"],
        unique=False,
    )
    op.create_index(
        "department_requests_pending_deadline",
        "department_requests",
        ["deadline"],
        unique=False,
        postgresql_where=sa.text("status = 'pending' AND overdue_at IS NULL"),
    )
    op.execute(
        """
        CREATE FUNCTION admission_parameters_immutable() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.status <> 'proposed' THEN
                RAISE EXCEPTION 'admission parameter set % is % and cannot change',
                    OLD.id, OLD.status;
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER admission_parameters_immutable
        BEFORE UPDATE OR DELETE ON admission_parameter_sets
        FOR EACH ROW EXECUTE FUNCTION admission_parameters_immutable()
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER admission_parameters_immutable ON admission_parameter_sets
        """
    )
    op.execute(
        """
        DROP FUNCTION admission_parameters_immutable()
        """
    )
    op.drop_index(
        "department_requests_pending_deadline",
        table_name="department_requests",
        postgresql_where=sa.text("status = 'pending' AND overdue_at IS NULL"),
    )
    op.drop_index("department_requests_by_department", table_name="department_requests")
    op.drop_table("department_requests")
    op.drop_index(
        "verification_cases_open_due",
        table_name="verification_cases",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("verification_cases")
    op.drop_table("admission_parameter_sets")

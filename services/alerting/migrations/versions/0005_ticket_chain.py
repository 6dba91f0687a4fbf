"""The ticket chain as written: department tickets, cause kind, feedback category, per-step
automatic escalation, and the departments' request timeline.

Frozen DDL: this revision states the schema as it was when written and never imports today's
``tables.py``.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("department", sa.Text(), nullable=True))
    op.add_column("tickets", sa.Column("cause_kind", sa.Text(), nullable=True))
    op.add_column("tickets", sa.Column("feedback_category", sa.Text(), nullable=True))
    op.create_index(
        "ix_tickets_department",
        "tickets",
        ["department"],
        unique=False,
        postgresql_where=sa.text("department IS NOT NULL"),
    )
    op.drop_index(
        "ux_ticket_auto_escalation",
        table_name="ticket_events",
        postgresql_where=sa.text("action = 'escalated' AND automatic"),
    )
    op.create_index(
        "ux_ticket_auto_escalation_step",
        "ticket_events",
        ["ticket_id", "step", "to_level"],
        unique=True,
        postgresql_where=sa.text("action = 'escalated' AND automatic"),
    )
    op.create_table(
        "department_requests",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("answered", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("empty", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "department"),
    )
    op.create_index(
        "ix_department_requests_requested",
        "department_requests",
        ["requested_at"],
        unique=False,
    )
    op.create_table(
        "verification_completions",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("missing_departments", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("verification_completions")
    op.drop_index("ix_department_requests_requested", table_name="department_requests")
    op.drop_table("department_requests")
    op.drop_index(
        "ux_ticket_auto_escalation_step",
        table_name="ticket_events",
        postgresql_where=sa.text("action = 'escalated' AND automatic"),
    )
    op.create_index(
        "ux_ticket_auto_escalation",
        "ticket_events",
        ["ticket_id", "to_level"],
        unique=True,
        postgresql_where=sa.text("action = 'escalated' AND automatic"),
    )
    op.drop_index("ix_tickets_department", table_name="tickets")
    op.drop_column("tickets", "feedback_category")
    op.drop_column("tickets", "cause_kind")
    op.drop_column("tickets", "department")

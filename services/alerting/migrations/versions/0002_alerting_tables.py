"""Alerting tables: timelines (read models), alerts, tickets, ticket events, notifications.

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
        "alerts",
        sa.Column("alert_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("colour", sa.Text(), nullable=False),
        sa.Column("condition_key", sa.Text(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.UUID(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.Text(), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.Column("clear_source", sa.Text(), nullable=True),
        sa.Column("cleared_actor", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    op.create_index("ix_alerts_application", "alerts", ["application_id"], unique=False)
    op.create_index("ix_alerts_raised", "alerts", ["raised_at"], unique=False)
    op.create_index(
        "ix_alerts_unit",
        "alerts",
        ["unit"],
        unique=False,
        postgresql_ops={"unit": "text_pattern_ops"},
    )
    op.create_index(
        "ux_alerts_open_condition",
        "alerts",
        ["rule_id", "condition_key"],
        unique=True,
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.create_table(
        "applications",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("tracking_no", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("district", sa.Text(), nullable=True),
        sa.Column("street", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch", sa.Text(), nullable=True),
        sa.Column("publicity_batch", sa.Text(), nullable=True),
        sa.Column("materials_uploaded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("materials_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default="accepted", nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id"),
    )
    op.create_index("ix_applications_batch", "applications", ["batch"], unique=False)
    op.create_index(
        "ix_applications_no_materials",
        "applications",
        ["materials_due_at"],
        unique=False,
        postgresql_where=sa.text("materials_uploaded = 0"),
    )
    op.create_index(
        "ix_applications_publicity_batch", "applications", ["publicity_batch"], unique=False
    )
    op.create_index(
        "ix_applications_unpublished",
        "applications",
        ["publish_due_at"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("batch", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_days", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_early", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.UUID(), nullable=True),
        sa.Column("ticket_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "objections",
        sa.Column("objection_id", sa.UUID(), nullable=False),
        sa.Column("notice_id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conclude_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("objection_id"),
    )
    op.create_index(
        "ix_objections_open_due",
        "objections",
        ["conclude_due_at"],
        unique=False,
        postgresql_where=sa.text("concluded_at IS NULL"),
    )
    op.create_table(
        "signatures",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("signer", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opinion_quality", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_signatures_stage", "signatures", ["case_id", "stage"], unique=False)
    op.create_table(
        "stages",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_limit_working_days", sa.Integer(), nullable=False),
        sa.Column(
            "calendar_fallback", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("working_days_used", sa.Integer(), nullable=True),
        sa.Column("overdue", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "stage"),
    )
    op.create_index("ix_stages_application", "stages", ["application_id"], unique=False)
    op.create_index(
        "ix_stages_open_due",
        "stages",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_stages_open_warn",
        "stages",
        ["warn_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "ticket_alerts",
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("alert_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "alert_id"),
    )
    op.create_index("ix_ticket_alerts_alert", "ticket_alerts", ["alert_id"], unique=False)
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("automatic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_level", sa.Text(), nullable=True),
        sa.Column("to_unit", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id"], unique=False)
    op.create_index(
        "ux_ticket_auto_escalation",
        "ticket_events",
        ["ticket_id", "to_level"],
        unique=True,
        postgresql_where=sa.text("action = 'escalated' AND automatic"),
    )
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("ticket_no", sa.Text(), nullable=False),
        sa.Column("colour", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.Text(), nullable=True),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_to", sa.Text(), nullable=True),
        sa.Column("responsible_section", sa.Text(), nullable=True),
        sa.Column("section_head", sa.Text(), nullable=True),
        sa.Column("handler", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("handling_opinion", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Text(), nullable=True),
        sa.Column("confirmed_by", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id"),
        sa.UniqueConstraint("ticket_no"),
    )
    op.create_index("ix_tickets_application", "tickets", ["application_id"], unique=False)
    op.create_index(
        "ix_tickets_open_due",
        "tickets",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index("ix_tickets_unit", "tickets", ["unit"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_unit", table_name="tickets")
    op.drop_index(
        "ix_tickets_open_due", table_name="tickets", postgresql_where=sa.text("closed_at IS NULL")
    )
    op.drop_index("ix_tickets_application", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(
        "ux_ticket_auto_escalation",
        table_name="ticket_events",
        postgresql_where=sa.text("action = 'escalated' AND automatic"),
    )
    op.drop_index("ix_ticket_events_ticket", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_ticket_alerts_alert", table_name="ticket_alerts")
    op.drop_table("ticket_alerts")
    op.drop_index(
        "ix_stages_open_warn", table_name="stages", postgresql_where=sa.text("status = 'open'")
    )
    op.drop_index(
        "ix_stages_open_due", table_name="stages", postgresql_where=sa.text("status = 'open'")
    )
    op.drop_index("ix_stages_application", table_name="stages")
    op.drop_table("stages")
    op.drop_index("ix_signatures_stage", table_name="signatures")
    op.drop_table("signatures")
    op.drop_index(
        "ix_objections_open_due",
        table_name="objections",
        postgresql_where=sa.text("concluded_at IS NULL"),
    )
    op.drop_table("objections")
    op.drop_index(
        "ix_notifications_pending",
        table_name="notifications",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("notifications")
    op.drop_table("notices")
    op.drop_index(
        "ix_applications_unpublished",
        table_name="applications",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index("ix_applications_publicity_batch", table_name="applications")
    op.drop_index(
        "ix_applications_no_materials",
        table_name="applications",
        postgresql_where=sa.text("materials_uploaded = 0"),
    )
    op.drop_index("ix_applications_batch", table_name="applications")
    op.drop_table("applications")
    op.drop_index(
        "ux_alerts_open_condition",
        table_name="alerts",
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.drop_index(
        "ix_alerts_unit", table_name="alerts", postgresql_ops={"unit": "text_pattern_ops"}
    )
    op.drop_index("ix_alerts_raised", table_name="alerts")
    op.drop_index("ix_alerts_application", table_name="alerts")
    op.drop_table("alerts")

"""Tables owned by the alerting service (its own database; no other service reads them).

Read models built from other services' events (``applications``, ``stages``, ``signatures``,
``notices``, ``objections``) let the clock sweep and the cockpit work from this database alone;
``alerts``, ``tickets``, ``ticket_events``, ``ticket_alerts`` and ``notifications`` are what
this service decides.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

_ts = sa.DateTime(timezone=True)

# -- read models ---------------------------------------------------------------------------------

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("tracking_no", sa.Text),
    sa.Column("city", sa.Text),
    sa.Column("district", sa.Text),
    sa.Column("street", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("accepted_at", _ts),
    # Acceptance month (YYYY-MM, Asia/Shanghai): the default reporting batch.
    sa.Column("batch", sa.Text),
    # Label of the publicity batch (publicity.opened.batch) the application was published in.
    sa.Column("publicity_batch", sa.Text),
    sa.Column("materials_uploaded", sa.Integer, nullable=False, server_default="0"),
    # When Y2 lights if still no material has been uploaded by then.
    sa.Column("materials_due_at", _ts),
    sa.Column("status", sa.Text, nullable=False, server_default="accepted"),
    sa.Column("case_id", pg.UUID(as_uuid=True)),
    sa.Column("qualified_at", _ts),
    # When F3 lights if no publicity has named the application by then.
    sa.Column("publish_due_at", _ts),
    sa.Column("published_at", _ts),
    sa.Column("updated_at", _ts, nullable=False),
)
sa.Index("ix_applications_batch", applications.c.batch)
sa.Index(
    "ix_applications_no_materials",
    applications.c.materials_due_at,
    postgresql_where=applications.c.materials_uploaded == 0,
)
sa.Index("ix_applications_publicity_batch", applications.c.publicity_batch)
sa.Index(
    "ix_applications_unpublished",
    applications.c.publish_due_at,
    postgresql_where=applications.c.published_at.is_(None),
)

stages = sa.Table(
    "stages",
    metadata,
    sa.Column("case_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("stage", sa.Text, primary_key=True),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    # open | suspended | completed
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("started_at", _ts, nullable=False),
    sa.Column("due_at", _ts, nullable=False),
    # Start of the last working day before the deadline (Y3), precomputed so the sweep is a
    # range scan rather than a calendar computation per row.
    sa.Column("warn_at", _ts, nullable=False),
    sa.Column("time_limit_working_days", sa.Integer, nullable=False),
    sa.Column("calendar_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("completed_at", _ts),
    sa.Column("working_days_used", sa.Integer),
    sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.false()),
)
# The clock sweep reads only open stages by deadline: partial indexes keep it a range scan
# however many completed stages accumulate.
sa.Index("ix_stages_open_due", stages.c.due_at, postgresql_where=stages.c.status == "open")
sa.Index("ix_stages_open_warn", stages.c.warn_at, postgresql_where=stages.c.status == "open")
sa.Index("ix_stages_application", stages.c.application_id)

signatures = sa.Table(
    "signatures",
    metadata,
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("case_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("signer", sa.Text, nullable=False),
    sa.Column("signed_at", _ts, nullable=False),
    sa.Column("opinion_quality", sa.Text, nullable=False),
)
sa.Index("ix_signatures_stage", signatures.c.case_id, signatures.c.stage)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("notice_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("batch", sa.Text),
    sa.Column("opened_at", _ts),
    sa.Column("closes_at", _ts),
    sa.Column("planned_days", sa.Integer),
    sa.Column("closed_at", _ts),
    sa.Column("closed_early", sa.Boolean),
)

objections = sa.Table(
    "objections",
    metadata,
    sa.Column("objection_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("notice_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("filed_at", _ts, nullable=False),
    sa.Column("conclude_due_at", _ts),
    sa.Column("concluded_at", _ts),
)
sa.Index(
    "ix_objections_open_due",
    objections.c.conclude_due_at,
    postgresql_where=objections.c.concluded_at.is_(None),
)

# -- decisions of this service -------------------------------------------------------------------

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("rule_id", sa.Text, nullable=False),
    sa.Column("colour", sa.Text, nullable=False),
    # application/case/stage/scope of the condition (domain.condition_key).
    sa.Column("condition_key", sa.Text, nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True)),
    sa.Column("case_id", pg.UUID(as_uuid=True)),
    sa.Column("stage", sa.Text),
    sa.Column("department", sa.Text),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("raised_at", _ts, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # event type, or "clock"
    sa.Column("source_event_id", pg.UUID(as_uuid=True)),
    sa.Column("details", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("cleared_at", _ts),
    sa.Column("cleared_by", sa.Text),
    sa.Column("clear_reason", sa.Text),
    # What ended it (an event type, "clock" or "ticket") and the person that event names, if
    # any (the clerk who uploaded the material, the official who signed...): who and when,
    # also for lights that went out by themselves.
    sa.Column("clear_source", sa.Text),
    sa.Column("cleared_actor", sa.Text),
)
# One condition, one open alert (idempotent raising; INSERT ... ON CONFLICT DO NOTHING).
sa.Index(
    "ux_alerts_open_condition",
    alerts.c.rule_id,
    alerts.c.condition_key,
    unique=True,
    postgresql_where=alerts.c.cleared_at.is_(None),
)
sa.Index("ix_alerts_unit", alerts.c.unit, postgresql_ops={"unit": "text_pattern_ops"})
sa.Index("ix_alerts_application", alerts.c.application_id)
sa.Index("ix_alerts_raised", alerts.c.raised_at)

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("ticket_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("ticket_no", sa.Text, nullable=False, unique=True),
    sa.Column("colour", sa.Text, nullable=False),
    sa.Column("rule_id", sa.Text, nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True)),
    sa.Column("stage", sa.Text),
    sa.Column("unit", sa.Text, nullable=False),  # the unit that must handle it
    sa.Column("opened_at", _ts, nullable=False),
    sa.Column("opened_by", sa.Text),  # null when opened automatically for a red light
    # Current step (domain.TicketStep) and its deadline.
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("due_at", _ts),
    # How far up the chain missed deadlines have pushed it (0 = not escalated).
    sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
    sa.Column("escalated_to", sa.Text),  # district | city_centre | city_office | province
    # Yellow ticket (黄灯预警督办单) fields.
    sa.Column("responsible_section", sa.Text),
    sa.Column("section_head", sa.Text),
    sa.Column("handler", sa.Text),
    # Red ticket (红灯预警督办单) fields.
    sa.Column("cause", sa.Text),
    sa.Column("handling_opinion", sa.Text),
    sa.Column("handled_at", _ts),
    sa.Column("handled_by", sa.Text),
    sa.Column("confirmed_by", sa.Text),
    sa.Column("confirmed_at", _ts),
    sa.Column("closed_at", _ts),
)
sa.Index("ix_tickets_open_due", tickets.c.due_at, postgresql_where=tickets.c.closed_at.is_(None))
sa.Index("ix_tickets_unit", tickets.c.unit)
sa.Index("ix_tickets_application", tickets.c.application_id)

ticket_alerts = sa.Table(
    "ticket_alerts",
    metadata,
    sa.Column("ticket_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("alert_id", pg.UUID(as_uuid=True), primary_key=True),
)
sa.Index("ix_ticket_alerts_alert", ticket_alerts.c.alert_id)

# Everything that happened to a ticket, in order: opened, handled, reported, escalated (by a
# person or by a missed deadline), confirmed, closed.
ticket_events = sa.Table(
    "ticket_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("ticket_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("step", sa.Text, nullable=False),  # the step this action concerns
    sa.Column("actor", sa.Text),
    sa.Column("automatic", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("at", _ts, nullable=False),
    sa.Column("due_at", _ts),  # deadline of that step
    sa.Column("to_level", sa.Text),
    sa.Column("to_unit", sa.Text),
    sa.Column("note", sa.Text),
)
sa.Index("ix_ticket_events_ticket", ticket_events.c.ticket_id)
# A missed deadline escalates once per level (the sweep may run any number of times).
sa.Index(
    "ux_ticket_auto_escalation",
    ticket_events.c.ticket_id,
    ticket_events.c.to_level,
    unique=True,
    postgresql_where=sa.and_(ticket_events.c.action == "escalated", ticket_events.c.automatic),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("notification_id", pg.UUID(as_uuid=True), primary_key=True),
    # red_light | stage_deadline | ticket_deadline | ticket_escalated
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("rule_id", sa.Text),
    # Dedupe key: one reminder per deadline, one message per red light.
    sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
    # A role in a unit ("supervisor@350203001"); the SMS gateway owns the phone numbers.
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("alert_id", pg.UUID(as_uuid=True)),
    sa.Column("ticket_id", pg.UUID(as_uuid=True)),
    sa.Column("created_at", _ts, nullable=False),
    # pending | sent | failed
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("channel", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("delivered_at", _ts),
    sa.Column("provider_ref", sa.Text),
    sa.Column("error", sa.Text),
)
sa.Index(
    "ix_notifications_pending",
    notifications.c.created_at,
    postgresql_where=notifications.c.status == "pending",
)

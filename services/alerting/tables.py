"""Tables owned by the alerting service (its own database; no other service reads them).

Read models built from other services' events (``applications``, ``stages``, ``signatures``,
``notices``, ``objections``, ``department_requests``, ``verification_completions``) let the
clock sweep, the cockpit and the reports work from this database alone;
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
    # The overall limit (R8T): submission, its deadline, and the working days the review
    # stages spent in supplement suspension (they move the deadline).
    sa.Column("submitted_at", _ts),
    sa.Column("total_due_at", _ts),
    sa.Column("total_suspended_days", sa.Integer, nullable=False, server_default="0"),
    # When review rejected it (or intake refused it): the periodic report counts rejections by
    # the month they happened in.
    sa.Column("rejected_at", _ts),
)
sa.Index("ix_applications_batch", applications.c.batch)
sa.Index(
    "ix_applications_no_materials",
    applications.c.materials_due_at,
    postgresql_where=applications.c.materials_uploaded == 0,
)
sa.Index("ix_applications_publicity_batch", applications.c.publicity_batch)
sa.Index(
    "ix_applications_total_due",
    applications.c.total_due_at,
    postgresql_where=applications.c.status.notin_(
        ["qualified", "published", "withdrawn", "rejected"]
    ),
)
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
    # When the acceptance stage's clock stopped for a supplement notice (review stages carry
    # their moved deadline on review.stage_resumed instead).
    sa.Column("suspended_at", _ts),
    # The named handler (经办人) of the stage once review names one: who suspended it for
    # supplements, resumed it by hand or was refused a suspension. N1 reminds that person.
    sa.Column("handler", sa.Text),
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
    # The department a ticket is addressed to (协查单位, a department code of the city file);
    # null when the unit itself must handle it. Its staff hold the role department:<code>.
    sa.Column("department", sa.Text),
    # human | system: what caused the light (art. 15: human-caused lights go to 效能办).
    sa.Column("cause_kind", sa.Text),
    # The red-light category it is filed under (domain.FeedbackCategory).
    sa.Column("feedback_category", sa.Text),
)
sa.Index("ix_tickets_open_due", tickets.c.due_at, postgresql_where=tickets.c.closed_at.is_(None))
sa.Index("ix_tickets_unit", tickets.c.unit)
sa.Index("ix_tickets_application", tickets.c.application_id)
sa.Index(
    "ix_tickets_department",
    tickets.c.department,
    postgresql_where=tickets.c.department.is_not(None),
)

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
# A missed deadline escalates once per step and level (the sweep may run any number of times;
# the same level may be called again for a later step).
sa.Index(
    "ux_ticket_auto_escalation_step",
    ticket_events.c.ticket_id,
    ticket_events.c.step,
    ticket_events.c.to_level,
    unique=True,
    postgresql_where=sa.and_(ticket_events.c.action == "escalated", ticket_events.c.automatic),
)

# One row per verification request (case and department), built from verification's events:
# what the departments' timeliness report counts (art. 12).
department_requests = sa.Table(
    "department_requests",
    metadata,
    sa.Column("case_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("department", sa.Text, primary_key=True),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("request_id", pg.UUID(as_uuid=True)),
    # null when only a later event (an answer, a deadline) was seen before the start.
    sa.Column("requested_at", _ts),
    sa.Column("deadline", sa.Date),
    sa.Column("answered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("answered_at", _ts),
    sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("empty", sa.Boolean, nullable=False, server_default=sa.false()),
)
sa.Index("ix_department_requests_requested", department_requests.c.requested_at)

# Verification cases seen completed, with the departments that had not answered: a start
# handled after its own completion (the consumer takes a batch at once) still marks the others
# answered.
verification_completions = sa.Table(
    "verification_completions",
    metadata,
    sa.Column("case_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("completed_at", _ts, nullable=False),
    sa.Column("missing_departments", pg.ARRAY(sa.Text), nullable=False),
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

# -- complaints ledger (投诉举报台账) ------------------------------------------------------------

complaint_seq = sa.Sequence("complaint_no_seq", metadata=metadata)

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("complaint_no", sa.Text, nullable=False, unique=True),
    # SHA-256 of the check code (查询码) handed out once: the number alone opens nothing.
    sa.Column("check_code_sha256", sa.Text, nullable=False),
    # sublet | agency | fraud | staff
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("about", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("agency_name", sa.Text),
    sa.Column("org_credit_code", sa.Text),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    # Named complaints only; shown to staff masked, never on the public lookup.
    sa.Column("complainant_name", sa.Text),
    sa.Column("complainant_mobile", sa.Text),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("filed_at", _ts, nullable=False),
    sa.Column("due_at", _ts, nullable=False),
    sa.Column("due_working_days", sa.Integer, nullable=False),
    # open | answered
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("response", sa.Text),
    sa.Column("answered_by", sa.Text),
    sa.Column("answered_at", _ts),
    sa.Column("credit_referred_by", sa.Text),
    sa.Column("credit_referred_at", _ts),
)
sa.Index(
    "ix_complaints_open_due",
    complaints.c.due_at,
    postgresql_where=complaints.c.status == "open",
)
sa.Index("ix_complaints_unit", complaints.c.unit, complaints.c.filed_at)

# A clue handed to the discipline commission (纪委监委), the police (公安) or market supervision
# (市场监管): recorded, never edited.
complaint_transfers = sa.Table(
    "complaint_transfers",
    metadata,
    sa.Column("transfer_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "complaint_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("complaints.complaint_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("to_body", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("transferred_by", sa.Text, nullable=False),
    sa.Column("transferred_at", _ts, nullable=False),
)
# -- allocation (轮候配租) read models ----------------------------------------------------------
# Allocation's events name a household by its tracking number; ``application_id`` is looked up
# in ``applications`` when the result arrives (null if this service never heard of it).

# Allocation results and whether a results notice (publicity.opened, kind allocation) listed
# them in time (F4).
allocation_results = sa.Table(
    "allocation_results",
    metadata,
    sa.Column("allocation_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("round_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True)),
    sa.Column("allocated_at", _ts, nullable=False),
    # When F4 lights if no results notice has listed it by then.
    sa.Column("publish_due_at", _ts, nullable=False),
    sa.Column("published_at", _ts),
)
sa.Index(
    "ix_allocation_results_unpublished",
    allocation_results.c.publish_due_at,
    postgresql_where=allocation_results.c.published_at.is_(None),
)

# Tenancy contracts to be signed by a day (N3 the working day before; F6 when it passed).
contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("contract_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("allocation_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True)),
    sa.Column("sign_by", sa.Date),
    sa.Column("remind_at", _ts),  # start of the last working day before sign_by
    sa.Column("deadline_at", _ts),  # end of sign_by
    sa.Column("signed_at", _ts),
    sa.Column("overdue_at", _ts),
)
sa.Index(
    "ix_contracts_unsigned_remind",
    contracts.c.remind_at,
    postgresql_where=contracts.c.signed_at.is_(None),
)

# Annual confirmations of need (年度轮候确认) asked of waiting households (N4).
waiting_confirmations = sa.Table(
    "waiting_confirmations",
    metadata,
    sa.Column("entry_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("confirm_by", sa.Date, nullable=False),
    sa.Column("remind_at", _ts, nullable=False),
    sa.Column("deadline_at", _ts, nullable=False),
    sa.Column("confirmed_at", _ts),
)
sa.Index(
    "ix_waiting_confirmations_unconfirmed_remind",
    waiting_confirmations.c.remind_at,
    postgresql_where=waiting_confirmations.c.confirmed_at.is_(None),
)
sa.Index("ix_applications_tracking_no", applications.c.tracking_no)
# Periodic reports (定期通报, Xiamen art. 14), stored once by the report sweep: ``monthly`` for
# a calendar month (``period`` YYYY-MM) and ``batch`` for a publicity batch whose notices all
# closed (``period`` the batch label). ``content`` is the report as ``GET
# /reports/periodic/{id}`` answers it, frozen when it was produced.
periodic_reports = sa.Table(
    "periodic_reports",
    metadata,
    sa.Column("report_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("period_from", sa.Date),
    sa.Column("period_to", sa.Date),
    sa.Column("generated_at", _ts, nullable=False),
    sa.Column("content", pg.JSONB, nullable=False),
    sa.UniqueConstraint("kind", "period", name="uq_periodic_reports_kind_period"),
)

# Tenancy's figures for the cockpit's 准入/使用/退出 and the periodic reports, projected from
# tenancy's events. Tenancy's events carry no street or district: these are the city's. Each
# row is keyed on the event's own ids, so a redelivered event counts once.
tenancy_leases = sa.Table(
    "tenancy_leases",
    metadata,
    sa.Column("lease_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("unit_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("opened_at", _ts, nullable=False),
    sa.Column("vacated_on", sa.Date),
)
sa.Index("ix_tenancy_leases_unit", tenancy_leases.c.unit_id)
# Every arrears step (reminder, notice) as taken; the latest before a day says how many months
# a household was behind then.
tenancy_arrears_steps = sa.Table(
    "tenancy_arrears_steps",
    metadata,
    sa.Column("lease_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("taken_at", _ts, primary_key=True),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("arrears_months", sa.Integer, nullable=False),
)
# Home visits planned (``tenancy.visit_due``) and done (``tenancy.visit_recorded``).
tenancy_visits_due = sa.Table(
    "tenancy_visits_due",
    metadata,
    sa.Column("lease_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("due_on", sa.Date, primary_key=True),
)
tenancy_visits = sa.Table(
    "tenancy_visits",
    metadata,
    sa.Column("visit_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("visited_on", sa.Date, nullable=False),
)
# Rectification orders; either event may arrive first, so both columns are nullable.
tenancy_violations = sa.Table(
    "tenancy_violations",
    metadata,
    sa.Column("violation_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("opened_at", _ts),
    sa.Column("closed_at", _ts),
    sa.Column("outcome", sa.Text),
)
# The latest conclusion of each lease's re-review in a campaign (an officer's decision
# concludes an ``officer_decides`` again).
tenancy_rereviews = sa.Table(
    "tenancy_rereviews",
    metadata,
    sa.Column("lease_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("campaign", sa.Integer, primary_key=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("concluded_at", _ts, nullable=False),
)
# Move-outs (``tenancy.unit_vacated``), by how the household left: ``move_out`` (voluntary),
# ``graded_exit`` (recovered after a re-review's graded exit) or ``recovery`` (other early
# recovery). ``lease_id`` is the unit's lease when alerting heard it open.
tenancy_exits = sa.Table(
    "tenancy_exits",
    metadata,
    sa.Column("unit_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("vacated_on", sa.Date, primary_key=True),
    sa.Column("lease_id", pg.UUID(as_uuid=True)),
    sa.Column("how", sa.Text, nullable=False),
)

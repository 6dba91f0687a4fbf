"""Tables owned by the verification service (its own database; no other service reads them).

* ``verification_cases`` — one per accepted application (联审联查案件, ``purpose`` admission)
  and one per annual re-review of a tenant household (年度复核, ``purpose`` re_review, with
  the lease and campaign): the declared household figures verification compares against (no
  names or ID numbers), the status and the result.
* ``department_requests`` — one per department and case (协查请求) with what was sent (the
  subjects: names and ID numbers the department needs to search its records) and the answer.
* ``admission_parameter_sets`` — every version of the admission parameters (准入参数) of a
  category, proposals included; approved rows are never changed or deleted (history forever).
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

verification_cases = sa.Table(
    "verification_cases",
    metadata,
    sa.Column("case_id", pg.UUID(as_uuid=True), primary_key=True),
    # One admission case per application and one re-review case per application and campaign
    # (the partial unique indexes below): the handlers insert with ON CONFLICT DO NOTHING, so
    # a re-published application.accepted or tenancy.rereview_requested changes nothing.
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    # admission (准入核查, on application.accepted) | re_review (年度复核, asked by tenancy).
    sa.Column("purpose", sa.Text, nullable=False, server_default="admission"),
    sa.Column("lease_id", pg.UUID(as_uuid=True)),  # re_review only
    sa.Column("campaign", sa.Integer),  # re_review only: the campaign year
    sa.Column("tracking_no", sa.Text, nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("street", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    # Declared figures by member_id_hash (no names, no ID numbers): what answers are compared to.
    sa.Column("declared", pg.JSONB, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # open | completed
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("recommendation", sa.Text),
    # The verification.completed payload as published (profile, reasons, discrepancies).
    sa.Column("result", pg.JSONB),
    sa.CheckConstraint("status IN ('open', 'completed')", name="verification_case_status"),
    sa.CheckConstraint("purpose IN ('admission', 're_review')", name="verification_case_purpose"),
    sa.CheckConstraint(
        "(purpose = 're_review') = (lease_id IS NOT NULL AND campaign IS NOT NULL)",
        name="verification_case_rereview_lease",
    ),
)
sa.Index(
    "verification_cases_one_admission",
    verification_cases.c.application_id,
    unique=True,
    postgresql_where=verification_cases.c.purpose == "admission",
)
sa.Index(
    "verification_cases_one_rereview",
    verification_cases.c.application_id,
    verification_cases.c.campaign,
    unique=True,
    postgresql_where=verification_cases.c.purpose == "re_review",
)
sa.Index(
    "verification_cases_open_due",
    verification_cases.c.due_on,
    postgresql_where=verification_cases.c.status == "open",
)

department_requests = sa.Table(
    "department_requests",
    metadata,
    sa.Column("request_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "case_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("verification_cases.case_id"),
        nullable=False,
    ),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("time_limit_working_days", sa.Integer, nullable=False),
    sa.Column("deadline_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    # The subjects exactly as sent (verification.requested data.subjects): the HTTP alternative
    # serves them to the department.
    sa.Column("subjects", pg.JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending | answered
    sa.Column("overdue_at", sa.DateTime(timezone=True)),
    sa.Column("answered_at", sa.DateTime(timezone=True)),  # server time of receipt
    sa.Column("reported_answered_at", sa.DateTime(timezone=True)),  # the department's claim
    sa.Column("answered_by", sa.Text),
    sa.Column("channel", sa.Text),  # amqp | http
    sa.Column("no_record", sa.Boolean),
    sa.Column("empty", sa.Boolean),
    sa.Column("late", sa.Boolean),
    sa.Column("findings", pg.JSONB),
    sa.UniqueConstraint("case_id", "department", name="department_request_once_per_case"),
    sa.CheckConstraint("status IN ('pending', 'answered')", name="department_request_status"),
)
sa.Index(
    "department_requests_by_department",
    department_requests.c.department,
    department_requests.c.status,
    department_requests.c.requested_at,
)
sa.Index(
    "department_requests_pending_deadline",
    department_requests.c.deadline,
    postgresql_where=sa.and_(
        department_requests.c.status == "pending", department_requests.c.overdue_at.is_(None)
    ),
)

admission_parameter_sets = sa.Table(
    "admission_parameter_sets",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    # Assigned at approval (1, 2, ...); null while proposed or rejected.
    sa.Column("version", sa.Integer),
    sa.Column("parameters", pg.JSONB, nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # proposed | approved | rejected
    sa.Column("reason", sa.Text),
    sa.Column("proposed_by", sa.Text, nullable=False),
    sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("city", "category", "version", name="admission_parameters_version"),
    sa.CheckConstraint(
        "status IN ('proposed', 'approved', 'rejected')", name="admission_parameters_status"
    ),
    # Four-eyes in the database too: nobody approves their own proposal, whatever the code does.
    sa.CheckConstraint(
        "status <> 'approved' OR proposed_by = 'system:city-config' OR decided_by <> proposed_by",
        name="admission_parameters_four_eyes",
    ),
    sa.CheckConstraint(
        "(status = 'approved') = (version IS NOT NULL)", name="admission_parameters_versioned"
    ),
)

SEED_ACTOR = "system:city-config"
"""Who "proposed" and "approved" version 1: the city configuration file itself."""

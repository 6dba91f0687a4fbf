"""Tables owned by the publication service (its own database; no other service reads them).

Nothing here holds a full resident ID, full name or mobile number: applications arrive masked
(``application.submitted``) or are masked on receipt (``application.accepted``), and an
objector's mobile is kept as a keyed hash plus its masked form.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

_tz = sa.DateTime(timezone=True)

# The public read model of each application (进度查询) and the masked data its notice entries
# copy. ``stage_at`` is the occurred_at of the event that set the stage: an older event arriving
# late does not move the stage back.
applications = sa.Table(
    "applications",
    metadata,
    sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("tracking_no", sa.Text, nullable=False, unique=True),
    sa.Column("id_tail", sa.Text, nullable=False),
    sa.Column("name_masked", sa.Text, nullable=False),
    sa.Column("id_masked", sa.Text, nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("street", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("member_count", sa.Integer),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("level", sa.Text),
    sa.Column("stage_at", _tz, nullable=False),
    sa.Column("submitted_at", _tz),
    sa.Column("accepted_at", _tz),
    sa.Column("decided_at", _tz),
    sa.Column("outcome", sa.Text),  # qualified / rejected
    sa.Column("qualified_at", _tz),
    sa.Column("due_at", _tz),  # deadline of the current review stage
    sa.Column("updated_at", _tz, nullable=False),
    # The latest supplementary-materials notice: the material names it lists and its deadline.
    sa.Column("supplement_items", pg.JSONB),
    sa.Column("supplement_deadline", sa.Date),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("notice_no", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("batch", sa.Text),
    sa.Column("status", sa.Text, nullable=False),  # scheduled / open / closed
    sa.Column("opens_at", _tz, nullable=False),
    sa.Column("closes_at", _tz, nullable=False),
    sa.Column("planned_days", sa.Integer, nullable=False),
    sa.Column("opened_at", _tz),
    sa.Column("closed_at", _tz),
    sa.Column("closed_early", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("override_by", sa.Text),
    sa.Column("override_reason", sa.Text),
    sa.Column("entry_count", sa.Integer, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", _tz, nullable=False),
)
sa.Index("notices_due", notices.c.status, notices.c.opens_at, notices.c.closes_at)

notice_entries = sa.Table(
    "notice_entries",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("notice_id", pg.UUID(as_uuid=True), sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("tracking_no", sa.Text, nullable=False),
    sa.Column("name_masked", sa.Text, nullable=False),
    sa.Column("id_masked", sa.Text, nullable=False),
    sa.Column("street", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("member_count", sa.Integer),
    # For objection-conclusion notices: the published outcome and conclusion.
    sa.Column("objection_id", pg.UUID(as_uuid=True)),
    sa.Column("remark", sa.Text),
    sa.UniqueConstraint("notice_id", "seq"),
    sa.UniqueConstraint("notice_id", "application_id", "objection_id"),
)
sa.Index("notice_entries_application", notice_entries.c.application_id)

objections = sa.Table(
    "objections",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("notice_id", pg.UUID(as_uuid=True), sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("entry_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    # The objector's mobile: keyed hash (to recognise the same objector) and masked form only.
    sa.Column("contact_hash", sa.Text, nullable=False),
    sa.Column("contact_masked", sa.Text, nullable=False),
    # Stored scrubbed: an ID or mobile typed into the text is masked before it is kept.
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("filed_at", _tz, nullable=False),
    sa.Column("conclude_by", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending / concluded
    sa.Column("outcome", sa.Text),  # sustained / dismissed
    sa.Column("conclusion", sa.Text),
    sa.Column("concluded_by", sa.Text),
    sa.Column("concluded_at", _tz),
    sa.Column("published_notice_id", pg.UUID(as_uuid=True)),
)
sa.Index("objections_notice", objections.c.notice_id)

# The public agency blacklist (黑中介 / 有偿代办), from credit.agency_blacklisted.
blacklist = sa.Table(
    "agency_blacklist",
    metadata,
    sa.Column("record_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("agency_name", sa.Text, nullable=False),
    sa.Column("org_credit_code", sa.Text),
    sa.Column("behaviour", sa.Text, nullable=False),
    sa.Column("listed_on", sa.Date, nullable=False),
    sa.Column("until", sa.Date),
)

# Credit notices to the public (信用公告), from credit: the announcement that replaces an
# undeliverable notice letter (公告送达, credit.notice_step public_announcement) and typical
# cases approved for exposure (典型案例曝光, credit.case_exposed). Masked on receipt; a typical
# case is withdrawn when its ban is lifted.
credit_notices = sa.Table(
    "credit_notices",
    metadata,
    sa.Column("record_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),  # announcement | typical_case
    sa.Column("subject_kind", sa.Text),
    sa.Column("subject_display", sa.Text, nullable=False),
    sa.Column("subject_id_masked", sa.Text),
    sa.Column("behaviour", sa.Text),
    sa.Column("record_no", sa.Text),
    sa.Column("severity", sa.Text),
    sa.Column("kind_title", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("correction_deadline", sa.Date),
    sa.Column("filed_on", sa.Date),
    sa.Column("ban_ends_on", sa.Date),
    sa.Column("published_at", _tz, nullable=False),
    sa.Column("withdrawn_on", sa.Date),
)

# Every service's signed audit checkpoints as published (``audit.checkpointed``), kept for good:
# they are what a rewritten chain is later compared with (docs/audit.md). A service never signs
# one seq twice with different hashes unless its chain was rewritten, so both are kept.
published_checkpoints = sa.Table(
    "published_checkpoints",
    metadata,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.Text, primary_key=True),
    sa.Column("signed_at", _tz, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("received_at", _tz, nullable=False),
)

# The provincial push log: one row per (endpoint, stream, event). Within a stream (one
# application) ``stream_seq`` orders delivery; the pusher sends only the oldest unacked row of
# each stream, so a later event never overtakes an earlier one.
push_log = sa.Table(
    "push_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("stream_key", sa.Text, nullable=False),
    sa.Column("stream_seq", sa.Integer, nullable=False),
    sa.Column("push_id", sa.Text, nullable=False),  # the receiver's idempotency key
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", _tz, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _tz, nullable=False),
    sa.Column("acked_at", _tz),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("endpoint", "stream_key", "stream_seq"),
    sa.UniqueConstraint("endpoint", "push_id"),
)
sa.Index(
    "push_log_pending",
    push_log.c.endpoint,
    push_log.c.stream_key,
    push_log.c.stream_seq,
    postgresql_where=push_log.c.acked_at.is_(None),
)

# -- allocation (轮候配租) read models ----------------------------------------------------------

# The waiting list as the public sees it, from allocation.waiting_entered / entry_suspended /
# unit_allocated / subsidy_chosen: the household's position and the waiting statistics are
# computed from here (set-based). ``priority_tier`` is null when the producer sent none.
waiting_households = sa.Table(
    "waiting_households",
    metadata,
    sa.Column("household_reference", sa.Text, primary_key=True),  # = the tracking number
    sa.Column("entry_id", pg.UUID(as_uuid=True)),
    sa.Column("application_id", pg.UUID(as_uuid=True)),
    sa.Column("category", sa.Text),
    sa.Column("priority_tier", sa.Integer),
    sa.Column("qualified_at", _tz),
    sa.Column("status", sa.Text, nullable=False),  # waiting / suspended / allocated / subsidised
    sa.Column("suspended_reason", sa.Text),
    sa.Column("suspended_until", sa.Date),
    sa.Column("left_at", _tz),  # when a unit or the subsidy ended the wait
    sa.Column("updated_at", _tz, nullable=False),
)
sa.Index(
    "waiting_households_order",
    waiting_households.c.category,
    waiting_households.c.priority_tier,
    waiting_households.c.qualified_at,
    waiting_households.c.household_reference,
    postgresql_where=waiting_households.c.status == "waiting",
)

# Lottery rounds (摇号): the frozen pool's digest and shortlist notice, then the draw's values.
lottery_rounds = sa.Table(
    "lottery_rounds",
    metadata,
    sa.Column("round_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("pool_digest", sa.Text, nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("cut_off", _tz),
    sa.Column("objection_until", _tz),
    sa.Column("shortlist_notice_id", pg.UUID(as_uuid=True)),
    sa.Column("commitment", sa.Text),
    sa.Column("public_input", sa.Text),
    sa.Column("secret", sa.Text),
    sa.Column("seed", sa.Text),
    sa.Column("drawn_at", _tz),
    sa.Column("updated_at", _tz, nullable=False),
)

lottery_ranks = sa.Table(
    "lottery_ranks",
    metadata,
    sa.Column("round_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("priority_tier", sa.Integer, nullable=False),
)

# Allocation results (配租结果) waiting for, then listed on, a results notice.
allocation_results = sa.Table(
    "allocation_results",
    metadata,
    sa.Column("allocation_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("round_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("unit_code", sa.Text, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("allocated_at", _tz, nullable=False),
    sa.Column("notice_id", pg.UUID(as_uuid=True)),
)
sa.Index(
    "allocation_results_unpublished",
    allocation_results.c.allocated_at,
    postgresql_where=allocation_results.c.notice_id.is_(None),
)

# The housing stock as disclosed (六公开: 房源), from allocation.units_changed; updated_at is
# the event's occurred_at, so a late older event does not overwrite a newer state.
housing_units = sa.Table(
    "housing_units",
    metadata,
    sa.Column("unit_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("project_code", sa.Text, nullable=False),
    sa.Column("project_name", sa.Text, nullable=False),
    sa.Column("building_code", sa.Text, nullable=False),
    sa.Column("unit_code", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("area_m2", sa.Numeric(10, 2), nullable=False),
    sa.Column("rooms", sa.Integer, nullable=False),
    sa.Column("floor", sa.Integer, nullable=False),
    sa.Column("accessible", sa.Boolean, nullable=False),
    sa.Column("base_rent_per_m2", sa.Numeric(14, 2), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", _tz, nullable=False),
)


# Who signed a review opinion on an application (review.opinion_signed): they may not conclude
# an objection against the decision they took part in (separation of duties).
decision_signers = sa.Table(
    "decision_signers",
    metadata,
    sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("signer", sa.Text, primary_key=True),
)


# Lottery commitments as allocation published them before each draw
# (allocation.commitment_published): compared with the commitment the draw says it used.
lottery_commitments = sa.Table(
    "lottery_commitments",
    metadata,
    sa.Column("round_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("pool_digest", sa.Text, nullable=False),
    sa.Column("commitment", sa.Text, nullable=False),
    sa.Column("committed_at", _tz, nullable=False),
    sa.Column("received_at", _tz, nullable=False),
)

"""Tables owned by the credit service (its own database; no other service reads them).

People are held as ``id_hash`` (HMAC of the resident ID) plus the masked ID and masked name:
the registry never stores a full resident ID or a full personal name. Organisations (employers,
agencies) are public bodies and keep their name and unified social credit code.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

_ts = sa.DateTime(timezone=True)

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("record_no", sa.Text, nullable=False, unique=True),
    sa.Column("category", sa.Text, nullable=False),  # family | employer | agency | tenancy
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("id_hash", sa.Text, nullable=False, index=True),
    sa.Column("subject_id_masked", sa.Text),  # people only, e.g. 3502**********1234
    sa.Column("subject_name_masked", sa.Text),  # people only, e.g. 张*三
    sa.Column("org_name", sa.Text),  # employers and agencies (public)
    sa.Column("org_credit_code", sa.Text),
    sa.Column("application_id", pg.UUID(as_uuid=True)),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("facts", sa.Text, nullable=False),
    sa.Column("evidence", pg.JSONB, nullable=False),
    sa.Column("candidate_id", pg.UUID(as_uuid=True)),
    sa.Column("unit", sa.Text, nullable=False),  # administrative unit of the recording officer
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", _ts, nullable=False),
    sa.Column("approved_by", sa.Text),
    sa.Column("approved_at", _ts),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("stage_at", _ts, nullable=False),
    sa.Column("correction_deadline", sa.Date),
    sa.Column("filed_on", sa.Date),  # recording date in the integrity file (记入之日)
    sa.Column("updated_at", _ts, nullable=False),
    # Typical-case exposure (典型案例曝光): proposed by an officer, approved by a city leader.
    sa.Column("exposure_summary", sa.Text),
    sa.Column("exposure_proposed_by", sa.Text),
    sa.Column("exposure_proposed_at", _ts),
    sa.Column("exposure_approved_by", sa.Text),
    sa.Column("exposed_at", _ts),
    sa.CheckConstraint("approved_by IS NULL OR approved_by <> recorded_by", name="four_eyes"),
)
sa.Index("records_stage_idx", records.c.stage)

# One row per step taken: the timestamped history of the notice procedure.
notice_steps = sa.Table(
    "notice_steps",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("record_id", pg.UUID(as_uuid=True), sa.ForeignKey("records.id"), nullable=False),
    sa.Column("from_stage", sa.Text),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("taken_by", sa.Text, nullable=False),
    sa.Column("taken_at", _ts, nullable=False),
    sa.Column("document_no", sa.Text),  # letter, announcement or case number
    sa.Column("note", sa.Text),
    sa.Column("correction_deadline", sa.Date),
)
sa.Index("notice_steps_record_idx", notice_steps.c.record_id, notice_steps.c.id)

bans = sa.Table(
    "bans",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "record_id", pg.UUID(as_uuid=True), sa.ForeignKey("records.id"), nullable=False, unique=True
    ),
    sa.Column("id_hash", sa.Text, nullable=False),
    sa.Column("subject_kind", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),  # first day the subject may apply again
    sa.Column("status", sa.Text, nullable=False),  # active | lifted
    sa.Column("lifted_on", sa.Date),
    sa.Column("early", sa.Boolean),
    sa.Column("lift_reason", sa.Text),
    sa.Column("lift_requested_by", sa.Text),
    sa.Column("lift_requested_at", _ts),
    sa.Column("lift_approved_by", sa.Text),
    sa.Column("lifted_at", _ts),
    sa.CheckConstraint(
        "lift_approved_by IS NULL OR lift_approved_by <> lift_requested_by", name="lift_four_eyes"
    ),
)
sa.Index("bans_id_hash_idx", bans.c.id_hash, bans.c.status)
sa.Index("bans_expiry_idx", bans.c.ends_on, postgresql_where=bans.c.status == "active")

# A discrepancy from verification becomes a candidate; only an officer makes it a record.
candidates = sa.Table(
    "candidates",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("case_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    # Empty string: a household-level discrepancy whose applicant is not yet known here.
    sa.Column("id_hash", sa.Text, nullable=False),
    sa.Column("discrepancies", pg.JSONB, nullable=False),
    sa.Column("suggested_kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # open | confirmed | dismissed
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", _ts),
    sa.Column("decision_reason", sa.Text),
    sa.Column("record_id", pg.UUID(as_uuid=True)),
    sa.UniqueConstraint("case_id", "id_hash", name="candidates_case_subject"),
)
sa.Index("candidates_status_idx", candidates.c.status, candidates.c.created_at)

# The integrity pledge (守信承诺书) each application was submitted with.
pledges = sa.Table(
    "pledges",
    metadata,
    sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("tracking_no", sa.Text, nullable=False),
    sa.Column("street", sa.Text, nullable=False),
    sa.Column("applicant_id_hash", sa.Text, nullable=False, index=True),
    sa.Column("member_id_hashes", pg.ARRAY(sa.Text), nullable=False),
    sa.Column("applicant_name_masked", sa.Text, nullable=False),
    sa.Column("applicant_id_masked", sa.Text, nullable=False),
    sa.Column("pledge_version", sa.Text, nullable=False),
    sa.Column("pledge_signed_at", _ts, nullable=False),
    sa.Column("submitted_at", _ts, nullable=False),
    sa.Column("registered_at", _ts, nullable=False),
)

# Pushes to the city credit system (市征信管理系统), written with the record and sent by a
# sweep with retries: the record is filed even while that system is down.
credit_shares = sa.Table(
    "credit_shares",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "record_id", pg.UUID(as_uuid=True), sa.ForeignKey("records.id"), nullable=False, unique=True
    ),
    sa.Column("payload", pg.JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _ts, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", _ts),
    sa.Column("created_at", _ts, nullable=False),
)
sa.Index(
    "credit_shares_due_idx",
    credit_shares.c.next_attempt_at,
    postgresql_where=credit_shares.c.status == "pending",
)

# Periodic exports to the central bank branch (人行征信): one file per period, written once.
pboc_exports = sa.Table(
    "pboc_exports",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),  # exclusive
    # The changes exported: [covers_from, covers_to); covers_from is the previous export's end.
    sa.Column("covers_from", _ts),
    sa.Column("covers_to", _ts, nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("ban_count", sa.Integer, nullable=False),
    sa.Column("content", pg.JSONB, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.UniqueConstraint("period_start", name="pboc_exports_period"),
)

"""Tables owned by the review service (its own database; no other service reads them).

A case (审核案件) per accepted application; a stage run per time a stage is worked on (a stage
runs again after a return or a sustained objection); signatures (签字) that the database
refuses to change or delete; suspensions (补件挂起); the verification result and the
objections the case waits for. Only masked personal data is kept (the applicant's masked name).
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.tables import APPEND_ONLY_INFO

metadata = sa.MetaData()

_tz = sa.DateTime(timezone=True)

cases = sa.Table(
    "review_cases",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("tracking_no", sa.Text, nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("street", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("applicant_name_masked", sa.Text, nullable=False),
    sa.Column("member_count", sa.Integer, nullable=False),
    sa.Column("workflow", sa.Text, nullable=False),
    sa.Column("workflow_version", sa.Integer, nullable=False),
    # in_review, awaiting_publicity, in_publicity, qualified, rejected, withdrawn
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("current_run_id", pg.UUID(as_uuid=True)),
    sa.Column("opened_at", _tz, nullable=False),
    sa.Column("decided_at", _tz),
    sa.Column("outcome", sa.Text),
    sa.Column("reasons", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("notice_id", pg.UUID(as_uuid=True)),
    sa.Column("publicity_opened_at", _tz),
    sa.Column("publicity_closes_at", _tz),
    sa.Column("publicity_closed_at", _tz),
    sa.Column("publicity_closed_early", sa.Boolean),
    sa.Column("qualified_at", _tz),
    sa.Column("updated_at", _tz, nullable=False),
    # The members' id hashes from application.accepted: a credit ban names a person by hash.
    sa.Column(
        "member_id_hashes", pg.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")
    ),
    # Why a case stopped without a signature (credit_ban); null for a signed decision.
    sa.Column("stop_reason", sa.Text),
)

stage_runs = sa.Table(
    "review_stage_runs",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("case_id", pg.UUID(as_uuid=True), sa.ForeignKey(cases.c.id), nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("signatures", pg.ARRAY(sa.Text), nullable=False),
    sa.Column("requires_verification", sa.Boolean, nullable=False),
    sa.Column("time_limit", sa.Integer, nullable=False),
    sa.Column("suspension_limit", sa.Integer, nullable=False),
    # active, suspended, completed
    sa.Column("status", sa.Text, nullable=False),
    # The token role whose signature is due next (street_reviewer, ...): the to-do list key.
    sa.Column("next_staff_role", sa.Text),
    sa.Column("next_signature", sa.Text),
    sa.Column("started_at", _tz, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("due_at", _tz, nullable=False),
    sa.Column("yellow_at", _tz, nullable=False),
    sa.Column("fallback_years", pg.ARRAY(sa.Integer), nullable=False),
    sa.Column("suspended_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("overdue_at", _tz),
    sa.Column("completed_at", _tz),
    sa.Column("outcome", sa.Text),
    sa.UniqueConstraint("case_id", "stage", "round"),
    sa.Index("ix_review_stage_runs_todo", "status", "next_staff_role", "due_at"),
)

signatures = sa.Table(
    "review_signatures",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("case_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("run_id", pg.UUID(as_uuid=True), sa.ForeignKey(stage_runs.c.id), nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("opinion", sa.Text, nullable=False),
    sa.Column("signer", sa.Text, nullable=False),
    sa.Column("signer_name", sa.Text, nullable=False),
    sa.Column("signer_org", sa.Text, nullable=False),
    sa.Column("signed_at", _tz, nullable=False),
    # A correction is a new signature naming the one it corrects; the old one stays.
    sa.Column("corrects", pg.UUID(as_uuid=True), sa.ForeignKey("review_signatures.id")),
    sa.Index("ix_review_signatures_run", "run_id"),
    info=APPEND_ONLY_INFO,
)

suspensions = sa.Table(
    "review_suspensions",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("case_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("run_id", pg.UUID(as_uuid=True), sa.ForeignKey(stage_runs.c.id), nullable=False),
    sa.Column("missing_items", pg.JSONB, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("suspended_by", sa.Text, nullable=False),
    sa.Column("suspended_at", _tz, nullable=False),
    sa.Column("resumes_by", _tz, nullable=False),
    sa.Column("resumes_on", sa.Date, nullable=False),
    sa.Column("resumed_at", _tz),
    sa.Column("automatic", sa.Boolean),
    sa.Column("resumed_by", sa.Text),
    sa.Column("suspended_days", sa.Integer),
    sa.Index(
        "ix_review_suspensions_open",
        "resumes_by",
        postgresql_where=sa.text("resumed_at IS NULL"),
    ),
)

verifications = sa.Table(
    "review_verifications",
    metadata,
    sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("verification_case_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("recommendation", sa.Text, nullable=False),
    sa.Column("reasons", pg.JSONB, nullable=False),
    sa.Column("discrepancies", pg.JSONB, nullable=False),
    sa.Column("missing_departments", pg.JSONB, nullable=False),
    sa.Column("parameters_version", sa.Integer, nullable=False),
    sa.Column("completed_at", _tz, nullable=False),
    sa.Column("received_at", _tz, nullable=False),
    # Verified circumstances (PriorityFinding) the priority groups are decided from.
    sa.Column("priority_findings", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
)

objections = sa.Table(
    "review_objections",
    metadata,
    sa.Column("objection_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("notice_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("filed_at", _tz),
    sa.Column("outcome", sa.Text),
    sa.Column("conclusion", sa.Text),
    sa.Column("concluded_at", _tz),
)

# Bans heard from credit (credit.ban_imposed / credit.ban_lifted), so that a case opened after
# the ban was imposed stops as well; lifting a ban never reopens a stopped case.
bans = sa.Table(
    "review_bans",
    metadata,
    sa.Column("record_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("id_hash", sa.Text, nullable=False, index=True),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
    sa.Column("lifted_on", sa.Date),
    sa.Column("received_at", _tz, nullable=False),
)

# Historical signatures (历史数据导入) of the old system's three tiers, keyed on its case
# number; no case row: the history is evidence for supervision, not work for the to-do list.
legacy_signatures = sa.Table(
    "review_legacy_signatures",
    metadata,
    sa.Column("legacy_case_no", sa.Text, primary_key=True),
    sa.Column("stage", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, primary_key=True),
    sa.Column("signed_at", _tz, primary_key=True),
    sa.Column("case_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("application_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("signer", sa.Text, nullable=False),
    sa.Column("opinion", sa.Text, nullable=False),
    sa.Column("opinion_quality", sa.Text, nullable=False),
    sa.Column("row_sha256", sa.Text, nullable=False),
    sa.Column("imported_by", sa.Text, nullable=False),
    sa.Column("imported_at", _tz, nullable=False),
)

ALL_TABLES = (
    cases,
    stage_runs,
    signatures,
    suspensions,
    verifications,
    objections,
    legacy_signatures,
    bans,
)

# Signatures are evidence (全程留痕): once written, neither the service nor an administrator
# changes them through SQL; a correction is a new row. ENABLE ALWAYS keeps the trigger active
# under session_replication_role = replica.
SIGNATURES_IMMUTABLE_DDL = (
    """
    CREATE OR REPLACE FUNCTION review_signatures_immutable() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'review_signatures is append-only (% refused)', TG_OP;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER review_signatures_no_change
    BEFORE UPDATE OR DELETE ON review_signatures
    FOR EACH ROW EXECUTE FUNCTION review_signatures_immutable()
    """,
    "ALTER TABLE review_signatures ENABLE ALWAYS TRIGGER review_signatures_no_change",
    """
    CREATE TRIGGER review_signatures_no_truncate
    BEFORE TRUNCATE ON review_signatures
    FOR EACH STATEMENT EXECUTE FUNCTION review_signatures_immutable()
    """,
    "ALTER TABLE review_signatures ENABLE ALWAYS TRIGGER review_signatures_no_truncate",
)

"""Tables owned by the intake service (its own database; no other service reads them).

Applications, their household members, materials, supplementary-materials notices, the local
projection of credit bans, the messages the applicant was told and the drafts of online
applications. Money is ``NUMERIC(14,2)``
in yuan, areas ``NUMERIC(10,2)`` in m².
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

# Human-readable numbers come from sequences: unique without a lock, never reused.
tracking_seq = sa.Sequence("application_tracking_seq", metadata=metadata)
receipt_seq = sa.Sequence("acceptance_receipt_seq", metadata=metadata)
notice_seq = sa.Sequence("supplement_notice_seq", metadata=metadata)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("tracking_no", sa.Text, nullable=False, unique=True),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("street", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    # submitted | supplement_requested | accepted | rejected | withdrawn (see domain.Status)
    sa.Column("status", sa.Text, nullable=False),
    # Status to return to when an open supplement notice is fulfilled.
    sa.Column("resume_status", sa.Text),
    sa.Column("mobile", sa.Text, nullable=False),
    sa.Column("housing_address", sa.Text, nullable=False),
    sa.Column("housing_area_m2", sa.Numeric(10, 2), nullable=False),
    sa.Column("housing_tenure", sa.Text, nullable=False),
    sa.Column("pledge_version", sa.Text, nullable=False),
    sa.Column("pledge_signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    # Token ``sub`` of whoever submitted (the applicant reads their own application by it).
    sa.Column("submitted_by", sa.Text, nullable=False),
    sa.Column("receipt_no", sa.Text, unique=True),
    sa.Column("accepted_by", sa.Text),
    sa.Column("accepted_by_name", sa.Text),
    sa.Column("accepted_org", sa.Text),
    sa.Column("accepted_at", sa.DateTime(timezone=True)),
    sa.Column("materials_complete", sa.Boolean),
    sa.Column("incomplete_reason", sa.Text),
    sa.Column("closed_by", sa.Text),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("closed_reason", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("applications_status_street", applications.c.status, applications.c.street)
sa.Index("applications_street_submitted", applications.c.street, applications.c.submitted_at)

members = sa.Table(
    "members",
    metadata,
    sa.Column(
        "application_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("applications.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.SmallInteger, primary_key=True),  # 0 = applicant first
    sa.Column("id_hash", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("resident_id", sa.Text, nullable=False),
    sa.Column("relationship", sa.Text, nullable=False),
    sa.Column("marital_status", sa.Text, nullable=False),
    sa.Column("hukou_division", sa.Text, nullable=False),
    sa.Column("residence_permit", sa.Boolean, nullable=False),
    sa.Column("employer", sa.Text),
    sa.Column("declared_monthly_income", sa.Numeric(14, 2), nullable=False),
    sa.Column("declared_financial_assets", sa.Numeric(14, 2), nullable=False),
    sa.Column("declared_vehicle_count", sa.Integer, nullable=False),
    sa.Column("declared_vehicle_value", sa.Numeric(14, 2), nullable=False),
    # True while the application is live; a person may be on one live application per city.
    sa.Column("active", sa.Boolean, nullable=False),
)
# The last line of defence against duplicates: even if two submissions raced past the checks,
# the database refuses a second live membership of the same person.
sa.Index(
    "members_one_active_application",
    members.c.id_hash,
    unique=True,
    postgresql_where=members.c.active,
)
sa.Index("members_id_hash", members.c.id_hash)

materials = sa.Table(
    "materials",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "application_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("applications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("material_type", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    # The file is a PostgreSQL large object (services/intake/material_files.py): outside the
    # row, written in the upload's transaction, carried by pg_dump. NULL for a historical
    # import whose file stayed in the old system's archive.
    sa.Column("content_oid", pg.OID),
    sa.Column("uploaded_by", sa.Text, nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    # Re-uploading the same file for the same material is the same upload.
    sa.UniqueConstraint("application_id", "material_type", "sha256"),
)

supplement_notices = sa.Table(
    "supplement_notices",
    metadata,
    sa.Column(
        "application_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("applications.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("n", sa.SmallInteger, primary_key=True),  # 1, 2, ... per application
    sa.Column("notice_no", sa.Text, nullable=False, unique=True),
    # [{"code", "name", "note"}]
    sa.Column("items", pg.JSONB, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("deadline_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_by_name", sa.Text, nullable=False),
    sa.Column("requested_org", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    # open | received | overdue | superseded
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True)),
    sa.Column("overdue_at", sa.DateTime(timezone=True)),
)
sa.Index(
    "supplement_notices_open_deadline",
    supplement_notices.c.deadline,
    postgresql_where=supplement_notices.c.status == "open",
)

# Projection of credit.ban_imposed / credit.ban_lifted: one row per ban record. A lift may
# arrive before its ban (no ordering across events), so every column but the key is nullable.
credit_bans = sa.Table(
    "credit_bans",
    metadata,
    sa.Column("record_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("id_hash", sa.Text, nullable=False),
    sa.Column("starts_on", sa.Date),
    sa.Column("ends_on", sa.Date),  # first day the subject may apply again
    sa.Column("lifted_on", sa.Date),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("credit_bans_id_hash", credit_bans.c.id_hash)

# Historical import (历史数据导入): the old system's case number of every imported application,
# so the same file loaded twice changes nothing; the row's digest tells a changed row apart.
legacy_imports = sa.Table(
    "legacy_imports",
    metadata,
    sa.Column("legacy_case_no", sa.Text, primary_key=True),
    sa.Column(
        "application_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("applications.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("row_sha256", sa.Text, nullable=False),
    sa.Column("imported_by", sa.Text, nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

# What the applicant is told (及时告知): one row is both the in-portal message and its SMS, with
# the SMS delivery as the dispatcher recorded it. The mobile is read from ``applications`` at
# sending time, so no copy of it sits here; the text never carries an ID number or a full name.
applicant_messages = sa.Table(
    "applicant_messages",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "application_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("applications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # accepted | supplement_requested | refused | verification_failed | qualified | rejected |
    # waiting_entered | entry_suspended | unit_allocated | subsidy_chosen | contract_issued |
    # contract_overdue | confirmation_requested (the templates in data/messages.yaml)
    sa.Column("kind", sa.Text, nullable=False),
    # One message per occurrence (the notice, the event): a redelivered event tells nobody twice.
    sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # SMS delivery: pending | sent | failed
    sa.Column("sms_status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("channel", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("provider_ref", sa.Text),
    sa.Column("error", sa.Text),
)
sa.Index("applicant_messages_application", applicant_messages.c.application_id)
sa.Index(
    "applicant_messages_pending",
    applicant_messages.c.created_at,
    postgresql_where=applicant_messages.c.sms_status == "pending",
)

# The online application's draft (网上申请草稿, save and resume): one per applicant account, the
# household as typed so far sealed with HOUSING_INTAKE_DRAFT_KEYS (shared.sealing), so the
# names, ID numbers, mobile and incomes of a draft are not readable in the database or a dump.
# Deleted when that account submits an application, or when the applicant discards it.
portal_drafts = sa.Table(
    "portal_drafts",
    metadata,
    sa.Column("account", sa.Text, primary_key=True),  # the token's ``sub``
    sa.Column("payload", sa.Text, nullable=False),  # Fernet token of the draft's JSON
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("portal_drafts_updated", portal_drafts.c.updated_at)

INTAKE_TABLES = (
    applications,
    members,
    materials,
    supplement_notices,
    credit_bans,
    applicant_messages,
    legacy_imports,
    portal_drafts,
)

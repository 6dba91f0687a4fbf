"""Tables of the tenancy service: households, leases, bills and payments, visits, violations,
exits, subsidy accounts and re-review campaigns.

People appear as id hashes and masked values only (from ``application.submitted``); the full
resident ID or name never reaches this database.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData()

_ts = sa.DateTime(timezone=True)
_money = sa.Numeric(14, 2)

# What tenancy knows of a household from intake and verification: whom a credit record names
# and which rent band its latest verified income puts it in.
households = sa.Table(
    "households",
    metadata,
    sa.Column("application_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("household_reference", sa.Text, nullable=False, unique=True),
    sa.Column("member_id_hashes", ARRAY(sa.Text), nullable=False),
    sa.Column("applicant_name_masked", sa.Text, nullable=False),
    sa.Column("applicant_id_masked", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("assistance_status", sa.Text),
    sa.Column("verified_at", _ts),
    sa.Column("updated_at", _ts, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_no", sa.Text, nullable=False, unique=True),
    sa.Column("contract_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("allocation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("monthly_rent", _money, nullable=False),
    sa.Column("recovery_clauses", JSONB, nullable=False),
    sa.Column("rent_band", sa.Text, nullable=False),
    sa.Column("deposit", _money, nullable=False),
    # Paid beyond the bills issued so far; the next bill takes it first.
    sa.Column("prepaid", _money, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("arrears_months", sa.Integer, nullable=False),
    # The furthest arrears step taken in the current episode (none, reminder, notice, recovery).
    sa.Column("arrears_step", sa.Text, nullable=False),
    sa.Column("next_visit_due", sa.Date, nullable=False),
    # The due date the N6 reminder was last emitted for (once per due date).
    sa.Column("visit_reminded_for", sa.Date),
    sa.Column("opened_at", _ts, nullable=False),
    sa.Column("ended_on", sa.Date),
    sa.CheckConstraint("status IN ('active','ended')", name="leases_status"),
    sa.Index("leases_status_idx", "status"),
    sa.Index("leases_household_idx", "household_reference"),
)

rent_band_changes = sa.Table(
    "rent_band_changes",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("from_band", sa.Text, nullable=False),
    sa.Column("to_band", sa.Text, nullable=False),
    sa.Column("effective_month", sa.Date, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("decided_at", _ts, nullable=False),
)

bills = sa.Table(
    "bills",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("month", sa.Date, nullable=False),  # the first day of the billed month
    sa.Column("rent_band", sa.Text, nullable=False),
    sa.Column("factor", sa.Numeric(5, 2), nullable=False),
    sa.Column("days", sa.Integer, nullable=False),  # days of the month under the lease
    sa.Column("amount", _money, nullable=False),
    sa.Column("paid_amount", _money, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("paid_at", _ts),
    sa.Column("created_at", _ts, nullable=False),
    sa.UniqueConstraint("lease_id", "month", name="bills_lease_month"),
    sa.Index("bills_unpaid_idx", "lease_id", "due_on", postgresql_where=sa.text("paid_at IS NULL")),
)

withholding_imports = sa.Table(
    "withholding_imports",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("applied", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
    sa.Column("unmatched", sa.Integer, nullable=False),
    sa.Column("report", JSONB, nullable=False),
    sa.Column("imported_by", sa.Text, nullable=False),
    sa.Column("imported_at", _ts, nullable=False),
)

# One row per bank transaction reference, matched or not: the reference is the idempotency key.
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reference", sa.Text, nullable=False, unique=True),
    sa.Column("channel", sa.Text, nullable=False),  # withholding | channel
    sa.Column("lease_no", sa.Text, nullable=False),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id")),
    sa.Column("amount", _money, nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # applied | unmatched
    sa.Column("reason", sa.Text),
    sa.Column("import_id", UUID(as_uuid=True), sa.ForeignKey("withholding_imports.id")),
    sa.Column("received_at", _ts, nullable=False),
)

# Arrears steps taken: the SMS reminder and the notice (催缴通知), once per lease and month.
arrears_steps = sa.Table(
    "arrears_steps",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("month", sa.Date, nullable=False),  # the oldest unpaid month at that time
    sa.Column("arrears_months", sa.Integer, nullable=False),
    sa.Column("amount_due", _money, nullable=False),
    sa.Column("taken_at", _ts, nullable=False),
    sa.UniqueConstraint("lease_id", "step", "month", name="arrears_steps_once"),
)

credit_referrals = sa.Table(
    "credit_referrals",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    # The violation or arrears exit it comes from: one referral per source and kind.
    sa.Column("source_id", UUID(as_uuid=True), nullable=False),
    sa.Column("referred_at", _ts, nullable=False),
    sa.UniqueConstraint("kind", "source_id", name="credit_referrals_once"),
)

visits = sa.Table(
    "visits",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("visited_on", sa.Date, nullable=False),
    sa.Column("visitors", ARRAY(sa.Text), nullable=False),
    sa.Column("finding", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", _ts, nullable=False),
    sa.Index("visits_lease_idx", "lease_id", "visited_on"),
)

visit_photos = sa.Table(
    "visit_photos",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "visit_id",
        UUID(as_uuid=True),
        sa.ForeignKey("visits.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_by", sa.Text, nullable=False),
    sa.Column("uploaded_at", _ts, nullable=False),
    # The same photo again for the same visit is the same upload.
    sa.UniqueConstraint("visit_id", "sha256", name="visit_photos_once"),
)

violations = sa.Table(
    "violations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    # Null for a household that did not cooperate with its re-review (no visit found it).
    sa.Column("visit_id", UUID(as_uuid=True), sa.ForeignKey("visits.id")),
    sa.Column("finding", sa.Text, nullable=False),
    sa.Column("clause", sa.Text, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("opened_at", _ts, nullable=False),
    sa.Column("overdue_at", _ts),
    sa.Column("closed_at", _ts),
    sa.Column("closed_by", sa.Text),
    sa.Column("closing_note", sa.Text),
    sa.CheckConstraint(
        "status IN ('open','overdue','rectified','escalated')", name="violations_status"
    ),
    sa.Index("violations_status_idx", "status", "deadline"),
)

exits = sa.Table(
    "exits",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("exit_no", sa.Text, nullable=False, unique=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # early_recovery | voluntary
    sa.Column("clause", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("violation_id", UUID(as_uuid=True), sa.ForeignKey("violations.id")),
    sa.Column("opened_by", sa.Text, nullable=False),
    sa.Column("opened_at", _ts, nullable=False),
    sa.Column("move_out_by", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("inspected_by", sa.Text),
    sa.Column("inspected_on", sa.Date),
    sa.Column("damages", JSONB),
    sa.Column("damages_total", _money),
    sa.Column("arrears_total", _money),
    sa.Column("deposit", _money),
    # Deposit less damages and unpaid rent: positive is refunded, negative still owed.
    sa.Column("settlement", _money),
    sa.Column("vacated_on", sa.Date),
    sa.Column("court_referral_no", sa.Text),
    sa.Column("court_referred_at", _ts),
    sa.CheckConstraint(
        "status IN ('notice_issued','inspected','vacated','court_referred')", name="exits_status"
    ),
    sa.CheckConstraint("kind IN ('early_recovery','voluntary')", name="exits_kind"),
    sa.Index(
        "exits_one_open_per_lease",
        "lease_id",
        unique=True,
        postgresql_where=sa.text("status <> 'vacated'"),
    ),
)

subsidy_accounts = sa.Table(
    "subsidy_accounts",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("round_id", UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("member_count", sa.Integer, nullable=False),
    sa.Column("income_band", sa.Text, nullable=False),
    sa.Column("monthly_amount", _money, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    # The day eligibility ended: nothing is paid for it or any later day.
    sa.Column("ends_on", sa.Date),
    sa.Column("end_reason", sa.Text),
    sa.Column("status", sa.Text, nullable=False),  # active | ended
    sa.Column("opened_at", _ts, nullable=False),
    sa.UniqueConstraint("round_id", "household_reference", name="subsidy_accounts_once"),
)

subsidy_payments = sa.Table(
    "subsidy_payments",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "account_id", UUID(as_uuid=True), sa.ForeignKey("subsidy_accounts.id"), nullable=False
    ),
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("amount", _money, nullable=False),
    sa.Column("pay_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # scheduled | cancelled
    sa.Column("scheduled_at", _ts, nullable=False),
    sa.UniqueConstraint("account_id", "month", name="subsidy_payments_once"),
)

# The annual re-review campaign (年度复核) as recorded here: which leases it covers.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("lease_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", _ts, nullable=False),
)

# One household's re-review in a campaign: requested, then what tenancy made of verification's
# answer (continued, band_changed, graded_exit → exit_noticed, officer_decides) or
# not_cooperated (no answer by the deadline, or no household at verification).
rereviews = sa.Table(
    "rereviews",
    metadata,
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), primary_key=True),
    sa.Column("campaign", sa.Integer, primary_key=True),
    sa.Column("application_id", UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("requested_at", _ts, nullable=False),
    sa.Column("reminded_at", _ts),  # N5 sent (once)
    sa.Column("household_found", sa.Boolean),
    sa.Column("meets_continuation", sa.Boolean),
    sa.Column("income_band", sa.Text),
    sa.Column("verified_at", _ts),
    sa.Column("rent_band", sa.Text),  # the band the outcome left the lease in
    # Graded exit: the day the recovery notice goes, after the transition months at market rent.
    sa.Column("exit_on", sa.Date),
    sa.Column("exit_id", UUID(as_uuid=True), sa.ForeignKey("exits.id")),
    sa.Column("violation_id", UUID(as_uuid=True), sa.ForeignKey("violations.id")),
    sa.Column("concluded_at", _ts),
    sa.CheckConstraint(
        "status IN ('requested','continued','band_changed','graded_exit','exit_noticed',"
        "'officer_decides','not_cooperated')",
        name="rereviews_status",
    ),
    sa.Index("rereviews_status_idx", "status", "deadline"),
)

# Monthly electricity use asked of the power company (供电公司): one row per unit and month,
# created for every let unit; the answer (kWh) fills it once.
power_readings = sa.Table(
    "power_readings",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("requested_at", _ts, nullable=False),
    sa.Column("kwh", sa.Numeric(10, 1)),
    sa.Column("answered_at", _ts),
    sa.Column("answered_by", sa.Text),
    sa.UniqueConstraint("unit_id", "month", name="power_readings_unit_month"),
    sa.Index("power_readings_lease_idx", "lease_id", "month"),
    sa.Index("power_readings_pending_idx", "month", postgresql_where=sa.text("kwh IS NULL")),
)

# A run of months with use below the vacancy threshold (空置线索): recorded once per streak,
# keyed by its first month; it brought the lease's visit forward.
vacancy_leads = sa.Table(
    "vacancy_leads",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
    sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("streak_from", sa.Date, nullable=False),
    sa.Column("streak_to", sa.Date, nullable=False),
    sa.Column("months", sa.Integer, nullable=False),
    sa.Column("visit_due", sa.Date, nullable=False),
    sa.Column("detected_at", _ts, nullable=False),
    sa.UniqueConstraint("lease_id", "streak_from", name="vacancy_leads_streak"),
)

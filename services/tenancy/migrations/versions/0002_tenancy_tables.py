"""Tenancy tables: households, leases, bills and payments, arrears steps, credit referrals,
visits and photos, violations, exits, subsidy accounts and payments, re-review campaigns.

Frozen DDL: written out here rather than derived from tables.py, so a later edit of the
models cannot change what this revision creates.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("application_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("household_reference", sa.Text, nullable=False, unique=True),
        sa.Column("member_id_hashes", ARRAY(sa.Text), nullable=False),
        sa.Column("applicant_name_masked", sa.Text, nullable=False),
        sa.Column("applicant_id_masked", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("assistance_status", sa.Text),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_no", sa.Text, nullable=False, unique=True),
        sa.Column("contract_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("allocation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_reference", sa.Text, nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("monthly_rent", sa.Numeric(14, 2), nullable=False),
        sa.Column("recovery_clauses", JSONB, nullable=False),
        sa.Column("rent_band", sa.Text, nullable=False),
        sa.Column("deposit", sa.Numeric(14, 2), nullable=False),
        # Paid beyond the bills issued so far; the next bill takes it first.
        sa.Column("prepaid", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("arrears_months", sa.Integer, nullable=False),
        # The furthest arrears step taken in the current episode (none, reminder, notice, recovery).
        sa.Column("arrears_step", sa.Text, nullable=False),
        sa.Column("next_visit_due", sa.Date, nullable=False),
        # The due date the N6 reminder was last emitted for (once per due date).
        sa.Column("visit_reminded_for", sa.Date),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_on", sa.Date),
        sa.CheckConstraint("status IN ('active','ended')", name="leases_status"),
        sa.Index("leases_status_idx", "status"),
        sa.Index("leases_household_idx", "household_reference"),
    )
    op.create_table(
        "rent_band_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("from_band", sa.Text, nullable=False),
        sa.Column("to_band", sa.Text, nullable=False),
        sa.Column("effective_month", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bills",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("month", sa.Date, nullable=False),  # the first day of the billed month
        sa.Column("rent_band", sa.Text, nullable=False),
        sa.Column("factor", sa.Numeric(5, 2), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),  # days of the month under the lease
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("lease_id", "month", name="bills_lease_month"),
        sa.Index(
            "bills_unpaid_idx", "lease_id", "due_on", postgresql_where=sa.text("paid_at IS NULL")
        ),
    )
    op.create_table(
        "withholding_imports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("applied", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("unmatched", sa.Integer, nullable=False),
        sa.Column("report", JSONB, nullable=False),
        sa.Column("imported_by", sa.Text, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("reference", sa.Text, nullable=False, unique=True),
        sa.Column("channel", sa.Text, nullable=False),  # withholding | channel
        sa.Column("lease_no", sa.Text, nullable=False),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id")),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),  # applied | unmatched
        sa.Column("reason", sa.Text),
        sa.Column("import_id", UUID(as_uuid=True), sa.ForeignKey("withholding_imports.id")),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "arrears_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("month", sa.Date, nullable=False),  # the oldest unpaid month at that time
        sa.Column("arrears_months", sa.Integer, nullable=False),
        sa.Column("amount_due", sa.Numeric(14, 2), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("lease_id", "step", "month", name="arrears_steps_once"),
    )
    op.create_table(
        "credit_referrals",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        # The violation or arrears exit it comes from: one referral per source and kind.
        sa.Column("source_id", UUID(as_uuid=True), nullable=False),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "source_id", name="credit_referrals_once"),
    )
    op.create_table(
        "visits",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("visited_on", sa.Date, nullable=False),
        sa.Column("visitors", ARRAY(sa.Text), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("visits_lease_idx", "lease_id", "visited_on"),
    )
    op.create_table(
        "visit_photos",
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
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        # The same photo again for the same visit is the same upload.
        sa.UniqueConstraint("visit_id", "sha256", name="visit_photos_once"),
    )
    op.create_table(
        "violations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("visit_id", UUID(as_uuid=True), sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("clause", sa.Text, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by", sa.Text),
        sa.Column("closing_note", sa.Text),
        sa.CheckConstraint(
            "status IN ('open','overdue','rectified','escalated')", name="violations_status"
        ),
        sa.Index("violations_status_idx", "status", "deadline"),
    )
    op.create_table(
        "exits",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("exit_no", sa.Text, nullable=False, unique=True),
        sa.Column("lease_id", UUID(as_uuid=True), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),  # early_recovery | voluntary
        sa.Column("clause", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("violation_id", UUID(as_uuid=True), sa.ForeignKey("violations.id")),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("move_out_by", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("inspected_by", sa.Text),
        sa.Column("inspected_on", sa.Date),
        sa.Column("damages", JSONB),
        sa.Column("damages_total", sa.Numeric(14, 2)),
        sa.Column("arrears_total", sa.Numeric(14, 2)),
        sa.Column("deposit", sa.Numeric(14, 2)),
        # Deposit less damages and unpaid rent: positive is refunded, negative still owed.
        sa.Column("settlement", sa.Numeric(14, 2)),
        sa.Column("vacated_on", sa.Date),
        sa.Column("court_referral_no", sa.Text),
        sa.Column("court_referred_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('notice_issued','inspected','vacated','court_referred')",
            name="exits_status",
        ),
        sa.CheckConstraint("kind IN ('early_recovery','voluntary')", name="exits_kind"),
        sa.Index(
            "exits_one_open_per_lease",
            "lease_id",
            unique=True,
            postgresql_where=sa.text("status <> 'vacated'"),
        ),
    )
    op.create_table(
        "subsidy_accounts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("round_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_reference", sa.Text, nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column("income_band", sa.Text, nullable=False),
        sa.Column("monthly_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        # The day eligibility ended: nothing is paid for it or any later day.
        sa.Column("ends_on", sa.Date),
        sa.Column("end_reason", sa.Text),
        sa.Column("status", sa.Text, nullable=False),  # active | ended
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("round_id", "household_reference", name="subsidy_accounts_once"),
    )
    op.create_table(
        "subsidy_payments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "account_id", UUID(as_uuid=True), sa.ForeignKey("subsidy_accounts.id"), nullable=False
        ),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("pay_on", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),  # scheduled | cancelled
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "month", name="subsidy_payments_once"),
    )
    op.create_table(
        "campaigns",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("lease_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaigns")
    op.drop_table("subsidy_payments")
    op.drop_table("subsidy_accounts")
    op.drop_table("exits")
    op.drop_table("violations")
    op.drop_table("visit_photos")
    op.drop_table("visits")
    op.drop_table("credit_referrals")
    op.drop_table("arrears_steps")
    op.drop_table("payments")
    op.drop_table("withholding_imports")
    op.drop_table("bills")
    op.drop_table("rent_band_changes")
    op.drop_table("leases")
    op.drop_table("households")

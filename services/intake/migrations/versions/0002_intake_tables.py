"""Intake tables: applications, members, materials, supplement notices, credit-ban projection.

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
    op.execute(sa.schema.CreateSequence(sa.Sequence("application_tracking_seq")))
    op.execute(sa.schema.CreateSequence(sa.Sequence("acceptance_receipt_seq")))
    op.execute(sa.schema.CreateSequence(sa.Sequence("supplement_notice_seq")))
    op.create_table(
        "applications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tracking_no", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("district", sa.Text(), nullable=False),
        sa.Column("street", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("resume_status", sa.Text(), nullable=True),
        sa.Column("mobile", sa.Text(), nullable=False),
        sa.Column("housing_address", sa.Text(), nullable=False),
        sa.Column("housing_area_m2", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("housing_tenure", sa.Text(), nullable=False),
        sa.Column("pledge_version", sa.Text(), nullable=False),
        sa.Column("pledge_signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("receipt_no", sa.Text(), nullable=True),
        sa.Column("accepted_by", sa.Text(), nullable=True),
        sa.Column("accepted_by_name", sa.Text(), nullable=True),
        sa.Column("accepted_org", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("materials_complete", sa.Boolean(), nullable=True),
        sa.Column("incomplete_reason", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt_no"),
        sa.UniqueConstraint("tracking_no"),
    )
    op.create_index(
        "applications_status_street", "applications", ["status", "street"], unique=False
    )
    op.create_index(
        "applications_street_submitted", "applications", ["street", "submitted_at"], unique=False
    )
    op.create_table(
        "credit_bans",
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("lifted_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.create_index("credit_bans_id_hash", "credit_bans", ["id_hash"], unique=False)
    op.create_table(
        "materials",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("material_type", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id", "material_type", "sha256"),
    )
    op.create_table(
        "members",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("resident_id", sa.Text(), nullable=False),
        sa.Column("relationship", sa.Text(), nullable=False),
        sa.Column("marital_status", sa.Text(), nullable=False),
        sa.Column("hukou_division", sa.Text(), nullable=False),
        sa.Column("residence_permit", sa.Boolean(), nullable=False),
        sa.Column("employer", sa.Text(), nullable=True),
        sa.Column("declared_monthly_income", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("declared_financial_assets", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("declared_vehicle_count", sa.Integer(), nullable=False),
        sa.Column("declared_vehicle_value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id", "position"),
    )
    op.create_index("members_id_hash", "members", ["id_hash"], unique=False)
    op.create_index(
        "members_one_active_application",
        "members",
        ["id_hash"],
        unique=True,
        postgresql_where="active",
    )
    op.create_table(
        "supplement_notices",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("n", sa.SmallInteger(), nullable=False),
        sa.Column("notice_no", sa.Text(), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column(
            "deadline_fallback", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("requested_by_name", sa.Text(), nullable=False),
        sa.Column("requested_org", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id", "n"),
        sa.UniqueConstraint("notice_no"),
    )
    op.create_index(
        "supplement_notices_open_deadline",
        "supplement_notices",
        ["deadline"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index(
        "supplement_notices_open_deadline",
        table_name="supplement_notices",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("supplement_notices")
    op.drop_index("members_one_active_application", table_name="members", postgresql_where="active")
    op.drop_index("members_id_hash", table_name="members")
    op.drop_table("members")
    op.drop_table("materials")
    op.drop_index("credit_bans_id_hash", table_name="credit_bans")
    op.drop_table("credit_bans")
    op.drop_index("applications_street_submitted", table_name="applications")
    op.drop_index("applications_status_street", table_name="applications")
    op.drop_table("applications")
    op.execute(sa.schema.DropSequence(sa.Sequence("application_tracking_seq")))
    op.execute(sa.schema.DropSequence(sa.Sequence("acceptance_receipt_seq")))
    op.execute(sa.schema.DropSequence(sa.Sequence("supplement_notice_seq")))

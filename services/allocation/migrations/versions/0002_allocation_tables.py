"""Allocation tables: stock, waiting list, rounds and lottery, allocations, contracts.

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
        "projects",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "buildings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("project_id", UUID(as_uuid=True), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.UniqueConstraint("project_id", "code", name="buildings_project_code"),
    )
    op.create_table(
        "units",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("building_id", UUID(as_uuid=True), sa.ForeignKey("buildings.id"), nullable=False),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("area_m2", sa.Numeric(10, 2), nullable=False),
        sa.Column("rooms", sa.Integer, nullable=False),
        sa.Column("floor", sa.Integer, nullable=False),
        sa.Column("accessible", sa.Boolean, nullable=False),
        sa.Column("base_rent_per_m2", sa.Numeric(10, 2), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('vacant','reserved','let','under_repair','recovered')", name="units_status"
        ),
    )
    op.create_table(
        "household_links",
        sa.Column("application_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("member_id_hashes", ARRAY(sa.Text), nullable=False),
    )
    op.create_table(
        "waiting_entries",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("application_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("household_reference", sa.Text, nullable=False, unique=True),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column("name_masked", sa.Text, nullable=False),
        sa.Column("priority_group", sa.Text, nullable=False),
        sa.Column("priority_reason", sa.Text, nullable=False),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("suspended_reason", sa.Text),
        sa.Column("suspended_until", sa.Date),
        sa.Column("declines", sa.Integer, nullable=False, server_default="0"),
        # The annual confirmation of need: asked for by confirm_by, answered at confirmed_at.
        sa.Column("confirm_by", sa.Date),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Index("waiting_entries_category_status", "category", "status"),
    )
    op.create_table(
        "rounds",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("approved_by", sa.Text),
        sa.Column("cut_off", sa.DateTime(timezone=True)),
        sa.Column("pool_file", sa.LargeBinary),
        sa.Column("pool_digest", sa.Text),
        # The pool is open to objection until then; no draw before.
        sa.Column("objection_until", sa.DateTime(timezone=True)),
        sa.Column("secret", sa.Text),
        sa.Column("commitment", sa.Text),
        sa.Column("committed_at", sa.DateTime(timezone=True)),
        sa.Column("public_input", sa.Text),
        sa.Column("notary", sa.Text),
        sa.Column("seed", sa.Text),
        sa.Column("ranking_file", sa.LargeBinary),
        sa.Column("drawn_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "round_pool",
        sa.Column("round_id", UUID(as_uuid=True), sa.ForeignKey("rounds.id"), primary_key=True),
        sa.Column("household_reference", sa.Text, primary_key=True),
        sa.Column("entry_id", UUID(as_uuid=True), nullable=False),
        sa.Column("priority_tier", sa.Integer, nullable=False),
        sa.Column("rank", sa.Integer),
        sa.Column("outcome", sa.Text),
    )
    op.create_table(
        "public_inputs",
        sa.Column("input_hash", sa.Text, primary_key=True),
        sa.Column("round_id", UUID(as_uuid=True), nullable=False),
    )
    op.create_table(
        "allocations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("round_id", UUID(as_uuid=True), sa.ForeignKey("rounds.id"), nullable=False),
        sa.Column("entry_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_reference", sa.Text, nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Index(
            "allocations_one_active_per_unit",
            "unit_id",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
        ),
    )
    op.create_table(
        "contracts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "allocation_id", UUID(as_uuid=True), sa.ForeignKey("allocations.id"), unique=True
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("clauses", JSONB, nullable=False),
        sa.Column("monthly_rent", sa.Numeric(14, 2), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("sign_by", sa.Date, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True)),
        # When the overdue sweep announced the missed deadline (once).
        sa.Column("overdue_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contracts")
    op.drop_table("allocations")
    op.drop_table("public_inputs")
    op.drop_table("round_pool")
    op.drop_table("rounds")
    op.drop_table("waiting_entries")
    op.drop_table("household_links")
    op.drop_table("units")
    op.drop_table("buildings")
    op.drop_table("projects")

"""Tables of the allocation service: stock, waiting list, rounds and their lottery, results."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData()

UNIT_STATUSES = ("vacant", "reserved", "let", "under_repair", "recovered")

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("code", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

buildings = sa.Table(
    "buildings",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("project_id", UUID(as_uuid=True), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("code", sa.Text, nullable=False),
    sa.UniqueConstraint("project_id", "code", name="buildings_project_code"),
)

units = sa.Table(
    "units",
    metadata,
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

# application_id -> members' id hashes, from application.submitted: credit bans name a
# member's id hash, application.qualified does not carry them.
household_links = sa.Table(
    "household_links",
    metadata,
    sa.Column("application_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("member_id_hashes", ARRAY(sa.Text), nullable=False),
    # The applicant's own account (token sub) when the family applied online itself: the
    # household choosing online is authenticated as that account.
    sa.Column("applicant_account", sa.Text),
)

waiting_entries = sa.Table(
    "waiting_entries",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("application_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("household_reference", sa.Text, nullable=False, unique=True),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("district", sa.Text, nullable=False),
    sa.Column("member_count", sa.Integer, nullable=False),
    sa.Column("name_masked", sa.Text, nullable=False),
    sa.Column("priority_group", sa.Text, nullable=False),
    sa.Column("priority_reason", sa.Text, nullable=False),
    # Every group application.qualified decided, [{code, reason}]; priority_group is the
    # highest-tier one of them (or the officer's choice).
    sa.Column("priority_groups", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=False),
    # waiting / suspended / allocated / removed
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("suspended_reason", sa.Text),
    sa.Column("suspended_until", sa.Date),
    sa.Column("declines", sa.Integer, nullable=False, server_default="0"),
    # The annual confirmation of need: asked for by confirm_by, answered at confirmed_at.
    sa.Column("confirm_by", sa.Date),
    sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    sa.Index("waiting_entries_category_status", "category", "status"),
)

rounds = sa.Table(
    "rounds",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    # opened / approved / frozen / committed / drawn
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
    # Eligibility rules of the round: [{tier, percent}] of the units reserved per tier.
    sa.Column("quotas", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    # [{max_members, max_area_m2}] of the round; null: the city's unit_size_rules.
    sa.Column("unit_size_rules", JSONB),
    # Selection time slots (选房时段): households_per_slot households every slot_minutes from
    # selection_starts_at (null: from the draw), in selection order.
    sa.Column("selection_starts_at", sa.DateTime(timezone=True)),
    sa.Column("slot_minutes", sa.Integer, nullable=False, server_default="30"),
    sa.Column("households_per_slot", sa.Integer, nullable=False, server_default="5"),
    sa.Column("selection_file", sa.LargeBinary),
    sa.Column("quotas_file", sa.LargeBinary),
)

round_pool = sa.Table(
    "round_pool",
    metadata,
    sa.Column("round_id", UUID(as_uuid=True), sa.ForeignKey("rounds.id"), primary_key=True),
    sa.Column("household_reference", sa.Text, primary_key=True),
    sa.Column("entry_id", UUID(as_uuid=True), nullable=False),
    sa.Column("priority_tier", sa.Integer, nullable=False),
    sa.Column("rank", sa.Integer),
    # Place in the selection order when the round has quotas (docs/lottery.md); null means
    # the rank. The time slot follows from it and the round's slot settings.
    sa.Column("selection_order", sa.Integer),
    # null until the household chose (selected) or declined / did not show (declined, no_show)
    sa.Column("outcome", sa.Text),
    # Room for the draw's two updates of each row on its page (migration 0004).
    postgresql_with={"fillfactor": 30},
)

# A public input is used once, across all rounds: a replayed one is refused.
public_inputs = sa.Table(
    "public_inputs",
    metadata,
    sa.Column("input_hash", sa.Text, primary_key=True),
    sa.Column("round_id", UUID(as_uuid=True), nullable=False),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("round_id", UUID(as_uuid=True), sa.ForeignKey("rounds.id"), nullable=False),
    sa.Column("entry_id", UUID(as_uuid=True), nullable=False),
    sa.Column("household_reference", sa.Text, nullable=False),
    sa.Column("unit_id", UUID(as_uuid=True), sa.ForeignKey("units.id"), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
    # active / ended (the unit was vacated)
    sa.Column("status", sa.Text, nullable=False),
    # The last line of defence: one active allocation per unit, whatever the code does.
    sa.Index(
        "allocations_one_active_per_unit",
        "unit_id",
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    ),
)

contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("allocation_id", UUID(as_uuid=True), sa.ForeignKey("allocations.id"), unique=True),
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

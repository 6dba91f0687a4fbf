"""Request and response bodies of the allocation API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CodeStr = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_code": "XM-GZF-07",
                    "project_name": "洪茂居公租房",
                    "district": "350206",
                    "building_code": "3",
                    "unit_code": "3-1502",
                    "address": "厦门市湖里区洪茂居3号楼1502室",
                    "area_m2": "48.50",
                    "rooms": 2,
                    "floor": 15,
                    "accessible": False,
                    "base_rent_per_m2": "12.50",
                }
            ]
        }
    )

    project_code: str = Field(min_length=1, max_length=40)
    project_name: str = Field(min_length=1, max_length=200)
    district: str = Field(pattern=r"^\d{6}$")
    building_code: str = Field(min_length=1, max_length=40)
    unit_code: str = Field(min_length=1, max_length=80)
    address: str = Field(min_length=1, max_length=300)
    area_m2: Decimal = Field(ge=5, le=100000, decimal_places=2)
    rooms: int = Field(ge=0, le=10)
    floor: int = Field(ge=-5, le=200)
    accessible: bool = False
    base_rent_per_m2: Decimal = Field(ge=0, le=100000, decimal_places=2)


class UnitPatch(_In):
    status: str | None = None
    base_rent_per_m2: Decimal | None = Field(default=None, ge=0, le=100000, decimal_places=2)
    accessible: bool | None = None


class UnitOut(BaseModel):
    id: uuid.UUID
    code: str
    project_code: str
    project_name: str
    building_code: str
    district: str
    address: str
    area_m2: Decimal
    rooms: int
    floor: int
    accessible: bool
    base_rent_per_m2: Decimal
    status: str


class RowErrorOut(BaseModel):
    row: int
    field: str
    message: str


class ImportReport(BaseModel):
    imported: int
    errors: list[RowErrorOut]


class PriorityIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "priority_group": "model_worker",
                    "reason": "申请人持有省级劳动模范证书，经核验属实。",
                }
            ]
        }
    )

    priority_group: str = CodeStr
    reason: str = Field(min_length=2, max_length=500)


class ConfirmationNoticeIn(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"category": "newly_employed", "confirm_by": "2027-01-15"}]}
    )

    category: str = CodeStr
    confirm_by: date


class EntryOut(BaseModel):
    id: uuid.UUID
    household_reference: str
    category: str
    priority_group: str
    priority_reason: str
    qualified_at: datetime
    status: str
    suspended_reason: str | None
    suspended_until: date | None
    declines: int
    confirm_by: date | None = None
    position: int | None = None


class QuotaIn(_In):
    """A share of the units on offer reserved for the households of one priority tier."""

    tier: int = Field(ge=1, le=99)
    percent: int = Field(ge=1, le=100)


class UnitSizeIn(_In):
    """Households of up to ``max_members`` persons take units of at most ``max_area_m2``."""

    max_members: int = Field(ge=1, le=30)
    max_area_m2: Decimal = Field(gt=0, le=1000, decimal_places=2)


class RoundIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "newly_employed",
                    "title": "2026年第四批新就业无房职工公租房配租",
                    "unit_ids": [
                        "5b0e7c3a-2f4d-4e8b-9a1c-6d2e3f4a5b6c",
                        "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    ],
                    "quotas": [{"tier": 1, "percent": 20}],
                    "unit_size_rules": [{"max_members": 2, "max_area_m2": "50.00"}],
                    "selection_starts_at": "2026-12-20T01:00:00Z",
                    "slot_minutes": 30,
                    "households_per_slot": 5,
                }
            ]
        }
    )

    category: str = CodeStr
    title: str = Field(min_length=2, max_length=200)
    unit_ids: list[uuid.UUID] = Field(min_length=1, max_length=20000)
    # Eligibility rules beyond the category: quotas per priority tier (docs/lottery.md).
    quotas: list[QuotaIn] = Field(default_factory=list, max_length=20)
    # Household size to unit size for this round (first rule covering the household applies);
    # none: the city's unit_size_rules (rules.yaml).
    unit_size_rules: list[UnitSizeIn] | None = Field(default=None, min_length=1, max_length=10)
    # Selection time slots: from selection_starts_at (default: the draw), households_per_slot
    # households in selection order every slot_minutes; the end of its slot is a household's
    # deadline.
    selection_starts_at: datetime | None = None
    slot_minutes: int = Field(default=30, ge=5, le=7 * 24 * 60)
    households_per_slot: int = Field(default=5, ge=1, le=1000)


class FreezeIn(_In):
    cut_off: datetime | None = None


class DrawIn(_In):
    public_input: str = Field(min_length=1, max_length=200)


class RoundOut(BaseModel):
    id: uuid.UUID
    category: str
    title: str
    status: str
    unit_ids: list[uuid.UUID]
    opened_by: str
    approved_by: str | None
    cut_off: datetime | None
    pool_digest: str | None
    # The frozen pool is open to objection until then; the notary draws after it.
    objection_until: datetime | None = None
    commitment: str | None
    public_input: str | None
    secret: str | None  # revealed only after the draw
    households: int | None = None
    quotas: list[dict[str, int]] = []
    unit_size_rules: list[dict[str, Any]] | None = None
    selection_starts_at: datetime | None = None
    slot_minutes: int | None = None
    households_per_slot: int | None = None


class RoundSummaryOut(BaseModel):
    """One line of the staff's round list (the workbench's 配租批次)."""

    id: uuid.UUID
    category: str
    title: str
    status: str
    units: int
    households: int
    opened_by: str
    approved_by: str | None
    created_at: datetime
    objection_until: datetime | None
    drawn_at: datetime | None


class OnlineSelectIn(_In):
    unit_id: uuid.UUID


class SlotOut(BaseModel):
    household_reference: str
    selection_order: int | None
    rank: int | None
    slot_starts_at: datetime | None
    slot_deadline: datetime | None
    outcome: str | None
    your_turn: bool


class ChoicesOut(BaseModel):
    """The units of the round a household may still choose: vacant and of its size."""

    slot: SlotOut
    member_count: int
    max_area_m2: Decimal
    units: list[UnitOut]


class SelectIn(_In):
    household_reference: str = Field(min_length=1, max_length=40)
    unit_id: uuid.UUID


class OverrideIn(_In):
    household_reference: str = Field(min_length=1, max_length=40)
    unit_id: uuid.UUID
    reason: str = Field(min_length=5, max_length=500)


class SubsidyChoiceIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"household_reference": "XM-2026-000123", "income_band": "low"}]
        }
    )

    household_reference: str = Field(min_length=1, max_length=40)
    income_band: str = CodeStr


class DeclineIn(_In):
    household_reference: str = Field(min_length=1, max_length=40)
    no_show: bool = False


class DeclineOut(BaseModel):
    household_reference: str
    declines: int
    suspended_until: date | None


class AllocationOut(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    household_reference: str
    unit_id: uuid.UUID
    rank: int
    allocated_at: datetime


class RoundAllocationOut(AllocationOut):
    """An allocation of a round with its contract, when one was drafted."""

    unit_code: str
    contract_id: uuid.UUID | None
    signed_at: datetime | None


class ContractOut(BaseModel):
    id: uuid.UUID
    allocation_id: uuid.UUID
    text: str
    clauses: list[str]
    monthly_rent: Decimal
    starts_on: date
    sign_by: date
    signed_at: datetime | None


class SubsidyIn(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"member_count": 3, "income_band": "low"}]}
    )

    member_count: int = Field(ge=1, le=30)
    income_band: str = CodeStr


class SubsidyOut(BaseModel):
    monthly_amount: Decimal

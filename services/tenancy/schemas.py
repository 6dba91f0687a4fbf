"""Request and response bodies of the tenancy API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CodeStr = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
Reason = Field(min_length=1, max_length=500)

Finding = Literal[
    "occupied_normally", "sublet", "lent", "vacant", "damaged", "unauthorised_alteration"
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeaseOut(BaseModel):
    id: uuid.UUID
    lease_no: str
    contract_id: uuid.UUID
    household_reference: str
    unit_id: uuid.UUID
    starts_on: date
    monthly_rent: Decimal
    recovery_clauses: list[str]
    rent_band: str
    deposit: Decimal
    prepaid: Decimal
    status: str
    arrears_months: int
    arrears_step: str
    next_visit_due: date
    ended_on: date | None


class RentBandIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rent_band": "low_income", "reason": "年度复核认定为低收入家庭"}]
        }
    )

    rent_band: str = CodeStr
    reason: str = Reason


class RentBandOut(BaseModel):
    lease_id: uuid.UUID
    from_band: str
    to_band: str
    effective_month: date


class BillOut(BaseModel):
    id: uuid.UUID
    month: date
    rent_band: str
    factor: Decimal
    days: int
    amount: Decimal
    paid_amount: Decimal
    due_on: date
    paid_at: datetime | None


class BillingOut(BaseModel):
    month: date
    billed: int


class PaymentIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_ref": "ICBC-20261203-0001",
                    "lease_no": "GZF-2026-00042",
                    "amount": "606.25",
                    "paid_on": "2026-12-03",
                }
            ]
        }
    )

    transaction_ref: str = Field(pattern=r"^[A-Za-z0-9_-]{4,64}$")
    lease_no: str = Field(min_length=1, max_length=40)
    amount: Decimal = Field(gt=0, le=1_000_000, decimal_places=2)
    paid_on: date


class PaymentOut(BaseModel):
    id: uuid.UUID
    reference: str
    channel: str
    lease_no: str
    lease_id: uuid.UUID | None
    amount: Decimal
    paid_on: date
    status: str
    reason: str | None
    duplicate: bool = False


class UnmatchedRow(BaseModel):
    row: int
    field: str
    message: str
    reference: str | None = None


class ImportReport(BaseModel):
    id: uuid.UUID
    file_name: str
    rows: int
    applied: int
    duplicates: int
    unmatched: list[UnmatchedRow]


class VisitIn(_In):
    visited_on: date
    visitors: list[str] = Field(min_length=1, max_length=5)
    finding: Finding
    note: str = Field(default="", max_length=2000)


class VisitOut(BaseModel):
    id: uuid.UUID
    lease_id: uuid.UUID
    visited_on: date
    visitors: list[str]
    finding: str
    note: str
    next_visit_due: date
    violation_id: uuid.UUID | None = None
    photos: int = 0


class PhotoOut(BaseModel):
    id: uuid.UUID
    visit_id: uuid.UUID
    file_name: str
    content_type: str
    sha256: str
    size_bytes: int


class DueVisitOut(BaseModel):
    lease_id: uuid.UUID
    lease_no: str
    household_reference: str
    unit_id: uuid.UUID
    next_visit_due: date


class ViolationOut(BaseModel):
    id: uuid.UUID
    lease_id: uuid.UUID
    visit_id: uuid.UUID | None = Field(description="Null: the re-review was not cooperated with")
    finding: str
    clause: str
    deadline: date
    status: str
    closed_by: str | None = None
    exit_id: uuid.UUID | None = None


class NoteIn(_In):
    note: str = Reason


class ExitIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "early_recovery",
                    "clause": "sublet",
                    "reason": "经入户核查，承租人将房屋转租他人",
                }
            ]
        }
    )

    kind: Literal["early_recovery", "voluntary"]
    clause: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,39}$")
    reason: str = Reason


class DamageIn(_In):
    item: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(ge=0, le=1_000_000, decimal_places=2)


class InspectionIn(_In):
    inspected_on: date
    damages: list[DamageIn] = Field(default_factory=list, max_length=100)


class MoveOutIn(_In):
    vacated_on: date


class ExitOut(BaseModel):
    id: uuid.UUID
    exit_no: str
    lease_id: uuid.UUID
    kind: str
    clause: str | None
    reason: str
    violation_id: uuid.UUID | None
    move_out_by: date
    status: str
    inspected_on: date | None
    damages: list[dict[str, str]] | None
    damages_total: Decimal | None
    arrears_total: Decimal | None
    deposit: Decimal | None
    settlement: Decimal | None
    vacated_on: date | None
    court_referral_no: str | None


class PublicExitOut(BaseModel):
    exit_no: str
    tenant: str = Field(description="承租人（脱敏）")
    district: str | None
    kind: str = Field(description="退出方式")
    clause: str | None
    vacated_on: date


class SubsidyPaymentOut(BaseModel):
    month: date
    days: int
    amount: Decimal
    pay_on: date
    status: str


class SubsidyOut(BaseModel):
    id: uuid.UUID
    household_reference: str
    monthly_amount: Decimal
    starts_on: date
    ends_on: date | None
    status: str
    payments: list[SubsidyPaymentOut]


class SubsidyEndIn(_In):
    ends_on: date
    reason: str = Reason


class ScheduleOut(BaseModel):
    month: date
    scheduled: int


class CampaignLease(BaseModel):
    lease_id: uuid.UUID
    lease_no: str
    household_reference: str


class CampaignOut(BaseModel):
    year: int
    leases: list[CampaignLease]
    requested: int = Field(description="Re-reviews of the campaign requested from verification")
    deadline: date | None = Field(description="The households' re-review deadline")


class RereviewOut(BaseModel):
    lease_id: uuid.UUID
    campaign: int
    household_reference: str
    deadline: date
    status: str
    household_found: bool | None
    meets_continuation: bool | None
    income_band: str | None
    rent_band: str | None
    exit_on: date | None
    exit_id: uuid.UUID | None
    violation_id: uuid.UUID | None


class PublicRereviewOut(BaseModel):
    tenant: str = Field(description="承租人（脱敏）")
    district: str | None
    outcome: str = Field(description="复核结果")
    rent_band: str | None = Field(description="租金档")


class StatisticsOut(BaseModel):
    """Use and exit figures (使用、退出) for the cockpit and the periodic reports."""

    year: int
    leases_active: int
    leases_ended: int
    leases_in_arrears: int
    arrears_amount: Decimal = Field(description="Unpaid rent past its due day, all leases")
    visits_due_this_year: int = Field(description="Active leases whose visit falls in the year")
    visits_done_this_year: int
    violations: dict[str, int] = Field(description="By status")
    exits_this_year: dict[str, int] = Field(description="Vacated in the year, by kind")
    exits_open: int
    subsidies_active: int
    rereviews: dict[str, int] = Field(description="The year's re-review campaign, by outcome")


# -- electricity use and vacancy leads ----------------------------------------------------


class PowerRequestOut(BaseModel):
    """What the power company sees of a unit-month: the unit, never the household."""

    request_id: uuid.UUID
    unit_id: uuid.UUID
    month: str = Field(description="YYYY-MM")


class PowerReadingIn(_In):
    """One answer: the request it answers (or the unit and month) and the month's use."""

    request_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None
    month: str | None = Field(
        default=None, pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="月份，如 2026-03"
    )
    kwh: Decimal = Field(ge=0, le=100_000, decimal_places=1, description="该月用电量（千瓦时）")


class PowerReadingsIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "readings": [
                        {
                            "request_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
                            "unit_id": None,
                            "month": None,
                            "kwh": "86.4",
                        },
                        {
                            "request_id": None,
                            "unit_id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                            "month": "2026-11",
                            "kwh": "0.0",
                        },
                    ]
                }
            ]
        }
    )

    readings: list[PowerReadingIn] = Field(min_length=1, max_length=5000)


class PowerReadingsOut(BaseModel):
    recorded: int = Field(description="Readings new in this batch")
    duplicates: int = Field(description="Readings already recorded with the same use")


class PowerRequestsOut(BaseModel):
    month: str
    requested: int = Field(description="Unit-months newly requested (0 when asked before)")


class VacancyLeadOut(BaseModel):
    id: uuid.UUID
    lease_id: uuid.UUID
    unit_id: uuid.UUID
    household_reference: str
    streak_from: str = Field(description="First month under the threshold (YYYY-MM)")
    streak_to: str = Field(description="Month the lead was found in (YYYY-MM)")
    months: int
    visit_due: date
    detected_at: datetime

"""Pure rules of allocation: the stock CSV, unit fit, declines, subsidy, contract text."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from services.allocation.settings import AllocationRules, RecoveryClause

UNIT_STATUSES = ("vacant", "reserved", "let", "under_repair", "recovered")
# Status moves an officer may make through the API; reserved/let follow selection and contract.
EDITABLE_MOVES = {
    "vacant": {"under_repair"},
    "under_repair": {"vacant"},
    "recovered": {"vacant", "under_repair"},
    "reserved": set(),
    "let": set(),
}

CSV_FIELDS = (
    "project_code",
    "project_name",
    "district",
    "building_code",
    "unit_code",
    "address",
    "area_m2",
    "rooms",
    "floor",
    "accessible",
    "base_rent_per_m2",
    "status",
)


class AllocationError(Exception):
    """A rule of allocation refuses the request (translated in problems.py)."""


class StockConflict(AllocationError):
    pass


class RoundStateError(AllocationError):
    pass


class LotteryRefused(AllocationError):
    pass


class OutOfOrder(AllocationError):
    pass


class UnitTaken(AllocationError):
    pass


class SlotMissed(AllocationError):
    pass


@dataclass(frozen=True)
class RowError:
    row: int  # line number in the file, header = 1
    field: str
    message: str


@dataclass(frozen=True)
class StockRow:
    project_code: str
    project_name: str
    district: str
    building_code: str
    unit_code: str
    address: str
    area_m2: Decimal
    rooms: int
    floor: int
    accessible: bool
    base_rent_per_m2: Decimal
    status: str


def parse_stock_csv(text: str) -> tuple[list[StockRow], list[RowError]]:
    """Rows of a stock file and every error, each naming its line and field.

    The import is all or nothing: a caller stores the rows only when the error list is empty.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    errors: list[RowError] = []
    missing = [f for f in CSV_FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        return [], [RowError(1, f, "缺少该列") for f in missing]
    rows: list[StockRow] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        row_errors: list[RowError] = []
        values = {k: (raw.get(k) or "").strip() for k in CSV_FIELDS}
        for key in ("project_code", "project_name", "district", "building_code", "unit_code"):
            if not values[key]:
                row_errors.append(RowError(line, key, "不能为空"))
        if not values["address"]:
            row_errors.append(RowError(line, "address", "不能为空"))
        area = _decimal(values["area_m2"], line, "area_m2", row_errors, low=Decimal("5"))
        rent = _decimal(values["base_rent_per_m2"], line, "base_rent_per_m2", row_errors)
        rooms = _int(values["rooms"], line, "rooms", row_errors, 0, 10)
        floor = _int(values["floor"], line, "floor", row_errors, -5, 200)
        accessible = values["accessible"].lower()
        if accessible not in ("true", "false", "是", "否", "1", "0"):
            row_errors.append(RowError(line, "accessible", "应为 是/否"))
        status = values["status"] or "vacant"
        if status not in UNIT_STATUSES:
            row_errors.append(RowError(line, "status", f"未知状态 {status}"))
        if values["unit_code"] in seen:
            row_errors.append(
                RowError(line, "unit_code", f"与第 {seen[values['unit_code']]} 行重复")
            )
        seen.setdefault(values["unit_code"], line)
        errors += row_errors
        if not row_errors:
            assert area is not None and rent is not None and rooms is not None
            assert floor is not None
            rows.append(
                StockRow(
                    values["project_code"],
                    values["project_name"],
                    values["district"],
                    values["building_code"],
                    values["unit_code"],
                    values["address"],
                    area,
                    rooms,
                    floor,
                    accessible in ("true", "是", "1"),
                    rent,
                    status,
                )
            )
    return rows, errors


def _decimal(
    text: str, line: int, field: str, errors: list[RowError], low: Decimal = Decimal(0)
) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.append(RowError(line, field, "不是数字"))
        return None
    if not value.is_finite() or value < low or value > Decimal(100000):
        errors.append(RowError(line, field, "超出范围"))
        return None
    return value.quantize(Decimal("0.01"))


def _int(
    text: str, line: int, field: str, errors: list[RowError], low: int, high: int
) -> int | None:
    try:
        value = int(text)
    except ValueError:
        errors.append(RowError(line, field, "不是整数"))
        return None
    if not low <= value <= high:
        errors.append(RowError(line, field, "超出范围"))
        return None
    return value


def check_status_move(current: str, new: str) -> None:
    if new not in UNIT_STATUSES:
        raise StockConflict(f"未知房源状态 {new}")
    if new != current and new not in EDITABLE_MOVES[current]:
        raise StockConflict(f"房源状态不能从 {current} 改为 {new}")


def priority_of(rules: AllocationRules, decided: list[dict[str, str]]) -> tuple[str, str]:
    """The group a household waits in: the highest tier (lowest number) of the groups
    qualification decided that these rules know, first in the event's order on a tie; the
    default group when none. Returns (group, reason)."""
    known = [g for g in decided if g["code"] in rules.groups()]
    if not known:
        return rules.default_priority_group, "资格认定时无优先配租情形"
    best = min(known, key=lambda g: rules.tier(g["code"]))
    return best["code"], best["reason"]


def check_quotas(rules: AllocationRules, quotas: list[dict[str, int]]) -> str | None:
    """Why a round's quotas are refused (None when they are fine)."""
    tiers = [q["tier"] for q in quotas]
    known = {g.tier for g in rules.priority_groups}
    if len(set(tiers)) != len(tiers):
        return "每个优先层级只能设一个配额"
    unknown = sorted(set(tiers) - known)
    if unknown:
        return f"未知优先层级 {unknown[0]}"
    if sum(q["percent"] for q in quotas) > 100:
        return "各层级配额合计不能超过100%"
    return None


def slot(
    starts: datetime, order: int, slot_minutes: int, households_per_slot: int
) -> tuple[datetime, datetime]:
    """The selection time slot of the ``order``-th household (from 1): its start and its
    deadline (the slot's end)."""
    begin = starts + timedelta(minutes=slot_minutes * ((order - 1) // households_per_slot))
    return begin, begin + timedelta(minutes=slot_minutes)


def max_area(
    rules: AllocationRules, member_count: int, round_rules: list[dict[str, Any]] | None = None
) -> Decimal:
    """The largest unit a household of ``member_count`` may take: the first size rule whose
    ``max_members`` covers it, the round's own rules when it has them, else the city's."""
    sizes = (
        [(int(r["max_members"]), Decimal(str(r["max_area_m2"]))) for r in round_rules]
        if round_rules
        else [(r.max_members, r.max_area_m2) for r in rules.unit_size_rules]
    )
    for max_members, area in sizes:
        if member_count <= max_members:
            return area
    return sizes[-1][1]


def unit_fits(
    rules: AllocationRules,
    member_count: int,
    area_m2: Decimal,
    round_rules: list[dict[str, Any]] | None = None,
) -> bool:
    return area_m2 <= max_area(rules, member_count, round_rules)


def after_decline(rules: AllocationRules, declines: int, today: date) -> date | None:
    """The end of the suspension a decline brings (None while under the limit)."""
    if declines >= rules.decline_limit:
        return today + timedelta(days=rules.suspension_days)
    return None


def subsidy(rules: AllocationRules, member_count: int, income_band: str) -> Decimal:
    """Monthly rental subsidy: area standard per person × members × yuan per m² of the band."""
    per_m2 = rules.subsidy.per_m2_by_income_band.get(income_band)
    if per_m2 is None:
        raise AllocationError(f"未知收入档 {income_band}")
    area = rules.subsidy.area_standard_m2_per_person * member_count
    return (area * per_m2).quantize(Decimal("0.01"))


def monthly_rent(area_m2: Decimal, base_rent_per_m2: Decimal) -> Decimal:
    return (area_m2 * base_rent_per_m2).quantize(Decimal("0.01"))


def contract_text(template: str, clauses: tuple[RecoveryClause, ...], **fields: object) -> str:
    listed = "\n".join(f"{i}. [{c.code}] {c.text}" for i, c in enumerate(clauses, start=1))
    return template.format(clauses=listed, **fields)


def mask_reference(reference: str) -> str:
    """The public list shows references masked (first 4 and last 2 characters)."""
    if len(reference) <= 6:
        return reference[:2] + "*" * (len(reference) - 2)
    return reference[:4] + "*" * (len(reference) - 6) + reference[-2:]

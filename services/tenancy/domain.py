"""Pure rules of tenancy (租后管理): months and proration, income-graded rent, the bank's
withholding file, arrears steps, visit schedule, move-out settlement, subsidy months.

Nothing here touches the database or the broker; refusals are plain exceptions that
``problems.py`` turns into problem responses.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from services.tenancy.settings import Arrears, RentBand, TenancyRules

CENT = Decimal("0.01")

FINDINGS: tuple[str, ...] = (
    "occupied_normally",
    "sublet",
    "lent",
    "vacant",
    "damaged",
    "unauthorised_alteration",
)
"""What a home visit can find (正常居住 / 转租 / 出借 / 闲置 / 损坏 / 擅自装修改建)."""

WITHHOLDING_FIELDS: tuple[str, ...] = ("transaction_ref", "lease_no", "amount", "paid_on")
"""Columns of the bank's withholding file (代扣回盘文件), in this order, with a header row."""

REFERENCE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
LEASE_NO = re.compile(r"^ZL-[0-9]{8}-[0-9A-F]{8}$")


class TenancyError(Exception):
    """A refusal of the tenancy rules (409 unless mapped otherwise)."""


class LeaseNotActive(TenancyError):
    pass


class ClauseNotInContract(TenancyError):
    pass


class ExitStepRefused(TenancyError):
    pass


class ViolationStepRefused(TenancyError):
    pass


# -- months --------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the last day of a shorter month)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def days_in_month(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def covered_days(month: date, starts_on: date, ends_before: date | None) -> int:
    """Days of ``month`` from ``starts_on`` up to the day before ``ends_before``."""
    first, last = month_start(month), month_end(month)
    lo = max(first, starts_on)
    hi = last if ends_before is None else min(last, ends_before - timedelta(days=1))
    return max(0, (hi - lo).days + 1)


def prorated(amount: Decimal, days: int, month: date) -> Decimal:
    return (amount * days / days_in_month(month)).quantize(CENT, ROUND_HALF_UP)


# -- rent ----------------------------------------------------------------------------------


def band_for(rules: TenancyRules, assistance_status: str | None) -> str:
    """The rent band (差别化租金档) the household's verified assistance status puts it in."""
    if assistance_status is not None:
        for band in rules.rent_bands:
            if assistance_status in band.assistance_statuses:
                return band.code
    return rules.default_rent_band


@dataclass(frozen=True)
class BillLine:
    month: date
    days: int
    factor: Decimal
    amount: Decimal
    due_on: date


def bill_for(
    rules: TenancyRules,
    band: RentBand,
    *,
    monthly_rent: Decimal,
    starts_on: date,
    ended_on: date | None,
    month: date,
) -> BillLine | None:
    """The month's bill: contract rent × band factor, prorated to the days under the lease;
    None when the lease does not cover a day of that month."""
    month = month_start(month)
    days = covered_days(month, starts_on, ended_on)
    if days == 0:
        return None
    full = (monthly_rent * band.factor).quantize(CENT, ROUND_HALF_UP)
    return BillLine(
        month=month,
        days=days,
        factor=band.factor,
        amount=prorated(full, days, month),
        due_on=month.replace(day=rules.bill_due_day),
    )


def allocate(
    payment: Decimal, open_bills: Iterable[tuple[object, Decimal]]
) -> list[tuple[object, Decimal]]:
    """Share a payment over bills oldest first: ``[(bill, paid now)]``; the rest is prepaid."""
    shares: list[tuple[object, Decimal]] = []
    left = payment
    for bill, outstanding in open_bills:
        if left <= 0:
            break
        share = min(left, outstanding)
        if share > 0:
            shares.append((bill, share))
            left -= share
    return shares


# -- the bank's withholding file ----------------------------------------------------------


@dataclass(frozen=True)
class WithholdingRow:
    row: int
    reference: str
    lease_no: str
    amount: Decimal
    paid_on: date


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    message: str
    reference: str | None = None


def parse_withholding(text: str) -> tuple[list[WithholdingRow], list[RowProblem]]:
    """Rows of the withholding file and the rows that cannot be read (with the field)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != WITHHOLDING_FIELDS:
        return [], [RowProblem(1, "header", "表头应为：" + ",".join(WITHHOLDING_FIELDS))]
    good: list[WithholdingRow] = []
    bad: list[RowProblem] = []
    try:
        numbered = list(enumerate(reader, start=2))
    except csv.Error as exc:
        return [], [RowProblem(reader.line_num, "row", f"无法读取 CSV：{exc}")]
    for number, cells in numbered:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(WITHHOLDING_FIELDS):
            bad.append(RowProblem(number, "row", f"应有 {len(WITHHOLDING_FIELDS)} 列"))
            continue
        ref, lease_no, amount_text, paid_text = (c.strip() for c in cells)
        if not REFERENCE.match(ref):
            bad.append(RowProblem(number, "transaction_ref", "银行流水号格式不正确"))
            continue
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
            bad.append(RowProblem(number, "amount", "金额应为正数，最多两位小数", ref))
            continue
        try:
            paid_on = date.fromisoformat(paid_text)
        except ValueError:
            bad.append(RowProblem(number, "paid_on", "扣款日期应为 YYYY-MM-DD", ref))
            continue
        good.append(WithholdingRow(number, ref, lease_no, amount, paid_on))
    return good, bad


# -- arrears -------------------------------------------------------------------------------


def arrears_step(rule: Arrears, months: int, clauses: Iterable[str]) -> str:
    """The furthest step the arrears of ``months`` unpaid bills call for.

    Early recovery only where the contract carries the arrears clause: without it the notice
    procedure is as far as the lessor can go.
    """
    if months >= rule.recovery_after_months and rule.recovery_clause in set(clauses):
        return "recovery"
    if months >= rule.notice_after_months:
        return "notice"
    if months >= rule.reminder_after_months:
        return "reminder"
    return "none"


STEP_ORDER = {"none": 0, "reminder": 1, "notice": 2, "recovery": 3}


# -- exit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    deposit: Decimal
    damages_total: Decimal
    arrears_total: Decimal
    balance: Decimal  # positive: refunded to the tenant; negative: still owed


def settle(deposit: Decimal, damages: Iterable[Decimal], arrears: Decimal) -> Settlement:
    """Deposit settlement at move-out (押金结算): deposit less damages and unpaid rent."""
    damages_total = sum(damages, Decimal("0")).quantize(CENT)
    balance = (deposit - damages_total - arrears).quantize(CENT)
    return Settlement(deposit.quantize(CENT), damages_total, arrears.quantize(CENT), balance)


# -- subsidy -------------------------------------------------------------------------------


def subsidy_for(
    monthly_amount: Decimal, starts_on: date, ends_on: date | None, month: date
) -> tuple[int, Decimal]:
    """Days and amount of the month's subsidy; nothing from the day eligibility ends."""
    month = month_start(month)
    days = covered_days(month, starts_on, ends_on)
    if days == days_in_month(month):
        return days, monthly_amount.quantize(CENT)
    return days, prorated(monthly_amount, days, month)

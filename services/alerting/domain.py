"""Pure supervision rules: signature order, condition keys, deadlines, the reporting chain.

No I/O here; handlers and sweeps call these with values read from events and tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from shared.auth.units import unit_level
from shared.clock import SHANGHAI
from shared.workdays import WorkdayCalendar

Role = Literal["handler", "reviewer", "leader"]
Level = Literal["street", "district", "city"]

# R3/R4/R5: which rule a signature-order breach breaks at each review level (Xiamen art. 9).
ORDER_RULE_BY_LEVEL: dict[str, str] = {"street": "R3", "district": "R4", "city": "R5"}

# The order signatures must carry on one stage: handler (经办人) before reviewer (复核人)
# before leader (领导审批).
_SIGNING_ORDER: dict[str, int] = {"handler": 0, "reviewer": 1, "leader": 2}


@dataclass(frozen=True)
class Signature:
    role: Role
    signed_at: datetime
    decision: str = "approve"


def signature_order_broken(signatures: Iterable[Signature]) -> bool:
    """True when an earlier role in the order signed after a later role on the same stage.

    A reviewer or leader who *returns* the file (decision ``return``) hands it back to the
    handler, so the handler's next opinion legitimately comes later; those returning
    signatures are not compared.
    """
    sigs = [s for s in signatures if s.decision != "return"]
    for earlier in sigs:
        for later in sigs:
            if (
                _SIGNING_ORDER[earlier.role] < _SIGNING_ORDER[later.role]
                and earlier.signed_at > later.signed_at
            ):
                return True
    return False


def condition_key(
    *,
    application_id: uuid.UUID | str | None = None,
    case_id: uuid.UUID | str | None = None,
    stage: str | None = None,
    scope: str | None = None,
) -> str:
    """What makes one condition one alert: together with the rule id it is unique among open
    alerts, so the same condition reported twice (event and sweep, or two events) raises one."""
    parts = [
        f"app:{application_id or '-'}",
        f"case:{case_id or '-'}",
        f"stage:{stage or '-'}",
        f"scope:{scope or '-'}",
    ]
    return "|".join(parts)


def start_of_day(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=SHANGHAI)


def warning_time(due_at: datetime, calendar: WorkdayCalendar) -> datetime:
    """When Y3 lights: the start of the last working day before the deadline's day
    ("办理时限到期前一天"), so a stage due on Monday warns from Friday morning."""
    return calendar.warning_starts(due_at)


def end_of_day(d: date) -> datetime:
    return datetime.combine(d, time.max, tzinfo=SHANGHAI)


def end_of_day_of(instant: datetime) -> datetime:
    return end_of_day(instant.astimezone(SHANGHAI).date())


def acceptance_batch(accepted_at: datetime) -> str:
    """The batch an application belongs to: its acceptance month in China, ``YYYY-MM``."""
    return accepted_at.astimezone(SHANGHAI).strftime("%Y-%m")


# -- visibility ---------------------------------------------------------------------------------


def child_unit_length(org: str) -> int:
    """Length of the code prefix that names the units one level below ``org`` (drill-down)."""
    level = unit_level(org)
    return {"province": 4, "city": 6, "district": 9, "street": 9}[level]


# -- red ticket reporting chain (Xiamen art. 10(2), 11(2)-(3)) ------------------------------------

TicketStep = Literal[
    "handling",  # 当日办结: the responsible unit (or department) handles it the same day
    "report_district",  # street / department -> its district within 2 working days
    "report_city_centre",  # district (or a district's own light) -> city centre within 2
    "report_city_office",  # city centre -> city office (市住房保障办) within 1 working day
    "report_province",  # city office -> province (省住建厅、省监察厅): the feedback leaves the city
    "confirmation",  # city centre supervisor confirms the light went out and files it
    "closed",
]

EscalationLevel = Literal["district", "city_centre", "city_office", "province"]

# Who holds a step: the level that must act. Ordered from the bottom of the chain to the top.
Holder = Literal["street", "department", "district", "city_centre", "city_office", "province"]
_RANK: dict[str, int] = {
    "street": 0,
    "department": 0,
    "district": 1,
    "city_centre": 2,
    "city_office": 3,
    "province": 4,
}

# Working days allowed for each step, counted from the moment the previous one finished;
# 0 means "the same day".
STEP_WORKING_DAYS: dict[str, int | None] = {
    "handling": 0,
    "report_district": 2,
    "report_city_centre": 2,
    "report_city_office": 1,
    "report_province": 1,
    "confirmation": None,  # no fixed limit in the rules
}

# The level a report of each step goes to.
REPORT_TO: dict[str, EscalationLevel] = {
    "report_district": "district",
    "report_city_centre": "city_centre",
    "report_city_office": "city_office",
    "report_province": "province",
}


def city_of(unit: str) -> str:
    return unit[:4] + "00"


def responsible_level(unit: str, department: str | None) -> Holder:
    """Who handles a ticket: the department it is addressed to (协查单位), else its unit."""
    if department:
        return "department"
    level = unit_level(unit)
    if level in ("street", "district"):
        return level
    return "city_centre"


def reporting_path(unit: str, department: str | None = None) -> list[tuple[str, Holder]]:
    """The steps of a red ticket and who holds each (Xiamen art. 11(2)-(3)): the responsible
    unit handles the same day, then each level reports in writing to the one above, a
    street's or a department's report going through the district, up to the city office's
    feedback to the province; the city centre then confirms and files it."""
    level = unit_level(unit)
    first = responsible_level(unit, department)
    path: list[tuple[str, Holder]] = [("handling", first)]
    has_district = level in ("street", "district")
    if first in ("street", "department") and has_district:
        path.append(("report_district", first))
        path.append(("report_city_centre", "district"))
    elif first in ("district", "department"):
        path.append(("report_city_centre", first))
    path.append(("report_city_office", "city_centre"))
    path.append(("report_province", "city_office"))
    path.append(("confirmation", "city_centre"))
    return path


def next_step(step: str, unit: str, department: str | None = None) -> str:
    steps = [s for s, _ in reporting_path(unit, department)] + ["closed"]
    return steps[steps.index(step) + 1]


def step_holder(step: str, unit: str, department: str | None = None) -> Holder:
    for s, holder in reporting_path(unit, department):
        if s == step:
            return holder
    raise ValueError(f"step {step!r} is not on the path of unit {unit}")


def level_unit(level: str, unit: str) -> str | None:
    """The unit code of a level of the chain above ``unit`` (None for the province)."""
    if level == "district":
        return unit[:6] if unit_level(unit) in ("street", "district") else None
    if level in ("city_centre", "city_office"):
        return city_of(unit)
    return None


def escalation_target(holder: str, unit: str) -> tuple[EscalationLevel, str | None] | None:
    """The level directly above the one that missed its step (``holder``), with its unit;
    None above the province. A department's or a street's miss goes to the district, a
    district's to the city centre, the city centre's to the city office, the office's to the
    province."""
    has_district = unit_level(unit) in ("street", "district")
    above: EscalationLevel | None
    if holder in ("street", "department"):
        above = "district" if has_district else "city_centre"
    elif holder == "district":
        above = "city_centre"
    elif holder == "city_centre":
        above = "city_office"
    elif holder == "city_office":
        above = "province"
    else:
        return None
    return above, level_unit(above, unit)


def higher(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def step_due(step: str, started: datetime, calendar: WorkdayCalendar) -> datetime | None:
    days = STEP_WORKING_DAYS.get(step)
    if days is None:
        return None
    return calendar.add_workdays(started, days).at


# -- red-light categories for filing (art. 11(2)6, 11(3)6: 根据红灯预警类别分类归档) -----

FeedbackCategory = Literal[
    "acceptance",  # 受理环节：回执、材料
    "signature_order",  # 审核意见时间倒置
    "department",  # 协查部门：反馈为空、逾期
    "publicity",  # 公示时间不足
    "time_limit",  # 超出办理时限
    "other",
]

CATEGORY_TITLES: dict[str, str] = {
    "acceptance": "申请受理类",
    "signature_order": "审核意见时序类",
    "department": "部门协查类",
    "publicity": "公示类",
    "time_limit": "办理时限类",
    "other": "其他",
}

_CATEGORY_BY_RULE: dict[str, str] = {
    "R1": "acceptance",
    "R2": "acceptance",
    "R3": "signature_order",
    "R4": "signature_order",
    "R5": "signature_order",
    "R6": "department",
    "D1": "department",
    "R7": "publicity",
    "R8": "time_limit",
}


def default_category(rule_id: str) -> str:
    """The category a ticket is filed under unless the feedback names another."""
    return _CATEGORY_BY_RULE.get(rule_id, "other")


def ticket_no(colour: str, opened_at: datetime, ticket_id: uuid.UUID) -> str:
    """Human number of a ticket: HD (红灯督办) or YD (黄灯督办), date, short id."""
    prefix = "HD" if colour == "red" else "YD"
    day = opened_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"{prefix}-{day}-{ticket_id.hex[:8].upper()}"

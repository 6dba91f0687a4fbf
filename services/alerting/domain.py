"""Pure supervision rules: signature order, condition keys, deadlines, the reporting chain.

No I/O here; handlers and sweeps call these with values read from events and tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from shared.auth.units import parent_unit, unit_level
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
    "handling",  # 当日办结: the responsible unit handles it the same day
    "report_city_centre",  # unit -> city centre (市住房保障管理中心) within 2 working days
    "report_city_office",  # city centre -> city office (市住房保障办) within 1 working day
    "report_province",  # city office -> province (省住建厅、省监察厅)
    "confirmation",  # city centre supervisor confirms the light went out and files it
    "closed",
]

NEXT_STEP: dict[str, str] = {
    "handling": "report_city_centre",
    "report_city_centre": "report_city_office",
    "report_city_office": "report_province",
    "report_province": "confirmation",
    "confirmation": "closed",
}

# Working days allowed for each step, counted from the moment the previous one finished;
# 0 means "the same day".
STEP_WORKING_DAYS: dict[str, int | None] = {
    "handling": 0,
    "report_city_centre": 2,
    "report_city_office": 1,
    "report_province": 1,
    "confirmation": None,  # no fixed limit in the rules
}

EscalationLevel = Literal["district", "city_centre", "city_office", "province"]


def escalation_ladder(unit: str) -> list[tuple[EscalationLevel, str | None]]:
    """Who a ticket of ``unit`` goes to, in order, when deadlines are missed: the district
    above a street, then the city centre, the city office and the province."""
    ladder: list[tuple[EscalationLevel, str | None]] = []
    level = unit_level(unit)
    if level == "street":
        ladder.append(("district", parent_unit(unit)))
    city = unit[:4] + "00"
    if level in ("street", "district"):
        ladder.append(("city_centre", city))
    ladder.append(("city_office", city))
    ladder.append(("province", None))
    return ladder


def step_due(step: str, started: datetime, calendar: WorkdayCalendar) -> datetime | None:
    days = STEP_WORKING_DAYS.get(step)
    if days is None:
        return None
    return calendar.add_workdays(started, days).at


def ticket_no(colour: str, opened_at: datetime, ticket_id: uuid.UUID) -> str:
    """Human number of a ticket: HD (红灯督办) or YD (黄灯督办), date, short id."""
    prefix = "HD" if colour == "red" else "YD"
    day = opened_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"{prefix}-{day}-{ticket_id.hex[:8].upper()}"

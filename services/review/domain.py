"""Pure review rules: opinion quality, the signature sequence, working-day clocks, outcomes.

No I/O here: the commands and queries load rows, ask these functions, and write what they
answer. Refusals are ``shared.problems`` exceptions with Chinese details a clerk understands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.review.workflow import ROLE_ORDER, OpinionRules, Role
from shared.city import PriorityGroupRule
from shared.problems import Conflict, ValidationProblem
from shared.workdays import Deadline, WorkdayCalendar

OpinionQuality = Literal["specific", "boilerplate", "empty"]
Decision = Literal["approve", "reject", "return"]

# Punctuation and spaces do not make an opinion specific ("同意。。。" is still "同意").
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def opinion_quality(text: str, rules: OpinionRules) -> OpinionQuality:
    """``empty`` (nothing but noise), ``boilerplate`` (only stock phrases, or too short once the
    stock phrases are removed), else ``specific``."""
    bare = _NOISE.sub("", text)
    if not bare:
        return "empty"
    rest = bare
    # Longest first, so that "不同意" is removed whole rather than leaving "不".
    for phrase in sorted(rules.empty_phrases, key=len, reverse=True):
        rest = rest.replace(_NOISE.sub("", phrase), "")
    if len(rest) < rules.min_length:
        return "boilerplate"
    return "specific"


def require_specific_opinion(text: str, rules: OpinionRules) -> None:
    quality = opinion_quality(text, rules)
    if quality == "empty":
        raise ValidationProblem(detail="审核意见不能为空，请写明具体意见。", field="opinion")
    if quality == "boilerplate":
        raise ValidationProblem(
            detail=(
                f"审核意见过于笼统（如“同意”“符合条件”），请写明核查的具体情况和依据，"
                f"除套话外至少{rules.min_length}个字。"
            ),
            field="opinion",
        )


@dataclass(frozen=True, slots=True)
class SignedRole:
    role: Role
    signer: str


def next_role(required: Sequence[Role], signed: Sequence[Role]) -> Role | None:
    """The next signature the stage needs, None when all are in."""
    return next((r for r in required if r not in signed), None)


def check_may_sign(
    required: Sequence[Role], signed: Sequence[SignedRole], role: Role, signer: str
) -> None:
    """Refuse a signature out of sequence, a repeated role, or a second signature by one person.

    The order is the statute's (handler, then reviewer, then leader): an out-of-order signature
    is refused rather than recorded, so the red lights R3-R5 cannot arise through this API.
    """
    if role not in required:
        raise ValidationProblem(
            detail=f"本环节不需要{role.title}签字。", field="role", extra={"role": role.value}
        )
    roles_signed = [s.role for s in signed]
    if role in roles_signed:
        raise Conflict(
            detail=f"本环节{role.title}已签字；如需更正，请提交更正意见（corrects）。",
            field="role",
        )
    missing = [r for r in required[: required.index(role)] if r not in roles_signed]
    if missing:
        names = "、".join(r.title for r in missing)
        raise Conflict(
            detail=f"须先由{names}签字，{role.title}不能提前签字。",
            field="role",
            extra={"missing_signatures": [r.value for r in missing]},
        )
    if any(s.signer == signer for s in signed):
        raise Conflict(detail="同一人不能在同一环节签字两次。", field="role")


def role_rank(role: Role) -> int:
    return ROLE_ORDER.index(role)


# -- clocks -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageClock:
    """A stage's deadline: its limit plus the working days it spent suspended."""

    due: Deadline
    yellow_at: datetime


def stage_clock(
    calendar: WorkdayCalendar, started_at: datetime, limit: int, suspended_days: int = 0
) -> StageClock:
    """Deadline ``limit`` working days after the start, moved by suspended working days.

    The yellow threshold (Xiamen art. 8(3)) is the start of the last working day before the
    deadline day, the moment alerting lights Y3 (``WorkdayCalendar.warning_starts``): the
    clerk's task list turns yellow when the supervisor's lamp does.
    """
    due = calendar.add_workdays(started_at, limit + suspended_days)
    return StageClock(due=due, yellow_at=calendar.warning_starts(due.date))


def suspension_end(calendar: WorkdayCalendar, suspended_at: datetime, limit: int) -> Deadline:
    """When a supplement suspension ends by itself: end of its ``limit``-th working day."""
    return calendar.add_workdays(suspended_at, limit)


def suspension_remaining(limit: int, suspended_days: int) -> int:
    """Working days of supplement suspension a stage has left: the limit is the stage's
    total, whatever number of suspensions used it (Xiamen art. 7)."""
    return max(0, limit - suspended_days)


def suspended_working_days(
    calendar: WorkdayCalendar, suspended_at: datetime, resumed_at: datetime
) -> int:
    """Working days in (suspension day, resumption day]: what the stage's clock did not run."""
    return calendar.workdays_between(suspended_at, resumed_at)


def working_days_left(calendar: WorkdayCalendar, today: date, due: date) -> int:
    """Working days from ``today`` to the deadline day; negative once it passed."""
    if due >= today:
        return calendar.workdays_between(today, due)
    return -calendar.workdays_between(due, today)


def working_days_used(
    calendar: WorkdayCalendar, started_at: datetime, ended_at: datetime, suspended_days: int
) -> int:
    return max(0, calendar.workdays_between(started_at, ended_at) - suspended_days)


# -- priority groups at qualification (优先配租对象) -----------------------------------------------

_FINDING_TEXT = {
    ("assistance", "minimum_living"): "最低生活保障家庭",
    ("assistance", "extreme_poverty"): "特困供养人员",
    ("assistance", "low_income"): "低收入家庭",
    ("veteran", "veteran"): "退役军人",
    ("veteran", "martyr_family"): "烈士遗属",
    ("veteran", "entitled_group"): "优抚对象",
}


def _describe(kind: str, value: str) -> str:
    if kind == "disability":
        return f"家庭成员持{value}级残疾人证"
    if kind == "age":
        return f"家庭成员年满{value}周岁"
    return _FINDING_TEXT.get((kind, value), value)


def _matches(rule: PriorityGroupRule, kind: str, value: str) -> bool:
    if kind != rule.finding.value:
        return False
    if rule.values:
        return value in rule.values
    if not value.isdigit():
        return False
    if rule.at_most is not None:
        return int(value) <= rule.at_most
    return rule.at_least is not None and int(value) >= rule.at_least


def priority_groups(
    rules: Sequence[PriorityGroupRule],
    findings: Sequence[Mapping[str, str]],
    department_names: Mapping[str, str],
) -> list[dict[str, str]]:
    """Each group of the city whose rule a verified finding meets, in the city file's order,
    with the reason naming the department and what it verified (no member is named)."""
    decided = []
    for rule in rules:
        hits = [f for f in findings if _matches(rule, f["kind"], f["value"])]
        if hits:
            facts = "；".join(
                f"{department_names.get(f['department'], f['department'])}核实"
                f"{_describe(f['kind'], f['value'])}"
                for f in hits
            )
            decided.append({"code": rule.code, "reason": f"{rule.name}：{facts}"})
    return decided

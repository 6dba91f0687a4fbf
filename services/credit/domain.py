"""The integrity registry's rules (诚信档案), free of I/O so they can be tested on their own.

Sources: Taizhou's integrity-management measures (泰州市市区住房保障诚信管理办法), as described
in seeds/003: five family kinds, four employer kinds, severity in three classes with bans of
1, 3 and 5 years that lift themselves at expiry, and the procedure
告知函 -> (未送达) 公告 -> 限期纠正 -> 记入诚信档案 + 市征信系统 -> 律师函 -> 法律程序.

No punishment without a recorded procedure: a ban exists only once a record has been approved
by a second officer and walked through every notice step up to ``recorded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

Category = Literal["family", "employer", "agency", "tenancy"]
Severity = Literal["general", "serious", "severe"]
Origin = Literal["verification", "review", "complaint", "inspection"]

SEVERITY_TITLES: dict[str, str] = {
    "general": "一般失信",
    "serious": "较重失信",
    "severe": "严重失信",
}

# Catalogue ``source`` values (older, coarser) for each origin.
ORIGIN_TO_SOURCE: dict[str, Literal["verification", "review", "report", "manual"]] = {
    "verification": "verification",
    "review": "review",
    "complaint": "report",
    "inspection": "manual",
}


@dataclass(frozen=True)
class RecordKind:
    """One kind of dishonest behaviour (失信行为) that can be recorded."""

    code: str
    category: Category
    title: str
    # Nearest value of the catalogue's DishonestBehaviour, which events must carry.
    behaviour: str


FIXED_KINDS: tuple[RecordKind, ...] = (
    # Families (家庭失信行为, 5 kinds)
    RecordKind("concealed_housing", "family", "隐报、瞒报、假报家庭住房", "concealed_housing"),
    RecordKind("concealed_assets", "family", "隐报、瞒报、假报家庭财产或收入", "concealed_assets"),
    RecordKind("false_marital_status", "family", "假报婚姻状况", "false_marital_status"),
    RecordKind("false_household_members", "family", "假报家庭成员信息", "false_household_members"),
    RecordKind("other_false_statement", "family", "其他虚假陈述", "other"),
    # Employers (单位失信行为): two fixed here, two more from the city configuration
    RecordKind(
        "non_employee_income_certificate",
        "employer",
        "为不在本单位工作的人员出具收入证明",
        "false_income_certificate",
    ),
    RecordKind(
        "false_income_certificate",
        "employer",
        "为本单位工作人员出具虚假的收入证明",
        "false_income_certificate",
    ),
    # Agencies (中介)
    RecordKind("paid_proxy_application", "agency", "违规有偿代办", "paid_proxy_application"),
    RecordKind("agency_fraud", "agency", "中介欺诈骗取保障资格", "illegal_agency"),
    # Tenancy violations (租后违规), used by the tenancy service later
    RecordKind("tenancy_sublet", "tenancy", "转租公租房", "other"),
    RecordKind("tenancy_lending", "tenancy", "出借公租房", "other"),
    RecordKind("tenancy_vacancy", "tenancy", "无正当理由闲置公租房", "other"),
    RecordKind("tenancy_rent_arrears", "tenancy", "拖欠租金", "other"),
)


def record_kinds(city_employer_kinds: Iterable[tuple[str, str]]) -> dict[str, RecordKind]:
    """Every recordable kind: the fixed ones plus the city's (code, title) employer kinds."""
    kinds = {k.code: k for k in FIXED_KINDS}
    for code, title in city_employer_kinds:
        if code in kinds:
            raise ValueError(f"employer kind {code} clashes with a fixed kind")
        kinds[code] = RecordKind(code, "employer", title, "false_income_certificate")
    return kinds


def event_subject_kind(category: Category) -> Literal["family", "employer", "agency"]:
    """Tenancy violations are a family's (the tenant household's) behaviour."""
    return "family" if category == "tenancy" else category


# --------------------------------------------------------------------------- bans


def add_years(start: date, years: int) -> date:
    """Same day ``years`` later; 29 February becomes 1 March in a common year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, month=3, day=1)


def ban_ends_on(recorded_on: date, severity: str, ban_years: Mapping[str, int]) -> date:
    """First day the subject may apply again: the recording date plus 1/3/5 years."""
    return add_years(recorded_on, ban_years[severity])


def ban_in_force(ends_on: date, lifted: bool, today: date) -> bool:
    """A ban stops on ``ends_on`` even before the sweep has marked it lifted."""
    return not lifted and today < ends_on


# --------------------------------------------------------------------------- four eyes


class SameOfficer(Exception):
    """The approver is the officer who proposed (四眼原则: 录入人与审批人不得为同一人)."""


def ensure_four_eyes(proposed_by: str, approver: str) -> None:
    if proposed_by == approver:
        raise SameOfficer(proposed_by)


# --------------------------------------------------------------------------- notice procedure


class Stage(StrEnum):
    """Where a record stands in the notice procedure (告知程序)."""

    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    APPROVED = "approved"
    NOTICE_ISSUED = "notice_issued"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    ANNOUNCED = "announced"
    CORRECTED = "corrected"
    DEADLINE_PASSED = "deadline_passed"
    RECORDED = "recorded"
    LAWYER_LETTER = "lawyer_letter"
    LEGAL_PROCEDURE = "legal_procedure"


STAGE_TITLES: dict[Stage, str] = {
    Stage.PENDING_APPROVAL: "待审批",
    Stage.REJECTED: "审批未通过",
    Stage.APPROVED: "已审批、待发告知函",
    Stage.NOTICE_ISSUED: "已发出告知函",
    Stage.DELIVERED: "告知函已送达",
    Stage.UNDELIVERABLE: "告知函未能送达",
    Stage.ANNOUNCED: "已在市级主要媒体公告",
    Stage.CORRECTED: "已在期限内纠正",
    Stage.DEADLINE_PASSED: "纠正期限届满仍未纠正",
    Stage.RECORDED: "已记入诚信档案并推送市征信系统",
    Stage.LAWYER_LETTER: "已寄发律师函",
    Stage.LEGAL_PROCEDURE: "已通过法律程序处理",
}

# The steps an officer can take through ``POST /records/{id}/notices``; approval and rejection
# have endpoints of their own because they need a second officer.
NOTICE_STEPS: tuple[Stage, ...] = (
    Stage.NOTICE_ISSUED,
    Stage.DELIVERED,
    Stage.UNDELIVERABLE,
    Stage.ANNOUNCED,
    Stage.CORRECTED,
    Stage.DEADLINE_PASSED,
    Stage.RECORDED,
    Stage.LAWYER_LETTER,
    Stage.LEGAL_PROCEDURE,
)

TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.PENDING_APPROVAL: frozenset({Stage.APPROVED, Stage.REJECTED}),
    Stage.APPROVED: frozenset({Stage.NOTICE_ISSUED}),
    Stage.NOTICE_ISSUED: frozenset({Stage.DELIVERED, Stage.UNDELIVERABLE}),
    # Not delivered to the person: announce in the city's main media (公告) instead.
    Stage.UNDELIVERABLE: frozenset({Stage.ANNOUNCED}),
    Stage.DELIVERED: frozenset({Stage.CORRECTED, Stage.DEADLINE_PASSED}),
    Stage.ANNOUNCED: frozenset({Stage.CORRECTED, Stage.DEADLINE_PASSED}),
    # Correcting late still avoids the record (经告知仍不纠正的, 才记入诚信档案).
    Stage.DEADLINE_PASSED: frozenset({Stage.RECORDED, Stage.CORRECTED}),
    # 逾期拒不纠正的, 寄发律师函, 通过法律程序处理.
    Stage.RECORDED: frozenset({Stage.LAWYER_LETTER}),
    Stage.LAWYER_LETTER: frozenset({Stage.LEGAL_PROCEDURE}),
    Stage.REJECTED: frozenset(),
    Stage.CORRECTED: frozenset(),
    Stage.LEGAL_PROCEDURE: frozenset(),
}

# Stages at which the record is in the integrity file (记入诚信档案) and shared.
FILED_STAGES: frozenset[Stage] = frozenset(
    {Stage.RECORDED, Stage.LAWYER_LETTER, Stage.LEGAL_PROCEDURE}
)

# credit.notice_step ``step`` (and ``delivered``) for each stage reached.
EVENT_STEP: dict[Stage, tuple[str, bool | None]] = {
    Stage.NOTICE_ISSUED: ("notice_letter", None),
    Stage.DELIVERED: ("notice_letter", True),
    Stage.UNDELIVERABLE: ("notice_letter", False),
    Stage.ANNOUNCED: ("public_announcement", None),
    Stage.CORRECTED: ("corrected", None),
    Stage.DEADLINE_PASSED: ("correction_deadline", None),
    Stage.RECORDED: ("credit_file", None),
    Stage.LAWYER_LETTER: ("lawyer_letter", None),
    Stage.LEGAL_PROCEDURE: ("legal_procedure", None),
}


class InvalidTransition(Exception):
    """The requested step does not follow from the current one."""

    def __init__(self, current: Stage, requested: Stage, reason: str | None = None) -> None:
        self.current = current
        self.requested = requested
        self.reason = reason or (
            f"当前步骤为「{STAGE_TITLES[current]}」（{current.value}），"
            f"不能进行「{STAGE_TITLES[requested]}」（{requested.value}）"
        )
        super().__init__(self.reason)


@dataclass(frozen=True)
class Procedure:
    """The notice procedure of one record: current stage and its correction deadline."""

    stage: Stage
    correction_deadline: date | None = None

    def advance(self, to: Stage, *, today: date, correction_days: int) -> Procedure:
        """The procedure after step ``to`` on ``today``; ``InvalidTransition`` if not allowed."""
        if to not in TRANSITIONS[self.stage]:
            raise InvalidTransition(self.stage, to)
        deadline = self.correction_deadline
        if to in (Stage.DELIVERED, Stage.ANNOUNCED):
            # The period runs from the day the notice reached the subject, by letter or by
            # announcement (告知后限期纠正).
            deadline = today + timedelta(days=correction_days)
        if to is Stage.DEADLINE_PASSED and (deadline is None or today <= deadline):
            raise InvalidTransition(
                self.stage,
                to,
                f"纠正期限至{deadline}（含当日）尚未届满，不能认定逾期未纠正"
                if deadline is not None
                else "尚未设定纠正期限",
            )
        return Procedure(stage=to, correction_deadline=deadline)


# --------------------------------------------------------------------------- candidates

# Discrepancy fields (verification.completed) -> the family kind an officer will most likely
# confirm. Only a suggestion: the officer chooses the kind when confirming.
_FIELD_KINDS: dict[str, str] = {
    "housing_area_m2": "concealed_housing",
    "housing_tenure": "concealed_housing",
    "property_count": "concealed_housing",
    "monthly_income": "concealed_assets",
    "financial_assets": "concealed_assets",
    "vehicle_count": "concealed_assets",
    "vehicle_value": "concealed_assets",
    "business_count": "concealed_assets",
    "registered_capital": "concealed_assets",
    "marital_status": "false_marital_status",
    "member_count": "false_household_members",
    "relationship": "false_household_members",
    "hukou_division": "false_household_members",
}


def suggested_kind(fields: Iterable[str]) -> str:
    """The kind suggested for a candidate with discrepancies in ``fields``."""
    kinds = [_FIELD_KINDS.get(f, "other_false_statement") for f in fields]
    order = [k.code for k in FIXED_KINDS]
    return min(kinds, key=order.index) if kinds else "other_false_statement"


# ----------------------------------------------------------------- exposure and the PBOC export


def exposable(stage: Stage) -> bool:
    """Only a final record is exposed (典型案例曝光): filed in the integrity file, never one
    still in its notice procedure or corrected in time."""
    return stage in FILED_STAGES


def export_period(today: date, period: str) -> tuple[date, date]:
    """The last complete period before ``today``: [start, end), end exclusive."""
    if period == "day":
        return today - timedelta(days=1), today
    end = today.replace(day=1)
    start = (end - timedelta(days=1)).replace(day=1)
    return start, end


PBOC_FORMAT = "housing-credit-pboc/1"

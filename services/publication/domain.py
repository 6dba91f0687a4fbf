"""Publication rules without I/O: notice kinds and periods, the progress view, the rate limit,
what the province receives and how it is signed.

Everything public here is built from already-masked values (``张*三``, ``3502**********1234``);
this module also owns the check that a text about to be published carries no full ID or mobile
number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

# -- notices (公示 / 公告) -----------------------------------------------------------------------

NoticeKind = Literal[
    "acceptance",
    "qualification",
    "lottery_shortlist",
    "allocation",
    "objection_conclusion",
    "exit",
]

KIND_TITLES: dict[str, str] = {
    "acceptance": "受理情况公告",
    "qualification": "资格审核结果公示",
    "lottery_shortlist": "摇号入围名单公示",
    "allocation": "分配结果公示",
    "objection_conclusion": "异议核查结论公告",
    "exit": "退出情况公告",
}

# Kinds with a publicity period during which anyone may object (公示). The others announce.
OBJECTABLE_KINDS: frozenset[str] = frozenset({"qualification", "lottery_shortlist", "allocation"})

# Kinds whose period may not be shorter than the city's minimum (Xiamen art. 9(7): 7 days).
MINIMUM_PERIOD_KINDS: frozenset[str] = frozenset({"qualification"})

NoticeStatus = Literal["scheduled", "open", "closed"]

STATUS_TITLES: dict[str, str] = {"scheduled": "待发布", "open": "公示中", "closed": "已结束"}


def period_problem(kind: str, days: int, min_days: int) -> str | None:
    """Why a notice of ``kind`` may not last ``days`` calendar days, or None when it may."""
    if days < 1:
        return "公示天数至少为1天"
    if kind in MINIMUM_PERIOD_KINDS and days < min_days:
        return (
            f"{KIND_TITLES[kind]}期不得少于{min_days}天"
            f"（厦门市办法第九条第（七）项），本次为{days}天"
        )
    return None


def initial_status(opens_at: datetime, now: datetime) -> NoticeStatus:
    return "open" if opens_at <= now else "scheduled"


# -- personal data in public output -------------------------------------------------------------

# What a full resident ID or mobile looks like anywhere in a text (also inside Chinese, where
# \b does not separate): 18 characters with a birth-date middle, or 11 digits starting 1[3-9].
FULL_RESIDENT_ID = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9])"
)
FULL_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def has_unmasked_pii(text: str) -> bool:
    """True when ``text`` holds a full resident ID or mobile number."""
    return bool(FULL_RESIDENT_ID.search(text) or FULL_MOBILE.search(text))


def id_tail(masked_or_full_id: str) -> str:
    """The last four characters of a resident ID (upper-case X), what the applicant types."""
    return masked_or_full_id.strip().upper()[-4:]


# -- public progress (进度查询) -------------------------------------------------------------------

LEVEL_TITLES: dict[str, str] = {
    "street": "街道初审",
    "district": "区级审核",
    "city": "市级复核认定",
}

STAGE_TITLES: dict[str, str] = {
    "submitted": "已提交，待受理",
    "supplement": "待补充材料",
    "accepted": "已受理，部门联合核查中",
    "verified": "部门核查完成，待审核",
    "review": "审核中",
    "suspended": "补件挂起",
    "qualified": "资格审核通过，待公示",
    "publicity": "公示中",
    "publicity_closed": "公示期满",
    "confirmed": "资格认定通过，已取得轮候资格",
    "rejected": "审核未通过",
    "withdrawn": "已撤回",
}


def stage_title(stage: str, level: str | None) -> str:
    if stage in ("review", "suspended") and level in LEVEL_TITLES:
        suffix = "中" if stage == "review" else "（补件挂起）"
        return LEVEL_TITLES[level] + suffix
    return STAGE_TITLES.get(stage, "处理中")


# -- rate limit (令牌桶) -------------------------------------------------------------------------


@dataclass
class TokenBucket:
    """Per-client token bucket: ``burst`` requests at once, then ``per_second`` on average.

    Pure: the caller passes the time (a monotonic clock), so the rule is testable without
    sleeping. ``take`` answers 0 when allowed, else the seconds until a token is back.
    """

    burst: int
    per_second: float
    max_clients: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str, at: float) -> float:
        tokens, last = self._buckets.get(client, (float(self.burst), at))
        tokens = min(float(self.burst), tokens + (at - last) * self.per_second)
        if tokens >= 1.0:
            self._keep(client, (tokens - 1.0, at))
            return 0.0
        self._keep(client, (tokens, at))
        return (1.0 - tokens) / self.per_second

    def _keep(self, client: str, state: tuple[float, float]) -> None:
        # Bound the memory an address-rotating client can make us use: forget the oldest
        # entries (dicts keep insertion order; re-inserting moves a client to the end).
        self._buckets.pop(client, None)
        self._buckets[client] = state
        while len(self._buckets) > self.max_clients:
            self._buckets.pop(next(iter(self._buckets)))


# -- provincial push (省监管系统) -----------------------------------------------------------------

# Key process events and, per type, the fields of the payload the province receives. A
# whitelist on purpose: application.accepted carries the household with full ID numbers, and
# none of it may leave the city.
PUSHED_FIELDS: dict[str, tuple[str, ...]] = {
    "application.accepted": (
        "application_id",
        "tracking_no",
        "receipt_no",
        "city",
        "district",
        "street",
        "category",
        "accepted_at",
        "materials_complete",
    ),
    "application.supplement_requested": ("application_id", "tracking_no", "deadline"),
    "application.withdrawn": ("application_id", "tracking_no", "initiated_by", "withdrawn_at"),
    "verification.completed": (
        "case_id",
        "application_id",
        "category",
        "completed_at",
        "recommendation",
        "missing_departments",
        "parameters_version",
    ),
    "review.stage_started": (
        "case_id",
        "application_id",
        "stage",
        "level",
        "unit",
        "started_at",
        "due_at",
        "time_limit_working_days",
    ),
    "review.stage_completed": (
        "case_id",
        "application_id",
        "stage",
        "level",
        "unit",
        "outcome",
        "completed_at",
        "working_days_used",
        "overdue",
        "next_stage",
    ),
    "review.stage_overdue": ("case_id", "application_id", "stage", "level", "unit", "due_at"),
    "review.decided": ("case_id", "application_id", "outcome", "decided_at"),
    "application.qualified": (
        "application_id",
        "case_id",
        "tracking_no",
        "city",
        "district",
        "street",
        "category",
        "member_count",
        "qualified_at",
    ),
    "application.refused": (
        "application_id",
        "tracking_no",
        "street",
        "category",
        "refused_at",
    ),
    "application.rejected": (
        "application_id",
        "case_id",
        "tracking_no",
        "street",
        "category",
        "stage",
        "rejected_at",
    ),
    "publicity.opened": (
        "notice_id",
        "kind",
        "unit",
        "batch",
        "opened_at",
        "closes_at",
        "planned_days",
        "allocation_ids",
    ),
    "publicity.closed": (
        "notice_id",
        "kind",
        "opened_at",
        "closed_at",
        "closed_early",
        "override_by",
        "reason",
    ),
    "objection.filed": (
        "objection_id",
        "notice_id",
        "application_id",
        "channel",
        "filed_at",
        "conclude_by",
    ),
    "objection.concluded": (
        "objection_id",
        "notice_id",
        "application_id",
        "outcome",
        "conclusion",
        "concluded_at",
    ),
    # Allocation (轮候配租): the round's lottery values (a round stream) and each result in
    # the household's application stream; no ranking or pool lists, only their digests.
    "allocation.pool_frozen": (
        "round_id",
        "category",
        "pool_digest",
        "households",
        "cut_off",
        "objection_until",
    ),
    "allocation.round_drawn": (
        "round_id",
        "category",
        "pool_digest",
        "commitment",
        "public_input",
        "secret",
        "seed",
        "households",
        "drawn_at",
    ),
    "allocation.unit_allocated": (
        "allocation_id",
        "application_id",
        "round_id",
        "household_reference",
        "unit_code",
        "rank",
        "allocated_at",
    ),
    "alert.raised": (
        "alert_id",
        "rule_id",
        "colour",
        "application_id",
        "case_id",
        "stage",
        "unit",
        "raised_at",
    ),
    "alert.cleared": (
        "alert_id",
        "rule_id",
        "colour",
        "application_id",
        "case_id",
        "stage",
        "unit",
        "raised_at",
        "cleared_at",
    ),
    "ticket.feedback_reported": (
        "ticket_id",
        "ticket_no",
        "rule_id",
        "application_id",
        "unit",
        "department",
        "category",
        "cause_kind",
        "cause",
        "handling_opinion",
        "summary_text",
        "opened_at",
        "handled_at",
        "reported_at",
    ),
    # Every service's signed audit chain head, whole: it is public, and the province's copy is
    # the one no administrator of this city can reach (docs/audit.md).
    "audit.checkpointed": (
        "service",
        "seq",
        "head_hash",
        "signed_at",
        "key_id",
        "public_key",
        "signature",
    ),
}


def is_pushed(event_type: str, data: dict[str, Any]) -> bool:
    """Whether an event goes to the province: the key process events, and only red lights."""
    if event_type not in PUSHED_FIELDS:
        return False
    if event_type.startswith("alert."):
        return data.get("colour") == "red"
    return True


def push_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The part of an event's payload the province receives."""
    return {name: data[name] for name in PUSHED_FIELDS[event_type] if name in data}


def stream_key(event_type: str, data: dict[str, Any]) -> str:
    """Events of one stream are delivered in order: one application, one round, one service's
    audit checkpoints, else one unit's lights."""
    if event_type == "audit.checkpointed":
        return f"audit:{data['service']}"
    if data.get("application_id"):
        return f"application:{data['application_id']}"
    if data.get("round_id"):
        return f"round:{data['round_id']}"
    return f"unit:{data.get('unit', 'city')}"


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Delay before the next try after ``attempts`` failures: base, 2·base, 4·base… up to cap."""
    exponent = max(0, min(attempts - 1, 30))
    return timedelta(seconds=min(cap, base * (2**exponent)))


SIGNATURE_HEADER = "X-Housing-Signature"
TIMESTAMP_HEADER = "X-Housing-Timestamp"
PUSH_ID_HEADER = "X-Housing-Push-Id"
CITY_HEADER = "X-Housing-City"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>`` (the timestamp is signed
    too, so a captured request cannot be replayed later with a new date)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, presented: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), presented)


# -- allocation (轮候配租) -----------------------------------------------------------------------

WAITING_STATUS_TITLES: dict[str, str] = {
    "waiting": "轮候中",
    "suspended": "轮候资格暂停",
    "allocated": "已配租",
    "subsidised": "已选择领取租赁补贴",
}

# A waiting household without a tier (an older producer) waits after every tier.
NO_TIER = 100


# -- the process as the progress page shows it (办理进度) -----------------------------------------

StepState = Literal["done", "current", "todo"]

# Every step an application goes through, in order; the progress page lists them all.
PROCESS_STEPS: tuple[tuple[str, str], ...] = (
    ("submit", "提交申请"),
    ("accept", "街道受理"),
    ("verify", "部门联合核查"),
    ("street", "街道初审"),
    ("district", "区级审核"),
    ("city", "市级复核认定"),
    ("publicity", "资格公示"),
    ("waiting", "轮候"),
    ("housed", "配租或领取租赁补贴"),
)
_STEP_INDEX = {key: i for i, (key, _) in enumerate(PROCESS_STEPS)}
# Where each stage stands; review and suspended stand at their level's step.
_STAGE_STEP: dict[str, str] = {
    "submitted": "accept",
    "supplement": "accept",
    "accepted": "verify",
    "verified": "street",
    "qualified": "publicity",
    "publicity": "publicity",
    "publicity_closed": "publicity",
    "confirmed": "waiting",
}
ENDED_STAGES = ("rejected", "withdrawn")


@dataclass(frozen=True)
class ProcessStep:
    key: str
    title: str
    state: StepState


def process_steps(
    stage: str, level: str | None, waiting_status: str | None = None
) -> list[ProcessStep]:
    """Every step with its state: the ones passed ``done``, the one the application stands at
    ``current``, the rest ``todo``. An ended application (rejected, withdrawn) has no current
    step: the steps it passed are done and the page says how it ended."""
    if stage in ("review", "suspended"):
        at = level if level in _STEP_INDEX else "street"
    elif waiting_status in ("allocated", "subsidised"):
        at = "housed"
    else:
        at = _STAGE_STEP.get(stage, "accept")
    current = _STEP_INDEX[at]
    if stage in ENDED_STAGES:
        reached = _STEP_INDEX[level] if level in _STEP_INDEX else 0
        return [
            ProcessStep(key, title, "done" if i <= reached else "todo")
            for i, (key, title) in enumerate(PROCESS_STEPS)
        ]
    done_through = current if at == "housed" else current - 1
    return [
        ProcessStep(
            key,
            title,
            "done" if i <= done_through else ("current" if i == current else "todo"),
        )
        for i, (key, title) in enumerate(PROCESS_STEPS)
    ]


# -- amounts and areas as notices write them (30万元、人均15平方米、无自有住房) --------------------


def _plain(value: Decimal) -> str:
    """``15.00`` → ``15``, ``12.50`` → ``12.5``; never an exponent."""
    text = f"{value.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def yuan(amount: Decimal | int | float | str) -> str:
    """Money as a notice writes it: whole ten-thousands in 万元 (``300000`` → ``30万元``,
    ``15000`` → ``1.5万元``), smaller or odd amounts in 元 (``4500`` → ``4500元``)."""
    value = Decimal(str(amount))
    if value >= 10000 and (value / 100) == (value / 100).to_integral_value():
        return f"{_plain(value / 10000)}万元"
    return f"{_plain(value)}元"


def square_metres(area: Decimal | int | float | str) -> str:
    """``15.00`` → ``15平方米``."""
    return f"{_plain(Decimal(str(area)))}平方米"


def admission_conditions(
    *,
    local_hukou: bool,
    min_local_hukou_years: int,
    residence_permit_required: bool,
    min_social_security_months: int,
    max_monthly_income_per_capita: Decimal,
    max_housing_area_per_capita: Decimal,
    max_financial_assets: Decimal,
    max_vehicle_value: Decimal,
    max_business_registered_capital: Decimal,
) -> list[str]:
    """The admission conditions of a category in the words of a policy notice; a limit of 0
    means "must have none" (无自有住房, 名下无机动车辆)."""
    conditions = []
    if local_hukou:
        years = f"满{min_local_hukou_years}年" if min_local_hukou_years else ""
        conditions.append(f"具有本市户籍{years}")
    elif residence_permit_required:
        conditions.append("持有本市居住证")
    else:
        conditions.append("不限户籍")
    if min_social_security_months:
        conditions.append(f"在本市连续缴纳社会保险满{min_social_security_months}个月")
    conditions.append(f"家庭人均月收入不高于{yuan(max_monthly_income_per_capita)}")
    if max_housing_area_per_capita == 0:
        conditions.append("家庭成员在本市无自有住房")
    else:
        conditions.append(
            f"住房困难，人均住房建筑面积不高于{square_metres(max_housing_area_per_capita)}"
        )
    conditions.append(f"家庭金融资产不高于{yuan(max_financial_assets)}")
    if max_vehicle_value == 0:
        conditions.append("家庭成员名下无机动车辆")
    else:
        conditions.append(f"家庭车辆总价值不高于{yuan(max_vehicle_value)}")
    if max_business_registered_capital == 0:
        conditions.append("家庭成员未登记经营工商企业")
    else:
        conditions.append(f"家庭经营工商企业注册资本不高于{yuan(max_business_registered_capital)}")
    return conditions

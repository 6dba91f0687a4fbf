"""Intake rules (申请受理), free of I/O so that they are unit-tested on their own.

An application moves through::

    submitted ──accept──▶ accepted
        │  ▲                 │
        │  └─items arrive─┐  │ (accepted with incomplete materials)
        ▼                 │  ▼
    supplement_requested ◀┘──┘
        any live status ──withdraw──▶ withdrawn
        submitted / supplement_requested ──reject──▶ rejected (不予受理)

While an application is live (submitted, supplement_requested, accepted) every member counts as
"on an active application in the city" and may not appear on a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Status(StrEnum):
    SUBMITTED = "submitted"  # 已提交，待受理
    SUPPLEMENT_REQUESTED = "supplement_requested"  # 待补件
    ACCEPTED = "accepted"  # 已受理
    REJECTED = "rejected"  # 不予受理 / 审核不通过
    WITHDRAWN = "withdrawn"  # 已撤回


ACTIVE_STATUSES: frozenset[Status] = frozenset(
    {Status.SUBMITTED, Status.SUPPLEMENT_REQUESTED, Status.ACCEPTED}
)

STATUS_NAMES: dict[str, str] = {
    Status.SUBMITTED: "已提交，待受理",
    Status.SUPPLEMENT_REQUESTED: "待补件",
    Status.ACCEPTED: "已受理",
    Status.REJECTED: "不予受理",
    Status.WITHDRAWN: "已撤回",
}

# Where each command may start from; anything else is a 409 with the current status named.
CAN_ACCEPT: frozenset[Status] = frozenset({Status.SUBMITTED})
CAN_REQUEST_SUPPLEMENT: frozenset[Status] = frozenset({Status.SUBMITTED, Status.ACCEPTED})
CAN_REJECT: frozenset[Status] = frozenset({Status.SUBMITTED, Status.SUPPLEMENT_REQUESTED})
CAN_WITHDRAW: frozenset[Status] = ACTIVE_STATUSES


def is_active(status: str) -> bool:
    return status in ACTIVE_STATUSES


# -- numbers -----------------------------------------------------------------------------------


def tracking_number(city: str, day: date, seq: int) -> str:
    """查询编号, e.g. SQ350200-20261121-000123 (city, day of submission, sequence)."""
    return f"SQ{city}-{day:%Y%m%d}-{seq:06d}"


def receipt_number(street: str, day: date, seq: int) -> str:
    """受理回执编号, e.g. SL350203001-2026-000042 (accepting street, year, sequence)."""
    return f"SL{street}-{day:%Y}-{seq:06d}"


def notice_number(street: str, day: date, seq: int) -> str:
    """补件通知单编号, e.g. BJ350203001-2026-000007."""
    return f"BJ{street}-{day:%Y}-{seq:06d}"


# -- masking for events ------------------------------------------------------------------------


def masked_name(name: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, 张 -> 张*; at most 10 stars (event pattern)."""
    name = name.strip()
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * min(len(name) - 2, 10) + name[-1]


# -- household ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """A bad input: the dotted field path and a Chinese reason a clerk understands."""

    field: str
    detail: str


def household_errors(relationships: Sequence[str], resident_ids: Sequence[str]) -> list[FieldError]:
    """Exactly one applicant, listed first; nobody twice in one household."""
    errors: list[FieldError] = []
    applicants = [i for i, r in enumerate(relationships) if r == "applicant"]
    if len(applicants) != 1:
        errors.append(
            FieldError("members", "家庭成员中应有且只有一名申请人（relationship=applicant）")
        )
    elif applicants[0] != 0:
        errors.append(FieldError("members.0.relationship", "申请人应列为第一名家庭成员"))
    seen: dict[str, int] = {}
    for i, rid in enumerate(resident_ids):
        if rid in seen:
            errors.append(
                FieldError(
                    f"members.{i}.resident_id",
                    f"与第{seen[rid] + 1}名家庭成员的身份证号码重复",
                )
            )
        else:
            seen[rid] = i
    return errors


# -- bans --------------------------------------------------------------------------------------


def ban_in_force(
    today: date, starts_on: date | None, ends_on: date | None, lifted_on: date | None
) -> bool:
    """Whether a projected ban stops an application today (Asia/Shanghai).

    ``ends_on`` is the first day the person may apply again, so a ban whose end has passed no
    longer counts even before credit's ``credit.ban_lifted`` arrives. A lift without its ban
    (events out of order) is not a ban.
    """
    if starts_on is None or ends_on is None:
        return False
    if lifted_on is not None and lifted_on <= today:
        return False
    return starts_on <= today < ends_on


# -- materials ---------------------------------------------------------------------------------


def missing_materials(required: Iterable[str], present: Iterable[str]) -> list[str]:
    """Required material codes not yet received, in the city's order."""
    have = set(present)
    return [code for code in required if code not in have]


def notice_errors(
    item_codes: Sequence[str],
    known_codes: Iterable[str],
    missing_required: Sequence[str],
    names: Mapping[str, str] | None = None,
) -> list[FieldError]:
    """A supplement notice names known materials once each and every missing required one.

    一次性告知: the family must learn everything that is missing from one notice, so a notice
    that leaves out a missing required material is refused rather than followed by another.
    """
    errors: list[FieldError] = []
    known = set(known_codes)
    seen: set[str] = set()
    for i, code in enumerate(item_codes):
        if code not in known:
            errors.append(FieldError(f"items.{i}.code", f"未知的材料类型：{code}"))
        elif code in seen:
            errors.append(FieldError(f"items.{i}.code", f"材料重复列出：{code}"))
        seen.add(code)
    left_out = [code for code in missing_required if code not in seen]
    if left_out and not errors:
        errors.append(
            FieldError(
                "items",
                "补件通知须一次性列明全部缺少的材料，还缺："
                + "、".join((names or {}).get(code, code) for code in left_out),
            )
        )
    return errors


def items_received(item_codes: Iterable[str], arrived_codes: Iterable[str]) -> bool:
    """Every item of a notice has arrived (a material of that type uploaded after it)."""
    return set(item_codes) <= set(arrived_codes)

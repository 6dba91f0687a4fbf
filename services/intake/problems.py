"""Problem types of the intake service (``shared.problems``) and the translation of the domain's
refusals (``domain.FieldError`` lists, statuses that forbid an action) into them."""

from __future__ import annotations

from typing import Any

from services.intake import domain
from shared.pii import mask_resident_id
from shared.problems import Conflict, Forbidden, Problem, ValidationProblem, problem_type


class DuplicateApplication(Conflict):
    type = problem_type("duplicate-application")
    title = "家庭成员已有在办申请"


class MemberBanned(Forbidden):
    type = problem_type("integrity-ban")
    title = "家庭成员处于失信禁止申请期"


class InvalidState(Conflict):
    type = problem_type("invalid-state")
    title = "申请当前状态不允许此操作"


class PayloadTooLarge(Problem):
    status = 413
    type = problem_type("payload-too-large")
    title = "上传文件过大"


class UnsupportedMediaType(Problem):
    status = 415
    type = problem_type("unsupported-media-type")
    title = "不支持的文件类型"


def invalid_state(row: Any, action: str) -> InvalidState:
    name = domain.STATUS_NAMES.get(row.status, row.status)
    return InvalidState(f"申请当前状态为“{name}”，不能{action}", extra={"status": row.status})


def validation(errors: list[domain.FieldError]) -> ValidationProblem:
    first = errors[0]
    return ValidationProblem(
        first.detail,
        field=first.field,
        extra={"errors": [{"field": e.field, "detail": e.detail} for e in errors]},
    )


def duplicate(resident_id: str, i: int) -> DuplicateApplication:
    masked = mask_resident_id(resident_id)
    return DuplicateApplication(
        f"家庭成员（身份证号 {masked}）已有在办的保障性住房申请，不能重复申请",
        field=f"members.{i}.resident_id",
        extra={"member_id_masked": masked},
    )


def banned(resident_id: str, i: int, ends_on: Any) -> MemberBanned:
    masked = mask_resident_id(resident_id)
    return MemberBanned(
        f"家庭成员（身份证号 {masked}）"
        f"因失信行为处于禁止申请期，{ends_on:%Y年%m月%d日}起方可重新申请",
        field=f"members.{i}.resident_id",
        extra={"ban_ends_on": ends_on.isoformat(), "member_id_masked": masked},
    )


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"单个文件不能超过 {limit // (1024 * 1024)} MB", field="body")

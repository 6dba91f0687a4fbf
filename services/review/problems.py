"""The review service's refusals, as ``shared.problems`` types with the Chinese details a clerk
reads.

The pure rules in ``domain.py`` raise ``ValidationProblem`` / ``Conflict`` themselves (their
unit tests pin those types), so there is no domain exception to translate; the refusals that
need a loaded case, run or signature are built here.
"""

from __future__ import annotations

from typing import Any

from services.review.workflow import Role
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem


def case_not_found() -> NotFound:
    return NotFound(detail="审核案件不存在。", field="case_id")


def stage_not_in_workflow(stage: str) -> NotFound:
    return NotFound(detail=f"流程中没有环节“{stage}”。", field="stage")


def stage_not_active(case: Any, run: Any) -> Conflict:
    return Conflict(
        detail="该环节当前不在办理中。",
        field="stage",
        extra={"case_status": case.status, "current_stage": run.stage if run else None},
    )


def role_required(role: Role, needed: str) -> Forbidden:
    return Forbidden(
        detail=f"本环节{role.title}签字需要角色 {needed}。",
        extra={"required_roles": [needed]},
    )


_LEVEL_TITLES = {"street": "街道", "district": "区级", "city": "市级"}


def signer_of_another_level(level: str, org: str) -> Forbidden:
    title = _LEVEL_TITLES.get(level, level)
    return Forbidden(
        detail=f"本环节须由{title}单位人员签字；您所在单位（{org}）不是{title}单位。",
        extra={"stage_level": level},
    )


def signed_at_another_level() -> Conflict:
    return Conflict(detail="同一人不能在本案不同层级的环节签字。", field="role")


def sign_while_suspended() -> Conflict:
    return Conflict(detail="该环节正在补件挂起中，请先恢复办理再签字。", field="stage")


def verification_pending() -> Conflict:
    return Conflict(
        detail="部门核查结果尚未返回，经办人须在核查完成后签署意见。",
        field="role",
    )


def return_at_first_stage() -> ValidationProblem:
    return ValidationProblem(
        detail="第一个审核环节不能退回上一环节，请选择同意或不同意。", field="decision"
    )


def already_suspended() -> Conflict:
    return Conflict(detail="该环节已处于补件挂起状态。", field="stage")


class SuspensionLimitReached(Conflict):
    """The stage's supplement suspensions already used its whole limit. The refusal itself is
    a fact supervision must see (R8S): ``refusal`` is the event the endpoint commits after the
    refused request rolled back."""

    def __init__(self, used: int, limit: int, refusal: Any) -> None:
        super().__init__(
            detail=(
                f"本环节补件挂起已累计{used}个工作日，达到上限{limit}个工作日"
                "（厦门市办法第七条），不能再次挂起，请按现有材料审核并在时限内提交意见。"
            ),
            field="stage",
            extra={"suspended_working_days": used, "limit_working_days": limit},
        )
        self.refusal = refusal


def not_suspended() -> Conflict:
    return Conflict(detail="该环节未处于补件挂起状态。", field="stage")


def correction_not_in_stage() -> ValidationProblem:
    return ValidationProblem(detail="要更正的签字不在本环节。", field="corrects")


def correction_of_another() -> Forbidden:
    return Forbidden(detail="只能更正本人的签字。")


def correction_superseded() -> Conflict:
    return Conflict(detail="该签字已被更正过，请更正最新的签字。", field="corrects")


def correction_role_differs() -> ValidationProblem:
    return ValidationProblem(detail="更正签字的角色须与原签字相同。", field="role")


def correction_too_late() -> Conflict:
    return Conflict(detail="后序人员已签字，不能再更正。", field="corrects")

"""HTTP API of the review service: the to-do list, the case view, signatures, suspensions.

Staff see only cases in their jurisdiction (their unit and below); discipline inspectors read
everything and change nothing. Every action and every case read is audited in the same
transaction as its effect. The bodies authorise and hand over to ``commands`` / ``queries``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from services.review import commands, problems, queries
from services.review.context import Ctx
from services.review.schemas import (
    CaseOut,
    OpinionIn,
    ResumeIn,
    SignResult,
    SuspendIn,
    SuspensionOut,
    TaskOut,
    WorkflowOut,
)
from shared.auth import (
    ADMIN,
    CASEWORK_ROLES,
    DATA_STEWARD,
    DISCIPLINE_INSPECTOR,
    SUPERVISOR,
    Principal,
    require_roles,
)
from shared.idempotency import IdempotencyDep
from shared.legacy import ImportFileError, ImportReport, read_rows
from shared.pagination import Page, PageDep
from shared.problems import ValidationProblem

REVIEW_STAFF = CASEWORK_ROLES
READERS = (*REVIEW_STAFF, SUPERVISOR, DISCIPLINE_INSPECTOR, ADMIN)

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Staff = Annotated[Principal, Depends(require_roles(*REVIEW_STAFF))]
Steward = Annotated[Principal, Depends(require_roles(DATA_STEWARD))]
StageCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="环节代码")]

router = APIRouter(tags=["review"])


@router.get("/workflows", summary="审核流程预设（含流程图）")
async def list_workflows(principal: Reader, page: PageDep, ctx: Ctx) -> Page[WorkflowOut]:
    return queries.list_workflows(ctx, page)


@router.get("/tasks", summary="我的待办（按角色和单位，最早到期在前）")
async def my_tasks(principal: Staff, page: PageDep, ctx: Ctx) -> Page[TaskOut]:
    return await queries.my_tasks(ctx, principal, page)


@router.get("/cases/{case_id}", summary="审核案件详情（含核查结果与全部签字）")
async def get_case(case_id: uuid.UUID, principal: Reader, ctx: Ctx) -> CaseOut:
    async with ctx.uow() as uow:
        view = await queries.read_case(ctx, uow, principal, case_id)
        await uow.commit()
    return view


@router.post(
    "/cases/{case_id}/stages/{stage}/opinions",
    status_code=201,
    response_model=SignResult,
    summary="签署审核意见（经办人 -> 复核人 -> 领导，依次实名签字）",
)
async def sign(
    case_id: uuid.UUID,
    stage: StageCode,
    body: OpinionIn,
    principal: Staff,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.sign(ctx, uow, principal, case_id, stage, body),
        status_code=201,
    )


@router.post(
    "/cases/{case_id}/stages/{stage}/suspend",
    status_code=201,
    response_model=SuspensionOut,
    summary="补件挂起（计时暂停，最长不超过环节规定的工作日）",
)
async def suspend(
    case_id: uuid.UUID,
    stage: StageCode,
    body: SuspendIn,
    principal: Staff,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    try:
        return await idem.run(
            ctx.uow,
            lambda uow: commands.suspend(ctx, uow, principal, case_id, stage, body),
            status_code=201,
        )
    except problems.SuspensionLimitReached as refused:
        async with ctx.uow() as uow:
            await commands.record_refused_suspension(uow, principal, refused)
            await uow.commit()
        raise


@router.post(
    "/cases/{case_id}/stages/{stage}/resume",
    response_model=SuspensionOut,
    summary="补件完成，恢复办理（计时继续）",
)
async def resume(
    case_id: uuid.UUID,
    stage: StageCode,
    principal: Staff,
    ctx: Ctx,
    idem: IdempotencyDep,
    body: ResumeIn | None = None,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.resume(ctx, uow, principal, case_id, stage, body),
        status_code=200,
    )


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/imports/signatures",
    response_model=ImportReport,
    openapi_extra=_IMPORT_BODY,
    summary="导入历史审核签字（三级审核，CSV或JSON，逐行校验）",
)
async def import_signatures(
    request: Request, ctx: Ctx, idem: IdempotencyDep, principal: Steward
) -> Response:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        rows = read_rows(await request.body(), content_type)
    except ImportFileError as exc:
        raise ValidationProblem(str(exc), field="body") from None
    return await idem.run(
        ctx.uow, lambda uow: commands.import_signatures(ctx, uow, principal, rows)
    )

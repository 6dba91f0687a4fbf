"""HTTP API of the credit service: records, the notice procedure, bans, candidates, pledges.

Each endpoint authorises, then calls one command (through ``Idempotency.run``: every POST
honours ``Idempotency-Key``) or one query, and returns its answer. The logic is in
:mod:`services.credit.commands` and :mod:`services.credit.queries`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.credit import commands, domain, queries, schemas
from services.credit.context import Ctx
from shared.auth import (
    CITY_LEADER,
    CREDIT_OFFICER,
    DISCIPLINE_INSPECTOR,
    SERVICE,
    SUPERVISOR,
    CurrentPrincipal,
    Principal,
    require_roles,
)
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Forbidden

Officer = Annotated[Principal, Depends(require_roles(CREDIT_OFFICER))]
Leader = Annotated[Principal, Depends(require_roles(CITY_LEADER))]
Approver = Annotated[Principal, Depends(require_roles(CREDIT_OFFICER, CITY_LEADER))]
Reader = Annotated[
    Principal,
    Depends(require_roles(CREDIT_OFFICER, CITY_LEADER, SUPERVISOR, DISCIPLINE_INSPECTOR)),
]
ServiceCaller = Annotated[Principal, Depends(require_roles(SERVICE))]
BlacklistReader = Annotated[Principal, Depends(require_roles(SERVICE, CREDIT_OFFICER, SUPERVISOR))]
ID_HASH_PATTERN = r"^[0-9a-f]{64}$"
IdHashParam = Annotated[
    str, Path(pattern=ID_HASH_PATTERN, description="身份标识摘要（64位十六进制）")
]


async def _department_or_service(principal: CurrentPrincipal) -> Principal:
    """Other departments' systems (``department:<dept>``), platform services and admins."""
    if principal.is_admin or principal.has_role(SERVICE) or principal.departments:
        return principal
    raise Forbidden(
        "仅限其他部门系统或平台服务调用", extra={"required_roles": [SERVICE, "department:*"]}
    )


DepartmentOrService = Annotated[Principal, Depends(_department_or_service)]

router = APIRouter(tags=["credit"])


# ---------------------------------------------------------------- records


@router.post(
    "/records",
    response_model=schemas.RecordOut,
    status_code=201,
    summary="录入失信记录（待另一名工作人员审批）",
)
async def create_record(
    body: schemas.RecordIn, principal: Officer, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.create_record(ctx, uow, principal, body), status_code=201
    )


@router.get("/records", summary="失信记录列表")
async def list_records(
    principal: Reader,
    ctx: Ctx,
    page: PageDep,
    stage: Annotated[domain.Stage | None, Query(description="步骤")] = None,
    category: Annotated[domain.Category | None, Query(description="对象类别")] = None,
    id_hash: Annotated[
        str | None, Query(pattern=ID_HASH_PATTERN, description="对象标识摘要")
    ] = None,
) -> Page[schemas.RecordOut]:
    return await queries.list_records(
        ctx, principal, page, stage=stage, category=category, id_hash=id_hash
    )


@router.get("/records/{record_id}", summary="失信记录详情（含告知程序各步骤和禁入）")
async def get_record(record_id: uuid.UUID, principal: Reader, ctx: Ctx) -> schemas.RecordOut:
    return await queries.get_record(ctx, principal, record_id)


@router.post(
    "/records/{record_id}/approve",
    response_model=schemas.RecordOut,
    summary="审批失信记录（审批人不得为录入人）",
)
async def approve_record(
    record_id: uuid.UUID,
    body: schemas.ApproveIn,
    principal: Approver,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.approve_record(ctx, uow, principal, record_id, body)
    )


@router.post(
    "/records/{record_id}/reject",
    response_model=schemas.RecordOut,
    summary="退回失信记录（不予记录）",
)
async def reject_record(
    record_id: uuid.UUID,
    body: schemas.ReasonIn,
    principal: Approver,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.reject_record(ctx, uow, principal, record_id, body)
    )


@router.post(
    "/records/{record_id}/notices", response_model=schemas.RecordOut, summary="告知程序的下一步骤"
)
async def take_notice_step(
    record_id: uuid.UUID,
    body: schemas.NoticeStepIn,
    principal: Officer,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.take_step(ctx, uow, principal, record_id, body)
    )


# ---------------------------------------------------------------- bans


@router.post(
    "/records/{record_id}/lift",
    response_model=schemas.RecordOut,
    status_code=202,
    summary="申请提前解除禁入（须另一名工作人员审批后生效）",
)
async def request_lift(
    record_id: uuid.UUID,
    body: schemas.ReasonIn,
    principal: Officer,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.request_lift(ctx, uow, principal, record_id, body),
        status_code=202,
    )


@router.post(
    "/records/{record_id}/lift/approve",
    response_model=schemas.RecordOut,
    summary="审批提前解除禁入",
)
async def approve_lift(
    record_id: uuid.UUID,
    body: schemas.ApproveIn,
    principal: Approver,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.approve_lift(ctx, uow, principal, record_id, body)
    )


@router.post(
    "/records/{record_id}/exposure",
    response_model=schemas.RecordOut,
    status_code=202,
    summary="提出典型案例曝光（须市领导审批后公开）",
)
async def propose_exposure(
    record_id: uuid.UUID,
    body: schemas.ExposureIn,
    principal: Officer,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.propose_exposure(ctx, uow, principal, record_id, body),
        status_code=202,
    )


@router.post(
    "/records/{record_id}/exposure/approve",
    response_model=schemas.RecordOut,
    summary="审批典型案例曝光（市领导，不得为提出人）",
)
async def approve_exposure(
    record_id: uuid.UUID,
    body: schemas.ApproveIn,
    principal: Leader,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.approve_exposure(ctx, uow, principal, record_id, body)
    )


@router.get("/exports/pboc", summary="人行征信报送文件列表")
async def list_pboc_exports(
    principal: Officer, ctx: Ctx, page: PageDep
) -> Page[schemas.PbocExportSummary]:
    return await queries.list_pboc_exports(ctx, principal, page)


@router.get("/exports/pboc/{export_id}", summary="下载人行征信报送文件（JSON）")
async def download_pboc_export(export_id: uuid.UUID, principal: Officer, ctx: Ctx) -> Response:
    row, content = await queries.pboc_export(ctx, principal, export_id)
    return Response(
        orjson.dumps(content, option=orjson.OPT_SORT_KEYS),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="pboc-{row.period_start}.json"',
            "X-Content-SHA256": row.sha256,
        },
    )


@router.get("/bans/{id_hash}", summary="按身份摘要查询禁入（服务间调用）")
async def ban_status(
    id_hash: IdHashParam, principal: ServiceCaller, ctx: Ctx
) -> schemas.BanStatusOut:
    return await queries.ban_status(ctx, principal, id_hash)


@router.get("/blacklist", summary="中介黑名单（当前在列）")
async def blacklist(
    principal: BlacklistReader, ctx: Ctx, page: PageDep
) -> Page[schemas.BlacklistEntryOut]:
    return await queries.blacklist(ctx, page)


@router.get(
    "/shared-records/{id_hash}",
    summary="信用记录共享：已记入诚信档案的记录（供其他部门联合惩戒）",
)
async def shared_records(
    id_hash: IdHashParam, principal: DepartmentOrService, ctx: Ctx, page: PageDep
) -> Page[schemas.SharedRecordOut]:
    return await queries.shared_records(ctx, principal, id_hash, page)


# ---------------------------------------------------------------- candidates and pledges


@router.get("/candidates", summary="待确认的失信线索（来自协查比对差异）")
async def list_candidates(
    principal: Officer,
    ctx: Ctx,
    page: PageDep,
    status: Annotated[str | None, Query(pattern="^(open|confirmed|dismissed)$")] = "open",
    application_id: uuid.UUID | None = None,
) -> Page[schemas.CandidateOut]:
    return await queries.list_candidates(
        ctx, principal, page, status=status, application_id=application_id
    )


@router.post(
    "/candidates/{candidate_id}/confirm",
    response_model=schemas.RecordOut,
    status_code=201,
    summary="确认线索并录入失信记录",
)
async def confirm_candidate(
    candidate_id: uuid.UUID,
    body: schemas.CandidateConfirmIn,
    principal: Officer,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.confirm_candidate(ctx, uow, principal, candidate_id, body),
        status_code=201,
    )


@router.post(
    "/candidates/{candidate_id}/dismiss",
    response_model=dict[str, str],
    summary="排除线索（不予记录）",
)
async def dismiss_candidate(
    candidate_id: uuid.UUID,
    body: schemas.ReasonIn,
    principal: Officer,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: commands.dismiss_candidate(ctx, uow, principal, candidate_id, body)
    )


@router.get("/pledges", summary="守信承诺书登记")
async def list_pledges(
    principal: Reader,
    ctx: Ctx,
    page: PageDep,
    id_hash: Annotated[
        str | None, Query(pattern=ID_HASH_PATTERN, description="成员身份摘要")
    ] = None,
    application_id: uuid.UUID | None = None,
) -> Page[schemas.PledgeOut]:
    return await queries.list_pledges(
        ctx, principal, page, id_hash=id_hash, application_id=application_id
    )

"""HTTP API of the alerting service: rules, alerts, tickets, notifications, cockpit, reports.

Each endpoint authorises (its role dependency) and calls a query (``queries.py``) or, for a
POST, a command (``commands.py``) through ``Idempotency.run``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.alerting import commands, queries
from services.alerting.context import Ctx
from services.alerting.rules import catalogue
from services.alerting.schemas import (
    AlertOut,
    ConfirmIn,
    EscalateIn,
    HandleIn,
    NotificationOut,
    ReportIn,
    RuleOut,
    TicketOut,
    YellowTicketIn,
)
from shared.app import RuntimeDep
from shared.auth import (
    CASEWORK_ROLES,
    DISCIPLINE_INSPECTOR,
    SUPERVISOR,
    Principal,
    require_roles,
)
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep

router = APIRouter(tags=["alerting"])

# Staff who work on tickets see the lights of their unit; supervisors and inspectors watch.
_READERS = (
    SUPERVISOR,
    DISCIPLINE_INSPECTOR,
    *CASEWORK_ROLES,
)
_HANDLERS = tuple(r for r in _READERS if r != DISCIPLINE_INSPECTOR)
Reader = Annotated[Principal, Depends(require_roles(*_READERS))]
Handler = Annotated[Principal, Depends(require_roles(*_HANDLERS))]
Supervisor = Annotated[Principal, Depends(require_roles(SUPERVISOR))]

TicketId = Annotated[uuid.UUID, Path(description="督办单ID")]


# -- rules ---------------------------------------------------------------------------------------


@router.get("/rules", summary="监督规则目录 (rule catalogue)")
async def list_rules() -> list[RuleOut]:
    return [RuleOut(**r.model_dump()) for r in catalogue().values()]


# -- alerts --------------------------------------------------------------------------------------


@router.get("/alerts", summary="预警列表（按辖区可见）")
async def list_alerts(
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    status: Annotated[Literal["open", "cleared", "all"], Query(description="状态")] = "open",
    colour: Annotated[Literal["yellow", "red"] | None, Query(description="颜色")] = None,
    rule_id: Annotated[str | None, Query(description="规则编号", max_length=16)] = None,
    unit: Annotated[str | None, Query(description="单位代码（含下级）")] = None,
    application_id: Annotated[uuid.UUID | None, Query(description="申请ID")] = None,
) -> Page[AlertOut]:
    return await queries.list_alerts(
        runtime=runtime,
        principal=principal,
        page=page,
        status=status,
        colour=colour,
        rule_id=rule_id,
        unit=unit,
        application_id=application_id,
    )


@router.get("/alerts/{alert_id}", summary="预警详情")
async def get_alert(alert_id: uuid.UUID, runtime: RuntimeDep, principal: Reader) -> AlertOut:
    return await queries.get_alert(alert_id=alert_id, runtime=runtime, principal=principal)


# -- tickets -------------------------------------------------------------------------------------


@router.get("/tickets", summary="督办单列表")
async def list_tickets(
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    status: Annotated[Literal["open", "closed", "all"], Query(description="状态")] = "open",
    colour: Annotated[Literal["yellow", "red"] | None, Query(description="颜色")] = None,
    escalated: Annotated[bool | None, Query(description="只看已升级督办的")] = None,
    unit: Annotated[str | None, Query(description="单位代码（含下级）")] = None,
    application_id: Annotated[uuid.UUID | None, Query(description="申请ID")] = None,
) -> Page[TicketOut]:
    return await queries.list_tickets(
        runtime=runtime,
        principal=principal,
        page=page,
        status=status,
        colour=colour,
        escalated=escalated,
        unit=unit,
        application_id=application_id,
    )


@router.get("/tickets/{ticket_id}", summary="督办单详情（含办理、报告、升级记录）")
async def get_ticket(ticket_id: TicketId, runtime: RuntimeDep, principal: Reader) -> TicketOut:
    return await queries.get_ticket(ticket_id=ticket_id, runtime=runtime, principal=principal)


@router.post(
    "/tickets",
    response_model=TicketOut,
    status_code=201,
    summary="开具黄灯预警督办单（红灯自动开具）",
)
async def open_ticket(
    body: YellowTicketIn, ctx: Ctx, principal: Supervisor, idem: IdempotencyDep
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.open_ticket(ctx, uow, principal, body),
        status_code=201,
    )


@router.post(
    "/tickets/{ticket_id}/handle",
    response_model=TicketOut,
    summary="办理（红灯须填原因及处理意见）",
)
async def handle_ticket(
    ticket_id: TicketId,
    body: HandleIn,
    ctx: Ctx,
    principal: Handler,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.handle_ticket(ctx, uow, principal, ticket_id, body),
        status_code=200,
    )


@router.post(
    "/tickets/{ticket_id}/report",
    response_model=TicketOut,
    summary="逐级书面报告（街道/区→市中心→市保障办→省）",
)
async def report_ticket(
    ticket_id: TicketId,
    body: ReportIn,
    ctx: Ctx,
    principal: Handler,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.report_ticket(ctx, uow, principal, ticket_id, body),
        status_code=200,
    )


@router.post("/tickets/{ticket_id}/escalate", response_model=TicketOut, summary="人工升级督办")
async def escalate_ticket(
    ticket_id: TicketId,
    body: EscalateIn,
    ctx: Ctx,
    principal: Supervisor,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.escalate_ticket(ctx, uow, principal, ticket_id, body),
        status_code=200,
    )


@router.post(
    "/tickets/{ticket_id}/confirm",
    response_model=TicketOut,
    summary="督察人员确认预警消失并关闭督办单",
)
async def confirm_ticket(
    ticket_id: TicketId,
    body: ConfirmIn,
    ctx: Ctx,
    principal: Supervisor,
    idem: IdempotencyDep,
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.confirm_ticket(ctx, uow, principal, ticket_id, body),
        status_code=200,
    )


# -- notifications -------------------------------------------------------------------------------


@router.get("/notifications", summary="通知及送达结果")
async def list_notifications(
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    status: Annotated[
        Literal["pending", "sent", "failed"] | None, Query(description="送达状态")
    ] = None,
    kind: Annotated[str | None, Query(description="类型", max_length=32)] = None,
) -> Page[NotificationOut]:
    return await queries.list_notifications(
        runtime=runtime, principal=principal, page=page, status=status, kind=kind
    )


# -- cockpit -------------------------------------------------------------------------------------


@router.get("/cockpit", summary="驾驶舱：按地区、单位、案件、环节、规则、督办单逐级下钻")
async def cockpit(
    runtime: RuntimeDep,
    principal: Reader,
    unit: Annotated[str | None, Query(description="地区/单位代码，默认本人单位")] = None,
    application_id: Annotated[uuid.UUID | None, Query(description="下钻到某一案件")] = None,
    stage: Annotated[str | None, Query(description="下钻到某一环节", max_length=40)] = None,
    rule_id: Annotated[str | None, Query(description="下钻到某一规则", max_length=16)] = None,
    colour: Annotated[Literal["yellow", "red"] | None, Query(description="颜色")] = None,
    status: Annotated[Literal["open", "cleared", "all"], Query(description="状态")] = "all",
) -> dict[str, Any]:
    return await queries.cockpit(
        runtime=runtime,
        principal=principal,
        unit=unit,
        application_id=application_id,
        stage=stage,
        rule_id=rule_id,
        colour=colour,
        status=status,
    )


# -- batch reports -------------------------------------------------------------------------------


@router.get("/reports/batches/{batch}", summary="批次通报：进度、各单位时效、红灯及处理结果")
async def batch_report(
    request: Request,
    runtime: RuntimeDep,
    principal: Reader,
    batch: Annotated[str, Path(description=queries.BATCH_HELP, pattern=r"^[A-Za-z0-9_.\-]{1,64}$")],
    format: Annotated[Literal["json", "csv"] | None, Query(description="json 或 csv")] = None,
    part: Annotated[
        Literal["units", "red_lights"], Query(description="CSV 内容：各单位时效或红灯清单")
    ] = "red_lights",
) -> Any:
    return await queries.batch_report(
        accept=request.headers.get("accept", ""),
        runtime=runtime,
        principal=principal,
        batch=batch,
        format=format,
        part=part,
    )

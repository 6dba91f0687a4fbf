"""HTTP API of the alerting service: rules, alerts, tickets, notifications, cockpit, reports.

Each endpoint authorises (its role dependency) and calls a query (``queries.py``) or, for a
POST, a command (``commands.py``) through ``Idempotency.run``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.alerting import commands, queries, reports, ticket_queries
from services.alerting.context import Ctx
from services.alerting.rules import catalogue
from services.alerting.schemas import (
    AlertOut,
    Category,
    CauseKind,
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
    CurrentPrincipal,
    Principal,
    require_roles,
)
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Forbidden

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


async def _ticket_reader(principal: CurrentPrincipal) -> Principal:
    """Readers, and a department's staff (``department:<code>``) for the tickets addressed to
    their department (协查单位)."""
    if principal.has_role(*_READERS) or principal.departments:
        return principal
    raise Forbidden(f"需要以下角色之一：{', '.join(_READERS)} 或协查单位角色")


async def _ticket_handler(principal: CurrentPrincipal) -> Principal:
    if principal.has_role(*_HANDLERS) or principal.departments:
        return principal
    raise Forbidden(f"需要以下角色之一：{', '.join(_HANDLERS)} 或协查单位角色")


TicketReader = Annotated[Principal, Depends(_ticket_reader)]
TicketHandler = Annotated[Principal, Depends(_ticket_handler)]
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
    principal: TicketReader,
    page: PageDep,
    status: Annotated[Literal["open", "closed", "all"], Query(description="状态")] = "open",
    colour: Annotated[Literal["yellow", "red"] | None, Query(description="颜色")] = None,
    escalated: Annotated[bool | None, Query(description="只看已升级督办的")] = None,
    unit: Annotated[str | None, Query(description="单位代码（含下级）")] = None,
    application_id: Annotated[uuid.UUID | None, Query(description="申请ID")] = None,
    department: Annotated[str | None, Query(description="协查单位代码", max_length=40)] = None,
    category: Annotated[Category | None, Query(description="红灯预警类别（归档分类）")] = None,
    cause_kind: Annotated[CauseKind | None, Query(description="人为或系统因素")] = None,
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
        department=department,
        category=category,
        cause_kind=cause_kind,
    )


FromDate = Annotated[date | None, Query(alias="from", description="起始日期（含）")]
ToDate = Annotated[date | None, Query(description="截止日期（含）")]


@router.get("/tickets/archive", summary="红灯督办反馈分类归档（按红灯预警类别）")
async def ticket_archive(
    runtime: RuntimeDep,
    principal: TicketReader,
    category: Annotated[Category | None, Query(description="红灯预警类别")] = None,
    from_: FromDate = None,
    to: ToDate = None,
) -> dict[str, Any]:
    return await ticket_queries.archive(runtime, principal, category, from_, to)


@router.get(
    "/tickets/export",
    summary="导出人为因素（或系统因素）导致的预警督办单（CSV，报送效能办）",
    response_class=Response,
)
async def ticket_export(
    runtime: RuntimeDep,
    principal: Reader,
    cause: Annotated[CauseKind, Query(description="human 人为因素 / system 系统因素")],
    from_: FromDate = None,
    to: ToDate = None,
) -> Response:
    return await ticket_queries.export(runtime, principal, cause, from_, to)


@router.get("/tickets/{ticket_id}", summary="督办单详情（含办理、报告、升级记录）")
async def get_ticket(
    ticket_id: TicketId, runtime: RuntimeDep, principal: TicketReader
) -> TicketOut:
    return await queries.get_ticket(ticket_id=ticket_id, runtime=runtime, principal=principal)


@router.get(
    "/tickets/{ticket_id}/letter",
    summary="《电子监察工作联系函》（可打印的中文网页）",
    response_class=HTMLResponse,
)
async def ticket_letter(
    ticket_id: TicketId, runtime: RuntimeDep, principal: TicketReader
) -> HTMLResponse:
    return await ticket_queries.letter(runtime, principal, ticket_id)


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
    principal: TicketHandler,
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
    summary="逐级书面报告（街道/协查单位→区→市中心→市保障办→省）",
)
async def report_ticket(
    ticket_id: TicketId,
    body: ReportIn,
    ctx: Ctx,
    principal: TicketHandler,
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


@router.get(
    "/reports/departments", summary="各协查部门履职时效：请求数、按时反馈、逾期、超时、空反馈"
)
async def department_report(
    runtime: RuntimeDep, principal: Reader, from_: FromDate = None, to: ToDate = None
) -> dict[str, Any]:
    return await ticket_queries.department_report(runtime, principal, from_, to)


# -- periodic reports (定期通报) ------------------------------------------------------------------


@router.get("/reports/periodic", summary="定期通报清单：月度通报、批次通报（系统自动生成）")
async def list_periodic_reports(
    runtime: RuntimeDep,
    principal: Reader,
    page: PageDep,
    kind: Annotated[
        Literal["monthly", "batch"] | None, Query(description="monthly 月度 / batch 批次")
    ] = None,
) -> Page[dict[str, Any]]:
    return await queries.list_periodic_reports(runtime, page, kind)


# Declared before ``/{report_id}``: that path would otherwise take "….csv" and refuse it as an id.
@router.get("/reports/periodic/{report_id}.csv", summary="定期通报（CSV）")
async def periodic_report_csv(
    report_id: uuid.UUID, runtime: RuntimeDep, principal: Reader
) -> Response:
    content = await queries.periodic_report(runtime, report_id)
    return Response(
        content=reports.to_csv(content),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="report-{content["kind"]}-{content["period"]}.csv"'
            )
        },
    )


@router.get(
    "/reports/periodic/{report_id}/print",
    response_class=HTMLResponse,
    summary="定期通报（打印版，A4）",
)
async def periodic_report_print(
    report_id: uuid.UUID, runtime: RuntimeDep, principal: Reader
) -> HTMLResponse:
    content = await queries.periodic_report(runtime, report_id)
    city = runtime.city
    return HTMLResponse(reports.to_html(content, city.city.name))


@router.get("/reports/periodic/{report_id}", summary="定期通报（JSON）")
async def periodic_report(
    report_id: uuid.UUID, runtime: RuntimeDep, principal: Reader
) -> dict[str, Any]:
    return await queries.periodic_report(runtime, report_id)

"""Server-rendered Chinese HTML pages for citizens on a phone (Jinja2, autoescaped).

They render the same public read models as the JSON API, so they show exactly what the API
shows: masked entries, conclusions, disclosures, the agency blacklist and the progress query
(rate limited by the same token bucket as ``GET /public/progress``).
"""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.publication import queries
from services.publication.api.html_errors import HtmlErrorRoute
from services.publication.api.rendering import render
from services.publication.context import Ctx
from shared.pagination import PageDep, PageParams
from shared.problems import PROBLEM_RESPONSES, TooManyRequests

_TRACKING_NO = re.compile(r"[A-Za-z0-9-]{4,40}")
_ID_TAIL = re.compile(r"[0-9]{3}[0-9Xx]")

router = APIRouter(
    prefix="/public/pages",
    tags=["public pages 公开网页"],
    responses=PROBLEM_RESPONSES,
    route_class=HtmlErrorRoute,
)


@router.get("", response_class=HTMLResponse, summary="信息公开首页")
async def index(ctx: Ctx) -> HTMLResponse:
    async with ctx.uow() as uow:
        open_page = await queries.list_notices(
            uow.conn, ctx.city, PageParams(limit=20, offset=0), status="open"
        )
        sections = await queries.section_counts(uow.conn, ctx.city)
    return render(
        ctx, "index.html", "住房保障信息公开", open_notices=open_page.items, sections=sections
    )


@router.get("/notices", response_class=HTMLResponse, summary="公示公告")
async def notices_page(ctx: Ctx, page: PageDep) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.list_notices(uow.conn, ctx.city, page)
    return render(ctx, "notices.html", "公示公告", page=found)


@router.get("/notices/{notice_id}", response_class=HTMLResponse, summary="公示详情")
async def notice_page(
    notice_id: uuid.UUID, ctx: Ctx, page: PageDep, entry_id: uuid.UUID | None = None
) -> HTMLResponse:
    async with ctx.uow() as uow:
        detail = await queries.notice_detail(uow.conn, ctx.city, notice_id, page)
    # The objection form (api/objection_pages.py) with a fresh key: a double submit files once.
    form = {"entry_id": str(entry_id) if entry_id else ""}
    return render(
        ctx, "notice.html", detail.title, n=detail, form=form, errors={}, form_key=uuid.uuid4()
    )


@router.get("/disclosures", response_class=HTMLResponse, summary="六公开")
async def disclosures_page(ctx: Ctx) -> HTMLResponse:
    async with ctx.uow() as uow:
        sections = await queries.section_counts(uow.conn, ctx.city)
    return render(ctx, "disclosures.html", "六公开", sections=sections)


@router.get("/disclosures/{section}", response_class=HTMLResponse, summary="六公开栏目")
async def disclosure_page(section: str, ctx: Ctx, page: PageDep) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.section(uow.conn, ctx.city, section, page)
    return render(ctx, "disclosure.html", found.title, s=found)


@router.get("/blacklist", response_class=HTMLResponse, summary="黑中介名单")
async def blacklist_page(ctx: Ctx, page: PageDep) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.blacklist_page(uow.conn, page)
    return render(ctx, "blacklist.html", "黑中介名单", page=found)


@router.get("/lottery", response_class=HTMLResponse, summary="摇号批次")
async def lottery_rounds_page(ctx: Ctx, page: PageDep) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.lottery_round_list(
            uow.conn, ctx.city, page, ctx.settings.allocation_public_url
        )
    return render(ctx, "lottery_rounds.html", "摇号批次", page=found)


@router.get("/lottery/{round_id}", response_class=HTMLResponse, summary="摇号结果")
async def lottery_page(round_id: uuid.UUID, ctx: Ctx, page: PageDep) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.lottery_ranking(
            uow.conn, ctx.city, round_id, page, ctx.settings.allocation_public_url
        )
    title = f"摇号结果（{found.category_name}）" if found.drawn_at else "摇号入围名单"
    return render(ctx, "lottery.html", title, r=found)


@router.get("/waiting-statistics", response_class=HTMLResponse, summary="轮候统计")
async def waiting_statistics_page(ctx: Ctx) -> HTMLResponse:
    async with ctx.uow() as uow:
        rows = await queries.waiting_statistics(uow.conn, ctx.city)
    return render(ctx, "waiting_statistics.html", "轮候统计", rows=rows)


@router.get("/credit-notices", response_class=HTMLResponse, summary="信用公告")
async def credit_notices_page(ctx: Ctx, page: PageDep) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.credit_notices_page(uow.conn, page)
    return render(ctx, "credit_notices.html", "信用公告", page=found)


@router.get("/audit-checkpoints", response_class=HTMLResponse, summary="审计日志签名检查点")
async def audit_checkpoints_page(ctx: Ctx) -> HTMLResponse:
    async with ctx.uow() as uow:
        latest = await queries.latest_checkpoints(uow.conn)
    return render(ctx, "audit_checkpoints.html", "审计日志签名检查点", checkpoints=latest)


@router.get("/progress", response_class=HTMLResponse, summary="申请进度查询")
async def progress_page(
    request: Request, ctx: Ctx, tracking_no: str | None = None, id_tail: str | None = None
) -> HTMLResponse:
    title = "申请进度查询"
    if not tracking_no and not id_tail:
        return render(ctx, "progress.html", title)
    if not (
        tracking_no
        and id_tail
        and _TRACKING_NO.fullmatch(tracking_no)
        and _ID_TAIL.fullmatch(id_tail)
    ):
        return render(
            ctx, "progress.html", title, 422, message="请填写正确的查询编号和身份证号后四位。"
        )
    try:
        ctx.limiter.check(request)
    except TooManyRequests as exc:
        response = render(ctx, "progress.html", title, 429, message=exc.detail)
        response.headers.update(exc.headers())
        return response
    async with ctx.uow() as uow:
        found = await queries.progress(uow.conn, tracking_no, id_tail, ctx.city)
    if found is None:
        return render(
            ctx,
            "progress.html",
            title,
            404,
            tracking_no=tracking_no,
            message="未查询到相符的申请，请核对查询编号和身份证号后四位。",
        )
    return render(ctx, "progress.html", title, tracking_no=tracking_no, p=found)

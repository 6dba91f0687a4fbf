"""Public endpoints (no login): notices, objections, progress, disclosures, blacklist.

Nothing here returns a full resident ID, full name or mobile number; the integration tests scan
every route under ``/public`` for them.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.publication import commands, domain, queries
from services.publication.api.html_errors import HtmlErrorRoute
from services.publication.context import Ctx
from services.publication.schemas import (
    BlacklistEntry,
    CreditNoticeEntry,
    DisclosureSection,
    DisclosureSectionInfo,
    LotteryCommitment,
    LotteryRanking,
    LotteryRound,
    NoticeDetail,
    NoticeSummary,
    ObjectionIn,
    ObjectionReceipt,
    Progress,
    PublicObjection,
    PublishedCheckpoint,
    WaitingStatistics,
)
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import PROBLEM_RESPONSES, TooManyRequests, problem_responses

NoticeKindQuery = Annotated[
    domain.NoticeKind | None, Query(description="类型：qualification、acceptance…")
]
StatusQuery = Annotated[
    str | None, Query(pattern="^(open|closed)$", description="状态：open 公示中，closed 已结束")
]
TrackingNoQuery = Annotated[
    str, Query(pattern=r"^[A-Za-z0-9-]{4,40}$", description="查询编号（受理回执上）")
]
IdTailQuery = Annotated[
    str, Query(pattern=r"^[0-9]{3}[0-9Xx]$", description="申请人身份证号后四位")
]


async def progress_limit(request: Request, ctx: Ctx) -> None:
    """The per-client token bucket of the progress query."""
    ctx.limiter.check(request)


router = APIRouter(
    prefix="/public",
    tags=["public 公开"],
    responses=PROBLEM_RESPONSES,
    # A browser that opens an API address gets a Chinese error page, not problem+json.
    route_class=HtmlErrorRoute,
)


@router.get("/notices", summary="公示与公告列表")
async def list_notices(
    ctx: Ctx, page: PageDep, kind: NoticeKindQuery = None, status: StatusQuery = None
) -> Page[NoticeSummary]:
    async with ctx.uow() as uow:
        return await queries.list_notices(uow.conn, ctx.city, page, kind=kind, status=status)


@router.get("/notices/{notice_id}", summary="公示详情（条目已脱敏）")
async def get_notice(notice_id: uuid.UUID, ctx: Ctx, page: PageDep) -> NoticeDetail:
    async with ctx.uow() as uow:
        return await queries.notice_detail(uow.conn, ctx.city, notice_id, page)


@router.post(
    "/objections",
    status_code=201,
    response_model=ObjectionReceipt,
    summary="对公示条目提出异议",
    responses=problem_responses(TooManyRequests),
)
async def file_objection(
    body: ObjectionIn, ctx: Ctx, idem: IdempotencyDep, request: Request
) -> Response:
    ctx.objection_limiter.check(request)
    return await idem.run(
        ctx.uow, lambda uow: commands.file_objection(ctx, uow, body), status_code=201
    )


@router.get("/objections/{objection_id}", summary="异议办理情况与核查结论")
async def get_objection(objection_id: uuid.UUID, ctx: Ctx) -> PublicObjection:
    async with ctx.uow() as uow:
        return await queries.public_objection(uow.conn, objection_id)


@router.get(
    "/progress",
    summary="申请进度查询（查询编号 + 身份证号后四位）",
    dependencies=[Depends(progress_limit)],
    responses=problem_responses(TooManyRequests),
)
async def get_progress(ctx: Ctx, tracking_no: TrackingNoQuery, id_tail: IdTailQuery) -> Progress:
    async with ctx.uow() as uow:
        return await queries.public_progress(uow.conn, tracking_no, id_tail, ctx.city)


@router.get("/disclosures", summary="六公开栏目")
async def list_disclosures(ctx: Ctx, page: PageDep) -> Page[DisclosureSectionInfo]:
    async with ctx.uow() as uow:
        items = await queries.section_counts(uow.conn, ctx.city)
    return Page.of(items[page.offset : page.offset + page.limit], len(items), page)


@router.get("/disclosures/{section}", summary="六公开栏目内容")
async def get_disclosure(section: str, ctx: Ctx, page: PageDep) -> DisclosureSection:
    async with ctx.uow() as uow:
        return await queries.section(uow.conn, ctx.city, section, page)


@router.get("/credit-notices", summary="信用公告：公告送达与典型案例曝光")
async def get_credit_notices(
    ctx: Ctx,
    page: PageDep,
    kind: Annotated[
        Literal["announcement", "typical_case"] | None,
        Query(description="announcement 公告送达；typical_case 典型案例曝光"),
    ] = None,
) -> Page[CreditNoticeEntry]:
    async with ctx.uow() as uow:
        return await queries.credit_notices_page(uow.conn, page, kind)


@router.get("/audit-checkpoints", summary="审计日志签名检查点（各服务审计链的签名链头）")
async def get_audit_checkpoints(
    ctx: Ctx,
    page: PageDep,
    service: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="服务名，如 intake")
    ] = None,
) -> Page[PublishedCheckpoint]:
    async with ctx.uow() as uow:
        return await queries.checkpoints_page(uow.conn, page, service)


@router.get("/blacklist", summary="黑中介名单")
async def get_blacklist(ctx: Ctx, page: PageDep) -> Page[BlacklistEntry]:
    async with ctx.uow() as uow:
        return await queries.blacklist_page(uow.conn, page)


@router.get("/lottery", summary="摇号批次（入围名单摘要、承诺值、公开随机数、秘密值、种子）")
async def list_lottery_rounds(ctx: Ctx, page: PageDep) -> Page[LotteryRound]:
    async with ctx.uow() as uow:
        return await queries.lottery_round_list(
            uow.conn, ctx.city, page, ctx.settings.allocation_public_url
        )


@router.get("/lottery/{round_id}/commitment", summary="摇号前公布的承诺值及其与摇号所用是否一致")
async def get_lottery_commitment(round_id: uuid.UUID, ctx: Ctx) -> LotteryCommitment:
    async with ctx.uow() as uow:
        return await queries.lottery_commitment(uow.conn, round_id)


@router.get("/lottery/{round_id}", summary="摇号结果（排序已脱敏）及复核文件")
async def get_lottery_round(round_id: uuid.UUID, ctx: Ctx, page: PageDep) -> LotteryRanking:
    async with ctx.uow() as uow:
        return await queries.lottery_ranking(
            uow.conn, ctx.city, round_id, page, ctx.settings.allocation_public_url
        )


@router.get("/waiting-statistics", summary="轮候统计（按类别）")
async def get_waiting_statistics(ctx: Ctx) -> list[WaitingStatistics]:
    async with ctx.uow() as uow:
        return await queries.waiting_statistics(uow.conn, ctx.city)

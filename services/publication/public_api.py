"""Public endpoints (no login): notices, objections, progress, disclosures, blacklist.

Nothing here returns a full resident ID, full name or mobile number; the integration tests scan
every route under ``/public`` for them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from services.publication import domain, queries
from services.publication.config import PublicationConfig, contact_hash_key
from services.publication.pushlog import record_pushes
from services.publication.schemas import (
    BlacklistEntry,
    DisclosureSection,
    DisclosureSectionInfo,
    NoticeDetail,
    NoticeSummary,
    ObjectionIn,
    ObjectionReceipt,
    Progress,
    PublicObjection,
)
from services.publication.tables import notice_entries, notices, objections
from shared.app import RuntimeDep
from shared.clock import now
from shared.events.catalogue import ObjectionFiled
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.pii import keyed_hash, mask_mobile, scrub
from shared.problems import (
    PROBLEM_RESPONSES,
    Conflict,
    NotFound,
    TooManyRequests,
    ValidationProblem,
)
from shared.workdays import default_calendar

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


def client_address(request: Request) -> str:
    # The socket peer. Behind a reverse proxy, run uvicorn with --proxy-headers and the proxy's
    # address in --forwarded-allow-ips so this is the citizen's address, not the proxy's;
    # trusting X-Forwarded-For from anyone would let a client pick its own bucket.
    return request.client.host if request.client else "unknown"


def progress_limiter(config: PublicationConfig) -> Callable[[Request], Awaitable[None]]:
    """A dependency enforcing the per-client token bucket of the progress query."""
    bucket = domain.TokenBucket(
        burst=config.progress_burst, per_second=config.progress_per_minute / 60.0
    )

    async def limit(request: Request) -> None:
        wait = bucket.take(client_address(request), time.monotonic())
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise TooManyRequests(f"查询过于频繁，请{seconds}秒后再试", retry_after=seconds)

    return limit


def build_public_router(
    config: PublicationConfig, limiter: Callable[[Request], Awaitable[None]]
) -> APIRouter:
    router = APIRouter(prefix="/public", tags=["public 公开"], responses=PROBLEM_RESPONSES)
    calendar = default_calendar()

    @router.get("/notices", summary="公示与公告列表")
    async def list_notices(
        runtime: RuntimeDep,
        page: PageDep,
        kind: NoticeKindQuery = None,
        status: StatusQuery = None,
    ) -> Page[NoticeSummary]:
        async with runtime.engine.connect() as conn:
            return await queries.list_notices(conn, runtime.city, page, kind=kind, status=status)

    @router.get("/notices/{notice_id}", summary="公示详情（条目已脱敏）")
    async def get_notice(notice_id: uuid.UUID, runtime: RuntimeDep, page: PageDep) -> NoticeDetail:
        async with runtime.engine.connect() as conn:
            return await queries.notice_detail(conn, runtime.city, notice_id, page)

    @router.post("/objections", status_code=201, summary="对公示条目提出异议")
    async def file_objection(
        body: ObjectionIn, runtime: RuntimeDep, idem: IdempotencyDep
    ) -> ObjectionReceipt:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            notice = (
                await uow.conn.execute(
                    sa.select(notices)
                    .where(notices.c.id == body.notice_id, notices.c.status != "scheduled")
                    .with_for_update()
                )
            ).first()
            if notice is None:
                raise NotFound("公示不存在", field="notice_id")
            at = now()
            if notice.kind not in domain.OBJECTABLE_KINDS:
                raise Conflict("该公告不受理异议", field="notice_id")
            window_end = min(
                notice.closes_at,
                (notice.opened_at or at)
                + timedelta(days=runtime.city.publicity.objection_window_days),
            )
            if notice.status != "open" or at >= window_end:
                raise Conflict("公示期已结束，不再受理异议", field="notice_id")
            entry = (
                await uow.conn.execute(
                    sa.select(notice_entries.c.application_id).where(
                        notice_entries.c.id == body.entry_id,
                        notice_entries.c.notice_id == body.notice_id,
                    )
                )
            ).first()
            if entry is None:
                raise ValidationProblem("该公示中没有此条目", field="entry_id")
            objection_id = uuid.uuid4()
            conclude_by = calendar.add_workdays(at, config.objection_conclude_working_days).date
            await uow.conn.execute(
                objections.insert().values(
                    id=objection_id,
                    notice_id=body.notice_id,
                    entry_id=body.entry_id,
                    application_id=entry.application_id,
                    unit=notice.unit,
                    channel="online",
                    anonymous=False,
                    contact_hash=keyed_hash(body.contact, contact_hash_key()),
                    contact_masked=mask_mobile(body.contact),
                    content=scrub(body.content),
                    filed_at=at,
                    conclude_by=conclude_by,
                    status="pending",
                )
            )
            envelope = uow.emit(
                ObjectionFiled(
                    objection_id=objection_id,
                    notice_id=body.notice_id,
                    application_id=entry.application_id,
                    channel="online",
                    anonymous=False,
                    filed_at=at,
                    conclude_by=conclude_by,
                ),
                subject=str(entry.application_id),
            )
            await record_pushes(
                uow.conn,
                config.province_endpoints,
                event_id=envelope.id,
                event_type=envelope.type,
                occurred_at=envelope.occurred_at,
                items=[envelope.data],
            )
            receipt = ObjectionReceipt(
                objection_id=objection_id, status="pending", filed_at=at, conclude_by=conclude_by
            )
            response = await idem.remember(uow.conn, 201, receipt)
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.get("/objections/{objection_id}", summary="异议办理情况与核查结论")
    async def get_objection(objection_id: uuid.UUID, runtime: RuntimeDep) -> PublicObjection:
        async with runtime.engine.connect() as conn:
            return await queries.public_objection(conn, objection_id)

    @router.get(
        "/progress",
        summary="申请进度查询（查询编号 + 身份证号后四位）",
        dependencies=[Depends(limiter)],
    )
    async def get_progress(
        runtime: RuntimeDep, tracking_no: TrackingNoQuery, id_tail: IdTailQuery
    ) -> Progress:
        async with runtime.engine.connect() as conn:
            found = await queries.progress(conn, tracking_no, id_tail)
        if found is None:
            # One answer for "no such application" and "wrong tail": the endpoint must not
            # confirm that a tracking number exists.
            raise NotFound(
                "未查询到相符的申请，请核对查询编号和身份证号后四位", field="tracking_no"
            )
        return found

    @router.get("/disclosures", summary="六公开栏目")
    async def list_disclosures(runtime: RuntimeDep, page: PageDep) -> Page[DisclosureSectionInfo]:
        async with runtime.engine.connect() as conn:
            items = await queries.section_counts(conn, runtime.city)
        return Page.of(items[page.offset : page.offset + page.limit], len(items), page)

    @router.get("/disclosures/{section}", summary="六公开栏目内容")
    async def get_disclosure(section: str, runtime: RuntimeDep, page: PageDep) -> DisclosureSection:
        async with runtime.engine.connect() as conn:
            return await queries.section(conn, runtime.city, section, page)

    @router.get("/blacklist", summary="黑中介名单")
    async def get_blacklist(runtime: RuntimeDep, page: PageDep) -> Page[BlacklistEntry]:
        async with runtime.engine.connect() as conn:
            return await queries.blacklist_page(conn, page)

    return router

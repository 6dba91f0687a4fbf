"""Staff endpoints: create and close notices, read and conclude objections.

Every operation and every read of objection content is written to the audit log in the same
transaction.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from services.publication import domain, queries
from services.publication.config import PublicationConfig
from services.publication.notices import close_notice, gather_entries, insert_notice
from services.publication.pushlog import record_pushes
from services.publication.schemas import (
    NoticeClose,
    NoticeCreate,
    NoticeSummary,
    ObjectionConclusionIn,
    StaffObjection,
)
from services.publication.tables import notices, objections
from shared.app import RuntimeDep
from shared.audit import record
from shared.auth import (
    CASEWORK_ROLES,
    CITY_CLERK,
    CITY_LEADER,
    CITY_REVIEWER,
    DISCIPLINE_INSPECTOR,
    DISTRICT_CLERK,
    DISTRICT_REVIEWER,
    STREET_CLERK,
    SUPERVISOR,
    Principal,
    ensure_can_act,
    require_roles,
)
from shared.clock import now
from shared.events.catalogue import ObjectionConcluded
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import PROBLEM_RESPONSES, Conflict, NotFound, ValidationProblem

Clerk = Annotated[Principal, Depends(require_roles(STREET_CLERK, DISTRICT_CLERK, CITY_CLERK))]
Leader = Annotated[Principal, Depends(require_roles(CITY_LEADER))]
Investigator = Annotated[
    Principal,
    Depends(
        require_roles(DISTRICT_CLERK, DISTRICT_REVIEWER, CITY_CLERK, CITY_REVIEWER, CITY_LEADER)
    ),
]
StaffReader = Annotated[
    Principal,
    Depends(
        require_roles(
            *CASEWORK_ROLES,
            SUPERVISOR,
            DISCIPLINE_INSPECTOR,
        )
    ),
]


def _audit_actor(principal: Principal) -> dict[str, object]:
    return {
        "actor": principal.sub,
        "actor_roles": sorted(principal.roles),
        "actor_org": principal.org,
    }


def build_staff_router(config: PublicationConfig) -> APIRouter:
    router = APIRouter(tags=["staff 经办"], responses=PROBLEM_RESPONSES)

    @router.post("/notices", status_code=201, summary="发布公示/公告（资格公示不少于7天）")
    async def create_notice(
        body: NoticeCreate, principal: Clerk, runtime: RuntimeDep, idem: IdempotencyDep
    ) -> NoticeSummary:
        city = runtime.city
        if city.unit(body.unit) is None:
            raise ValidationProblem(f"{body.unit} 不是本市的行政单位", field="unit")
        ensure_can_act(principal, body.unit)
        reason = domain.period_problem(body.kind, body.days, city.publicity.min_days)
        if reason is not None:
            raise ValidationProblem(reason, field="days")
        opens_at = body.opens_at or now()
        if body.kind in ("lottery_shortlist", "allocation", "exit") and not body.application_ids:
            raise ValidationProblem("该类型须列明申请编号", field="application_ids")
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            entries, unknown = await gather_entries(
                uow.conn, kind=body.kind, unit=body.unit, application_ids=body.application_ids
            )
            if unknown:
                index = (body.application_ids or []).index(unknown[0])
                raise ValidationProblem(
                    f"申请 {unknown[0]} 不存在、不属于该单位或不符合列入条件",
                    field=f"application_ids.{index}",
                )
            if not entries:
                raise ValidationProblem("没有可列入的申请", field="application_ids")
            row = await insert_notice(
                uow,
                config,
                kind=body.kind,
                city=city.city.code,
                unit=body.unit,
                batch=body.batch,
                opens_at=opens_at,
                days=body.days,
                entries=entries,
                created_by=principal.sub,
            )
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="notice.created",
                subject_type="notice",
                subject_id=row["id"],
                details={
                    "kind": body.kind,
                    "unit": body.unit,
                    "batch": body.batch,
                    "days": body.days,
                    "entries": len(entries),
                    "status": row["status"],
                },
            )
            created = (
                await uow.conn.execute(sa.select(notices).where(notices.c.id == row["id"]))
            ).one()
            result = queries.summary(city, created)
            response = await idem.remember(uow.conn, 201, result)
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.get("/notices", summary="公示/公告列表（含待发布）")
    async def staff_notices(
        principal: StaffReader,
        runtime: RuntimeDep,
        page: PageDep,
        kind: Annotated[domain.NoticeKind | None, Query()] = None,
    ) -> Page[NoticeSummary]:
        async with runtime.engine.connect() as conn:
            unit = None if principal.has_role(DISCIPLINE_INSPECTOR) else principal.org
            return await queries.list_notices(
                conn,
                runtime.city,
                page,
                kind=kind,
                statuses=("scheduled", "open", "closed"),
                unit=unit,
            )

    @router.post(
        "/notices/{notice_id}/close",
        summary="提前结束公示（需市级领导批准并说明理由，将触发R7红灯）",
    )
    async def close_early(
        notice_id: uuid.UUID,
        body: NoticeClose,
        principal: Leader,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> NoticeSummary:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            notice = (
                await uow.conn.execute(
                    sa.select(notices).where(notices.c.id == notice_id).with_for_update()
                )
            ).first()
            if notice is None:
                raise NotFound("公示不存在", field="notice_id")
            ensure_can_act(principal, notice.unit)
            at = now()
            if notice.status != "open":
                raise Conflict("只有公示中的公示可以提前结束", field="notice_id")
            if at >= notice.closes_at:
                raise Conflict("公示期已满，将按期自动结束", field="notice_id")
            await close_notice(
                uow,
                config,
                notice,
                at,
                early=True,
                override_by=principal.sub,
                reason=body.reason,
            )
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="notice.closed_early",
                subject_type="notice",
                subject_id=notice_id,
                details={"reason": body.reason, "planned_closes_at": notice.closes_at.isoformat()},
            )
            closed = (
                await uow.conn.execute(sa.select(notices).where(notices.c.id == notice_id))
            ).one()
            response = await idem.remember(uow.conn, 200, queries.summary(runtime.city, closed))
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.get("/objections", summary="异议列表（经办人员）")
    async def staff_objections(
        principal: StaffReader,
        runtime: RuntimeDep,
        page: PageDep,
        status: Annotated[str | None, Query(pattern="^(pending|concluded)$")] = None,
    ) -> Page[StaffObjection]:
        where = []
        if not principal.has_role(DISCIPLINE_INSPECTOR) and not principal.is_admin:
            where.append(
                objections.c.unit.startswith(queries.unit_prefix(principal.org), autoescape=True)
            )
        if status:
            where.append(objections.c.status == status)
        async with runtime.uow() as uow:
            total = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(objections).where(*where)
            )
            rows = (
                await uow.conn.execute(
                    sa.select(objections)
                    .where(*where)
                    .order_by(objections.c.filed_at, objections.c.id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
            # Objection texts are about a household: reading them is recorded.
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="objections.read",
                subject_type="objection",
                subject_id="list",
                details={"ids": [str(r.id) for r in rows], "status": status},
            )
            await uow.commit()
        items = [
            StaffObjection(
                objection_id=r.id,
                notice_id=r.notice_id,
                entry_id=r.entry_id,
                application_id=r.application_id,
                unit=r.unit,
                contact_masked=r.contact_masked,
                content=r.content,
                filed_at=r.filed_at,
                conclude_by=r.conclude_by,
                status=r.status,
                outcome=r.outcome,
                conclusion=r.conclusion,
                concluded_at=r.concluded_at,
            )
            for r in rows
        ]
        return Page.of(items, int(total or 0), page)

    @router.post("/objections/{objection_id}/conclusion", summary="录入异议核查结论（将公开）")
    async def conclude(
        objection_id: uuid.UUID,
        body: ObjectionConclusionIn,
        principal: Investigator,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> dict[str, object]:
        if domain.has_unmasked_pii(body.conclusion):
            raise ValidationProblem(
                "核查结论将公开发布，不得包含完整的身份证号码或手机号码", field="conclusion"
            )
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            row = (
                await uow.conn.execute(
                    sa.select(objections, notices.c.city)
                    .join(notices, notices.c.id == objections.c.notice_id)
                    .where(objections.c.id == objection_id)
                    .with_for_update(of=objections)
                )
            ).first()
            if row is None:
                raise NotFound("异议不存在", field="objection_id")
            ensure_can_act(principal, row.unit)
            if row.status != "pending":
                raise Conflict("该异议已办结", field="objection_id")
            at = now()
            await uow.conn.execute(
                objections.update()
                .where(objections.c.id == objection_id)
                .values(
                    status="concluded",
                    outcome=body.outcome,
                    conclusion=body.conclusion,
                    concluded_by=principal.sub,
                    concluded_at=at,
                )
            )
            envelope = uow.emit(
                ObjectionConcluded(
                    objection_id=objection_id,
                    notice_id=row.notice_id,
                    application_id=row.application_id,
                    outcome=body.outcome,
                    conclusion=body.conclusion,
                    concluded_by=principal.sub,
                    concluded_at=at,
                ),
                subject=str(row.application_id),
            )
            await record_pushes(
                uow.conn,
                config.province_endpoints,
                event_id=envelope.id,
                event_type=envelope.type,
                occurred_at=envelope.occurred_at,
                items=[envelope.data],
            )
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="objection.concluded",
                subject_type="objection",
                subject_id=objection_id,
                details={"outcome": body.outcome, "conclusion": body.conclusion},
            )
            result = {
                "objection_id": str(objection_id),
                "status": "concluded",
                "outcome": body.outcome,
                "concluded_at": at.isoformat(),
            }
            response = await idem.remember(uow.conn, 200, result)
            await uow.commit()
        return response  # type: ignore[return-value]

    return router

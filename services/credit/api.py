"""HTTP API of the credit service (DESIGN §4): records, the notice procedure, bans, candidates.

Endpoints turn a request into one call of :mod:`services.credit.registry` inside a unit of
work, with ``Idempotency-Key`` honoured on every POST and an audit entry for every staff action
and every staff read of household data (masked as it is).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.engine import Row

from services.credit import domain, registry, schemas
from services.credit.registry import CreditContext
from services.credit.tables import bans, candidates, notice_steps, pledges, records
from shared.app import RuntimeDep
from shared.audit import record as audit
from shared.auth import (
    ADMIN,
    CITY_LEADER,
    CREDIT_OFFICER,
    DISCIPLINE_INSPECTOR,
    GLOBAL_READ_ROLES,
    SERVICE,
    SUPERVISOR,
    CurrentPrincipal,
    Principal,
    ensure_can_read,
    require_roles,
    unit_level,
)
from shared.clock import today_shanghai
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Forbidden

Officer = Annotated[Principal, Depends(require_roles(CREDIT_OFFICER))]
Approver = Annotated[Principal, Depends(require_roles(CREDIT_OFFICER, CITY_LEADER))]
Reader = Annotated[
    Principal,
    Depends(require_roles(CREDIT_OFFICER, CITY_LEADER, SUPERVISOR, DISCIPLINE_INSPECTOR)),
]
ServiceCaller = Annotated[Principal, Depends(require_roles(SERVICE))]
ID_HASH_PATTERN = r"^[0-9a-f]{64}$"
IdHashParam = Annotated[
    str, Path(pattern=ID_HASH_PATTERN, description="身份标识摘要（64位十六进制）")
]


def _unit_filter(principal: Principal, column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """Rows of the principal's unit and every unit below it (division codes nest by prefix)."""
    if principal.has_role(*GLOBAL_READ_ROLES):
        return sa.true()
    prefix = {"province": 2, "city": 4, "district": 6, "street": 9}[unit_level(principal.org)]
    return column.startswith(principal.org[:prefix], autoescape=True)


async def _audit_read(
    uow: UnitOfWork, principal: Principal, what: str, subject: str, **details: Any
) -> None:
    await audit(
        uow.conn,
        actor=principal.sub,
        actor_roles=sorted(principal.roles),
        actor_org=principal.org,
        action=f"credit.read.{what}",
        subject_type=what,
        subject_id=subject,
        details=details,
    )


async def _department_or_service(principal: CurrentPrincipal) -> Principal:
    """Other departments' systems (``department:<dept>``), platform services and admins."""
    if principal.is_admin or principal.has_role(SERVICE) or principal.departments:
        return principal
    raise Forbidden(
        "仅限其他部门系统或平台服务调用", extra={"required_roles": [SERVICE, "department:*"]}
    )


def _ban_out(row: Row[Any]) -> schemas.BanOut:
    return schemas.BanOut.model_validate(row, from_attributes=True)


def _record_out(
    ctx: CreditContext,
    row: Row[Any],
    steps: list[Row[Any]] | None = None,
    ban: Row[Any] | None = None,
) -> schemas.RecordOut:
    data = dict(row._mapping)
    data |= {
        "kind_title": ctx.kind_of(row.kind, row.category).title,
        "stage_title": domain.STAGE_TITLES[domain.Stage(row.stage)],
        "steps": None
        if steps is None
        else [
            schemas.StepOut(
                **{k: v for k, v in s._mapping.items() if k in schemas.StepOut.model_fields},
                stage_title=domain.STAGE_TITLES[domain.Stage(s.stage)],
            )
            for s in steps
        ],
        "ban": _ban_out(ban) if ban is not None else None,
    }
    return schemas.RecordOut.model_validate(data)


async def _record_detail(
    uow: UnitOfWork, ctx: CreditContext, record_id: uuid.UUID
) -> schemas.RecordOut:
    row = await registry.load_record(uow, record_id)
    steps = (
        await uow.conn.execute(
            sa.select(notice_steps)
            .where(notice_steps.c.record_id == record_id)
            .order_by(notice_steps.c.id)
        )
    ).all()
    ban = (await uow.conn.execute(sa.select(bans).where(bans.c.record_id == record_id))).first()
    return _record_out(ctx, row, steps, ban)


def build_router(ctx: CreditContext) -> APIRouter:
    router = APIRouter(tags=["credit"])

    # ---------------------------------------------------------------- records

    @router.post("/records", status_code=201, summary="录入失信记录（待另一名工作人员审批）")
    async def create_record(
        body: schemas.RecordIn, principal: Officer, runtime: RuntimeDep, idem: IdempotencyDep
    ) -> schemas.RecordOut:
        subject = registry.subject_of(
            ctx,
            body.category,
            resident_id=body.resident_id,
            name=body.name,
            org_name=body.org_name,
            org_credit_code=body.org_credit_code,
        )
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            record_id = await registry.create_record(
                uow,
                ctx,
                principal,
                category=body.category,
                kind=body.kind,
                severity=body.severity,
                origin=body.origin,
                facts=body.facts,
                evidence=[e.model_dump(exclude_none=True) for e in body.evidence],
                subject=subject,
                application_id=body.application_id,
            )
            out = await _record_detail(uow, ctx, record_id)
            response = await idem.remember(uow.conn, 201, out)
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.get("/records", summary="失信记录列表")
    async def list_records(
        principal: Reader,
        runtime: RuntimeDep,
        page: PageDep,
        stage: Annotated[domain.Stage | None, Query(description="步骤")] = None,
        category: Annotated[domain.Category | None, Query(description="对象类别")] = None,
        id_hash: Annotated[
            str | None, Query(pattern=ID_HASH_PATTERN, description="对象标识摘要")
        ] = None,
    ) -> Page[schemas.RecordOut]:
        where = [_unit_filter(principal, records.c.unit)]
        if stage is not None:
            where.append(records.c.stage == stage.value)
        if category is not None:
            where.append(records.c.category == category)
        if id_hash is not None:
            where.append(records.c.id_hash == id_hash)
        async with runtime.uow() as uow:
            total = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(records).where(*where)
            )
            rows = (
                await uow.conn.execute(
                    sa.select(records)
                    .where(*where)
                    .order_by(records.c.recorded_at.desc(), records.c.id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
            await _audit_read(
                uow,
                principal,
                "credit_records",
                "list",
                count=len(rows),
                stage=stage,
                category=category,
            )
            await uow.commit()
        return Page.of([_record_out(ctx, r) for r in rows], int(total or 0), page)

    @router.get("/records/{record_id}", summary="失信记录详情（含告知程序各步骤和禁入）")
    async def get_record(
        record_id: uuid.UUID, principal: Reader, runtime: RuntimeDep
    ) -> schemas.RecordOut:
        async with runtime.uow() as uow:
            out = await _record_detail(uow, ctx, record_id)
            ensure_can_read(principal, out.unit)
            await _audit_read(uow, principal, "credit_record", str(record_id))
            await uow.commit()
        return out

    async def _decide(
        record_id: uuid.UUID,
        principal: Principal,
        runtime: Any,
        idem: Any,
        *,
        approve: bool,
        note: str | None,
    ) -> Any:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay
            await registry.decide_record(uow, principal, record_id, approve=approve, note=note)
            out = await _record_detail(uow, ctx, record_id)
            response = await idem.remember(uow.conn, 200, out)
            await uow.commit()
        return response

    @router.post("/records/{record_id}/approve", summary="审批失信记录（审批人不得为录入人）")
    async def approve_record(
        record_id: uuid.UUID,
        body: schemas.ApproveIn,
        principal: Approver,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> schemas.RecordOut:
        return await _decide(record_id, principal, runtime, idem, approve=True, note=body.note)

    @router.post("/records/{record_id}/reject", summary="退回失信记录（不予记录）")
    async def reject_record(
        record_id: uuid.UUID,
        body: schemas.ReasonIn,
        principal: Approver,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> schemas.RecordOut:
        return await _decide(record_id, principal, runtime, idem, approve=False, note=body.reason)

    @router.post("/records/{record_id}/notices", summary="告知程序的下一步骤")
    async def take_notice_step(
        record_id: uuid.UUID,
        body: schemas.NoticeStepIn,
        principal: Officer,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> schemas.RecordOut:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            await registry.take_step(
                uow,
                ctx,
                principal,
                record_id,
                step=body.step,
                document_no=body.document_no,
                note=body.note,
                announcement=body.announcement,
            )
            out = await _record_detail(uow, ctx, record_id)
            response = await idem.remember(uow.conn, 200, out)
            await uow.commit()
        return response  # type: ignore[return-value]

    # ---------------------------------------------------------------- bans

    @router.post(
        "/records/{record_id}/lift",
        status_code=202,
        summary="申请提前解除禁入（须另一名工作人员审批后生效）",
    )
    async def request_lift(
        record_id: uuid.UUID,
        body: schemas.ReasonIn,
        principal: Officer,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> schemas.RecordOut:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            await registry.request_lift(uow, principal, record_id, body.reason)
            out = await _record_detail(uow, ctx, record_id)
            response = await idem.remember(uow.conn, 202, out)
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.post("/records/{record_id}/lift/approve", summary="审批提前解除禁入")
    async def approve_lift(
        record_id: uuid.UUID,
        body: schemas.ApproveIn,
        principal: Approver,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> schemas.RecordOut:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            await registry.approve_lift(uow, principal, record_id, body.note)
            out = await _record_detail(uow, ctx, record_id)
            response = await idem.remember(uow.conn, 200, out)
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.get("/bans/{id_hash}", summary="按身份摘要查询禁入（服务间调用）")
    async def ban_status(
        id_hash: IdHashParam, principal: ServiceCaller, runtime: RuntimeDep
    ) -> schemas.BanStatusOut:
        today = today_shanghai()
        async with runtime.uow() as uow:
            rows = (
                await uow.conn.execute(
                    sa.select(bans)
                    .where(
                        bans.c.id_hash == id_hash, bans.c.status == "active", bans.c.ends_on > today
                    )
                    .order_by(bans.c.ends_on.desc())
                )
            ).all()
            if principal.has_role(ADMIN) and not principal.has_role(SERVICE):
                await _audit_read(uow, principal, "credit_ban", id_hash)
                await uow.commit()
        return schemas.BanStatusOut(
            id_hash=id_hash, banned=bool(rows), bans=[_ban_out(r) for r in rows]
        )

    @router.get("/blacklist", summary="中介黑名单（当前在列）")
    async def blacklist(
        principal: Annotated[
            Principal, Depends(require_roles(SERVICE, CREDIT_OFFICER, SUPERVISOR))
        ],
        runtime: RuntimeDep,
        page: PageDep,
    ) -> Page[schemas.BlacklistEntryOut]:
        today = today_shanghai()
        where = [
            records.c.category == "agency",
            bans.c.status == "active",
            bans.c.ends_on > today,
        ]
        joined = records.join(bans, bans.c.record_id == records.c.id)
        async with runtime.uow() as uow:
            total = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(joined).where(*where)
            )
            rows = (
                await uow.conn.execute(
                    sa.select(
                        records.c.id,
                        records.c.org_name,
                        records.c.org_credit_code,
                        records.c.kind,
                        bans.c.starts_on,
                        bans.c.ends_on,
                    )
                    .select_from(joined)
                    .where(*where)
                    .order_by(bans.c.starts_on.desc(), records.c.id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
        items = [
            schemas.BlacklistEntryOut(
                record_id=r.id,
                org_name=r.org_name,
                org_credit_code=r.org_credit_code,
                kind=r.kind,
                kind_title=ctx.kind_of(r.kind, "agency").title,
                listed_on=r.starts_on,
                until=r.ends_on - timedelta(days=1),
            )
            for r in rows
        ]
        return Page.of(items, int(total or 0), page)

    @router.get(
        "/shared-records/{id_hash}",
        summary="信用记录共享：已记入诚信档案的记录（供其他部门联合惩戒）",
    )
    async def shared_records(
        id_hash: IdHashParam,
        principal: Annotated[Principal, Depends(_department_or_service)],
        runtime: RuntimeDep,
        page: PageDep,
    ) -> Page[schemas.SharedRecordOut]:
        # Only filed records (记入诚信档案 and later), and only what joint punishment needs:
        # no facts, evidence or officers.
        filed = [s.value for s in domain.FILED_STAGES]
        where = [records.c.id_hash == id_hash, records.c.stage.in_(filed)]
        joined = records.join(bans, bans.c.record_id == records.c.id)
        async with runtime.uow() as uow:
            total = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(joined).where(*where)
            )
            rows = (
                await uow.conn.execute(
                    sa.select(
                        records.c.id,
                        records.c.record_no,
                        records.c.category,
                        records.c.kind,
                        records.c.severity,
                        records.c.filed_on,
                        bans.c.ends_on,
                        bans.c.status,
                        bans.c.lifted_on,
                    )
                    .select_from(joined)
                    .where(*where)
                    .order_by(records.c.filed_on.desc(), records.c.id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
            await _audit_read(uow, principal, "credit_shared_records", id_hash, count=len(rows))
            await uow.commit()
        today = today_shanghai()
        items = [
            schemas.SharedRecordOut(
                record_id=r.id,
                record_no=r.record_no,
                subject_kind=domain.event_subject_kind(r.category),
                kind=r.kind,
                kind_title=ctx.kind_of(r.kind, r.category).title,
                severity=r.severity,
                filed_on=r.filed_on,
                sanction_ends_on=r.ends_on,
                sanction_in_force=domain.ban_in_force(r.ends_on, r.status != "active", today),
                lifted_on=r.lifted_on,
            )
            for r in rows
        ]
        return Page.of(items, int(total or 0), page)

    # ---------------------------------------------------------------- candidates and pledges

    @router.get("/candidates", summary="待确认的失信线索（来自协查比对差异）")
    async def list_candidates(
        principal: Officer,
        runtime: RuntimeDep,
        page: PageDep,
        status: Annotated[str | None, Query(pattern="^(open|confirmed|dismissed)$")] = "open",
        application_id: uuid.UUID | None = None,
    ) -> Page[schemas.CandidateOut]:
        where = []
        if status is not None:
            where.append(candidates.c.status == status)
        if application_id is not None:
            where.append(candidates.c.application_id == application_id)
        joined = candidates.outerjoin(
            pledges, pledges.c.application_id == candidates.c.application_id
        )
        async with runtime.uow() as uow:
            total = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(candidates).where(*where)
            )
            rows = (
                await uow.conn.execute(
                    sa.select(
                        candidates, pledges.c.applicant_id_hash, pledges.c.applicant_id_masked
                    )
                    .select_from(joined)
                    .where(*where)
                    .order_by(candidates.c.created_at, candidates.c.id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
            await _audit_read(
                uow, principal, "credit_candidates", "list", count=len(rows), status=status
            )
            await uow.commit()
        items = [
            schemas.CandidateOut(
                **{
                    k: v
                    for k, v in r._mapping.items()
                    if k in schemas.CandidateOut.model_fields and k != "id_hash"
                },
                # Empty hash: a household-level finding whose applicant is not known here yet.
                id_hash=r.id_hash or None,
                subject_id_masked=r.applicant_id_masked
                if r.id_hash and r.id_hash == r.applicant_id_hash
                else None,
            )
            for r in rows
        ]
        return Page.of(items, int(total or 0), page)

    @router.post(
        "/candidates/{candidate_id}/confirm", status_code=201, summary="确认线索并录入失信记录"
    )
    async def confirm_candidate(
        candidate_id: uuid.UUID,
        body: schemas.CandidateConfirmIn,
        principal: Officer,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> schemas.RecordOut:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            record_id = await registry.confirm_candidate(
                uow,
                ctx,
                principal,
                candidate_id,
                kind=body.kind,
                severity=body.severity,
                facts=body.facts,
                resident_id=body.resident_id,
                name=body.name,
            )
            out = await _record_detail(uow, ctx, record_id)
            response = await idem.remember(uow.conn, 201, out)
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.post("/candidates/{candidate_id}/dismiss", summary="排除线索（不予记录）")
    async def dismiss_candidate(
        candidate_id: uuid.UUID,
        body: schemas.ReasonIn,
        principal: Officer,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> dict[str, str]:
        async with runtime.uow() as uow:
            if (replay := await idem.replay(uow.conn)) is not None:
                return replay  # type: ignore[return-value]
            await registry.dismiss_candidate(uow, principal, candidate_id, body.reason)
            response = await idem.remember(
                uow.conn, 200, {"id": str(candidate_id), "status": "dismissed"}
            )
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.get("/pledges", summary="守信承诺书登记")
    async def list_pledges(
        principal: Reader,
        runtime: RuntimeDep,
        page: PageDep,
        id_hash: Annotated[
            str | None, Query(pattern=ID_HASH_PATTERN, description="成员身份摘要")
        ] = None,
        application_id: uuid.UUID | None = None,
    ) -> Page[schemas.PledgeOut]:
        where = []
        if id_hash is not None:
            where.append(sa.literal(id_hash) == sa.any_(pledges.c.member_id_hashes))
        if application_id is not None:
            where.append(pledges.c.application_id == application_id)
        async with runtime.uow() as uow:
            total = await uow.conn.scalar(
                sa.select(sa.func.count()).select_from(pledges).where(*where)
            )
            rows = (
                await uow.conn.execute(
                    sa.select(pledges)
                    .where(*where)
                    .order_by(pledges.c.submitted_at.desc(), pledges.c.application_id)
                    .limit(page.limit)
                    .offset(page.offset)
                )
            ).all()
            await _audit_read(uow, principal, "credit_pledges", "list", count=len(rows))
            await uow.commit()
        items = [
            schemas.PledgeOut(
                **{k: v for k, v in r._mapping.items() if k in schemas.PledgeOut.model_fields},
                member_count=len(r.member_id_hashes),
            )
            for r in rows
        ]
        return Page.of(items, int(total or 0), page)

    return router

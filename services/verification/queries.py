"""Verification's read side: a case with its departments, a department's requests, the
admission parameter versions. Reads of household data are audited in the same transaction."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from services.verification import store
from services.verification.context import VerificationContext
from services.verification.schemas import (
    DepartmentRequestView,
    DepartmentStatus,
    ParameterSetView,
    VerificationView,
)
from services.verification.store import ParameterSet
from services.verification.tables import department_requests, verification_cases
from shared.audit import record
from shared.auth import Principal, ensure_can_read
from shared.clock import today_shanghai
from shared.pagination import Page, PageParams
from shared.problems import NotFound


def parameter_view(p: ParameterSet) -> ParameterSetView:
    return ParameterSetView(
        id=p.id,
        city=p.city,
        category=p.category,
        version=p.version,
        status=p.status,  # type: ignore[arg-type]
        parameters=p.parameters.model_dump(mode="json"),
        effective_from=p.effective_from,
        reason=p.reason,
        proposed_by=p.proposed_by,
        proposed_at=p.proposed_at,
        decided_by=p.decided_by,
        decided_at=p.decided_at,
    )


async def verification(
    ctx: VerificationContext, principal: Principal, application_id: uuid.UUID
) -> VerificationView:
    async with ctx.uow() as uow:
        case = (
            await uow.conn.execute(
                # The application's own verification; its re-reviews are tenancy's to show.
                sa.select(verification_cases).where(
                    verification_cases.c.application_id == application_id,
                    verification_cases.c.purpose == "admission",
                )
            )
        ).first()
        if case is None:
            raise NotFound(detail="该申请尚无核查记录。", field="application_id")
        ensure_can_read(principal, case.street)
        r = department_requests
        requests = (
            await uow.conn.execute(
                sa.select(r).where(r.c.case_id == case.case_id).order_by(r.c.department)
            )
        ).all()
        # The profile is the household's economic data: a staff read is audited.
        await record(
            uow.conn,
            **principal.audit_actor(),
            action="verification.read",
            subject_type="verification_case",
            subject_id=case.case_id,
            details={"application_id": str(application_id)},
        )
        await uow.commit()
    names = {d.code: d.name for d in ctx.city.departments}
    return VerificationView(
        case_id=case.case_id,
        application_id=case.application_id,
        tracking_no=case.tracking_no,
        category=case.category,
        street=case.street,
        status=case.status,
        started_at=case.started_at,
        due_on=case.due_on,
        completed_at=case.completed_at,
        recommendation=case.recommendation,
        result=case.result,
        departments=[
            DepartmentStatus(
                department=q.department,
                name=names.get(q.department, q.department),
                status=q.status,
                deadline=q.deadline,
                overdue=q.overdue_at is not None,
                answered_at=q.answered_at,
                channel=q.channel,
                no_record=q.no_record,
                empty=q.empty,
                late=q.late,
            )
            for q in requests
        ],
    )


async def department_requests_page(
    ctx: VerificationContext,
    principal: Principal,
    department: str,
    status: str,
    page: PageParams,
) -> Page[DepartmentRequestView]:
    r = department_requests
    where = [r.c.department == department]
    if status != "all":
        where.append(r.c.status == status)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(r).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(r, verification_cases.c.purpose)
                .join(verification_cases, verification_cases.c.case_id == r.c.case_id)
                .where(*where)
                .order_by(r.c.requested_at, r.c.request_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        # Subjects carry names and ID numbers: the department's read is audited.
        await record(
            uow.conn,
            **principal.audit_actor(),
            action="department.requests_read",
            subject_type="department",
            subject_id=department,
            details={"status": status, "returned": len(rows), "offset": page.offset},
        )
        await uow.commit()
    items = [
        DepartmentRequestView(
            request_id=row.request_id,
            case_id=row.case_id,
            application_id=row.application_id,
            department=row.department,
            requested_at=row.requested_at,
            deadline=row.deadline,
            time_limit_working_days=row.time_limit_working_days,
            status=row.status,
            overdue=row.status == "pending" and row.deadline < today_shanghai(),
            subjects=row.subjects,
            purpose=row.purpose,
        )
        for row in rows
    ]
    return Page[DepartmentRequestView].of(items, int(total or 0), page)


async def parameters_page(
    ctx: VerificationContext, category: str | None, status: str | None, page: PageParams
) -> Page[ParameterSetView]:
    async with ctx.uow() as uow:
        items, total = await store.listing(
            uow.conn,
            city=ctx.city.city.code,
            category=category,
            status=status,
            limit=page.limit,
            offset=page.offset,
        )
    return Page[ParameterSetView].of([parameter_view(p) for p in items], total, page)

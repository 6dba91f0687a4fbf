"""The read side of review: the presets with their diagrams, my to-do list, the case view.

Reading a case is audited (who looked at whose file), so ``read_case`` writes an audit entry
in the caller's unit of work; the others only read.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.review import domain, problems, store
from services.review.context import ReviewContext
from services.review.schemas import (
    CaseOut,
    ObjectionOut,
    SignatureOut,
    StageRunOut,
    SuspensionOut,
    TaskOut,
    VerificationOut,
    WorkflowOut,
)
from services.review.tables import (
    cases,
    objections,
    signatures,
    stage_runs,
    suspensions,
    verifications,
)
from services.review.workflow import mermaid
from shared.audit import record
from shared.auth import Principal, ensure_can_read, within
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.pagination import Page, PageParams


def list_workflows(ctx: ReviewContext, page: PageParams) -> Page[WorkflowOut]:
    active = ctx.city.workflow.value
    items = [
        WorkflowOut(
            name=wf.name,
            version=wf.version,
            title=wf.title,
            source=wf.source,
            active=wf.name == active,
            total_limit_working_days=wf.total_limit_working_days,
            budget_working_days=wf.budget_used(),
            definition=wf.model_dump(mode="json"),
            mermaid=mermaid(wf),
        )
        for wf in sorted(ctx.workflows.values(), key=lambda w: w.name)
    ]
    return Page.of(items[page.offset : page.offset + page.limit], len(items), page)


async def my_tasks(ctx: ReviewContext, principal: Principal, page: PageParams) -> Page[TaskOut]:
    """Runs whose next signature needs one of my roles, in my jurisdiction, that I have not
    signed; soonest deadline first."""
    mine_signed = (
        sa.select(signatures.c.id)
        .where(signatures.c.run_id == stage_runs.c.id, signatures.c.signer == principal.sub)
        .exists()
    )
    where = sa.and_(
        stage_runs.c.status.in_(("active", "suspended")),
        stage_runs.c.next_staff_role.in_(sorted(principal.roles)),
        within(stage_runs.c.unit, principal.org),
        cases.c.status == "in_review",
        ~mine_signed,
    )
    joined = stage_runs.join(cases, cases.c.id == stage_runs.c.case_id)
    async with ctx.uow() as uow:
        conn = uow.conn
        total = await conn.scalar(sa.select(sa.func.count()).select_from(joined).where(where))
        rows = (
            await conn.execute(
                sa.select(
                    stage_runs,
                    cases.c.application_id,
                    cases.c.tracking_no,
                    cases.c.applicant_name_masked,
                    cases.c.category,
                    cases.c.workflow,
                )
                .select_from(joined)
                .where(where)
                .order_by(stage_runs.c.due_at, stage_runs.c.started_at, stage_runs.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    at, today = now(), today_shanghai()
    items = []
    for r in rows:
        wf = ctx.workflows.get(r.workflow)
        stage = wf.stage(r.stage) if wf else None
        items.append(
            TaskOut(
                case_id=r.case_id,
                application_id=r.application_id,
                tracking_no=r.tracking_no,
                applicant_name_masked=r.applicant_name_masked,
                category=r.category,
                stage=r.stage,
                stage_name=stage.name if stage else r.stage,
                round=r.round,
                level=r.level,
                unit=r.unit,
                signature=r.next_signature,
                status=r.status,
                started_at=r.started_at,
                due_date=r.due_date,
                due_at=r.due_at,
                working_days_left=domain.working_days_left(ctx.calendar, today, r.due_date),
                fallback_years=list(r.fallback_years),
                yellow=r.status == "active" and at >= r.yellow_at,
                overdue=r.status == "active" and at > r.due_at,
            )
        )
    return Page.of(items, int(total or 0), page)


async def read_case(
    ctx: ReviewContext, uow: UnitOfWork, principal: Principal, case_id: uuid.UUID
) -> CaseOut:
    """The case with its verification result and every signature; the read is audited."""
    case = await store.load_case(uow.conn, case_id)
    if case is None:
        raise problems.case_not_found()
    ensure_can_read(principal, case.street)
    view = await case_view(uow.conn, ctx, case)
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="review.case_read",
        subject_type="review_case",
        subject_id=case.id,
        details={"application_id": str(case.application_id), "status": case.status},
    )
    return view


def signature_out(row: Any) -> SignatureOut:
    return SignatureOut(
        id=row.id,
        stage=row.stage,
        role=row.role,
        decision=row.decision,
        opinion=row.opinion,
        signer=row.signer,
        signer_name=row.signer_name,
        signer_org=row.signer_org,
        signed_at=row.signed_at,
        corrects=row.corrects,
    )


def suspension_out(row: Any) -> SuspensionOut:
    return SuspensionOut(
        id=row.id,
        missing_items=list(row.missing_items),
        reason=row.reason,
        suspended_by=row.suspended_by,
        suspended_at=row.suspended_at,
        resumes_by=row.resumes_by,
        resumed_at=row.resumed_at,
        automatic=row.automatic,
        resumed_by=row.resumed_by,
        suspended_working_days=row.suspended_days,
    )


async def case_view(conn: AsyncConnection, ctx: ReviewContext, case: Any) -> CaseOut:
    workflow = ctx.workflows.get(case.workflow)
    runs = (
        await conn.execute(
            sa.select(stage_runs)
            .where(stage_runs.c.case_id == case.id)
            .order_by(stage_runs.c.started_at, stage_runs.c.round, stage_runs.c.position)
        )
    ).all()
    sigs = (
        await conn.execute(
            sa.select(signatures).where(signatures.c.case_id == case.id).order_by(signatures.c.seq)
        )
    ).all()
    susp = (
        await conn.execute(
            sa.select(suspensions)
            .where(suspensions.c.case_id == case.id)
            .order_by(suspensions.c.suspended_at)
        )
    ).all()
    verification = (
        await conn.execute(
            sa.select(verifications).where(verifications.c.application_id == case.application_id)
        )
    ).first()
    objection_rows = (
        await conn.execute(
            sa.select(objections)
            .where(objections.c.application_id == case.application_id)
            .order_by(objections.c.filed_at)
        )
    ).all()
    stage_views = []
    current_stage = None
    for run in runs:
        if run.id == case.current_run_id:
            current_stage = run.stage
        stage = workflow.stage(run.stage) if workflow else None
        stage_views.append(
            StageRunOut(
                id=run.id,
                stage=run.stage,
                name=stage.name if stage else run.stage,
                round=run.round,
                level=run.level,
                unit=run.unit,
                status=run.status,
                signatures_required=list(run.signatures),
                next_signature=run.next_signature,
                requires_verification=run.requires_verification,
                time_limit_working_days=run.time_limit,
                started_at=run.started_at,
                due_date=run.due_date,
                due_at=run.due_at,
                yellow_at=run.yellow_at,
                fallback_years=list(run.fallback_years),
                suspended_working_days=run.suspended_days,
                suspension_left_working_days=domain.suspension_remaining(
                    run.suspension_limit, run.suspended_days
                ),
                overdue_at=run.overdue_at,
                completed_at=run.completed_at,
                outcome=run.outcome,
                signatures=[signature_out(s) for s in sigs if s.run_id == run.id],
                suspensions=[suspension_out(s) for s in susp if s.run_id == run.id],
            )
        )
    return CaseOut(
        id=case.id,
        application_id=case.application_id,
        tracking_no=case.tracking_no,
        city=case.city,
        district=case.district,
        street=case.street,
        category=case.category,
        applicant_name_masked=case.applicant_name_masked,
        member_count=case.member_count,
        workflow=case.workflow,
        workflow_version=case.workflow_version,
        status=case.status,
        current_stage=current_stage,
        opened_at=case.opened_at,
        decided_at=case.decided_at,
        outcome=case.outcome,
        reasons=list(case.reasons),
        stop_reason=case.stop_reason,
        notice_id=case.notice_id,
        publicity_opened_at=case.publicity_opened_at,
        publicity_closes_at=case.publicity_closes_at,
        publicity_closed_at=case.publicity_closed_at,
        publicity_closed_early=case.publicity_closed_early,
        qualified_at=case.qualified_at,
        verification=VerificationOut(
            recommendation=verification.recommendation,
            reasons=list(verification.reasons),
            discrepancies=list(verification.discrepancies),
            missing_departments=list(verification.missing_departments),
            parameters_version=verification.parameters_version,
            completed_at=verification.completed_at,
        )
        if verification
        else None,
        stages=stage_views,
        objections=[
            ObjectionOut(
                objection_id=o.objection_id,
                notice_id=o.notice_id,
                filed_at=o.filed_at,
                outcome=o.outcome,
                conclusion=o.conclusion,
                concluded_at=o.concluded_at,
            )
            for o in objection_rows
        ],
    )

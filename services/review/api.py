"""HTTP API of the review service: the to-do list, the case view, signatures, suspensions.

Staff see only cases in their jurisdiction (their unit and below); discipline inspectors read
everything and change nothing. Every action and every case read is audited in the same
transaction as its effect.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path

from services.review import casework, domain
from services.review.casework import ReviewContext
from services.review.schemas import (
    CaseOut,
    ObjectionOut,
    OpinionIn,
    ResumeIn,
    SignatureOut,
    SignResult,
    StageRunOut,
    SuspendIn,
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
from services.review.workflow import Role, Workflow, mermaid, staff_role
from shared.app import RuntimeDep
from shared.audit import record
from shared.auth import (
    ADMIN,
    CASEWORK_ROLES,
    DISCIPLINE_INSPECTOR,
    SUPERVISOR,
    Principal,
    ensure_can_act,
    ensure_can_read,
    is_unit_code,
    require_roles,
)
from shared.clock import now, today_shanghai
from shared.events.catalogue import ReviewOpinionSigned, ReviewStageSuspended
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem

REVIEW_STAFF = CASEWORK_ROLES
READERS = (*REVIEW_STAFF, SUPERVISOR, DISCIPLINE_INSPECTOR, ADMIN)

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Staff = Annotated[Principal, Depends(require_roles(*REVIEW_STAFF))]
StageCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="环节代码")]


def _units_under(org: str) -> sa.ColumnElement[bool]:
    """SQL for "unit lies in ``org``'s jurisdiction" (``shared.auth.unit_contains``)."""
    col = stage_runs.c.unit
    if not is_unit_code(org):
        return sa.false()
    if len(org) == 9:
        return col == org
    if org.endswith("0000"):
        return col.startswith(org[:2])
    if org.endswith("00"):
        return col.startswith(org[:4])
    return col.startswith(org)


def _audit_actor(principal: Principal) -> dict[str, Any]:
    return {
        "actor": principal.sub,
        "actor_roles": sorted(principal.roles),
        "actor_org": principal.org,
    }


def _signature_out(row: Any) -> SignatureOut:
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


def build_router(ctx: ReviewContext) -> APIRouter:
    router = APIRouter(tags=["review"])

    @router.get("/workflows", summary="审核流程预设（含流程图）")
    async def list_workflows(principal: Reader, page: PageDep) -> Page[WorkflowOut]:
        # The preset in force is bound by a start-up job; a request served in the same tick
        # waits for it rather than answering that no preset is active.
        active = (await ctx.ready()).workflow.value
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

    @router.get("/tasks", summary="我的待办（按角色和单位，最早到期在前）")
    async def my_tasks(principal: Staff, page: PageDep, runtime: RuntimeDep) -> Page[TaskOut]:
        mine_signed = (
            sa.select(signatures.c.id)
            .where(signatures.c.run_id == stage_runs.c.id, signatures.c.signer == principal.sub)
            .exists()
        )
        where = sa.and_(
            stage_runs.c.status.in_(("active", "suspended")),
            stage_runs.c.next_staff_role.in_(sorted(principal.roles)),
            _units_under(principal.org),
            cases.c.status == "in_review",
            ~mine_signed,
        )
        joined = stage_runs.join(cases, cases.c.id == stage_runs.c.case_id)
        async with runtime.engine.connect() as conn:
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

    @router.get("/cases/{case_id}", summary="审核案件详情（含核查结果与全部签字）")
    async def get_case(case_id: uuid.UUID, principal: Reader, runtime: RuntimeDep) -> CaseOut:
        async with runtime.uow() as uow:
            case = await casework.load_case(uow.conn, case_id)
            if case is None:
                raise NotFound(detail="审核案件不存在。", field="case_id")
            ensure_can_read(principal, case.street)
            view = await _case_view(uow.conn, ctx, case)
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="review.case_read",
                subject_type="review_case",
                subject_id=case.id,
                details={"application_id": str(case.application_id), "status": case.status},
            )
            await uow.commit()
        return view

    async def _active_run(uow: Any, case_id: uuid.UUID, stage: str) -> tuple[Any, Any, Workflow]:
        case = await casework.load_case(uow.conn, case_id, lock=True)
        if case is None:
            raise NotFound(detail="审核案件不存在。", field="case_id")
        workflow = ctx.workflow_of(case)
        if workflow.stage(stage) is None:
            raise NotFound(detail=f"流程中没有环节“{stage}”。", field="stage")
        run = await casework.load_run(uow.conn, case.current_run_id, lock=True)
        if case.status != "in_review" or run is None or run.stage != stage:
            raise Conflict(
                detail="该环节当前不在办理中。",
                field="stage",
                extra={"case_status": case.status, "current_stage": run.stage if run else None},
            )
        return case, run, workflow

    def _require_staff_role(principal: Principal, level: str, role: Role) -> None:
        needed = staff_role(level, role)
        if needed not in principal.roles:
            raise Forbidden(
                detail=f"本环节{role.title}签字需要角色 {needed}。",
                extra={"required_roles": [needed]},
            )

    @router.post(
        "/cases/{case_id}/stages/{stage}/opinions",
        status_code=201,
        summary="签署审核意见（经办人 -> 复核人 -> 领导，依次实名签字）",
    )
    async def sign(
        case_id: uuid.UUID,
        stage: StageCode,
        body: OpinionIn,
        principal: Staff,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> SignResult:
        async with runtime.uow() as uow:
            if (replayed := await idem.replay(uow.conn)) is not None:
                return replayed  # type: ignore[return-value]
            case, run, workflow = await _active_run(uow, case_id, stage)
            ensure_can_act(principal, run.unit)
            _require_staff_role(principal, run.level, body.role)
            if run.status == "suspended":
                raise Conflict(detail="该环节正在补件挂起中，请先恢复办理再签字。", field="stage")
            required = [Role(r) for r in run.signatures]
            rows = await casework.run_signatures(uow.conn, run.id)
            effective = casework.effective_signatures(rows)
            signed = [domain.SignedRole(Role(r.role), r.signer) for r in effective]
            if body.corrects is not None:
                _check_correction(body, principal, rows, effective)
            else:
                domain.check_may_sign(required, signed, body.role, principal.sub)
            if body.role is Role.HANDLER and run.requires_verification:
                done = await uow.conn.scalar(
                    sa.select(verifications.c.recommendation).where(
                        verifications.c.application_id == case.application_id
                    )
                )
                if done is None:
                    raise Conflict(
                        detail="部门核查结果尚未返回，经办人须在核查完成后签署意见。",
                        field="role",
                    )
            domain.require_specific_opinion(body.opinion, workflow.opinion_rules)
            if body.decision == "return" and run.position == 0:
                raise ValidationProblem(
                    detail="第一个审核环节不能退回上一环节，请选择同意或不同意。", field="decision"
                )
            at = now()
            signature_id = uuid.uuid4()
            await uow.conn.execute(
                signatures.insert().values(
                    id=signature_id,
                    case_id=case.id,
                    run_id=run.id,
                    stage=run.stage,
                    role=body.role.value,
                    decision=body.decision,
                    opinion=body.opinion,
                    signer=principal.sub,
                    signer_name=principal.name,
                    signer_org=principal.org,
                    signed_at=at,
                    corrects=body.corrects,
                )
            )
            uow.emit(
                ReviewOpinionSigned(
                    case_id=case.id,
                    application_id=case.application_id,
                    stage=run.stage,
                    level=run.level,
                    unit=run.unit,
                    role=body.role.value,
                    decision=body.decision,
                    signer=principal.sub,
                    signed_at=at,
                    opinion_quality="specific",
                ),
                subject=str(case.application_id),
            )
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="review.correction_signed" if body.corrects else "review.opinion_signed",
                subject_type="review_case",
                subject_id=case.id,
                details={
                    "stage": run.stage,
                    "round": run.round,
                    "role": body.role.value,
                    "decision": body.decision,
                    "signature_id": str(signature_id),
                    "corrects": str(body.corrects) if body.corrects else None,
                },
            )
            signed_roles = [s.role for s in signed] + [body.role]
            following = domain.next_role(required, signed_roles)
            if following is None:
                await casework.complete_stage(
                    uow,
                    ctx,
                    case,
                    run,
                    body.decision,
                    await _signature_row(uow.conn, signature_id),
                )
            else:
                await uow.conn.execute(
                    stage_runs.update()
                    .where(stage_runs.c.id == run.id)
                    .values(
                        next_signature=following.value,
                        next_staff_role=staff_role(run.level, following),
                    )
                )
            after = await casework.load_case(uow.conn, case.id)
            run_after = await casework.load_run(uow.conn, run.id)
            current = await casework.load_run(uow.conn, after.current_run_id)
            result = SignResult(
                signature=_signature_out(await _signature_row(uow.conn, signature_id)),
                opinion_quality="specific",
                stage_status=run_after.status,
                next_signature=run_after.next_signature,
                case_status=after.status,
                current_stage=current.stage if current else None,
            )
            response = await idem.remember(uow.conn, 201, result.model_dump(mode="json"))
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.post(
        "/cases/{case_id}/stages/{stage}/suspend",
        status_code=201,
        summary="补件挂起（计时暂停，最长不超过环节规定的工作日）",
    )
    async def suspend(
        case_id: uuid.UUID,
        stage: StageCode,
        body: SuspendIn,
        principal: Staff,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
    ) -> SuspensionOut:
        async with runtime.uow() as uow:
            if (replayed := await idem.replay(uow.conn)) is not None:
                return replayed  # type: ignore[return-value]
            case, run, _ = await _active_run(uow, case_id, stage)
            ensure_can_act(principal, run.unit)
            _require_staff_role(principal, run.level, Role.HANDLER)
            if run.status == "suspended":
                raise Conflict(detail="该环节已处于补件挂起状态。", field="stage")
            at = now()
            ends = domain.suspension_end(ctx.calendar, at, run.suspension_limit)
            reason = (body.reason or "补件：" + "、".join(body.missing_items))[:500]
            suspension_id = uuid.uuid4()
            await uow.conn.execute(
                suspensions.insert().values(
                    id=suspension_id,
                    case_id=case.id,
                    run_id=run.id,
                    missing_items=list(body.missing_items),
                    reason=reason,
                    suspended_by=principal.sub,
                    suspended_at=at,
                    resumes_by=ends.at,
                    resumes_on=ends.date,
                )
            )
            await uow.conn.execute(
                stage_runs.update().where(stage_runs.c.id == run.id).values(status="suspended")
            )
            uow.emit(
                ReviewStageSuspended(
                    case_id=case.id,
                    application_id=case.application_id,
                    stage=run.stage,
                    level=run.level,
                    unit=run.unit,
                    suspension_id=suspension_id,
                    reason=reason,
                    suspended_by=principal.sub,
                    suspended_at=at,
                    resumes_by=ends.at,
                ),
                subject=str(case.application_id),
            )
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="review.stage_suspended",
                subject_type="review_case",
                subject_id=case.id,
                details={
                    "stage": run.stage,
                    "suspension_id": str(suspension_id),
                    "missing_items": list(body.missing_items),
                    "resumes_on": ends.date.isoformat(),
                },
            )
            row = (
                await uow.conn.execute(
                    sa.select(suspensions).where(suspensions.c.id == suspension_id)
                )
            ).one()
            out = _suspension_out(row)
            response = await idem.remember(uow.conn, 201, out.model_dump(mode="json"))
            await uow.commit()
        return response  # type: ignore[return-value]

    @router.post(
        "/cases/{case_id}/stages/{stage}/resume",
        summary="补件完成，恢复办理（计时继续）",
    )
    async def resume(
        case_id: uuid.UUID,
        stage: StageCode,
        principal: Staff,
        runtime: RuntimeDep,
        idem: IdempotencyDep,
        body: ResumeIn | None = None,
    ) -> SuspensionOut:
        async with runtime.uow() as uow:
            if (replayed := await idem.replay(uow.conn)) is not None:
                return replayed  # type: ignore[return-value]
            case, run, _ = await _active_run(uow, case_id, stage)
            ensure_can_act(principal, run.unit)
            _require_staff_role(principal, run.level, Role.HANDLER)
            open_suspension = (
                await uow.conn.execute(
                    sa.select(suspensions)
                    .where(suspensions.c.run_id == run.id, suspensions.c.resumed_at.is_(None))
                    .with_for_update()
                )
            ).first()
            if run.status != "suspended" or open_suspension is None:
                raise Conflict(detail="该环节未处于补件挂起状态。", field="stage")
            days = await casework.resume(
                uow, ctx, case, run, open_suspension, automatic=False, resumed_by=principal.sub
            )
            await record(
                uow.conn,
                **_audit_actor(principal),
                action="review.stage_resumed",
                subject_type="review_case",
                subject_id=case.id,
                details={
                    "stage": run.stage,
                    "suspension_id": str(open_suspension.id),
                    "suspended_working_days": days,
                },
            )
            row = (
                await uow.conn.execute(
                    sa.select(suspensions).where(suspensions.c.id == open_suspension.id)
                )
            ).one()
            out = _suspension_out(row)
            response = await idem.remember(uow.conn, 200, out.model_dump(mode="json"))
            await uow.commit()
        return response  # type: ignore[return-value]

    return router


def _check_correction(
    body: OpinionIn, principal: Principal, rows: list[Any], effective: list[Any]
) -> None:
    """A correction replaces one's own signature while nobody after it has signed."""
    old = next((r for r in rows if r.id == body.corrects), None)
    if old is None:
        raise ValidationProblem(detail="要更正的签字不在本环节。", field="corrects")
    if old.signer != principal.sub:
        raise Forbidden(detail="只能更正本人的签字。")
    if old not in effective:
        raise Conflict(detail="该签字已被更正过，请更正最新的签字。", field="corrects")
    if old.role != body.role.value:
        raise ValidationProblem(detail="更正签字的角色须与原签字相同。", field="role")
    rank = domain.role_rank(body.role)
    if any(domain.role_rank(Role(r.role)) > rank for r in effective):
        raise Conflict(detail="后序人员已签字，不能再更正。", field="corrects")


async def _signature_row(conn: Any, signature_id: uuid.UUID) -> Any:
    return (await conn.execute(sa.select(signatures).where(signatures.c.id == signature_id))).one()


def _suspension_out(row: Any) -> SuspensionOut:
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


async def _case_view(conn: Any, ctx: ReviewContext, case: Any) -> CaseOut:
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
                overdue_at=run.overdue_at,
                completed_at=run.completed_at,
                outcome=run.outcome,
                signatures=[_signature_out(s) for s in sigs if s.run_id == run.id],
                suspensions=[_suspension_out(s) for s in susp if s.run_id == run.id],
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

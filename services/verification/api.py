"""HTTP API: verification results, the department HTTP alternative, admission parameters."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.verification import parameters as params_repo
from services.verification.cases import apply_answer
from services.verification.context import Ctx
from services.verification.domain import parameter_changes
from services.verification.parameters import ParameterSet
from services.verification.schemas import (
    AnswerIn,
    AnswerReceipt,
    DepartmentRequestView,
    DepartmentStatus,
    ParameterSetView,
    ProposalIn,
    VerificationView,
)
from services.verification.tables import department_requests, verification_cases
from shared.app import RuntimeDep
from shared.audit import record
from shared.auth import (
    CASEWORK_ROLES,
    CITY_CLERK,
    CITY_LEADER,
    CITY_REVIEWER,
    CREDIT_OFFICER,
    DISCIPLINE_INSPECTOR,
    SERVICE,
    SUPERVISOR,
    CurrentPrincipal,
    Principal,
    ensure_can_act,
    ensure_can_read,
    require_roles,
)
from shared.clock import today_shanghai
from shared.events.catalogue import VerificationParametersChanged
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem

STAFF_READERS = (
    *CASEWORK_ROLES,
    SUPERVISOR,
    CREDIT_OFFICER,
    DISCIPLINE_INSPECTOR,
    SERVICE,
)
# Who may propose a change of admission parameters, and who may approve one (四眼原则: never
# the proposer).
PROPOSERS = (CITY_CLERK, CITY_REVIEWER, CITY_LEADER)
APPROVERS = (CITY_LEADER,)

StaffDep = Annotated[Principal, Depends(require_roles(*STAFF_READERS))]
ProposerDep = Annotated[Principal, Depends(require_roles(*PROPOSERS))]
ApproverDep = Annotated[Principal, Depends(require_roles(*APPROVERS))]
DeptPath = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="Department code, e.g. real_estate.")
]

router = APIRouter()


def _audit_actor(principal: Principal) -> dict[str, object]:
    return {
        "actor": principal.sub,
        "actor_roles": sorted(principal.roles),
        "actor_org": principal.org,
    }


# -- verification case ---------------------------------------------------------------------


@router.get(
    "/verifications/{application_id}",
    response_model=VerificationView,
    tags=["verification"],
    summary="A verification case: per-department status and the reasoned recommendation",
)
async def get_verification(
    application_id: uuid.UUID, principal: StaffDep, runtime: RuntimeDep
) -> VerificationView:
    async with runtime.uow() as uow:
        case = (
            await uow.conn.execute(
                sa.select(verification_cases).where(
                    verification_cases.c.application_id == application_id
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
            **_audit_actor(principal),
            action="verification.read",
            subject_type="verification_case",
            subject_id=case.case_id,
            details={"application_id": str(application_id)},
        )
        await uow.commit()
    names = {d.code: d.name for d in runtime.city.departments}
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


# -- department HTTP alternative -----------------------------------------------------------


def _ensure_department(principal: Principal, department: str, runtime: RuntimeDep) -> None:
    # Only the department's own system: not admins, not another department.
    if department not in principal.departments:
        raise Forbidden(detail=f"仅部门 {department} 的系统可以访问其协查请求。")
    if department not in {d.code for d in runtime.city.departments}:
        raise NotFound(detail=f"本市未配置部门 {department}。", field="department")


@router.get(
    "/departments/{department}/requests",
    response_model=Page[DepartmentRequestView],
    tags=["departments"],
    summary="Verification requests to one department (HTTP alternative to its queue)",
)
async def list_department_requests(
    department: DeptPath,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    status: Annotated[
        Literal["pending", "answered", "all"], Query(description="pending, answered or all")
    ] = "pending",
) -> Page[DepartmentRequestView]:
    _ensure_department(principal, department, runtime)
    r = department_requests
    where = [r.c.department == department]
    if status != "all":
        where.append(r.c.status == status)
    async with runtime.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(r).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(r)
                .where(*where)
                .order_by(r.c.requested_at, r.c.request_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        # Subjects carry names and ID numbers: the department's read is audited.
        await record(
            uow.conn,
            **_audit_actor(principal),
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
        )
        for row in rows
    ]
    return Page[DepartmentRequestView].of(items, int(total or 0), page)


@router.post(
    "/departments/{department}/requests/{request_id}/answer",
    response_model=AnswerReceipt,
    status_code=201,
    tags=["departments"],
    summary="Answer a verification request (HTTP alternative to response.<department>)",
    responses={200: {"description": "Duplicate answer: the first answer stands."}},
)
async def answer_request(
    department: DeptPath,
    request_id: uuid.UUID,
    body: AnswerIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    ctx: Ctx,
) -> Response:
    _ensure_department(principal, department, runtime)
    async with runtime.uow() as uow:
        if (replayed := await idem.replay(uow.conn)) is not None:
            return replayed
        outcome = await apply_answer(
            uow,
            city=runtime.city,
            department=department,
            request_id=request_id,
            no_record=body.no_record,
            findings=body.findings,
            reported_answered_at=body.answered_at,
            answered_by=body.answered_by or principal.sub,
            channel="http",
            serial=ctx.serial,
        )
        await record(
            uow.conn,
            **_audit_actor(principal),
            action="department.answer",
            subject_type="department_request",
            subject_id=request_id,
            details={
                "department": department,
                "duplicate": outcome.duplicate,
                "findings": len(body.findings),
                "no_record": body.no_record,
            },
        )
        receipt = AnswerReceipt(
            request_id=outcome.request_id,
            case_id=outcome.case_id,
            department=outcome.department,
            duplicate=outcome.duplicate,
            empty=outcome.empty,
            late=outcome.late,
            case_completed=outcome.case_completed,
        )
        response = await idem.remember(uow.conn, 200 if outcome.duplicate else 201, receipt)
        await uow.commit()
    return response


# -- admission parameters ------------------------------------------------------------------


def _view(p: ParameterSet) -> ParameterSetView:
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


@router.get(
    "/admission-parameters",
    response_model=Page[ParameterSetView],
    tags=["admission parameters"],
    summary="Admission parameter versions and proposals (准入参数), newest first per category",
)
async def list_parameters(
    principal: StaffDep,
    runtime: RuntimeDep,
    page: PageDep,
    category: Annotated[str | None, Query(description="Category code")] = None,
    status: Annotated[
        Literal["proposed", "approved", "rejected"] | None, Query(description="Filter by status")
    ] = None,
) -> Page[ParameterSetView]:
    async with runtime.engine.connect() as conn:
        items, total = await params_repo.listing(
            conn,
            city=runtime.city.city.code,
            category=category,
            status=status,
            limit=page.limit,
            offset=page.offset,
        )
    return Page[ParameterSetView].of([_view(p) for p in items], total, page)


@router.post(
    "/admission-parameters",
    response_model=ParameterSetView,
    status_code=201,
    tags=["admission parameters"],
    summary="Propose a change of a category's admission parameters (takes effect only once "
    "another person approves it)",
)
async def propose_parameters(
    body: ProposalIn, principal: ProposerDep, runtime: RuntimeDep, idem: IdempotencyDep
) -> Response:
    city = runtime.city
    ensure_can_act(principal, city.city.code)
    if body.category not in {c.code for c in city.categories}:
        raise ValidationProblem(detail=f"本市没有申请类别 {body.category}。", field="category")
    if body.effective_from < today_shanghai():
        raise ValidationProblem(
            detail="生效日期不能早于今天：已受理的申请按受理当日有效的准入参数核查。",
            field="effective_from",
        )
    async with runtime.uow() as uow:
        if (replayed := await idem.replay(uow.conn)) is not None:
            return replayed
        proposal = await params_repo.propose(
            uow.conn,
            city=city.city.code,
            category=body.category,
            parameters=body.parameters,
            effective_from=body.effective_from,
            reason=body.reason,
            proposed_by=principal.sub,
        )
        await record(
            uow.conn,
            **_audit_actor(principal),
            action="admission_parameters.propose",
            subject_type="admission_parameter_set",
            subject_id=proposal.id,
            details={"category": body.category, "effective_from": str(body.effective_from)},
        )
        response = await idem.remember(uow.conn, 201, _view(proposal))
        await uow.commit()
    return response


async def _decide(
    set_id: uuid.UUID,
    principal: Principal,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    *,
    approve: bool,
) -> Response:
    ensure_can_act(principal, runtime.city.city.code)
    async with runtime.uow() as uow:
        if (replayed := await idem.replay(uow.conn)) is not None:
            return replayed
        proposal = await params_repo.get(uow.conn, set_id, lock=True)
        if proposal is None:
            raise NotFound(detail="没有该准入参数变更申请。", field="id")
        if proposal.status != "proposed":
            raise Conflict(detail=f"该变更申请已处理（{proposal.status}），不能再次审批。")
        if proposal.proposed_by == principal.sub:
            raise Forbidden(
                detail="不能审批本人提出的准入参数变更，须由另一名有审批权限的人员审批。"
            )
        if approve and proposal.effective_from < today_shanghai():
            raise Conflict(
                detail="该变更申请的生效日期已过，批准将追溯改变已受理申请的核查依据；请重新提出。",
                field="effective_from",
            )
        if approve:
            before = await params_repo.in_force(
                uow.conn, proposal.city, proposal.category, proposal.effective_from
            )
            decided = await params_repo.approve(uow.conn, proposal, approved_by=principal.sub)
            changes = parameter_changes(
                before.parameters if before is not None else None, decided.parameters
            )
            if changes:
                uow.emit(
                    VerificationParametersChanged(
                        parameter_set_id=decided.id,
                        city=decided.city,
                        category=decided.category,
                        version=decided.version or 1,
                        changes=changes,
                        proposed_by=decided.proposed_by,
                        proposed_at=decided.proposed_at,
                        approved=True,
                        approved_by=decided.decided_by,
                        approved_at=decided.decided_at,
                        effective_from=decided.effective_from,
                    ),
                    subject=str(decided.id),
                )
        else:
            decided = await params_repo.reject(uow.conn, proposal, rejected_by=principal.sub)
        await record(
            uow.conn,
            **_audit_actor(principal),
            action="admission_parameters.approve" if approve else "admission_parameters.reject",
            subject_type="admission_parameter_set",
            subject_id=decided.id,
            details={"category": decided.category, "version": decided.version},
        )
        response = await idem.remember(uow.conn, 200, _view(decided))
        await uow.commit()
    return response


@router.post(
    "/admission-parameters/{set_id}/approve",
    response_model=ParameterSetView,
    tags=["admission parameters"],
    summary="Approve a proposed change (a different person from the proposer)",
)
async def approve_parameters(
    set_id: uuid.UUID, principal: ApproverDep, runtime: RuntimeDep, idem: IdempotencyDep
) -> Response:
    return await _decide(set_id, principal, runtime, idem, approve=True)


@router.post(
    "/admission-parameters/{set_id}/reject",
    response_model=ParameterSetView,
    tags=["admission parameters"],
    summary="Reject a proposed change",
)
async def reject_parameters(
    set_id: uuid.UUID, principal: ApproverDep, runtime: RuntimeDep, idem: IdempotencyDep
) -> Response:
    return await _decide(set_id, principal, runtime, idem, approve=False)

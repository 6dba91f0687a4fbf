"""HTTP API: verification results, the department HTTP alternative, admission parameters.

Endpoints authorise and call a query, or a command through ``Idempotency.run``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.verification import commands, queries
from services.verification.context import Ctx
from services.verification.schemas import (
    AnswerIn,
    AnswerReceipt,
    DepartmentRequestView,
    ParameterSetView,
    ProposalIn,
    VerificationView,
)
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
    require_roles,
)
from shared.db import UnitOfWork
from shared.idempotency import Answer, IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Forbidden, NotFound

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


# -- verification case ---------------------------------------------------------------------


@router.get(
    "/verifications/{application_id}",
    response_model=VerificationView,
    tags=["verification"],
    summary="A verification case: per-department status and the reasoned recommendation",
)
async def get_verification(
    application_id: uuid.UUID, principal: StaffDep, ctx: Ctx
) -> VerificationView:
    return await queries.verification(ctx, principal, application_id)


# -- department HTTP alternative -----------------------------------------------------------


def _ensure_department(principal: Principal, department: str, ctx: Ctx) -> None:
    # Only the department's own system: not admins, not another department.
    if department not in principal.departments:
        raise Forbidden(detail=f"仅部门 {department} 的系统可以访问其协查请求。")
    if department not in ctx.departments:
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
    ctx: Ctx,
    page: PageDep,
    status: Annotated[
        Literal["pending", "answered", "all"], Query(description="pending, answered or all")
    ] = "pending",
) -> Page[DepartmentRequestView]:
    _ensure_department(principal, department, ctx)
    return await queries.department_requests_page(ctx, principal, department, status, page)


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
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    _ensure_department(principal, department, ctx)

    async def work(uow: UnitOfWork) -> Answer:
        receipt = await commands.answer(ctx, uow, principal, department, request_id, body)
        # A duplicate answer is not an error: the first answer stands, 200 says nothing was new.
        return Answer(receipt, 200 if receipt.duplicate else 201)

    return await idem.run(ctx.uow, work)


# -- admission parameters ------------------------------------------------------------------


@router.get(
    "/admission-parameters",
    response_model=Page[ParameterSetView],
    tags=["admission parameters"],
    summary="Admission parameter versions and proposals (准入参数), newest first per category",
)
async def list_parameters(
    principal: StaffDep,
    ctx: Ctx,
    page: PageDep,
    category: Annotated[str | None, Query(description="Category code")] = None,
    status: Annotated[
        Literal["proposed", "approved", "rejected"] | None, Query(description="Filter by status")
    ] = None,
) -> Page[ParameterSetView]:
    return await queries.parameters_page(ctx, category, status, page)


@router.post(
    "/admission-parameters",
    response_model=ParameterSetView,
    status_code=201,
    tags=["admission parameters"],
    summary="Propose a change of a category's admission parameters (takes effect only once "
    "another person approves it)",
)
async def propose_parameters(
    body: ProposalIn, principal: ProposerDep, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    ensure_can_act(principal, ctx.city.city.code)
    commands.check_proposal(ctx, body)
    return await idem.run(
        ctx.uow,
        lambda uow: commands.propose_parameters(ctx, uow, principal, body),
        status_code=201,
    )


@router.post(
    "/admission-parameters/{set_id}/approve",
    response_model=ParameterSetView,
    tags=["admission parameters"],
    summary="Approve a proposed change (a different person from the proposer)",
)
async def approve_parameters(
    set_id: uuid.UUID, principal: ApproverDep, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    ensure_can_act(principal, ctx.city.city.code)
    return await idem.run(
        ctx.uow, lambda uow: commands.decide_parameters(ctx, uow, principal, set_id, approve=True)
    )


@router.post(
    "/admission-parameters/{set_id}/reject",
    response_model=ParameterSetView,
    tags=["admission parameters"],
    summary="Reject a proposed change",
)
async def reject_parameters(
    set_id: uuid.UUID, principal: ApproverDep, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    ensure_can_act(principal, ctx.city.city.code)
    return await idem.run(
        ctx.uow, lambda uow: commands.decide_parameters(ctx, uow, principal, set_id, approve=False)
    )

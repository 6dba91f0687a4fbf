"""Staff endpoints: create and close notices, read and conclude objections.

Every operation and every read of objection content is written to the audit log in the same
transaction (``commands`` and ``queries.staff_objections``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.publication import commands, domain, queries
from services.publication.context import Ctx
from services.publication.schemas import (
    NoticeClose,
    NoticeCreate,
    NoticeSummary,
    ObjectionConclusionIn,
    StaffObjection,
)
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
    require_roles,
)
from shared.clock import now
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import PROBLEM_RESPONSES

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


router = APIRouter(tags=["staff 经办"], responses=PROBLEM_RESPONSES)


@router.post(
    "/notices",
    status_code=201,
    response_model=NoticeSummary,
    summary="发布公示/公告（资格公示不少于7天）",
)
async def create_notice(
    body: NoticeCreate, principal: Clerk, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    commands.check_notice(ctx, principal, body)
    opens_at = body.opens_at or now()
    return await idem.run(
        ctx.uow,
        lambda uow: commands.create_notice(ctx, uow, principal, body, opens_at),
        status_code=201,
    )


@router.get("/notices", summary="公示/公告列表（含待发布）")
async def staff_notices(
    principal: StaffReader,
    ctx: Ctx,
    page: PageDep,
    kind: Annotated[domain.NoticeKind | None, Query()] = None,
) -> Page[NoticeSummary]:
    unit = None if principal.has_role(DISCIPLINE_INSPECTOR) else principal.org
    async with ctx.uow() as uow:
        return await queries.list_notices(
            uow.conn, ctx.city, page, kind=kind, statuses=("scheduled", "open", "closed"), unit=unit
        )


@router.post(
    "/notices/{notice_id}/close",
    response_model=NoticeSummary,
    summary="提前结束公示（需市级领导批准并说明理由，将触发R7红灯）",
)
async def close_early(
    notice_id: uuid.UUID, body: NoticeClose, principal: Leader, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    return await idem.run(
        ctx.uow,
        lambda uow: commands.close_early(ctx, uow, principal, notice_id, body),
        status_code=200,
    )


@router.get("/objections", summary="异议列表（经办人员）")
async def staff_objections(
    principal: StaffReader,
    ctx: Ctx,
    page: PageDep,
    status: Annotated[str | None, Query(pattern="^(pending|concluded)$")] = None,
) -> Page[StaffObjection]:
    async with ctx.uow() as uow:
        found = await queries.staff_objections(uow, principal, page, status)
        await uow.commit()  # the audited read
    return found


@router.post(
    "/objections/{objection_id}/conclusion",
    response_model=dict[str, object],
    summary="录入异议核查结论（将公开）",
)
async def conclude(
    objection_id: uuid.UUID,
    body: ObjectionConclusionIn,
    principal: Investigator,
    ctx: Ctx,
    idem: IdempotencyDep,
) -> Response:
    commands.check_conclusion(body)
    return await idem.run(
        ctx.uow,
        lambda uow: commands.conclude_objection(ctx, uow, principal, objection_id, body),
        status_code=200,
    )

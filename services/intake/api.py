"""HTTP API of the intake service: what portals, street windows and staff call.

Each endpoint authorises (its role dependency), runs its command through the idempotency
helper (POST) or its query (GET), and returns. The logic is in ``commands.py`` and
``queries.py``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.intake import commands, problems, queries
from services.intake.commands import CLOSING_ROLES
from services.intake.context import Ctx
from services.intake.domain import Status
from services.intake.queries import STAFF_READ_ROLES
from services.intake.schemas import (
    AcceptIn,
    ApplicantMessageOut,
    ApplicationIn,
    ApplicationOut,
    ApplicationSummary,
    DraftIn,
    DraftOut,
    MaterialOut,
    ReasonIn,
    ReceiptOut,
    StatusOut,
    SubmittedOut,
    SupplementNoticeIn,
    SupplementNoticeOut,
)
from shared.auth import (
    APPLICANT,
    DATA_STEWARD,
    PORTAL,
    STREET_CLERK,
    CurrentPrincipal,
    Principal,
    require_roles,
)
from shared.idempotency import IdempotencyDep
from shared.legacy import ImportFileError, ImportReport, read_rows
from shared.pagination import Page, PageDep
from shared.problems import NotFound, ValidationProblem, problem_responses

router = APIRouter(tags=["intake"])

Submitter = Annotated[Principal, Depends(require_roles(PORTAL, APPLICANT, STREET_CLERK))]
StreetClerk = Annotated[Principal, Depends(require_roles(STREET_CLERK))]
Uploader = Annotated[Principal, Depends(require_roles(PORTAL, APPLICANT, STREET_CLERK))]
Closer = Annotated[Principal, Depends(require_roles(*CLOSING_ROLES))]
Staff = Annotated[Principal, Depends(require_roles(*STAFF_READ_ROLES))]
PortalUser = Annotated[Principal, Depends(require_roles(PORTAL, APPLICANT))]
# Only the data steward: a street clerk accepts today's cases, loading history is another job.
Steward = Annotated[Principal, Depends(require_roles(DATA_STEWARD))]


@router.post(
    "/applications",
    status_code=201,
    response_model=SubmittedOut,
    responses=problem_responses(problems.DuplicateApplication, problems.MemberBanned),
)
async def submit_application(
    body: ApplicationIn, ctx: Ctx, idem: IdempotencyDep, principal: Submitter
) -> Response:
    """Submit an application (网上申请 / 窗口申请); answers the tracking number."""
    return await idem.run(
        ctx.uow,
        lambda uow: commands.submit_application(ctx, uow, principal, body),
        status_code=201,
    )


@router.post(
    "/applications/{application_id}/materials",
    status_code=201,
    response_model=MaterialOut,
    responses=problem_responses(problems.PayloadTooLarge, problems.UnsupportedMediaType),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("application/pdf", "image/jpeg", "image/png")
            },
        }
    },
)
async def upload_material(
    application_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: Uploader,
    material_type: Annotated[str, Query(description="材料类型代码，如 id_card")],
    file_name: Annotated[str, Query(description="文件名", min_length=1, max_length=200)],
) -> Response:
    """Upload one material as the raw request body; the same file again changes nothing."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    content = await request.body()
    return await idem.run(
        ctx.uow,
        lambda uow: commands.upload_material(
            ctx,
            uow,
            principal,
            application_id,
            material_type=material_type,
            file_name=file_name,
            content_type=content_type,
            declared_length=request.headers.get("content-length"),
            content=content,
        ),
        status_code=201,
    )


@router.post("/applications/{application_id}/accept", status_code=201, response_model=ReceiptOut)
async def accept_application(
    application_id: uuid.UUID,
    body: AcceptIn,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: StreetClerk,
) -> Response:
    """Accept (受理) and issue the acceptance receipt (受理回执)."""
    return await idem.run(
        ctx.uow,
        lambda uow: commands.accept_application(ctx, uow, principal, application_id, body),
        status_code=201,
    )


@router.post(
    "/applications/{application_id}/supplement-notice",
    status_code=201,
    response_model=SupplementNoticeOut,
)
async def request_supplement(
    application_id: uuid.UUID,
    body: SupplementNoticeIn,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: StreetClerk,
) -> Response:
    """Issue the one-time supplementary-materials notice (一次性补件通知单)."""
    return await idem.run(
        ctx.uow,
        lambda uow: commands.request_supplement(ctx, uow, principal, application_id, body),
        status_code=201,
    )


@router.get("/applications/{application_id}/supplement-notices/{n}", response_class=HTMLResponse)
async def print_supplement_notice(
    application_id: uuid.UUID, n: int, ctx: Ctx, principal: CurrentPrincipal
) -> HTMLResponse:
    """The printable notice (补件通知单) in Chinese, as handed to the family."""
    return HTMLResponse(await queries.supplement_notice_page(ctx, principal, application_id, n))


@router.post("/applications/{application_id}/withdraw", status_code=200, response_model=StatusOut)
async def withdraw_application(
    application_id: uuid.UUID,
    body: ReasonIn,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: CurrentPrincipal,
) -> Response:
    """Withdraw (撤回) at the applicant's request; members may apply again afterwards."""
    return await idem.run(
        ctx.uow,
        lambda uow: commands.withdraw_application(ctx, uow, principal, application_id, body),
        status_code=200,
    )


@router.post("/applications/{application_id}/reject", status_code=200, response_model=StatusOut)
async def reject_application(
    application_id: uuid.UUID, body: ReasonIn, ctx: Ctx, idem: IdempotencyDep, principal: Closer
) -> Response:
    """Refuse to accept (不予受理) with the reason the family is told."""
    return await idem.run(
        ctx.uow,
        lambda uow: commands.reject_application(ctx, uow, principal, application_id, body),
        status_code=200,
    )


@router.get("/applications/{application_id}", response_model=ApplicationOut)
async def get_application(
    application_id: uuid.UUID, ctx: Ctx, principal: CurrentPrincipal
) -> ApplicationOut:
    """One application in full: staff within their jurisdiction (audited) or the applicant."""
    return await queries.get_application(ctx, principal, application_id)


@router.get("/applications", response_model=Page[ApplicationSummary])
async def list_applications(
    ctx: Ctx,
    principal: Staff,
    page: PageDep,
    status: Annotated[Status | None, Query(description="按状态筛选")] = None,
    unit: Annotated[str | None, Query(description="行政区划代码（默认本人所在单位）")] = None,
) -> Page[ApplicationSummary]:
    """Applications in the caller's jurisdiction, newest first; personal data masked."""
    return await queries.list_applications(ctx, principal, page, status, unit)


@router.get("/applications/{application_id}/messages", response_model=list[ApplicantMessageOut])
async def application_messages(
    application_id: uuid.UUID, ctx: Ctx, principal: CurrentPrincipal
) -> list[ApplicantMessageOut]:
    """What the applicant was told (及时告知), newest first, with each SMS delivery: the owner or
    staff in jurisdiction."""
    return await queries.application_messages(ctx, principal, application_id)


@router.get("/portal/messages", response_model=Page[ApplicantMessageOut])
async def portal_messages(
    ctx: Ctx, principal: PortalUser, page: PageDep
) -> Page[ApplicantMessageOut]:
    """The signed-in applicant's messages (站内消息) across their applications, newest first."""
    return await queries.portal_messages(ctx, principal, page)


@router.get("/portal/applications", response_model=Page[ApplicationSummary])
async def portal_applications(
    ctx: Ctx, principal: PortalUser, page: PageDep
) -> Page[ApplicationSummary]:
    """The applications the signed-in applicant submitted (我的申请), newest first, masked as in
    every list; the owner reads one in full at ``GET /applications/{id}``."""
    return await queries.portal_applications(ctx, principal, page)


@router.get("/portal/draft", response_model=DraftOut, responses=problem_responses(NotFound))
async def get_draft(ctx: Ctx, principal: PortalUser) -> DraftOut:
    """The signed-in applicant's saved draft of an online application (网上申请草稿); 404 none."""
    return await queries.get_draft(ctx, principal)


@router.put("/portal/draft", response_model=DraftOut)
async def save_draft(body: DraftIn, ctx: Ctx, principal: PortalUser) -> DraftOut:
    """Save the draft (保存草稿), replacing the one before; a PUT of the same body again changes
    nothing, so it takes no Idempotency-Key. Submitting an application deletes it."""
    async with ctx.uow() as uow:
        saved = await commands.save_draft(ctx, uow, principal, body)
        await uow.commit()
    return saved


@router.delete("/portal/draft", status_code=204)
async def discard_draft(ctx: Ctx, principal: PortalUser) -> Response:
    """Discard the draft (放弃草稿); 204 also when there was none."""
    async with ctx.uow() as uow:
        await commands.discard_draft(ctx, uow, principal)
        await uow.commit()
    return Response(status_code=204)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/imports/applications", response_model=ImportReport, openapi_extra=_IMPORT_BODY)
async def import_applications(
    request: Request, ctx: Ctx, idem: IdempotencyDep, principal: Steward
) -> Response:
    """Import historical applications with receipts and materials (历史数据导入), CSV or JSON;
    answers the report of every row (imported / unchanged / rejected with its fields)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        rows = read_rows(await request.body(), content_type)
    except ImportFileError as exc:
        raise ValidationProblem(str(exc), field="body") from None
    return await idem.run(
        ctx.uow, lambda uow: commands.import_applications(ctx, uow, principal, rows)
    )

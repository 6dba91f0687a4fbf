"""Print routes of intake: each document as HTML (the browser prints it) and as an A4 PDF.

Authorised like the notice's original print route: the applicant, or staff within their
jurisdiction (whose read is audited, in ``queries.py``). Included before ``api.router`` so that
``…/supplement-notices/{n}.pdf`` is matched here before ``…/supplement-notices/{n}`` there.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.intake import queries
from services.intake.context import Ctx
from shared.auth import CurrentPrincipal
from shared.printing import PDF_RESPONSES, html_response, pdf_response

router = APIRouter(tags=["intake"])


@router.get("/applications/{application_id}/receipt", response_class=HTMLResponse)
async def print_receipt(
    application_id: uuid.UUID, ctx: Ctx, principal: CurrentPrincipal
) -> HTMLResponse:
    """The acceptance receipt (受理回执) as a printable page."""
    return html_response(await queries.acceptance_receipt(ctx, principal, application_id))


@router.get(
    "/applications/{application_id}/receipt.pdf",
    response_class=Response,
    responses=PDF_RESPONSES,
)
async def print_receipt_pdf(
    application_id: uuid.UUID, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    """The acceptance receipt (受理回执) as an A4 PDF."""
    return await pdf_response(await queries.acceptance_receipt(ctx, principal, application_id))


@router.get(
    "/applications/{application_id}/supplement-notices/{n}.pdf",
    response_class=Response,
    responses=PDF_RESPONSES,
)
async def print_supplement_notice_pdf(
    application_id: uuid.UUID, n: int, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    """The supplementary-materials notice (补件通知单) as an A4 PDF."""
    return await pdf_response(
        await queries.supplement_notice_document(ctx, principal, application_id, n)
    )

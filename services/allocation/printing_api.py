"""Print routes of allocation: the lease contract (租赁合同) as HTML and as an A4 PDF, for the
housing officers who draft and sign contracts with the household."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.allocation import queries
from services.allocation.api import Officer
from services.allocation.context import Ctx
from shared.printing import PDF_RESPONSES, html_response, pdf_response

router = APIRouter(tags=["allocation"])


@router.get("/contracts/{contract_id}/print", response_class=HTMLResponse)
async def print_contract(contract_id: uuid.UUID, ctx: Ctx, principal: Officer) -> HTMLResponse:
    """The lease contract as a printable page."""
    return html_response(await queries.contract_document(ctx, contract_id))


@router.get("/contracts/{contract_id}/print.pdf", response_class=Response, responses=PDF_RESPONSES)
async def print_contract_pdf(contract_id: uuid.UUID, ctx: Ctx, principal: Officer) -> Response:
    """The lease contract as an A4 PDF, to sign in the household's presence."""
    return await pdf_response(await queries.contract_document(ctx, contract_id))

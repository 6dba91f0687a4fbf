"""Print routes of alerting: the 《电子监察工作联系函》 as PDF, and the ticket forms
(《红灯预警督办单》/《黄灯预警督办单》) as HTML and PDF. Visible to whoever may read the ticket,
as ``GET /tickets/{id}`` and its letter."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.alerting import ticket_queries
from services.alerting.api import TicketId, TicketReader
from shared.app import RuntimeDep
from shared.printing import PDF_RESPONSES, html_response, pdf_response

router = APIRouter(tags=["alerting"])


@router.get(
    "/tickets/{ticket_id}/letter.pdf",
    summary="《电子监察工作联系函》（A4 PDF）",
    response_class=Response,
    responses=PDF_RESPONSES,
)
async def ticket_letter_pdf(
    ticket_id: TicketId, runtime: RuntimeDep, principal: TicketReader
) -> Response:
    return await pdf_response(await ticket_queries.letter_document(runtime, principal, ticket_id))


@router.get(
    "/tickets/{ticket_id}/form",
    summary="督办单（红灯/黄灯预警督办单，可打印的中文网页）",
    response_class=HTMLResponse,
)
async def ticket_form(
    ticket_id: TicketId, runtime: RuntimeDep, principal: TicketReader
) -> HTMLResponse:
    return html_response(await ticket_queries.ticket_form(runtime, principal, ticket_id))


@router.get(
    "/tickets/{ticket_id}/form.pdf",
    summary="督办单（红灯/黄灯预警督办单，A4 PDF）",
    response_class=Response,
    responses=PDF_RESPONSES,
)
async def ticket_form_pdf(
    ticket_id: TicketId, runtime: RuntimeDep, principal: TicketReader
) -> Response:
    return await pdf_response(await ticket_queries.ticket_form(runtime, principal, ticket_id))

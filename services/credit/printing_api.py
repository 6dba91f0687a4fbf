"""Print routes of credit: the notice letter (告知函) as HTML and as an A4 PDF, for the readers
of the record (its read is audited, in ``queries.py``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.credit import queries
from services.credit.api import Reader
from services.credit.context import Ctx
from shared.printing import PDF_RESPONSES, html_response, pdf_response

router = APIRouter(tags=["credit"])


@router.get(
    "/records/{record_id}/notice-letter",
    summary="告知函（可打印的中文网页）",
    response_class=HTMLResponse,
)
async def notice_letter(record_id: uuid.UUID, principal: Reader, ctx: Ctx) -> HTMLResponse:
    return html_response(await queries.notice_letter(ctx, principal, record_id))


@router.get(
    "/records/{record_id}/notice-letter.pdf",
    summary="告知函（A4 PDF）",
    response_class=Response,
    responses=PDF_RESPONSES,
)
async def notice_letter_pdf(record_id: uuid.UUID, principal: Reader, ctx: Ctx) -> Response:
    return await pdf_response(await queries.notice_letter(ctx, principal, record_id))

"""``GET /asyncapi``: the event contract as a browsable page, served by the service that owns
the department exchange. The same rendering ``make asyncapi`` writes to ``docs/asyncapi.html``,
built once per process from the catalogue this process validates messages against."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from shared.events.asyncapi import build_document, generate
from shared.events.asyncapi_html import render_html

router = APIRouter(tags=["contract"])


@cache
def _page() -> str:
    return render_html(build_document())


@router.get(
    "/asyncapi",
    response_class=HTMLResponse,
    summary="The AsyncAPI document of the platform's events as an HTML page (public)",
)
async def asyncapi_page() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get(
    "/asyncapi.yaml",
    summary="The AsyncAPI 3.0 document itself (YAML, public)",
    response_class=Response,
)
async def asyncapi_document() -> Response:
    return Response(generate(), media_type="application/yaml")

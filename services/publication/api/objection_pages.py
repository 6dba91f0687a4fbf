"""The objection form of the notice page (公示异议), for citizens without an API client.

The notice page holds a plain HTML form (no script needed) that posts here; this handler is
the same use case as ``POST /public/objections``: the same ``commands.file_objection`` (the
publicity window, the entry check, the per-contact cap under the notice's lock), the same
per-address token bucket (``objection_limiter``) and the same idempotency table. The form
carries a key drawn when the page was rendered, so pressing 提交 twice or reloading files one
objection, not two. Field errors come back on the form in Chinese (422), a refusal of the use
case as a message (its status), success as a redirect (303) to the objection's own page, which
shows its number, the deadline for the conclusion and later the conclusion itself.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.publication import commands, queries
from services.publication.api.html_errors import HtmlErrorRoute
from services.publication.api.rendering import render
from services.publication.context import Ctx, PublicationContext
from services.publication.schemas import ObjectionIn
from shared.idempotency import Idempotency
from shared.pagination import PageParams
from shared.pii import scrub
from shared.problems import PROBLEM_RESPONSES, Problem, field_errors

router = APIRouter(
    prefix="/public/pages",
    tags=["public pages 公开网页"],
    responses=PROBLEM_RESPONSES,
    route_class=HtmlErrorRoute,
)

# Far above a 2000-character objection in UTF-8 and percent-encoding; a larger body is no form.
_MAX_FORM_BYTES = 64 * 1024
_FIELD_NAMES = {"entry_id": "异议条目", "contact": "联系电话", "content": "异议内容"}
_FORM_TEXTS = {
    "contact": "请填写11位手机号码，便于核查人员联系您（不公开）",
    "content": "异议内容应为10至2000个字",
    "entry_id": "请选择被异议的公示对象",
}

NoticeId = Annotated[uuid.UUID, Path(description="公示ID")]


async def _notice_page(
    ctx: PublicationContext,
    notice_id: uuid.UUID,
    status: int,
    *,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    async with ctx.uow() as uow:
        detail = await queries.notice_detail(
            uow.conn, ctx.city, notice_id, PageParams(limit=100, offset=0)
        )
    return render(
        ctx,
        "notice.html",
        detail.title,
        status,
        n=detail,
        form=form,
        errors=errors or {},
        message=message,
        form_key=form.get("form_key") or str(uuid.uuid4()),
    )


@router.post(
    "/notices/{notice_id}/objections",
    response_class=HTMLResponse,
    summary="公示页面的异议表单提交（与 POST /public/objections 同一办理规则）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["entry_id", "contact", "content"],
                        "properties": {
                            "entry_id": {"type": "string", "format": "uuid"},
                            "contact": {"type": "string"},
                            "content": {"type": "string"},
                            "form_key": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def submit_objection_form(notice_id: NoticeId, request: Request, ctx: Ctx) -> Response:
    raw = await request.body()
    if len(raw) > _MAX_FORM_BYTES:
        return await _notice_page(
            ctx, notice_id, 413, form={}, message="提交的内容过长，请精简异议内容后重新提交。"
        )
    fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    form = {k: fields.get(k, "").strip() for k in ("entry_id", "contact", "content", "form_key")}
    try:
        body = ObjectionIn(
            notice_id=notice_id,
            entry_id=form["entry_id"],
            contact=form["contact"],
            content=form["content"],
        )
    except ValidationError as exc:
        errors = {}
        for error in field_errors(exc.errors(include_input=False)):
            name = error["field"].split(".")[0]
            errors.setdefault(name, _FORM_TEXTS.get(name, error["detail"]))
        return await _notice_page(ctx, notice_id, 422, form=form, errors=errors)
    try:
        ctx.objection_limiter.check(request)
        key = form["form_key"] if 1 <= len(form["form_key"]) <= 200 else None
        idem = Idempotency(
            key,
            "public-objection-form",
            hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
        )
        answered = await idem.run(
            ctx.uow, lambda uow: commands.file_objection(ctx, uow, body), status_code=201
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        field, detail = problem.field, scrub(problem.detail)
        errors = {field: detail} if field in _FIELD_NAMES else {}
        response = await _notice_page(
            ctx,
            notice_id,
            problem.status,
            form=form,
            errors=errors,
            message=None if errors else detail,
        )
        response.headers.update(problem.headers())
        return response
    receipt = orjson.loads(answered.body)
    return RedirectResponse(
        # An explicit fragment: else the browser keeps the form's "#objection" across the redirect.
        f"/public/pages/objections/{receipt['objection_id']}?filed=1#receipt",
        status_code=303,
    )


@router.get(
    "/objections/{objection_id}", response_class=HTMLResponse, summary="异议办理情况（回执）"
)
async def objection_page(
    objection_id: Annotated[uuid.UUID, Path(description="异议编号")],
    ctx: Ctx,
    filed: bool = False,
) -> HTMLResponse:
    async with ctx.uow() as uow:
        found = await queries.public_objection(uow.conn, objection_id)
        notice = await queries.notice_detail(
            uow.conn, ctx.city, found.notice_id, PageParams(limit=1, offset=0)
        )
    title = "异议已提交" if filed else "异议办理情况"
    return render(ctx, "objection.html", title, o=found, notice=notice, filed=filed)

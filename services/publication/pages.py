"""Server-rendered Chinese HTML pages for citizens on a phone (Jinja2, autoescaped).

They render the same public read models as the JSON API, so they show exactly what the API
shows: masked entries, conclusions, disclosures, the agency blacklist and the progress query
(rate limited by the same token bucket as ``GET /public/progress``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.publication import queries
from shared.app import RuntimeDep
from shared.clock import SHANGHAI
from shared.pagination import PageDep, PageParams
from shared.problems import PROBLEM_RESPONSES, TooManyRequests

TEMPLATES = Path(__file__).parent / "templates"

_TRACKING_NO = re.compile(r"[A-Za-z0-9-]{4,40}")
_ID_TAIL = re.compile(r"[0-9]{3}[0-9Xx]")


def _day(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _day
    return env


def build_pages_router(limiter: Callable[[Request], Awaitable[None]]) -> APIRouter:
    router = APIRouter(
        prefix="/public/pages", tags=["public pages 公开网页"], responses=PROBLEM_RESPONSES
    )
    env = environment()

    def render(
        runtime: Any, name: str, title: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = env.get_template(name).render(
            title=title, city_name=runtime.city.city.name, **context
        )
        return HTMLResponse(html, status_code=status)

    @router.get("", response_class=HTMLResponse, summary="信息公开首页")
    async def index(runtime: RuntimeDep) -> HTMLResponse:
        async with runtime.engine.connect() as conn:
            open_page = await queries.list_notices(
                conn, runtime.city, PageParams(limit=20, offset=0), status="open"
            )
            sections = await queries.section_counts(conn, runtime.city)
        return render(
            runtime,
            "index.html",
            "住房保障信息公开",
            open_notices=open_page.items,
            sections=sections,
        )

    @router.get("/notices", response_class=HTMLResponse, summary="公示公告")
    async def notices_page(runtime: RuntimeDep, page: PageDep) -> HTMLResponse:
        async with runtime.engine.connect() as conn:
            found = await queries.list_notices(conn, runtime.city, page)
        return render(runtime, "notices.html", "公示公告", page=found)

    @router.get("/notices/{notice_id}", response_class=HTMLResponse, summary="公示详情")
    async def notice_page(notice_id: uuid.UUID, runtime: RuntimeDep, page: PageDep) -> HTMLResponse:
        async with runtime.engine.connect() as conn:
            detail = await queries.notice_detail(conn, runtime.city, notice_id, page)
        return render(runtime, "notice.html", detail.title, n=detail)

    @router.get("/disclosures", response_class=HTMLResponse, summary="六公开")
    async def disclosures_page(runtime: RuntimeDep) -> HTMLResponse:
        async with runtime.engine.connect() as conn:
            sections = await queries.section_counts(conn, runtime.city)
        return render(runtime, "disclosures.html", "六公开", sections=sections)

    @router.get("/disclosures/{section}", response_class=HTMLResponse, summary="六公开栏目")
    async def disclosure_page(section: str, runtime: RuntimeDep, page: PageDep) -> HTMLResponse:
        async with runtime.engine.connect() as conn:
            found = await queries.section(conn, runtime.city, section, page)
        return render(runtime, "disclosure.html", found.title, s=found)

    @router.get("/blacklist", response_class=HTMLResponse, summary="黑中介名单")
    async def blacklist_page(runtime: RuntimeDep, page: PageDep) -> HTMLResponse:
        async with runtime.engine.connect() as conn:
            found = await queries.blacklist_page(conn, page)
        return render(runtime, "blacklist.html", "黑中介名单", page=found)

    @router.get("/progress", response_class=HTMLResponse, summary="申请进度查询")
    async def progress_page(
        request: Request,
        runtime: RuntimeDep,
        tracking_no: str | None = None,
        id_tail: str | None = None,
    ) -> HTMLResponse:
        title = "申请进度查询"
        if not tracking_no and not id_tail:
            return render(runtime, "progress.html", title)
        if not (
            tracking_no
            and id_tail
            and _TRACKING_NO.fullmatch(tracking_no)
            and _ID_TAIL.fullmatch(id_tail)
        ):
            return render(
                runtime,
                "progress.html",
                title,
                422,
                message="请填写正确的查询编号和身份证号后四位。",
            )
        try:
            await limiter(request)
        except TooManyRequests as exc:
            response = render(runtime, "progress.html", title, 429, message=exc.detail)
            response.headers.update(exc.headers())
            return response
        async with runtime.engine.connect() as conn:
            found = await queries.progress(conn, tracking_no, id_tail)
        if found is None:
            return render(
                runtime,
                "progress.html",
                title,
                404,
                tracking_no=tracking_no,
                message="未查询到相符的申请，请核对查询编号和身份证号后四位。",
            )
        return render(runtime, "progress.html", title, tracking_no=tracking_no, p=found)

    return router

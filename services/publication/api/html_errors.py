"""Chinese error pages for people at a browser; problem+json for everyone else.

A citizen who follows an old link to a notice, mistypes a section or opens a cut-off id must
see a page that says what happened and where to go, not a JSON document. The public routers
use ``HtmlErrorRoute``: when the request's ``Accept`` names ``text/html`` (what browsers send),
a problem the route raises (unknown notice, section, round, objection; a malformed id; the rate
limit) is rendered as the ``error.html`` page with the same status; any other client (httpx,
curl, a portal's fetch asking for JSON) gets the unchanged problem+json. ``fallback_router``,
registered last, does the same for addresses under ``/public/pages`` that match no page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.publication.api.rendering import render
from shared.pii import scrub
from shared.problems import NotFound, Problem

# What the page says per status; the problem's own detail is added when it is written for
# people (the domain's Chinese texts). A validation error's detail names parameters and is not.
_HEADLINES: dict[int, tuple[str, str]] = {
    404: ("未找到您要查看的内容", "该内容可能尚未发布、已撤下，或链接地址有误。"),
    422: ("链接地址有误", "链接中的编号不完整或格式不正确，请从列表页重新进入。"),
    429: ("查询过于频繁", "为保护申请人信息，同一网络的查询次数有限制，请稍后再试。"),
}
_GENERIC = ("暂时无法显示该页面", "请稍后再试；如问题持续，请拨打住房保障服务电话咨询。")


def wants_html(request: Request) -> bool:
    """A browser navigating: its Accept names text/html (API clients send JSON or */*)."""
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media == "text/html":
            q = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def error_page(request: Request, exc: Exception) -> Response:
    """The Chinese error page for ``exc`` with its status (and Retry-After of a 429)."""
    if isinstance(exc, Problem):
        status, detail, headers = exc.status, scrub(exc.detail), exc.headers()
    elif isinstance(exc, RequestValidationError):
        status, detail, headers = 422, None, {}
    else:
        assert isinstance(exc, StarletteHTTPException)
        status, detail, headers = exc.status_code, None, {}
    headline, advice = _HEADLINES.get(status, _GENERIC)
    if status == 422:
        detail = None
    response = render(
        request.app.state.runtime.context,
        "error.html",
        headline,
        status,
        detail=detail,
        advice=advice,
    )
    response.headers.update(headers)
    return response


class HtmlErrorRoute(APIRoute):
    """An APIRoute whose problems become Chinese pages for browsers (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (Problem, RequestValidationError, StarletteHTTPException) as exc:
                if not wants_html(request) or (isinstance(exc, Problem) and exc.status >= 500):
                    raise
                return error_page(request, exc)

        return route


fallback_router = APIRouter(route_class=HtmlErrorRoute)


@fallback_router.get("/public/pages/{rest:path}", include_in_schema=False)
async def unknown_page(rest: str) -> Response:
    raise NotFound("没有这个页面", field="path")

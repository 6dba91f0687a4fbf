"""Pages every service serves about its own contract: ``/problems``, the explanation of each
problem ``type`` the service answers (the type URIs point here, one anchor per type), and the
content security policy of the documentation pages.

Plain server-rendered HTML with no outside asset: it must open on an intranet. The policy
keeps Swagger UI and ReDoc to the service's own origin: ReDoc's bundle hard-codes an image from
``cdn.redoc.ly`` (its "API docs by Redocly" logo, which it hides when it cannot load), and on an
intranet a browser would otherwise wait for that host; with the policy it never asks.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import PROBLEM_BASE, known_problem_types

__all__ = ["DOC_PAGES", "DocsPolicyMiddleware", "install_problem_page", "problems_page"]

DOC_PAGES = frozenset({"/docs", "/redoc", "/asyncapi", "/problems"})

# Swagger UI starts from an inline script and both draw icons from data: URIs; ReDoc runs its
# search in a blob: worker. Nothing may come from another origin.
_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)


class DocsPolicyMiddleware:
    """Sends ``Content-Security-Policy`` with the documentation pages (``DOC_PAGES``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOC_PAGES:
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"content-security-policy", _POLICY))
            await send(message)

        await self.app(scope, receive, with_policy)


_STYLE = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;
max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#1f2328}
section{border-top:1px solid #d0d7de;padding:.5rem 0}
section:target{background:#fff8c5}
code{background:#f6f8fa;padding:0 .25rem}
"""


def problems_page(service: str) -> str:
    rows: list[str] = []
    for slug, entries in known_problem_types().items():
        if not entries:
            continue
        items = "".join(
            f"<li>HTTP {status} · {escape(title)}"
            + (f"<br><small>{escape(doc)}</small>" if doc else "")
            + "</li>"
            for status, title, doc in entries
        )
        rows.append(
            f'<section id="{escape(slug)}"><h2>{escape(entries[0][1])}</h2>'
            f"<p><code>type: {escape(PROBLEM_BASE + slug)}</code></p><ul>{items}</ul></section>"
        )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>错误类型说明 · {escape(service)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>错误类型说明（{escape(service)}）</h1>"
        "<p>本服务的错误响应均为 RFC 9457 <code>application/problem+json</code>；"
        "<code>type</code> 指向本页对应条目，<code>detail</code> 说明具体原因，"
        "<code>field</code> 指出有问题的字段。</p>" + "".join(rows) + "</body></html>"
    )


def install_problem_page(app: FastAPI, service: str) -> None:
    @app.get(
        "/problems",
        tags=["operations"],
        summary="Every problem type this service answers (the target of each problem `type`)",
        response_class=HTMLResponse,
    )
    async def problem_types() -> HTMLResponse:
        return HTMLResponse(problems_page(service))

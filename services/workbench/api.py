"""The workbench's HTTP surface: sign-in and session (/auth), the forwarding of API calls to
the services (/api/<service>/...), and the single-page app (everything else).

The browser never sees a bearer token: the session cookie is opened here and the user's token
is put on the forwarded request. Unsafe requests need the session's CSRF token in the
``X-CSRF-Token`` header; a page of another site can neither read that token nor set the header
without a CORS preflight this app never grants, and the SameSite=Strict cookie is not sent by
its requests anyway (two independent guards).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from services.workbench.context import WorkbenchContext
from services.workbench.oidc import LoginState, SignInError
from services.workbench.sessions import LOGIN_COOKIE, SESSION_COOKIE, Session, User
from shared.problems import (
    Forbidden,
    NotFound,
    Problem,
    ServiceUnavailable,
    Unauthorized,
    ValidationProblem,
    problem_type,
)
from shared.settings import SERVICES

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
# Request headers passed on to a service (all others, cookies first, stay here).
FORWARDED_REQUEST_HEADERS = ("accept", "content-type", "idempotency-key", "x-correlation-id")
# Response headers passed back (hop-by-hop and length headers are the server's own business).
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "location",
    "retry-after",
    "x-correlation-id",
    "etag",
)


class BadGateway(Problem):
    status = 502
    type = problem_type("bad-gateway")
    title = "业务服务无响应"


class CsrfRefused(Forbidden):
    type = problem_type("csrf")
    title = "请求来源校验失败"


def ctx_of(request: Request) -> WorkbenchContext:
    return request.app.state.ctx


Ctx = Annotated[WorkbenchContext, Depends(ctx_of)]


def current_session(request: Request, ctx: Ctx) -> Session | None:
    return ctx.codec.open_session(
        request.cookies.get(SESSION_COOKIE), max_age_seconds=ctx.session_seconds
    )


OptionalSession = Annotated[Session | None, Depends(current_session)]


def require_session(session: OptionalSession) -> Session:
    if session is None:
        raise Unauthorized("请先登录工作台", bearer_error=None)
    return session


SignedIn = Annotated[Session, Depends(require_session)]


def check_csrf(request: Request, session: Session | None) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    # Before sign-in there is no session token to match; the header alone still proves the
    # request came from a script of this origin (a cross-site form cannot set it).
    expected = session.csrf if session is not None else None
    if not sent or (expected is not None and not secrets.compare_digest(sent, expected)):
        raise CsrfRefused("页面已过期或请求来源不明，请刷新页面后重试")


class MeOut(BaseModel):
    sub: str
    name: str
    roles: list[str]
    org: str
    csrf: str
    expires_at: float


class SignInOptions(BaseModel):
    environment: str
    development: bool  # the demo-user list is offered
    oidc: bool  # the identity provider's sign-in is offered
    city: str


class DemoUserOut(BaseModel):
    id: str
    name: str
    title: str
    roles: list[str]
    org: str
    group: str


class DevSignIn(BaseModel):
    id: str


def _me(session: Session) -> MeOut:
    u = session.user
    return MeOut(
        sub=u.sub,
        name=u.name,
        roles=list(u.roles),
        org=u.org,
        csrf=session.csrf,
        expires_at=session.expires_at,
    )


def _set_session(response: Response, ctx: WorkbenchContext, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        ctx.codec.seal_session(session),
        max_age=int(max(session.expires_at - time.time(), 0)),
        httponly=True,
        samesite="strict",
        secure=ctx.settings.secure_cookies,
        path="/",
    )


auth = APIRouter(prefix="/auth", tags=["auth"])


@auth.get("/options", response_model=SignInOptions)
async def sign_in_options(ctx: Ctx) -> SignInOptions:
    return SignInOptions(
        environment=ctx.settings.environment,
        development=ctx.settings.is_development,
        oidc=ctx.oidc is not None,
        city=ctx.city.city.name,
    )


@auth.get("/me", response_model=MeOut)
async def me(session: SignedIn) -> MeOut:
    return _me(session)


@auth.get("/demo-users", response_model=list[DemoUserOut])
async def list_demo_users(ctx: Ctx) -> list[DemoUserOut]:
    if not ctx.settings.is_development:
        raise NotFound("演示账号仅在开发环境提供")
    return [DemoUserOut(**{**asdict(u), "roles": list(u.roles)}) for u in ctx.demo_users]


@auth.post("/demo-login", response_model=MeOut)
async def demo_login(
    request: Request, body: Annotated[DevSignIn, Body()], ctx: Ctx, session: OptionalSession
) -> JSONResponse:
    check_csrf(request, None)
    if not ctx.settings.is_development:
        raise NotFound("演示账号仅在开发环境提供")
    demo = next((u for u in ctx.demo_users if u.id == body.id), None)
    if demo is None:
        raise ValidationProblem("没有这个演示账号", field="id")
    user = User(sub=demo.id, name=demo.name, roles=demo.roles, org=demo.org)
    new = Session(user=user, token=ctx.mint_dev_token(user), expires_at=ctx.session_expiry())
    response = JSONResponse(_me(new).model_dump())
    _set_session(response, ctx, new)
    return response


@auth.post("/logout", status_code=204)
async def logout(request: Request, session: OptionalSession, ctx: Ctx) -> Response:
    check_csrf(request, session)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _safe_return_to(value: str | None) -> str:
    # Only paths of this app: an open redirect would let a phishing link borrow our sign-in.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@auth.get("/oidc/login")
async def oidc_login(ctx: Ctx, return_to: Annotated[str | None, Query()] = None) -> Response:
    if ctx.oidc is None:
        raise NotFound("未配置统一身份认证")
    login = LoginState.new(_safe_return_to(return_to))
    try:
        url = await ctx.oidc.authorization_url(login)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("统一身份认证平台暂时无法访问，请稍后重试") from exc
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        LOGIN_COOKIE,
        ctx.codec.seal(asdict(login)),
        max_age=600,
        httponly=True,
        # Lax, not Strict: the identity provider's redirect back is a cross-site navigation,
        # and a Strict cookie would not come with it.
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/auth/oidc",
    )
    return response


@auth.get("/oidc/callback")
async def oidc_callback(
    request: Request,
    ctx: Ctx,
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
) -> Response:
    if ctx.oidc is None:
        raise NotFound("未配置统一身份认证")
    saved = ctx.codec.open(request.cookies.get(LOGIN_COOKIE), max_age_seconds=600)
    try:
        if error or not code or not state:
            raise SignInError("统一身份认证未完成登录，请重新登录。")
        if saved is None:
            raise SignInError("登录已超时，请重新登录。")
        login = LoginState(**saved)
        user, token, expires_at = await ctx.oidc.finish(login, code=code, state=state)
    except SignInError as refused:
        # The app's sign-in page shows the message (a query parameter it reads, not HTML).
        response: Response = RedirectResponse(
            "/login?" + httpx.QueryParams({"error": str(refused)}).__str__(), status_code=302
        )
        response.delete_cookie(LOGIN_COOKIE, path="/auth/oidc")
        return response
    session = Session(user=user, token=token, expires_at=min(expires_at, ctx.session_expiry()))
    response = RedirectResponse(login.return_to, status_code=302)
    response.delete_cookie(LOGIN_COOKIE, path="/auth/oidc")
    _set_session(response, ctx, session)
    return response


own = APIRouter(prefix="/api/workbench", tags=["workbench"])


@own.get("/city")
async def city_names(ctx: Ctx, session: SignedIn) -> dict[str, Any]:
    """The names the screens show for the city file's codes (units, materials, categories,
    departments) and the upload limits; configuration, not domain data."""
    city = ctx.city
    units = {city.city.code: city.city.name}
    for d in city.units.districts:
        units[d.code] = d.name
        units.update({s.code: s.name for s in d.streets})
    return {
        "code": city.city.code,
        "name": city.city.name,
        "units": units,
        "districts": [
            {
                "code": d.code,
                "name": d.name,
                "streets": [{"code": s.code, "name": s.name} for s in d.streets],
            }
            for d in city.units.districts
        ],
        "materials": [{"code": m.code, "name": m.name} for m in city.materials],
        "categories": [
            {"code": c.code, "name": c.name, "required_materials": list(c.required_materials)}
            for c in city.categories
        ],
        "departments": [{"code": d.code, "name": d.name} for d in city.departments],
        "max_upload_bytes": city.acceptance.max_upload_bytes,
        "allowed_content_types": list(city.acceptance.allowed_content_types),
    }


proxy = APIRouter(tags=["api"])


@proxy.api_route("/api/{service}/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def forward(
    service: str, path: str, request: Request, ctx: Ctx, session: SignedIn
) -> Response:
    """Forward one call to ``service`` with the user's token; its answer comes back unchanged
    (problem+json included, so the app shows the service's own field messages)."""
    if service not in SERVICES:
        raise NotFound(f"没有名为 {service} 的业务服务", field="service")
    check_csrf(request, session)
    headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k))}
    headers["authorization"] = f"Bearer {session.token}"
    if request.client:
        # The browser's address (never a header the browser sent): the services' public rate
        # limits then count each citizen, not the workbench as one client for all of them.
        headers["x-forwarded-for"] = request.client.host
    url = f"{ctx.settings.service_url(service)}/{path}"
    try:
        answer = await ctx.http.request(
            request.method,
            url,
            params=request.query_params.multi_items(),
            headers=headers,
            content=await request.body(),
        )
    except httpx.TimeoutException as exc:
        raise BadGateway(f"业务服务（{service}）响应超时，请稍后重试") from exc
    except httpx.TransportError as exc:
        raise BadGateway(f"业务服务（{service}）暂时无法访问，请稍后重试") from exc
    kept = {k: v for k in FORWARDED_RESPONSE_HEADERS if (v := answer.headers.get(k))}
    return Response(content=answer.content, status_code=answer.status_code, headers=kept)


def mount_spa(app: FastAPI, dist: Path) -> None:
    """The built app: its hashed assets, and index.html for every other path (history-mode
    routing: /review/tasks reloaded in the browser is the app's route, not a file)."""
    root = dist.resolve()
    index = root / "index.html"
    assets = root / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    def spa(path: str) -> Response:  # sync: FastAPI runs it in a thread (file system calls)
        if path.startswith(("api/", "auth/")):
            raise NotFound("请求的地址不存在")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and root in candidate.parents:
            return FileResponse(candidate)
        if not index.is_file():
            raise ServiceUnavailable(
                "工作台前端尚未构建：请运行 scripts/run.sh"
                "（或在 services/workbench/web 下运行 npm run build）"
            )
        # The shell must never be cached: it names the current hashed assets.
        return FileResponse(index, headers={"Cache-Control": "no-store"})


def health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "service": "workbench"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        ctx: WorkbenchContext = request.app.state.ctx
        built = (ctx.settings.web_dist / "index.html").is_file()
        return JSONResponse(
            {"status": "ok" if built else "not_ready", "checks": {"web_built": built}},
            status_code=200 if built else 503,
        )

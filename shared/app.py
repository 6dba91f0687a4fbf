"""The app factory: every service gets the same health, readiness, metrics and error handling."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import correlation
from shared.clock import clock
from shared.db import UnitOfWork
from shared.docs import DocsPolicyMiddleware, install_problem_page
from shared.logging import configure_logging
from shared.metrics import exposition, observe_request, scrape
from shared.openapi import install_contract, operation_id
from shared.problems import (
    PROBLEM_RESPONSES,
    PayloadTooLarge,
    ServiceUnavailable,
    install_problem_handlers,
    problem_response,
)
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import run_sweeps_now
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


class CorrelationMiddleware:
    """Binds the request's correlation id (or a new one) and echoes it in the response."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = correlation.HEADER.lower().encode()
        incoming = next((v for k, v in scope["headers"] if k == header), b"").decode()
        # Accept only a sane token from outside; anything else gets a fresh id.
        cid = incoming if incoming and len(incoming) <= 64 and incoming.isprintable() else None
        cid = cid or correlation.new_correlation_id()
        correlation.clear()
        correlation.bind(cid)
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((header, cid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            observe_request(self.service, scope, status, time.perf_counter() - started)


class RequestLimitMiddleware:
    """Refuses a request body larger than ``max_bytes`` before any endpoint (or authentication)
    reads it, by its declared length and, for a chunked body, while it arrives; and sends the
    security headers every response carries (an HTML page of a service included)."""

    SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if too_large:
                return  # the app's answer to a cut-off body (a parse error) is replaced below
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in self.SECURITY_HEADERS if h[0] not in present)
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            too_large = True
        if too_large:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = PayloadTooLarge(
            f"请求内容超过允许的最大大小（{self.max_bytes // (1024 * 1024)} MB）",
            extra={"max_bytes": self.max_bytes},
        )
        await problem_response(problem, scope.get("path"))(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


# Dependencies are ``async def`` although they do not await: FastAPI runs a plain ``def``
# dependency in its thread pool, a thread hop per request for a dictionary lookup.
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_context(request: Request) -> Any:
    """The service's context (``services/<name>/context.py``), built once at start; each
    service declares its typed alias: ``Ctx = Annotated[IntakeContext, Depends(get_context)]``."""
    return request.app.state.runtime.context


async def get_uow(request: Request) -> UnitOfWork:
    return request.app.state.runtime.uow()


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


def create_app(definition: ServiceDefinition, settings: ServiceSettings) -> FastAPI:
    configure_logging(settings.service, settings.log_level, json=settings.log_json)
    runtime = Runtime(definition, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        log.info("service_started", port=settings.port)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("service_stopped")

    # Swagger UI and ReDoc from the package's own copies: government intranets reach no CDN.
    app = FastAPIOffline(
        static_url="/_docs-assets",
        title=definition.title,
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        generate_unique_id_function=operation_id(settings.service),
    )
    app.state.settings = settings
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_middleware(RequestLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(DocsPolicyMiddleware)
    app.add_middleware(CorrelationMiddleware, service=settings.service)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service}

    @app.get("/readyz", tags=["operations"], summary="Database and broker reachable")
    async def readyz() -> dict[str, object]:
        checks = await runtime.readiness()
        if not all(checks.values()):
            failing = ", ".join(name for name, ok in checks.items() if not ok)
            detail = f"服务未就绪：{failing}"
            extra: dict[str, object] = {"checks": checks}
            watchdog = runtime.watchdog
            link = runtime.broker_link_problem()
            if watchdog is not None and link is not None and not checks.get("broker_link", True):
                # The watchdog's own words after the Chinese summary: what it saw is what an
                # operator searches the log for (broker_link_stuck).
                lasted = watchdog.broken_seconds
                detail += f"（消息代理链路异常已持续 {lasted:.0f} 秒：{link}）"
                extra["broker_link_problem"] = link
            raise ServiceUnavailable(detail=detail, extra=extra)
        return {"status": "ready", "checks": checks}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        gauges = exposition(settings.service, await scrape(runtime))
        return Response(generate_latest() + gauges, media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/audit/keys",
        tags=["operations"],
        summary="Public key set of the audit checkpoints (JWKS, Ed25519)",
    )
    async def audit_keys() -> dict[str, list[dict[str, str]]]:
        # Public on purpose: anyone holding a published checkpoint can check its signature.
        return runtime.checkpoint_key.jwks()

    if settings.is_development:
        _install_dev_clock(app)

    install_problem_page(app, settings.service)
    for router in definition.routers:
        app.include_router(router)
    install_contract(app)
    return app


class ClockChange(BaseModel):
    advance_seconds: float | None = None
    set_to: datetime | None = None
    reset: bool = False
    # Run every sweep of the service once at the new time before answering, so deadlines that
    # the move crossed take effect now rather than at the next interval.
    run_sweeps: bool = True


def _install_dev_clock(app: FastAPI) -> None:
    """Development and test only: move this process's clock (deadline and expiry scenarios);
    ``tools/dev_clock.py`` calls it on every service at once."""

    @app.post("/_dev/clock", tags=["development"], summary="Move the clock (not in production)")
    async def move_clock(change: ClockChange, request: Request) -> dict[str, Any]:
        if change.reset:
            clock.reset()
        if change.set_to is not None:
            clock.set(change.set_to)
        if change.advance_seconds:
            clock.advance(timedelta(seconds=change.advance_seconds))
        swept: list[str] = []
        if change.run_sweeps and request.app.state.runtime.settings.run_workers:
            swept = await run_sweeps_now(request.app.state.runtime)
        return {"now": clock.now().isoformat(), "sweeps": swept}

"""Composition root of the workbench: reads the settings and the city file, builds the context
and the app. The only module that reads configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.workbench import api
from services.workbench.context import WorkbenchContext
from services.workbench.demo_users import demo_users
from services.workbench.oidc import ClaimMapping, OidcClient
from services.workbench.sessions import SessionCodec
from services.workbench.settings import WorkbenchSettings
from shared.app import CorrelationMiddleware
from shared.city import city_config
from shared.logging import configure_logging
from shared.problems import install_problem_handlers


def oidc_client(settings: WorkbenchSettings) -> OidcClient | None:
    if not settings.oidc_issuer:
        return None
    return OidcClient(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        redirect_uri=f"{settings.public_url.rstrip('/')}/auth/oidc/callback",
        scope=settings.oidc_scope,
        mapping=ClaimMapping(
            roles_claim=settings.oidc_roles_claim,
            unit_claim=settings.oidc_unit_claim,
            name_claim=settings.oidc_name_claim,
            role_map=settings.oidc_role_map,
        ),
        timeout=settings.connect_timeout_seconds * 2,
    )


def create_app(
    settings: WorkbenchSettings | None = None,
    *,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The workbench app; tests may route service URLs to in-process apps (``transports``:
    URL prefix -> transport, httpx's ``mounts``)."""
    settings = settings or WorkbenchSettings()
    configure_logging("workbench", settings.log_level)
    city = city_config(settings.city_config)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.request_timeout_seconds, connect=settings.connect_timeout_seconds
        ),
        follow_redirects=False,
        mounts=transports,
    )
    ctx = WorkbenchContext(
        settings=settings,
        city=city,
        codec=SessionCodec([k.get_secret_value() for k in settings.session_keys]),
        http=http,
        demo_users=tuple(demo_users(city)) if settings.is_development else (),
        oidc=oidc_client(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()

    app = FastAPI(
        title="workbench",
        description="公租房业务工作台（前端与接口转发）",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    app.add_middleware(CorrelationMiddleware, service="workbench")
    api.health_routes(app)
    app.include_router(api.auth)
    app.include_router(api.own)
    app.include_router(api.proxy)
    api.mount_spa(app, settings.web_dist)
    return app

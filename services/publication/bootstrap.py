"""Composition root of the publication service: what it handles, serves and runs on a clock.

The only module that reads configuration: the publication settings (``PublicationSettings``,
``HOUSING_PUBLICATION_*``) are read once here, the province pusher and the progress limiter are
built from them, and ``build_context`` hands all of it to endpoints, handlers and sweeps.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication import sweeps
from services.publication.adapters.limiter import ProgressLimiter
from services.publication.adapters.province import Pusher
from services.publication.api import html_errors, objection_pages, pages, public, staff
from services.publication.context import PublicationContext
from services.publication.handlers import HANDLERS
from services.publication.settings import PublicationSettings
from services.publication.tables import metadata
from shared.context import base_fields
from shared.metrics import GaugeSample
from shared.runtime import BackgroundJob, Runtime, ServiceDefinition
from shared.scheduler import sweep_job


def pusher_job(interval: float) -> BackgroundJob:
    tick = sweep_job("province-push", interval, sweeps.province_push)

    async def job(runtime: Runtime) -> None:
        ctx: PublicationContext = runtime.context
        if not runtime.settings.is_development and ctx.settings.uses_dev_secret():
            # Stops the job (readiness then reports it) rather than pushing with a known key.
            raise RuntimeError(
                "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS uses the development secret; "
                "configure the provincial endpoint and its real secret"
            )
        ctx.pusher.city = runtime.city.city.code
        try:
            await tick(runtime)
        finally:
            await ctx.pusher.aclose()

    job.__name__ = "periodic:province-push"
    return job


def definition(settings: PublicationSettings | None = None) -> ServiceDefinition:
    settings = settings or PublicationSettings()
    pusher = Pusher(settings)
    limiter = ProgressLimiter(settings.progress_burst, settings.progress_per_minute)
    objection_limiter = ProgressLimiter(
        settings.objection_burst, settings.objection_per_minute, doing="提交异议"
    )

    def build_context(runtime: Runtime) -> PublicationContext:
        return PublicationContext(
            **base_fields(runtime),
            settings=settings,
            pusher=pusher,
            limiter=limiter,
            objection_limiter=objection_limiter,
        )

    return ServiceDefinition(
        name="publication",
        title="Publication 信息公开",
        description=(
            "Publicity notices (公示) and objections, public progress query, the six "
            "disclosures (六公开), the agency blacklist, and the real-time push to the "
            "provincial supervision platform (省监管系统)."
        ),
        metadata=metadata,
        handlers=HANDLERS,
        # The fallback last: it answers every /public/pages address no page matched.
        routers=(
            public.router,
            pages.router,
            objection_pages.router,
            staff.router,
            html_errors.fallback_router,
        ),
        background=(
            sweep_job("notice-sweep", settings.notice_sweep_seconds, sweeps.notice_sweep),
            # No provincial endpoint configured: nothing is ever logged for a push, so no job
            # (it would open a transaction every interval to find nothing).
            *([pusher_job(settings.push_interval_seconds)] if settings.province_endpoints else []),
        ),
        outbound_urls=lambda ctx: [
            (f"HOUSING_PUBLICATION_PROVINCE_ENDPOINTS ({e.name})", e.url)
            for e in ctx.settings.province_endpoints
        ],
        context=build_context,
        gauges=push_gauges,
    )


async def push_gauges(ctx: PublicationContext, conn: AsyncConnection) -> list[GaugeSample]:
    """At scrape time, the push backlog and lag (``province_push_backlog``,
    ``province_push_oldest_unacked_seconds``) per endpoint, by the pusher's own query."""
    await ctx.pusher.update_gauges(conn)
    return []

"""Composition root of the publication service: what it listens to, handles and serves.

The publication settings (``PublicationConfig``, ``HOUSING_PUBLICATION_*``) are read once here;
the handlers, routers, the notice sweep and the provincial pusher all receive them from here.
"""

from __future__ import annotations

import structlog

from services.publication.config import PublicationConfig
from services.publication.handlers import build_handlers
from services.publication.notices import make_notice_sweep
from services.publication.pages import build_pages_router
from services.publication.public_api import build_public_router, progress_limiter
from services.publication.pushlog import Pusher
from services.publication.staff_api import build_staff_router
from services.publication.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import BackgroundJob, Runtime, ServiceDefinition
from shared.scheduler import periodic

log = structlog.get_logger(__name__)

# Routing keys on housing.events this service hears. Its own publicity.* and objection.* are
# not among them: they are logged for the province in the transaction that emits them.
BINDINGS = (
    Binding("application.#"),
    Binding("review.#"),
    Binding("verification.completed"),
    Binding("alert.#"),
    Binding("credit.#"),
)


def pusher_job(pusher: Pusher, interval: float) -> BackgroundJob:
    tick = periodic("province-push", interval, pusher.sweep)

    async def job(runtime: Runtime) -> None:
        if not runtime.settings.is_development and pusher.config.uses_dev_secret():
            # Stops the job (readiness then reports it) rather than pushing with a known key.
            raise RuntimeError(
                "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS uses the development secret; "
                "configure the provincial endpoint and its real secret"
            )
        pusher.city = runtime.city.city.code
        await tick(runtime)

    job.__name__ = "periodic:province-push"
    return job


def definition(config: PublicationConfig | None = None) -> ServiceDefinition:
    config = config or PublicationConfig()
    limiter = progress_limiter(config)
    pusher = Pusher(config)
    return ServiceDefinition(
        name="publication",
        title="Publication 信息公开",
        description=(
            "Publicity notices (公示) and objections, public progress query, the six "
            "disclosures (六公开), the agency blacklist, and the real-time push to the "
            "provincial supervision platform (省监管系统)."
        ),
        metadata=metadata,
        bindings=BINDINGS,
        handlers=build_handlers(config),
        routers=(
            build_public_router(config, limiter),
            build_pages_router(limiter),
            build_staff_router(config),
        ),
        background=(
            periodic("notice-sweep", config.notice_sweep_seconds, make_notice_sweep(config)),
            pusher_job(pusher, config.push_interval_seconds),
        ),
    )

"""Composition root of the verification service: what it listens to, handles and serves.

The only module that reads configuration: it builds the settings and the context once."""

from __future__ import annotations

import asyncio

import aio_pika
import sqlalchemy as sa
import structlog

from services.verification import api, asyncapi_api, reference_api, store, sweeps
from services.verification.adapters.department_queues import (
    declare_department_queues,
    department_queue_name,
)
from services.verification.context import VerificationContext
from services.verification.handlers import HANDLERS
from services.verification.settings import VerificationSettings
from services.verification.tables import metadata
from shared.city import CityConfig
from shared.context import base_fields
from shared.runtime import BackgroundJob, Runtime, ServiceDefinition
from shared.scheduler import sweep_job

log = structlog.get_logger(__name__)

# How often the preparation job re-checks the department queues (a broker that lost its
# definitions gets them back without a service restart).
PREPARE_RECHECK_SECONDS = 300.0


def prepare(settings: VerificationSettings) -> BackgroundJob:
    """Seed the admission parameters and declare the department queues, then keep them.

    Runs as a background job so a broker or database that is still starting delays it
    without stopping the service; it never returns (a finished job reads as not ready).
    """

    async def job(runtime: Runtime) -> None:
        seeded = declared = False
        while True:
            try:
                if not seeded:
                    async with runtime.engine.begin() as conn:
                        count = await store.seed_from_city(conn, runtime.city)
                    log.info("admission_parameters_seeded", new=count)
                    seeded = True
                await runtime.broker.wait_connected()
                assert runtime.broker.connection is not None
                channel = await runtime.broker.connection.channel()
                try:
                    await declare_department_queues(
                        channel,
                        runtime.broker.logical["verification"],
                        queue_prefix=runtime.settings.queue_prefix,
                        departments=[d.code for d in runtime.city.departments],
                        delivery_limit=settings.department_delivery_limit,
                    )
                finally:
                    await channel.close()
                if not declared:
                    log.info("department_queues_declared", count=len(runtime.city.departments))
                declared = True
                await asyncio.sleep(PREPARE_RECHECK_SECONDS)
            except (OSError, sa.exc.SQLAlchemyError, aio_pika.exceptions.AMQPError) as exc:
                log.warning("verification_prepare_failed", error=str(exc)[:300])
                await asyncio.sleep(2.0)

    job.__name__ = "verification-prepare"
    return job


def definition(
    city: CityConfig | None = None, settings: VerificationSettings | None = None
) -> ServiceDefinition:
    """``city`` and ``settings`` are overrides for tests and the benchmark; by default the
    city file the runtime validates at start (``settings.city_config``) and the
    ``HOUSING_VERIFICATION_*`` settings."""
    settings = settings or VerificationSettings()
    city_override = city

    def build_context(runtime: Runtime) -> VerificationContext:
        fields = base_fields(runtime)
        if city_override is not None:
            fields["city"] = city_override
        context = VerificationContext(**fields, settings=settings)
        context.batched  # noqa: B018 (an unknown department in the setting stops the start)
        return context

    return ServiceDefinition(
        name="verification",
        title="Verification 联审联查",
        description=(
            "Parallel cross-department verification (推送相关、同步核查、限时办结), the "
            "household economic profile, admission parameters with four-eyes approval, and "
            "the automatic eligibility recommendation. Department systems answer over AMQP "
            "(housing.verification, response.<department>) or over the /departments API."
        ),
        metadata=metadata,
        handlers=HANDLERS,
        routers=(api.router, asyncapi_api.router, reference_api.router),
        background=(
            prepare(settings),
            sweep_job("verification-deadlines", settings.deadline_sweep_seconds, sweeps.deadlines),
        ),
        context=build_context,
        dead_letter_queues=department_dead_letters,
    )


def department_dead_letters(runtime: Runtime) -> list[str]:
    """The departments' dead-letter queues, whose depth /metrics reports with our own."""
    prefix = runtime.settings.queue_prefix
    return [f"{department_queue_name(prefix, d.code)}.dead" for d in runtime.city.departments]

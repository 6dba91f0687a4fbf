"""Composition root of the verification service: what it listens to, handles and serves."""

from __future__ import annotations

import asyncio

import aio_pika
import sqlalchemy as sa
import structlog

from services.verification import parameters
from services.verification.api import router
from services.verification.cases import deadline_sweep
from services.verification.config import VerificationOptions
from services.verification.department_queues import declare_department_queues
from services.verification.handlers import on_application_accepted, on_department_answered
from services.verification.tables import metadata
from shared.amqp.topology import Binding
from shared.city import CityConfig, city_config
from shared.runtime import BackgroundJob, Runtime, ServiceDefinition
from shared.scheduler import periodic
from shared.settings import settings_for

log = structlog.get_logger(__name__)

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("application.accepted"),
    Binding("response.*", exchange="verification"),
)

# How often the preparation job re-checks the department queues (a broker that lost its
# definitions gets them back without a service restart).
PREPARE_RECHECK_SECONDS = 300.0


def prepare(options: VerificationOptions) -> BackgroundJob:
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
                        count = await parameters.seed_from_city(conn, runtime.city)
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
                        delivery_limit=options.department_delivery_limit,
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
    city: CityConfig | None = None, options: VerificationOptions | None = None
) -> ServiceDefinition:
    """Handlers get the city configuration here, from the same file and cache the runtime
    validates at start (``settings.city_config``)."""
    city = city or city_config(settings_for("verification").city_config)
    options = options or VerificationOptions()
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
        bindings=BINDINGS,
        handlers={
            "application.accepted": on_application_accepted(city, options),
            "department.answered": on_department_answered(city, options),
        },
        routers=(router,),
        background=(
            prepare(options),
            periodic(
                "verification-deadlines",
                options.deadline_sweep_seconds,
                deadline_sweep(city, options),
            ),
        ),
    )

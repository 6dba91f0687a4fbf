"""The eight services in-process with the reference department simulators answering over
AMQP: what the walkthroughs and the demo seed run against in the test command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from shared.city import city_config
from shared.settings import SERVICES
from simulators.departments import Behaviour, answering
from tests.conftest import Infra
from tests.e2e.journey_support import environment
from tests.services import RunningService, running_service
from tools import walkthrough_allocation


@asynccontextmanager
async def walk_suite(
    infra: Infra, system: str, **overrides: Any
) -> AsyncIterator[dict[str, RunningService]]:
    async with AsyncExitStack() as stack:
        # The notice sweep closes the publicity soon after the walkthrough moves the clock.
        stack.enter_context(environment({"HOUSING_PUBLICATION_NOTICE_SWEEP_SECONDS": "0.5"}))
        services = {
            name: await stack.enter_async_context(
                running_service(infra, name, system=system, **overrides)
            )
            for name in SERVICES
        }
        settings = services["verification"].runtime.settings
        await stack.enter_async_context(
            answering(
                [
                    d.code
                    for d in city_config().verifying_departments(walkthrough_allocation.CATEGORY)
                ],
                amqp_url=settings.amqp_url,
                exchange=settings.verification_exchange,
                queue_prefix=settings.queue_prefix,
                behaviour=Behaviour(latency_ms=0),
            )
        )
        yield services

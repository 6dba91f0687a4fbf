"""All six services migrate, start, consume and publish on the real broker (issue 2, item 3)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from shared.migrations import migrate
from shared.runtime import Runtime
from shared.settings import SERVICES
from shared.tables import inbox
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.services import service_bootstrap

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def runtimes(infra: Infra) -> AsyncIterator[dict[str, Runtime]]:
    started: dict[str, Runtime] = {}
    for name in SERVICES:
        settings = infra.settings(name)
        await migrate(settings)
        definition = service_bootstrap(name).definition()
        runtime = Runtime(definition, settings)
        await runtime.start()
        started[name] = runtime
    yield started
    for runtime in started.values():
        await runtime.stop()


async def test_every_service_is_ready(runtimes: dict[str, Runtime]) -> None:
    for name, runtime in runtimes.items():
        checks = await runtime.readiness()
        assert all(checks.values()), (name, checks)


async def inbox_rows(runtime: Runtime, event_id: uuid.UUID) -> int:
    async with runtime.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id == event_id)
            )
            or 0
        )


async def test_an_intake_event_reaches_every_other_service_exactly_once(
    runtimes: dict[str, Runtime],
) -> None:
    accepted_example = accepted_application()
    async with runtimes["intake"].uow() as uow:
        event = uow.emit(accepted_example, subject=str(accepted_example.application_id))
        await uow.commit()

    # Every service that handles application.accepted gets it once; the others' queues are
    # bound to the types they handle only, so they never see it.
    listeners = [
        name for name in SERVICES if "application.accepted" in runtimes[name].definition.handlers
    ]
    assert listeners == ["review", "verification", "alerting", "publication"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = {name: await inbox_rows(runtimes[name], event.id) for name in listeners}
        if all(counts.values()):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a duplicate would have time to land
    counts = {name: await inbox_rows(runtimes[name], event.id) for name in SERVICES}
    assert counts == {name: int(name in listeners) for name in SERVICES}, counts
    # intake does not listen to its own application events.
    assert await inbox_rows(runtimes["intake"], event.id) == 0

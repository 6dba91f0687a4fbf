"""One publication service (real PostgreSQL and RabbitMQ) and one reference provincial
receiver (real uvicorn on a free port) shared by the publication integration tests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from services.publication.settings import PublicationSettings
from services.publication.tables import applications
from shared.events.base import EventPayload
from shared.events.catalogue import ApplicationAccepted, ApplicationQualified
from simulators.province import ProvinceReceiver, create_app
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import publish, wait_for
from tests.services import RunningService, running_service

SECRET = "test-province-secret"


@dataclass
class Stack:
    svc: RunningService
    receiver: ProvinceReceiver
    config: PublicationSettings

    def client(self, address: str) -> httpx.AsyncClient:
        """A client whose requests come from ``address`` (the rate limit is per address)."""
        transport = httpx.ASGITransport(
            app=self.svc.app, raise_app_exceptions=False, client=(address, 40000)
        )
        return httpx.AsyncClient(transport=transport, base_url="http://publication")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, **config: Any) -> AsyncIterator[str]:
    """A running app (its lifespan already started) on a real loopback port, for a CLI or a
    browser to reach; ``config`` goes to uvicorn (e.g. ``proxy_headers``)."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off", **config)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="package")
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    receiver = ProvinceReceiver(secret=SECRET)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(receiver), host="127.0.0.1", port=port, log_config=None, lifespan="off"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    env = {
        "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": json.dumps(
            [{"name": "province", "url": f"http://127.0.0.1:{port}/pushes", "secret": SECRET}]
        ),
        # The tests run the sweeps themselves; the background ticks stay out of the way.
        "HOUSING_PUBLICATION_PUSH_INTERVAL_SECONDS": "3600",
        "HOUSING_PUBLICATION_NOTICE_SWEEP_SECONDS": "3600",
        "HOUSING_PUBLICATION_PUSH_BACKOFF_SECONDS": "30",
        "HOUSING_PUBLICATION_PROGRESS_BURST": "3",
        "HOUSING_PUBLICATION_PROGRESS_PER_MINUTE": "1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        config = PublicationSettings()
        async with running_service(infra, "publication", system="pub") as svc:
            yield Stack(svc, receiver, config)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.should_exit = True
        await serving


def accepted(tracking_no: str, street: str = "350203001") -> ApplicationAccepted:
    return accepted_application(street).model_copy(
        update={"application_id": uuid.uuid4(), "tracking_no": tracking_no}
    )


def qualified(event: ApplicationAccepted) -> ApplicationQualified:
    return ApplicationQualified(
        application_id=event.application_id,
        case_id=uuid.uuid4(),
        tracking_no=event.tracking_no,
        city=event.city,
        district=event.district,
        street=event.street,
        category=event.category,
        member_count=len(event.household.members),
        applicant_name_masked="张*丰",
        qualified_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
    )


async def publish_and_wait(stack: Stack, *events: EventPayload, stage: str) -> None:
    """Publish events through the real broker and wait until the read model shows ``stage``
    for the application of the last event."""
    runtime = stack.svc.runtime
    await publish(stack.svc, *events)
    application_id = events[-1].application_id  # type: ignore[attr-defined]

    async def reached() -> bool:
        async with runtime.engine.connect() as conn:
            current = await conn.scalar(
                sa.select(applications.c.stage).where(
                    applications.c.application_id == application_id
                )
            )
        return current == stage

    await wait_for(reached, what=f"stage {stage}")

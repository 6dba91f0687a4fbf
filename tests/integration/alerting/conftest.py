"""One alerting service for all alerting integration tests, fed with real events.

Events are built from the catalogue models, wrapped in the platform's envelope and published
with aio-pika to the system's ``events`` exchange (persistent, publisher confirms, routing key
= event type), exactly as the other services' relays publish them; alerting consumes them from
its real quorum queue.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import aio_pika
import pytest
import sqlalchemy as sa

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep
from shared.clock import clock, now
from shared.events.base import EventPayload
from shared.events.envelope import Envelope
from shared.scheduler import run_once
from shared.tables import inbox, outbox
from tests.conftest import Infra
from tests.services import RunningService, running_service


@dataclass
class Harness:
    alerting: RunningService
    channel: aio_pika.abc.AbstractChannel
    exchange: aio_pika.abc.AbstractExchange

    @property
    def client(self):
        return self.alerting.client

    async def publish(self, *payloads: EventPayload, subject: str | None = None) -> list[Envelope]:
        """Publish the events in order and wait until alerting handled every one."""
        sent = []
        for p in payloads:
            envelope = Envelope(
                id=uuid.uuid4(),
                type=p.event_type,
                version=p.event_version,
                occurred_at=now(),
                producer=p.producer,
                correlation_id=uuid.uuid4().hex,
                subject=subject or str(getattr(p, "application_id", "") or uuid.uuid4()),
                data=p.model_dump(mode="json"),
            )
            await self.exchange.publish(
                aio_pika.Message(
                    envelope.to_bytes(),
                    message_id=str(envelope.id),
                    correlation_id=envelope.correlation_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=p.routing_key(),
                mandatory=True,
            )
            sent.append(envelope)
        await self.wait_handled([e.id for e in sent])
        return sent

    async def wait_handled(self, ids: list[uuid.UUID], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            async with self.alerting.runtime.engine.connect() as conn:
                seen = await conn.scalar(
                    sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
                )
            if seen == len(ids):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"alerting handled {seen} of {len(ids)} events")
            await asyncio.sleep(0.05)

    async def sweep(self, at: datetime) -> dict[str, int]:
        """One clock-sweep tick at instant ``at`` (same lock as the scheduled job)."""
        clock.set(at)
        result: dict[str, int] = {}

        async def tick(uow):
            result.update(await clock_sweep(uow, rule_config()))

        assert await run_once(self.alerting.runtime, "alerting-clock-sweep", tick)
        return result

    async def emitted(self, event_type: str) -> list[dict]:
        """Events of ``event_type`` alerting wrote to its outbox, oldest first."""
        async with self.alerting.runtime.engine.connect() as conn:
            bodies = (
                await conn.execute(
                    sa.select(outbox.c.body)
                    .where(outbox.c.type == event_type)
                    .order_by(outbox.c.seq)
                )
            ).scalars()
            return [Envelope.from_bytes(b).data for b in bodies]


@pytest.fixture(scope="package")
async def harness(infra: Infra) -> AsyncIterator[Harness]:
    # The scheduled jobs must not tick on their own while tests move the clock; tests call
    # the sweep and the dispatcher directly.
    saved = {
        k: os.environ.get(k)
        for k in ("HOUSING_ALERTING_SWEEP_SECONDS", "HOUSING_ALERTING_DISPATCH_SECONDS")
    }
    os.environ["HOUSING_ALERTING_SWEEP_SECONDS"] = "3600"
    os.environ["HOUSING_ALERTING_DISPATCH_SECONDS"] = "3600"
    try:
        async with running_service(infra, "alerting", system="al") as alerting:
            connection = await aio_pika.connect(infra.amqp_url)
            try:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.get_exchange(alerting.runtime.settings.events_exchange)
                yield Harness(alerting, channel, exchange)
            finally:
                await connection.close()
    finally:
        clock.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(autouse=True)
def _reset_clock() -> AsyncIterator[None]:
    yield
    clock.reset()

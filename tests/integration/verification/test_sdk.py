"""The department SDK over the real broker: it reconnects by itself, and a redelivered
request batch produces the same answer batch (same event id), which verification applies
once."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest
import sqlalchemy as sa

from services.verification.adapters.department_queues import department_queue_name
from shared.tables import inbox
from simulators.departments import Behaviour, SimulatedDepartment
from simulators.sdk import DepartmentClient, answer_batch_event_id
from tests.harness import publish, wait_for
from tests.integration.verification.helpers import (
    accepted,
    requests_of,
    requests_sent,
    wait_for_case,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration


async def answered(svc: RunningService, application_id: uuid.UUID, dept: str) -> bool:
    rows = {r.department: r for r in await requests_of(svc.runtime, application_id)}
    return rows[dept].status == "answered"


async def test_the_sdk_reconnects_and_answers_redeliveries_once(svc: RunningService) -> None:
    settings = svc.runtime.settings
    client = DepartmentClient(
        department="provident_fund",
        amqp_url=settings.amqp_url,
        handler=SimulatedDepartment("provident_fund", Behaviour(latency_ms=0)),
        exchange=settings.verification_exchange,
        queue_prefix=settings.queue_prefix,
    )
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.connected.wait(), 30)
        # The link drops (broker restart, network): the client comes back by itself.
        assert client._connection is not None
        await client._connection.close()
        await wait_for(lambda: _not_set(client.connected), timeout=10)
        await asyncio.wait_for(client.connected.wait(), 30)

        event = accepted("newly_employed")
        await publish(svc, event)
        await wait_for_case(svc.runtime, event.application_id)
        await wait_for(lambda: answered(svc, event.application_id, "provident_fund"))
        before = client.answered

        # The same request batch delivered again: the client re-sends the same answer batch.
        rows = await requests_sent(svc.runtime, event.application_id)
        body = next(r.body for r, _ in rows if r.routing_key == "request.provident_fund")
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(body),
                routing_key=department_queue_name(settings.queue_prefix, "provident_fund"),
            )
        finally:
            await connection.close()
        await wait_for(lambda: _at_least(client, before + 1), timeout=10)
        request_id = next(
            r.request_id
            for r in await requests_of(svc.runtime, event.application_id)
            if r.department == "provident_fund"
        )
        answer_id = answer_batch_event_id("provident_fund", [request_id])

        async def inbox_rows() -> int:
            async with svc.runtime.engine.connect() as conn:
                return int(
                    await conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(inbox)
                        .where(inbox.c.event_id == answer_id)
                    )
                    or 0
                )

        await wait_for(inbox_rows)
        await asyncio.sleep(0.5)  # time for a second copy to be (wrongly) applied
        assert await inbox_rows() == 1
    finally:
        client.stop()
        await task


async def _not_set(event: asyncio.Event) -> bool:
    return not event.is_set()


async def _at_least(client: DepartmentClient, n: int) -> bool:
    return client.answered >= n

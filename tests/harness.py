"""The integration-test harness every service's tests share: publish, wait, tap.

* ``publish(svc, payload, producer=...)`` publishes an event on the real exchange as its
  producer would, under that service's broker account (the test tools may impersonate it);
  ``handled(svc, envelope)`` waits until the service's consumer has taken it (its inbox).
* ``publish_raw(infra, svc, envelope)`` sends an envelope straight to the broker (persistent,
  confirmed, mandatory), for messages no outbox would write.
* ``wait_for(probe)`` polls until ``probe()`` answers something truthy and returns it.
* ``EventTap`` records every envelope published on the events exchange under given patterns.
* ``emitted(svc, type, subject)`` reads what the service wrote to its outbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aio_pika
import sqlalchemy as sa

from shared.db import UnitOfWork
from shared.events.base import EventPayload
from shared.events.envelope import Envelope
from shared.runtime import Runtime
from shared.settings import SERVICES
from shared.tables import inbox, outbox
from tests.conftest import Infra
from tests.services import RunningService

T = TypeVar("T")


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """The first truthy answer of ``probe()``; fails the test after ``timeout`` seconds,
    also when one probe never returns (a stuck broker or database then fails the test
    instead of holding the run until pytest-timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        # A probe begun just before the deadline still gets a few seconds to answer.
        limit = max(deadline - time.monotonic(), 0.0) + 5.0
        try:
            async with asyncio.timeout(limit):
                value = await probe()
        except TimeoutError:
            raise AssertionError(f"{what}: a probe did not answer within {limit:.0f} s") from None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(interval)


def account_of(runtime: Runtime, envelope: Envelope) -> str | None:
    """The broker account an event of this type comes from (None: an outside party's)."""
    owner = runtime.accounts.owner(envelope)
    return runtime.accounts.of(owner) if owner in SERVICES else None


async def publish(
    svc: RunningService,
    *payloads: EventPayload,
    producer: str = "peer",
    subject: str | uuid.UUID | None = None,
    correlation_id: str | None = None,
) -> list[Envelope]:
    """Publish events on ``svc``'s exchanges as their producers would: each under the broker
    account of the service the catalogue names as its producer (``audit.checkpointed``: of
    ``producer``), persistent and confirmed. The envelopes say ``producer``; the subject
    defaults to the payload's ``application_id``."""
    runtime = svc.runtime
    # Envelopes and routes built exactly as a service's unit of work builds them.
    uow = UnitOfWork(runtime.engine, producer=producer, exchanges=runtime.exchange_names)
    envelopes = []
    for payload in payloads:
        about = subject if subject is not None else getattr(payload, "application_id", "x")
        envelopes.append(uow.emit(payload, subject=str(about), correlation_id=correlation_id))
    connection = await aio_pika.connect(svc.tools_url, timeout=30)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        for payload, envelope in zip(payloads, envelopes, strict=True):
            exchange = await channel.get_exchange(
                runtime.exchange_names[payload.exchange], ensure=False
            )
            await exchange.publish(
                aio_pika.Message(
                    body=envelope.to_bytes(),
                    message_id=str(envelope.id),
                    correlation_id=envelope.correlation_id,
                    type=envelope.type,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    user_id=account_of(runtime, envelope),
                ),
                routing_key=payload.routing_key(),
                mandatory=True,
            )
    finally:
        await connection.close()
    return envelopes


async def handled(svc: RunningService, *envelopes: Envelope, timeout: float = 20.0) -> None:
    """Wait until ``svc``'s consumer has handled every envelope (their ids are in its inbox)."""
    ids = [e.id for e in envelopes]

    async def all_in() -> bool:
        async with svc.runtime.engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
            )
        return found == len(ids)

    await wait_for(all_in, timeout=timeout, what=f"{[e.type for e in envelopes]} handled")


async def publish_and_handle(
    svc: RunningService, *payloads: EventPayload, **kw: Any
) -> list[Envelope]:
    envelopes = await publish(svc, *payloads, **kw)
    await handled(svc, *envelopes)
    return envelopes


async def publish_raw(
    infra: Infra,
    svc: RunningService,
    envelope: Envelope,
    *,
    exchange: str = "events",
    routing_key: str | None = None,
    **properties: Any,
) -> None:
    """Send ``envelope`` straight to the broker on ``svc``'s exchanges (persistent, confirmed),
    under its producer's account unless ``user_id`` says otherwise."""
    properties.setdefault("user_id", account_of(svc.runtime, envelope))
    connection = await aio_pika.connect(svc.tools_url, timeout=30)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(svc.runtime.exchange_names[exchange])
        await target.publish(
            aio_pika.Message(
                body=envelope.to_bytes(),
                message_id=str(envelope.id),
                type=envelope.type,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                **properties,
            ),
            routing_key=routing_key or envelope.type,
            mandatory=True,
        )
    finally:
        await connection.close()


class EventTap:
    """Every envelope published on the events exchange under the tapped patterns."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []

    def of(self, event_type: str, subject: str | uuid.UUID | None = None) -> list[Envelope]:
        return [
            e
            for e in self.seen
            if e.type == event_type and (subject is None or e.subject == str(subject))
        ]

    async def wait_for(
        self, event_type: str, subject: str | uuid.UUID | None = None, timeout: float = 15.0
    ) -> Envelope:
        async def first() -> Envelope | None:
            found = self.of(event_type, subject)
            return found[0] if found else None

        return await wait_for(first, timeout=timeout, what=f"{event_type} for {subject}")


@asynccontextmanager
async def event_tap(
    infra: Infra, svc: RunningService, patterns: Sequence[str] = ("#",)
) -> AsyncIterator[EventTap]:
    """Tap ``svc``'s events exchange for as long as the block runs."""
    connection = await aio_pika.connect(infra.amqp_url, timeout=30)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(svc.runtime.exchange_names["events"])
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for pattern in patterns:
            await queue.bind(exchange, pattern)
        tap = EventTap()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                tap.seen.append(Envelope.from_bytes(message.body))

        await queue.consume(on_message)
        yield tap
    finally:
        await connection.close()


async def emitted(
    svc: RunningService, event_type: str, subject: str | uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """Payloads ``svc`` wrote to its outbox (what it published), oldest first."""
    where = [outbox.c.type == event_type]
    if subject is not None:
        where.append(outbox.c.subject == str(subject))
    async with svc.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(outbox.c.body).where(*where).order_by(outbox.c.seq))
        ).all()
    return [Envelope.from_bytes(r.body).data for r in rows]

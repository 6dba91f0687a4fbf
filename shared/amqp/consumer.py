"""Consuming events: inbox, handler and ack in the right order.

For each delivery: parse the envelope, bind its correlation id, then in one transaction claim
the event id in the inbox and run the handler; commit; only then ack. A redelivered event finds
its id claimed and is acked without effect. A handler that raises is retried through the
delay queues, then dead-lettered with its error; a message that cannot be parsed is
dead-lettered at once. A handler that crashes the process leaves the message unacked: the
broker redelivers it, and after ``delivery_limit`` redeliveries dead-letters it by itself.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import correlation, inbox
from shared.amqp.broker import Broker
from shared.amqp.topology import QueueSpec, declare_exchanges, declare_queue
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.envelope import Envelope

log = structlog.get_logger(__name__)

Handler = Callable[[UnitOfWork, Envelope], Awaitable[None]]

RETRY_HEADER = "x-retry-count"

HANDLED = Counter("events_handled_total", "Events consumed", ["service", "type", "outcome"])


class Consumer:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        broker: Broker,
        spec: QueueSpec,
        handlers: Mapping[str, Handler],
        prefetch: int = 64,
        exchanges: Mapping[str, str] | None = None,
    ) -> None:
        self.service = service
        self.engine = engine
        self.broker = broker
        self.spec = spec
        self.handlers = dict(handlers)
        self.prefetch = prefetch
        self.exchanges = exchanges
        self.queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None

    async def start(self) -> None:
        channel = await self.broker.consuming_channel(self.prefetch)
        exchanges = await declare_exchanges(channel, dict(self.broker.exchange_names))
        # Keep the reference: the robust channel restores only what is still referenced.
        self.queue = await declare_queue(channel, self.spec, exchanges)
        self._consumer_tag = await self.queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        if self.queue is not None and self._consumer_tag is not None:
            try:
                await self.queue.cancel(self._consumer_tag)
            except (aio_pika.exceptions.AMQPError, RuntimeError) as exc:
                log.warning("consumer_cancel_failed", error=str(exc))
            self._consumer_tag = None

    @property
    def attached(self) -> bool:
        return self._consumer_tag is not None and self.broker.is_connected

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        correlation.clear()
        try:
            envelope = Envelope.from_bytes(message.body)
        except ValidationError as exc:
            correlation.bind(message.correlation_id)
            await self._dead_letter(message, exc, reason="unparseable")
            return
        correlation.bind(envelope.correlation_id, str(envelope.id))
        structlog.contextvars.bind_contextvars(event_type=envelope.type, subject=envelope.subject)
        try:
            handled = await self._handle(envelope)
        except Exception as exc:
            log.warning("event_handler_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            HANDLED.labels(self.service, envelope.type, "failed").inc()
            await self._retry_or_dead_letter(message, exc)
            return
        HANDLED.labels(self.service, envelope.type, "handled" if handled else "duplicate").inc()
        await self._ack(message)

    async def _handle(self, envelope: Envelope) -> bool:
        async with UnitOfWork(self.engine, producer=self.service, exchanges=self.exchanges) as uow:
            if not await inbox.claim(uow.conn, envelope.id, envelope.type):
                return False
            handler = self.handlers.get(envelope.type)
            if handler is not None:
                await handler(uow, envelope)
            await uow.commit()
        return True

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except (aio_pika.exceptions.AMQPError, RuntimeError) as exc:
            # The channel was replaced under us: the broker redelivers, the inbox absorbs it.
            log.warning("ack_failed", error=str(exc))

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, error: BaseException
    ) -> None:
        attempt = int((message.headers or {}).get(RETRY_HEADER, 0) or 0)
        if attempt >= len(self.spec.retry_delays_ms):
            await self._dead_letter(message, error, reason="retries_exhausted")
            return
        await self._republish(message, self.spec.retry_queue(attempt), {RETRY_HEADER: attempt + 1})

    async def _dead_letter(
        self, message: AbstractIncomingMessage, error: BaseException, *, reason: str
    ) -> None:
        log.error("event_dead_lettered", reason=reason, error=f"{type(error).__name__}")
        await self._republish(
            message,
            self.spec.dead_letter_queue,
            {
                "x-error": f"{type(error).__name__}: {error}"[:2000],
                "x-error-trace": "".join(traceback.format_exception(error))[-4000:],
                "x-dead-reason": reason,
                "x-dead-at": now().isoformat(),
                "x-original-exchange": message.exchange or "",
                "x-original-routing-key": message.routing_key or "",
            },
        )

    async def _republish(
        self, message: AbstractIncomingMessage, queue: str, headers: dict[str, Any]
    ) -> None:
        copy = aio_pika.Message(
            body=message.body,
            headers={**(message.headers or {}), **headers},
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id=message.app_id,
        )
        try:
            await self.broker.exchange("").publish(copy, routing_key=queue, mandatory=True)
        except Exception as exc:
            # Could not park it: leave it unacked so the broker redelivers it.
            log.error("republish_failed", queue=queue, error=str(exc)[:200])
            try:
                await message.nack(requeue=True)
            except (aio_pika.exceptions.AMQPError, RuntimeError) as nack_exc:
                log.warning("nack_failed", error=str(nack_exc))
            return
        await self._ack(message)

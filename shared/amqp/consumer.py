"""Consuming events: inbox, handler and ack in the right order.

For each delivery: parse the envelope, bind its correlation id, then in one transaction claim
the event id in the inbox and run the handler; commit; only then ack. A redelivered event finds
its id claimed and is acked without effect.

Deliveries are buffered and handled by a few workers in micro-batches. Each delivery goes to
the worker its correlation id hashes to, so the events of one application (one department
answer after another, acceptance then completion) are handled by one worker, in delivery
order, and workers never fight over the same rows: eight answers to one case arriving together
would otherwise land in four concurrent transactions all locking that case. A worker takes the first
waiting message and whatever else is already buffered (never waiting for more), claims all
their ids with one INSERT and runs their handlers in delivery order inside one transaction. One
commit per batch instead of per message is what lets a service keep up with thousands of events
a second; latency does not grow, because a lone message is handled at once. If anything in a
batch fails, the batch rolls back and its messages are handled one by one, so only the failing
one is retried. A handler that raises is retried through the
delay queues, then dead-lettered with its error; a message that cannot be parsed is
dead-lettered at once. A handler that crashes the process leaves the message unacked: the
broker redelivers it, and after ``delivery_limit`` redeliveries dead-letters it by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
import zlib
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
import sqlalchemy as sa
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import correlation, inbox
from shared.amqp.broker import Broker
from shared.amqp.producers import ORIGINAL_USER_HEADER, ProducerAccounts, UnexpectedProducer
from shared.amqp.topology import QueueSpec, declare_exchanges, declare_queue, topic_matches
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.base import payload_model
from shared.events.envelope import Envelope

log = structlog.get_logger(__name__)

Handler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    """How the event being handled reached us, as the broker vouches for it.

    The routing key matters where the sender is a party outside the platform: a department
    user may publish only its own ``response.<department>`` key (topic permissions), so the key
    is proof of who answered, which the payload alone is not.
    """

    exchange: str
    routing_key: str
    user_id: str | None


_delivery: ContextVar[Delivery | None] = ContextVar("delivery", default=None)


def delivery_of(message: AbstractIncomingMessage) -> Delivery:
    headers = message.headers or {}
    if not message.exchange and "x-original-routing-key" in headers:
        # Came back through the default exchange from our own retry or replay: the original
        # route is in the headers we wrote. Only trusted here, because outside parties may
        # publish to their own exchange and key only, never to the default exchange.
        return Delivery(
            exchange=str(headers.get("x-original-exchange", "")),
            routing_key=str(headers["x-original-routing-key"]),
            user_id=message.user_id,
        )
    return Delivery(
        exchange=message.exchange or "",
        routing_key=message.routing_key or "",
        user_id=message.user_id,
    )


def retry_count(message: AbstractIncomingMessage) -> int:
    """How often we have retried this message already.

    Only our own retry copies (back through the default exchange, which outside parties cannot
    write to) carry a count we trust; a sender's ``x-retry-count``, malformed or not, is
    ignored, so it can neither skip the retries nor break the batch it arrives in.
    """
    if message.exchange:
        return 0
    raw = (message.headers or {}).get(RETRY_HEADER, 0)
    try:
        return max(0, int(raw or 0))
    except (TypeError, ValueError):
        return 0


def current_delivery() -> Delivery | None:
    """The delivery of the event whose handler is running (None outside a consumer)."""
    return _delivery.get()


# The items split off the messages of the transaction being handled (see ``split_off``).
_split: ContextVar[list[tuple[Envelope, Envelope, BaseException]] | None] = ContextVar(
    "split", default=None
)


def split_off(carrier: Envelope, item: Envelope, error: BaseException) -> None:
    """Take ``item``, one entry of ``carrier`` (a message being handled that carries several,
    a department's answer batch), out of it because handling it failed with ``error``: the
    rest of the carrier is applied and committed, and ``item`` goes, as a message of its own,
    the way a failing message goes (through the retry delays, then to the dead-letter queue
    with its error), so one bad item neither loses nor holds back the others. The copy is
    published before the transaction commits: a commit that fails after it can leave a second
    copy (same message id), never none."""
    split = _split.get()
    if split is None:
        raise RuntimeError("split_off outside a consumer's handler")
    split.append((carrier, item, error))


class UnexpectedType(ValueError):
    """A message from outside the platform of a type this service has no handler for."""


@dataclass(frozen=True)
class BatchHandler:
    """A handler that takes a run of consecutive new events of its type in one call.

    For events that arrive in crowds and are cheap to apply together with set-based SQL (eight
    department answers per application): one SELECT and one UPDATE for fifty answers instead
    of five statements each. Events of other types in the same micro-batch are handled before
    or after the run, so delivery order between types is kept. Raising rolls the whole batch
    back, and the consumer then hands the events over one at a time (a run of one), so only
    the faulty one is retried or dead-lettered. Called with a single event, it behaves like a
    plain handler.
    """

    handle_many: Callable[[UnitOfWork, list[tuple[Envelope, Delivery | None]]], Awaitable[None]]
    # A first step run once per micro-batch, before any event of it is handled, with every new
    # event whose handler shares the step (the same ``prepare_key``). Verification locks there,
    # in one ordered statement, every case that the answer runs of the micro-batch name: runs
    # are split by the other events between them, and a second run locking more cases could
    # deadlock with another worker's transaction.
    prepare: Callable[[UnitOfWork, list[Envelope]], Awaitable[None]] | None = None
    prepare_key: object = None

    async def __call__(self, uow: UnitOfWork, envelope: Envelope) -> None:
        await self.handle_many(uow, [(envelope, current_delivery())])


RETRY_HEADER = "x-retry-count"

# While the database is unreachable a worker holds its message and tries again after these
# pauses (doubling up to the maximum).
DATABASE_WAIT_FIRST_SECONDS = 0.5
DATABASE_WAIT_MAX_SECONDS = 5.0

# PostgreSQL error classes that mean "the server is not there for us right now": connection
# exceptions (08), insufficient resources such as too many connections (53), operator
# intervention such as a shutdown or a server still starting (57, except a cancelled query).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database could not be reached, as opposed to
    a fault of the handler or the message."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            asyncpg.exceptions.ConnectionDoesNotExistError
            | asyncpg.exceptions.InterfaceError
            | asyncpg.exceptions.InternalClientError,
        ):
            # The client's connection, not the statement: closed under us, or a connection
            # the server has just terminated whose end asyncpg has not read yet ("another
            # operation is in progress"); a fresh connection from the pool will do.
            return True
        if isinstance(current, OSError) and not isinstance(current, TimeoutError):
            return True  # connection refused or reset (a timeout may be the handler's own)
        if isinstance(current, sa.exc.DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return state != "57014"  # query_canceled: a statement timeout is the handler's
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


STOP_STEP_SECONDS = 5.0
LINK_CHECK_SECONDS = 2.0

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
        workers: int = 4,
        batch_size: int = 50,
        accounts: ProducerAccounts | None = None,
    ) -> None:
        self.service = service
        self.engine = engine
        self.broker = broker
        self.spec = spec
        self.handlers = dict(handlers)
        self.prefetch = prefetch
        self.exchanges = exchanges
        # Broker exchange name -> logical name ("events", "verification"), for the route check.
        self._logical_exchange = {name: key for key, name in (exchanges or {}).items()}
        self.queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self.workers = workers
        self.batch_size = batch_size
        # Who may publish what (shared.amqp.producers); None only in tests of the event layer
        # itself, whose made-up types have no producer.
        self.accounts = accounts
        self._buffers: list[asyncio.Queue[AbstractIncomingMessage]] = [
            asyncio.Queue() for _ in range(workers)
        ]
        self._worker_tasks: list[asyncio.Task[None]] = []
        self._channel: aio_pika.abc.AbstractChannel | None = None

    async def start(self) -> None:
        channel = await self.broker.consuming_channel(self.prefetch)
        self._channel = channel
        exchanges = await declare_exchanges(
            channel, dict(self.broker.exchange_names), unrouted=self.broker.unrouted
        )
        # Keep the reference: the robust channel restores only what is still referenced.
        self.queue = await declare_queue(channel, self.spec, exchanges)
        self._worker_tasks = [
            asyncio.create_task(self._work(self._buffers[i]), name=f"consumer-{self.service}-{i}")
            for i in range(self.workers)
        ]
        self._consumer_tag = await self.queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        # Every step is time-limited: the watchdog stops a consumer whose link is stuck, and a
        # cancel or close sent on it may never be answered.
        if self.queue is not None and self._consumer_tag is not None:
            try:
                async with asyncio.timeout(STOP_STEP_SECONDS):
                    await self.queue.cancel(self._consumer_tag)
            except (aio_pika.exceptions.AMQPError, RuntimeError, TimeoutError) as exc:
                log.warning("consumer_cancel_failed", error=f"{type(exc).__name__}: {exc}")
            self._consumer_tag = None
        for task in self._worker_tasks:
            task.cancel()
        for task in self._worker_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker_tasks = []
        # Buffered or half-handled messages were never acked. Closing their channel hands them
        # back to the broker now (it redelivers them; the inbox absorbs any already applied),
        # rather than when the connection closes, so a consumer can stop and start again.
        if self._channel is not None:
            with contextlib.suppress(
                aio_pika.exceptions.AMQPError, RuntimeError, OSError, TimeoutError
            ):
                async with asyncio.timeout(STOP_STEP_SECONDS):
                    await self._channel.close()
            self._channel = None
        self._buffers = [asyncio.Queue() for _ in range(self.workers)]

    async def link_problem(self) -> str | None:
        """What keeps this consumer from receiving, as the watchdog sees it; None when sound.
        The test is the broker's view: our tag registered on the channel it delivers to."""
        channel = self._channel
        if self._consumer_tag is None or channel is None:
            return "not consuming"
        if channel.is_closed:
            return "consuming channel closed"
        try:
            async with asyncio.timeout(LINK_CHECK_SECONDS):
                underlay = await channel.get_underlay_channel()
        except (aio_pika.exceptions.AMQPError, RuntimeError, TimeoutError):
            return "consuming channel not open"
        if self._consumer_tag not in getattr(underlay, "consumers", {}):
            return "consumer not registered on its channel"
        return None

    @property
    def consuming(self) -> bool:
        """Whether we believe we consume (a tag of ours on the queue)."""
        return self._consumer_tag is not None

    @property
    def attached(self) -> bool:
        return self._consumer_tag is not None and self.broker.is_connected

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # One application's events go to one worker (its correlation id). A message from
        # outside could name any correlation id and crowd one worker, so there the
        # correlation id is not trusted for affinity (verification applies the answers of
        # one case under a row lock anyway).
        key = message.message_id or ""
        if not self._from_outside(message):
            key = message.correlation_id or key
        await self._buffers[zlib.crc32(key.encode()) % self.workers].put(message)

    async def _work(self, buffer: asyncio.Queue[AbstractIncomingMessage]) -> None:
        while True:
            batch = [await buffer.get()]
            while len(batch) < self.batch_size:
                try:
                    batch.append(buffer.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self._process(batch)
            except Exception as exc:  # a worker must survive anything
                log.error("consumer_worker_error", error=f"{type(exc).__name__}: {exc}"[:300])
                # Whatever went wrong, no message may stay unacknowledged for ever (it would
                # hold a prefetch slot and stall the queue while /readyz stays green): hand
                # the rest back to the broker, whose delivery limit parks a message that
                # keeps failing this way.
                for message in batch:
                    if not message.processed:
                        with contextlib.suppress(aio_pika.exceptions.AMQPError, RuntimeError):
                            await message.nack(requeue=True)

    async def _process(self, messages: list[AbstractIncomingMessage]) -> None:
        parsed: list[tuple[AbstractIncomingMessage, Envelope]] = []
        for message in messages:
            try:
                envelope = Envelope.from_bytes(message.body)
            except ValidationError as exc:
                correlation.clear()
                correlation.bind(message.correlation_id)
                await self._dead_letter(message, exc, reason="unparseable")
                continue
            refused = self._refused(message, envelope)
            if refused is not None:
                correlation.clear()
                correlation.bind(envelope.correlation_id, str(envelope.id))
                error, reason = refused
                await self._dead_letter(message, error, reason=reason)
                continue
            parsed.append((message, envelope))
        if len(parsed) > 1:
            try:
                outcomes = await self._handle_batch(parsed)
            except Exception as exc:
                log.info("batch_failed_handling_singly", size=len(parsed), error=type(exc).__name__)
            else:
                for (message, envelope), handled in zip(parsed, outcomes, strict=True):
                    self._count(envelope, handled)
                    await self._ack(message)
                return
        for message, envelope in parsed:
            await self._process_one(message, envelope)

    def _refused(
        self, message: AbstractIncomingMessage, envelope: Envelope
    ) -> tuple[Exception, str] | None:
        """Why this well-formed event must be parked unseen by any handler, and the dead-letter
        reason; None when it may be handled."""
        if not self._route_admits(message, envelope):
            # Trust follows the route: an event type may arrive only where its producer
            # publishes it. ``application.accepted`` sent as ``response.tax`` is a forgery by
            # whoever may write that key, however well-formed, and a handler for the type must
            # not see it.
            route = delivery_of(message)
            return UnexpectedType(
                f"type {envelope.type!r} may not arrive on "
                f"{route.exchange!r} with key {route.routing_key!r}"
            ), "unexpected_type"
        refusal = self.accounts.refusal(message, envelope) if self.accounts else None
        if refusal is not None:
            # Trust follows the sender too: an internal event is believed only from the account
            # of the service that owns its type (the broker vouches for user_id).
            return UnexpectedProducer(refusal), "unexpected_producer"
        if envelope.type not in self.handlers and self._from_outside(message):
            # On the events exchange a service may see types it does not handle (alerting
            # watches everything). What outside parties send (department answers on the
            # verification exchange) must be of a type we handle: a misspelt type is parked
            # for an operator, not acknowledged and forgotten.
            return UnexpectedType(f"no handler for type {envelope.type!r}"), "unexpected_type"
        return None

    async def _process_one(self, message: AbstractIncomingMessage, envelope: Envelope) -> None:
        self._bind(envelope)
        pause = DATABASE_WAIT_FIRST_SECONDS
        while True:
            try:
                handled = (await self._handle_batch([(message, envelope)]))[0]
            except Exception as exc:
                if database_unavailable(exc):
                    # Nothing is wrong with the message: the database is restarting or failing
                    # over. Keep it (unacked) and try again, without spending its retries, so
                    # a long outage parks nothing in the dead-letter queue.
                    log.warning("database_unavailable_waiting", error=type(exc).__name__)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, DATABASE_WAIT_MAX_SECONDS)
                    continue
                log.warning("event_handler_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                HANDLED.labels(self.service, envelope.type, "failed").inc()
                await self._retry_or_dead_letter(message, exc)
                return
            break
        self._count(envelope, handled)
        await self._ack(message)

    def _route_admits(self, message: AbstractIncomingMessage, envelope: Envelope) -> bool:
        """Whether ``envelope.type`` may travel the route the broker delivered it on.

        A catalogued type travels on the exchange its payload model names, under its own
        routing key (``housing.events``: the type itself) or its key template
        (``response.{department}``). An uncatalogued type is judged by the handler map alone
        (below): ignored on the events exchange, parked when it came from outside.
        """
        model = payload_model(envelope.type, envelope.version)
        if model is None:
            return True
        route = delivery_of(message)
        if self._logical_exchange.get(route.exchange) != model.exchange:
            return False
        return topic_matches(model.routing_pattern(), route.routing_key)

    def _from_outside(self, message: AbstractIncomingMessage) -> bool:
        events = (self.exchanges or {}).get("events")
        return events is not None and delivery_of(message).exchange not in (events, "")

    def _bind(self, envelope: Envelope) -> None:
        correlation.clear()
        correlation.bind(envelope.correlation_id, str(envelope.id))
        structlog.contextvars.bind_contextvars(event_type=envelope.type, subject=envelope.subject)

    def _count(self, envelope: Envelope, handled: bool) -> None:
        HANDLED.labels(self.service, envelope.type, "handled" if handled else "duplicate").inc()

    async def _handle_batch(
        self, items: list[tuple[AbstractIncomingMessage, Envelope]]
    ) -> list[bool]:
        """Claim and handle the events in one transaction; which of them were new."""
        split: list[tuple[Envelope, Envelope, BaseException]] = []
        token = _split.set(split)
        try:
            return await self._handle_in_transaction(items, split)
        finally:
            _split.reset(token)

    async def _handle_in_transaction(
        self,
        items: list[tuple[AbstractIncomingMessage, Envelope]],
        split: list[tuple[Envelope, Envelope, BaseException]],
    ) -> list[bool]:
        async with UnitOfWork(self.engine, producer=self.service, exchanges=self.exchanges) as uow:
            claimed = await inbox.claim_many(uow.conn, [(e.id, e.type) for _, e in items])
            await self._prepare(uow, [e for _, e in items if e.id in claimed])
            outcomes = []
            run: list[tuple[Envelope, Delivery | None]] = []  # consecutive events of a BatchHandler

            async def flush() -> None:
                if run:
                    batch_handler = self.handlers[run[0][0].type]
                    assert isinstance(batch_handler, BatchHandler)
                    self._bind(run[0][0])
                    await batch_handler.handle_many(uow, list(run))
                    run.clear()

            for message, envelope in items:
                new = envelope.id in claimed
                # The same event twice in one batch: the second copy is a duplicate.
                claimed.discard(envelope.id)
                outcomes.append(new)
                handler = self.handlers.get(envelope.type)
                if not new or handler is None:
                    continue
                if isinstance(handler, BatchHandler):
                    if run and run[0][0].type != envelope.type:
                        await flush()
                    run.append((envelope, delivery_of(message)))
                    continue
                await flush()
                self._bind(envelope)
                _delivery.set(delivery_of(message))
                await handler(uow, envelope)
            await flush()
            carriers = {envelope.id: message for message, envelope in items}
            for carrier, item, error in split:
                await self._send_split(carriers[carrier.id], item, error)
            await uow.commit()
        return outcomes

    async def _prepare(self, uow: UnitOfWork, new: list[Envelope]) -> None:
        """Each shared first step of the batch handlers once, with all the new events it is for."""
        steps: dict[object, tuple[Callable[..., Awaitable[None]], list[Envelope]]] = {}
        for envelope in new:
            handler = self.handlers.get(envelope.type)
            if isinstance(handler, BatchHandler) and handler.prepare is not None:
                key = handler.prepare_key or handler.prepare
                steps.setdefault(key, (handler.prepare, []))[1].append(envelope)
        for prepare, envelopes in steps.values():
            await prepare(uow, envelopes)

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except (aio_pika.exceptions.AMQPError, RuntimeError) as exc:
            # The channel was replaced under us: the broker redelivers, the inbox absorbs it.
            log.warning("ack_failed", error=str(exc))

    def _next_stop(
        self, message: AbstractIncomingMessage, error: BaseException
    ) -> tuple[str, dict[str, Any]]:
        """Where a failed message goes next: its retry queue, or the dead-letter queue."""
        attempt = retry_count(message)
        if attempt >= len(self.spec.retry_delays_ms):
            return self.spec.dead_letter_queue, self._dead_headers(
                message, error, "retries_exhausted"
            )
        original = delivery_of(message)
        return self.spec.retry_queue(attempt), {
            RETRY_HEADER: attempt + 1,
            "x-original-exchange": original.exchange,
            "x-original-routing-key": original.routing_key,
        }

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, error: BaseException
    ) -> None:
        queue, headers = self._next_stop(message, error)
        if queue == self.spec.dead_letter_queue:
            log.error("event_dead_lettered", reason="retries_exhausted", error=type(error).__name__)
        await self._republish(message, queue, headers)

    async def _send_split(
        self, carrier: AbstractIncomingMessage, item: Envelope, error: BaseException
    ) -> None:
        """An item split off ``carrier`` (``split_off``) on its way as the carrier would go."""
        log.warning(
            "event_item_split_off", item_type=item.type, error=f"{type(error).__name__}"[:300]
        )
        HANDLED.labels(self.service, item.type, "failed").inc()
        queue, headers = self._next_stop(carrier, error)
        await self._publish_copy(carrier, queue, headers, item)

    def _dead_headers(
        self, message: AbstractIncomingMessage, error: BaseException, reason: str
    ) -> dict[str, Any]:
        original = delivery_of(message)
        return {
            "x-error": f"{type(error).__name__}: {error}"[:2000],
            "x-error-trace": "".join(traceback.format_exception(error))[-4000:],
            "x-dead-reason": reason,
            "x-dead-at": now().isoformat(),
            "x-original-exchange": original.exchange,
            "x-original-routing-key": original.routing_key,
        }

    async def _dead_letter(
        self, message: AbstractIncomingMessage, error: BaseException, *, reason: str
    ) -> None:
        log.error("event_dead_lettered", reason=reason, error=f"{type(error).__name__}")
        await self._republish(
            message, self.spec.dead_letter_queue, self._dead_headers(message, error, reason)
        )

    async def _publish_copy(
        self,
        message: AbstractIncomingMessage,
        queue: str,
        headers: dict[str, Any],
        item: Envelope | None = None,
    ) -> None:
        """A copy of ``message`` (or of its ``item``, in its stead) into ``queue`` through the
        default exchange, under our own account; raises when the broker did not take it."""
        headers = {**(message.headers or {}), **headers}
        user_id = None
        if self.accounts is not None:
            # The copy goes out under our own account; who sent the original travels with it
            # (and only we write this header: a sender's own value is replaced or dropped).
            user_id = self.broker.user
            headers.pop(ORIGINAL_USER_HEADER, None)
            original_user = self.accounts.publisher(message)
            if original_user:
                headers[ORIGINAL_USER_HEADER] = original_user
        copy = aio_pika.Message(
            body=message.body if item is None else item.to_bytes(),
            headers=headers,
            user_id=user_id,
            message_id=message.message_id if item is None else str(item.id),
            correlation_id=message.correlation_id if item is None else item.correlation_id,
            type=message.type if item is None else item.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id=message.app_id,
        )
        await self.broker.exchange("").publish(copy, routing_key=queue, mandatory=True)

    async def _republish(
        self, message: AbstractIncomingMessage, queue: str, headers: dict[str, Any]
    ) -> None:
        try:
            await self._publish_copy(message, queue, headers)
        except Exception as exc:
            # Could not park it: leave it unacked so the broker redelivers it.
            log.error("republish_failed", queue=queue, error=str(exc)[:200])
            try:
                await message.nack(requeue=True)
            except (aio_pika.exceptions.AMQPError, RuntimeError) as nack_exc:
                log.warning("nack_failed", error=str(nack_exc))
            return
        await self._ack(message)

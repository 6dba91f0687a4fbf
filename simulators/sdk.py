"""Department SDK (部门对接开发包): what a department system needs to take part in verification.

Copy this one file into a department's integration project. It depends on ``aio-pika`` and on
the event models of ``shared.events.catalogue`` (``VerificationRequested``,
``DepartmentAnswered`` and the finding types); a department without Python reads the same
contract in ``docs/asyncapi.yaml``.

Usage::

    async def check(request: VerificationRequested) -> Answer:
        findings = [...]                      # search your own records for request.subjects
        return Answer(findings=findings) if findings else Answer.nothing_on_record()

    client = DepartmentClient(
        "real_estate",
        amqp_url="amqp://dept_real_estate:secret@mq.example.gov.cn:5672/",
        handler=check,
    )
    await client.run()                        # until client.stop()

A request's ``purpose`` is ``admission`` (an application) or ``re_review`` (the annual
re-review of a tenant household, 年度复核): search your records the same way for both.

What it does for you:

* **Connect and reconnect**: connects with back-off, and when the connection drops it
  reconnects and resumes consuming; unacknowledged requests are redelivered by the broker.
* **Consume** ``<queue_prefix>.dept.<department>`` (declared by the platform; your broker user
  may only read it) with a bounded prefetch, so requests are handled concurrently.
* **Answer** on ``housing.verification`` with routing key ``response.<department>`` (the only
  key your user may publish), as a ``department.answered`` event in the platform envelope,
  with publisher confirms. The request is acknowledged only after the broker confirmed the
  answer: a crash in between means the request comes again, never that it is lost.
* **Idempotency on request_id**: the answer's event id is derived from the request id
  (UUIDv5), so a redelivered request produces an answer with the same id, which the platform
  recognises as already handled; recently answered requests are also remembered so a
  redelivery does not query your records again.
* **Failures**: if your handler raises :class:`TemporaryFailure`, the request is returned to
  the queue and retried later; any other exception rejects it to the queue's dead-letter
  queue (``<queue>.dead``) for your operators, instead of looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import orjson
import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.clock import now
from shared.events.catalogue import DepartmentAnswered, VerificationRequested
from shared.events.envelope import Envelope

log = structlog.get_logger(__name__)

# Answer ids are uuid5(ANSWER_NAMESPACE, "<department>:<request_id>"): stable across restarts.
ANSWER_NAMESPACE = uuid.UUID("6f1c3f4e-3b0e-5a7c-9a57-6b2f1d9c0a11")


class TemporaryFailure(Exception):
    """Raise from a handler when your records are unavailable right now: retry later."""


@dataclass(frozen=True)
class Answer:
    """What a department found. Say "nothing on record" explicitly (``no_record=True``): an
    answer with neither findings nor no_record is recorded as an empty answer (a red light)."""

    findings: Sequence[Any] = ()
    no_record: bool = False
    answered_by: str | None = None

    @classmethod
    def nothing_on_record(cls, answered_by: str | None = None) -> Answer:
        return cls((), True, answered_by)


Handler = Callable[[VerificationRequested], Awaitable[Answer]]


def answer_event_id(department: str, request_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(ANSWER_NAMESPACE, f"{department}:{request_id}")


def answer_envelope(
    department: str,
    request: VerificationRequested,
    answer: Answer,
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope:
    """The ``department.answered`` event for ``request`` (also usable without the client).
    Pass the request envelope's ``correlation_id`` so the answer follows the application."""
    payload = DepartmentAnswered(
        request_id=request.request_id,
        department=department,
        answered_at=now(),
        answered_by=answer.answered_by,
        no_record=answer.no_record,
        findings=list(answer.findings),
    )
    return Envelope(
        id=answer_event_id(department, request.request_id),
        type=DepartmentAnswered.event_type,
        version=DepartmentAnswered.event_version,
        occurred_at=payload.answered_at,
        producer=f"department:{department}",
        correlation_id=correlation_id or str(request.application_id),
        causation_id=causation_id,
        subject=str(request.application_id),
        data=payload.model_dump(mode="json"),
    )


@dataclass
class DepartmentClient:
    department: str
    amqp_url: str
    handler: Handler
    exchange: str = "housing.verification"
    queue_prefix: str = "housing"
    prefetch: int = 32
    # Recently answered requests (request_id -> answer body) kept to resend without recomputing.
    remember: int = 10_000
    reconnect_max_seconds: float = 30.0
    answered: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _recent: OrderedDict[uuid.UUID, bytes] = field(default_factory=OrderedDict)
    _exchange: aio_pika.abc.AbstractExchange | None = None
    _connection: aio_pika.abc.AbstractConnection | None = None

    @property
    def queue(self) -> str:
        return f"{self.queue_prefix}.dept.{self.department}"

    @property
    def response_key(self) -> str:
        return f"response.{self.department}"

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Consume until :meth:`stop`, reconnecting with back-off whenever the link drops."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                await self._until_stopped(self._session())
                delay = 0.5
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                self.connected.clear()
                log.warning("department_link_down", department=self.department, error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, self.reconnect_max_seconds)

    async def _until_stopped(self, work: Awaitable[None]) -> None:
        # stop() must work even while a connection attempt hangs (an unresponsive broker).
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.done() and not task.cancelled():
            task.result()

    async def _session(self) -> None:
        connection = await asyncio.wait_for(
            aio_pika.connect(
                self.amqp_url,
                client_properties={"connection_name": f"department:{self.department}"},
            ),
            timeout=30,
        )
        self._connection = connection
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            # Neither is declared here: the platform declares them and department users have
            # no configure permission. Referencing them by name is enough to use them.
            self._exchange = await channel.get_exchange(self.exchange, ensure=False)
            queue = await channel.get_queue(self.queue, ensure=False)
            await queue.consume(self._on_request)
            self.connected.set()
            log.info("department_consuming", department=self.department, queue=self.queue)
            stop = asyncio.ensure_future(self._stop.wait())
            lost = asyncio.ensure_future(closed.wait())
            await asyncio.wait({stop, lost}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            lost.cancel()
            if closed.is_set() and not self._stop.is_set():
                raise ConnectionError("broker connection closed")
        finally:
            self.connected.clear()
            if not connection.is_closed:
                await connection.close()

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.from_bytes(message.body)
            request = VerificationRequested.model_validate(envelope.data)
        except (ValidationError, ValueError) as exc:
            log.error("department_request_unreadable", department=self.department, error=str(exc))
            await message.reject(requeue=False)
            return
        if request.department != self.department:
            log.error("department_request_misrouted", department=self.department)
            await message.reject(requeue=False)
            return
        body = self._recent.get(request.request_id)
        if body is None:
            try:
                answer = await self.handler(request)
            except TemporaryFailure as exc:
                log.warning("department_temporary_failure", error=str(exc)[:200])
                await message.nack(requeue=True)
                return
            except Exception as exc:
                log.error("department_handler_failed", error=f"{type(exc).__name__}: {exc}")
                await message.reject(requeue=False)
                return
            body = answer_envelope(
                self.department,
                request,
                answer,
                correlation_id=envelope.correlation_id,
                causation_id=str(envelope.id),
            ).to_bytes()
        try:
            await self._publish(body, request)
        except (TimeoutError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
            # Not confirmed: leave the request for redelivery rather than lose the answer.
            log.warning("department_answer_not_confirmed", error=str(exc)[:200])
            with contextlib.suppress(aio_pika.exceptions.AMQPError, RuntimeError):
                await message.nack(requeue=True)
            return
        self._recent[request.request_id] = body
        self._recent.move_to_end(request.request_id)
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)
        self.answered += 1
        with contextlib.suppress(aio_pika.exceptions.AMQPError, RuntimeError):
            await message.ack()

    async def _publish(self, body: bytes, request: VerificationRequested) -> None:
        assert self._exchange is not None
        event_id = orjson.loads(body)["id"]  # the answer's own id, stable per request
        await self._exchange.publish(
            aio_pika.Message(
                body=body,
                message_id=event_id,
                correlation_id=orjson.loads(body)["correlation_id"],
                type=DepartmentAnswered.event_type,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=self.response_key,
            mandatory=True,
            timeout=30,
        )

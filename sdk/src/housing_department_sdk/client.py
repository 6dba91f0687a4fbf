"""The department client: consume your request queue, call your handler, publish its answer.

What it does for you:

* **Connect and reconnect**: connects with back-off, and when the connection drops it
  reconnects and resumes consuming; unacknowledged requests are redelivered by the broker.
* **Consume** ``<queue_prefix>.dept.<department>`` (declared by the platform; your broker user
  may only read it) with a bounded prefetch, so requests are handled concurrently.
* **Answer** on ``housing.verification`` with routing key ``response.<department>`` (the only
  key your user may publish), as a ``department.answered`` event in the platform's envelope,
  with publisher confirms. The request is acknowledged only after the broker confirmed the
  answer: a crash in between means the request comes again, never that it is lost.
* **Batches**: a ``verification.requested_batch`` (several requests in one message) is
  answered with one ``department.answered_batch`` carrying the answers its items got, your
  handler called once per item, concurrently (at most ``prefetch`` calls at once in all).
* **Idempotency on request_id**: the answer's event id is derived from the request id
  (:func:`answer_event_id`, UUIDv5), so a redelivered or re-sent request produces an answer
  with the same id, which the platform's inbox recognises as already handled; recently
  answered requests are also remembered, so a redelivery does not search your records again.
* **Failures**: if your handler raises :class:`TemporaryFailure`, the request is returned to
  the queue and retried later; any other exception rejects it to the queue's dead-letter
  queue (``<queue>.dead``) for your operators, instead of looping. An unreadable request, or
  one for another department, is rejected there too. In a batch, the answers of the other
  items are sent first; then the batch is returned to the queue (a temporary failure) or
  rejected to ``<queue>.dead`` (it comes back only when an operator moves it), and the items
  answered already are answered again from memory, which the platform ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel, ValidationError

from housing_department_sdk.models import (
    DepartmentAnswerBatch,
    DepartmentAnswered,
    Envelope,
    VerificationRequestBatch,
    VerificationRequested,
)

log = logging.getLogger("housing_department_sdk")

# Answer ids are uuid5(ANSWER_NAMESPACE, "<department>:<request_id>"): stable across restarts,
# machines and SDK versions. Changing it would make every redelivered request a new answer.
ANSWER_NAMESPACE = uuid.UUID("6f1c3f4e-3b0e-5a7c-9a57-6b2f1d9c0a11")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TemporaryFailure(Exception):
    """Raise from a handler when your records are unavailable right now: retry later."""


@dataclass(frozen=True)
class Answer:
    """What a department found. Say "nothing on record" explicitly (``no_record=True``): an
    answer with neither findings nor no_record is recorded as an empty answer (a red light).

    ``findings`` are finding models of :mod:`housing_department_sdk.models` (or plain dicts
    with a ``kind``), each naming the ``member_ref`` of the subject it is about."""

    findings: Iterable[Any] = ()
    no_record: bool = False
    answered_by: str | None = None

    @classmethod
    def nothing_on_record(cls, answered_by: str | None = None) -> Answer:
        return cls((), True, answered_by)


class RequestLike(Protocol):
    """What :func:`answer_envelope` reads of a request (the SDK's model or the platform's)."""

    @property
    def request_id(self) -> uuid.UUID: ...
    @property
    def application_id(self) -> uuid.UUID: ...


Handler = Callable[[VerificationRequested], Awaitable[Answer]]


def answer_event_id(department: str, request_id: uuid.UUID) -> uuid.UUID:
    """The envelope id of the answer to ``request_id``: the same for every copy of it."""
    return uuid.uuid5(ANSWER_NAMESPACE, f"{department}:{request_id}")


def answer_batch_event_id(department: str, request_ids: Iterable[uuid.UUID]) -> uuid.UUID:
    """The envelope id of the batch answering ``request_ids``: the same for every copy of it."""
    joined = ",".join(sorted(str(r) for r in request_ids))
    return uuid.uuid5(ANSWER_NAMESPACE, f"{department}:batch:{joined}")


def answer_batch_envelope(
    department: str, answers: list[Envelope], *, causation_id: str | None = None
) -> Envelope:
    """The ``department.answered_batch`` carrying ``answers`` (``department.answered``
    envelopes, as :func:`answer_envelope` makes them), with the first one's correlation id."""
    items = [a.data for a in answers]
    first = answers[0]
    return Envelope(
        id=answer_batch_event_id(department, [uuid.UUID(str(i["request_id"])) for i in items]),
        type=DepartmentAnswerBatch.event_type,
        version=DepartmentAnswerBatch.event_version,
        occurred_at=max(a.occurred_at for a in answers),
        producer=f"department:{department}",
        correlation_id=first.correlation_id,
        causation_id=causation_id,
        subject=first.subject,
        data={"department": department, "items": items},
    )


def _as_data(finding: Any) -> Any:
    # Any pydantic model with the same fields validates (the platform's own finding models
    # included); python mode keeps Decimals exact.
    return finding.model_dump() if isinstance(finding, BaseModel) else finding


def answer_envelope(
    department: str,
    request: RequestLike,
    answer: Answer,
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    clock: Clock = utc_now,
) -> Envelope:
    """The ``department.answered`` event for ``request`` (also usable without the client, e.g.
    to answer over HTTP or from a batch job). Pass the request envelope's ``correlation_id``
    and ``id`` (as ``causation_id``) so the answer follows the application."""
    payload = DepartmentAnswered(
        request_id=request.request_id,
        department=department,
        answered_at=clock(),
        answered_by=answer.answered_by,
        no_record=answer.no_record,
        findings=[_as_data(f) for f in answer.findings],
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
    """One department system's link to the platform. ``await client.run()`` consumes until
    :meth:`stop` (or, with :meth:`run_until_signalled`, until SIGINT/SIGTERM)."""

    department: str
    amqp_url: str
    handler: Handler
    exchange: str = "housing.verification"
    queue_prefix: str = "housing"
    prefetch: int = 32
    # Recently answered requests (request_id -> answer body) kept to resend without recomputing.
    remember: int = 10_000
    reconnect_max_seconds: float = 30.0
    clock: Clock = utc_now
    answered: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _recent: OrderedDict[uuid.UUID, Envelope] = field(default_factory=OrderedDict)
    _exchange: aio_pika.abc.AbstractExchange | None = None
    _connection: aio_pika.abc.AbstractConnection | None = None
    _slots: asyncio.Semaphore | None = None

    @property
    def queue(self) -> str:
        return f"{self.queue_prefix}.dept.{self.department}"

    @property
    def response_key(self) -> str:
        return f"response.{self.department}"

    def stop(self) -> None:
        self._stop.set()

    async def run_until_signalled(self) -> None:
        """:meth:`run` until the process receives SIGINT or SIGTERM (a service manager's stop)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stop)
        await self.run()

    async def run(self) -> None:
        """Consume until :meth:`stop`, reconnecting with back-off whenever the link drops."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                await self._until_stopped(self._session())
                delay = 0.5
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                self.connected.clear()
                log.warning("department %s: link down (%s)", self.department, exc)
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
            self._slots = asyncio.Semaphore(self.prefetch)
            # Neither is declared here: the platform declares them and department users have
            # no configure permission. Referencing them by name is enough to use them.
            self._exchange = await channel.get_exchange(self.exchange, ensure=False)
            queue = await channel.get_queue(self.queue, ensure=False)
            await queue.consume(self._on_request)
            self.connected.set()
            log.info("department %s: consuming %s", self.department, self.queue)
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
            batch = envelope.type == VerificationRequestBatch.event_type
            requests = (
                VerificationRequestBatch.model_validate(envelope.data).items
                if batch
                else [VerificationRequested.model_validate(envelope.data)]
            )
        except (ValidationError, ValueError) as exc:
            # No personal data in the log: the error names fields, not the values.
            log.error("department %s: unreadable request (%s)", self.department, type(exc).__name__)
            await message.reject(requeue=False)
            return
        if requests[0].department != self.department:
            log.error("department %s: request for %s", self.department, requests[0].department)
            await message.reject(requeue=False)
            return
        outcomes = await asyncio.gather(*(self._answer(r, envelope) for r in requests))
        answers = [o for o in outcomes if isinstance(o, Envelope)]
        if answers:
            reply = (
                answer_batch_envelope(self.department, answers, causation_id=str(envelope.id))
                if batch
                else answers[0]
            )
            try:
                await self._publish(reply)
            except (TimeoutError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
                # Not confirmed: leave the request for redelivery rather than lose the answer.
                log.warning("department %s: answer not confirmed (%s)", self.department, exc)
                with contextlib.suppress(aio_pika.exceptions.AMQPError, RuntimeError):
                    await message.nack(requeue=True)
                return
            for answer in answers:
                request_id = uuid.UUID(str(answer.data["request_id"]))
                self._recent[request_id] = answer
                self._recent.move_to_end(request_id)
            while len(self._recent) > self.remember:
                self._recent.popitem(last=False)
            self.answered += len(answers)
        with contextlib.suppress(aio_pika.exceptions.AMQPError, RuntimeError):
            if "retry" in outcomes:
                await message.nack(requeue=True)
            elif "dead" in outcomes:
                await message.reject(requeue=False)
            else:
                await message.ack()

    async def _answer(
        self, request: VerificationRequested, envelope: Envelope
    ) -> Envelope | Literal["retry", "dead"]:
        """The answer envelope to ``request`` (from memory if answered recently), or what to do
        with the message instead: return it to the queue, or reject it to the dead letters."""
        answer = self._recent.get(request.request_id)
        if answer is not None:
            return answer
        assert self._slots is not None
        try:
            async with self._slots:
                found = await self.handler(request)
        except TemporaryFailure as exc:
            log.warning("department %s: temporary failure (%s)", self.department, exc)
            return "retry"
        except Exception as exc:
            log.error(
                "department %s: handler failed (%s), request dead-lettered",
                self.department,
                type(exc).__name__,
            )
            return "dead"
        try:
            return answer_envelope(
                self.department,
                request,
                found,
                correlation_id=envelope.correlation_id,
                causation_id=str(envelope.id),
                clock=self.clock,
            )
        except ValidationError as exc:
            # The handler's answer breaks the contract: sending it would only park it.
            log.error(
                "department %s: invalid answer (%d errors), request dead-lettered",
                self.department,
                exc.error_count(),
            )
            return "dead"

    async def _publish(self, answer: Envelope) -> None:
        assert self._exchange is not None
        await self._exchange.publish(
            envelope_message(answer), routing_key=self.response_key, mandatory=True, timeout=30
        )


def envelope_message(envelope: Envelope) -> aio_pika.Message:
    """``envelope`` as the platform publishes events: persistent JSON, its id as message id."""
    return aio_pika.Message(
        body=envelope.to_bytes(),
        message_id=str(envelope.id),
        correlation_id=envelope.correlation_id,
        type=envelope.type,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )

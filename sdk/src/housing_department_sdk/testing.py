"""A test harness for a department's own tests: a recorded request and a stand-in platform.

``recorded_request()`` is a ``verification.requested`` envelope as the platform sends it (two
fictitious household members, fixed ids), re-addressed to your department. ``FakePlatform``
plays the platform's side on a real RabbitMQ broker — a throw-away one of your own, e.g.
``docker run -p 5672:5672 rabbitmq:3-management``: it declares an isolated exchange and your
request queue (with its dead-letter queue) under a unique prefix, sends requests there, and
receives and validates what your system answers. Nothing of it touches a platform::

    async def test_we_answer_the_recorded_request() -> None:
        async with FakePlatform("amqp://guest:guest@127.0.0.1:5672/", "tax") as platform:
            answer = await platform.round_trip(check)     # check: your handler
        assert answer.no_record is False
        assert [f.kind for f in answer.findings] == ["income"]

The broker user needs configure rights there (guest on a local broker); your production user
has none, which is why the platform, not your system, declares queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from importlib import resources
from types import TracebackType
from typing import Any, Self

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractQueue

from housing_department_sdk.client import DepartmentClient, Handler, envelope_message
from housing_department_sdk.models import (
    DEPARTMENT_SUBJECT_FIELDS,
    SUBJECT_EXTRA_FIELDS,
    DepartmentAnswerBatch,
    DepartmentAnswered,
    Envelope,
    VerificationRequestBatch,
    VerificationRequested,
)

__all__ = ["FakePlatform", "ReceivedAnswer", "recorded_batch", "recorded_request"]


def recorded_request(department: str = "tax", *, request_id: uuid.UUID | None = None) -> Envelope:
    """The recorded request, addressed to ``department`` (the extra subject fields it may not
    receive removed, as the platform would). The same ids every time unless ``request_id`` is
    given, so a test can also send "the same request again"."""
    raw = json.loads(
        resources.files(__package__).joinpath("data/recorded_request.json").read_text("utf-8")
    )
    allowed = DEPARTMENT_SUBJECT_FIELDS.get(department, frozenset())
    data: dict[str, Any] = raw["data"]
    data["department"] = department
    for subject in data["subjects"]:
        for extra in SUBJECT_EXTRA_FIELDS:
            if extra not in allowed:
                subject[extra] = None
    if request_id is not None:
        data["request_id"] = str(request_id)
        raw["id"] = str(uuid.uuid4())
    VerificationRequested.model_validate(data)  # the fixture itself keeps to the contract
    return Envelope.model_validate(raw)


def recorded_batch(department: str = "tax", size: int = 3) -> Envelope:
    """A ``verification.requested_batch`` of ``size`` copies of the recorded request to
    ``department``, each with a request id of its own, as the platform sends batches."""
    items = [
        recorded_request(department, request_id=uuid.uuid4()).data for _ in range(max(1, size))
    ]
    data = VerificationRequestBatch.model_validate(
        {"department": department, "items": items}
    ).model_dump(mode="json")
    first = recorded_request(department)
    return first.model_copy(
        update={
            "id": uuid.uuid4(),
            "type": VerificationRequestBatch.event_type,
            "version": VerificationRequestBatch.event_version,
            "data": data,
        }
    )


@dataclass(frozen=True)
class ReceivedAnswer:
    """An answer as the platform received it: the envelope, its validated payload, and the
    routing key it came with."""

    envelope: Envelope
    answer: DepartmentAnswered
    routing_key: str

    @property
    def no_record(self) -> bool:
        return self.answer.no_record

    @property
    def findings(self) -> list[Any]:
        return list(self.answer.findings)


@dataclass
class FakePlatform:
    """The platform's side of one department's link, on a real broker (see the module doc)."""

    amqp_url: str
    department: str
    prefix: str = field(default_factory=lambda: f"deptsdk{uuid.uuid4().hex[:10]}")
    _connection: AbstractConnection | None = None
    _channel: AbstractChannel | None = None
    _exchange: AbstractExchange | None = None
    _queues: list[AbstractQueue] = field(default_factory=list)
    _answers: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = field(
        default_factory=asyncio.Queue
    )

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.verification"

    @property
    def queue(self) -> str:
        return f"{self.prefix}.dept.{self.department}"

    def client(self, handler: Handler, **options: Any) -> DepartmentClient:
        """A :class:`DepartmentClient` for ``handler`` pointed at this platform."""
        return DepartmentClient(
            department=self.department,
            amqp_url=self.amqp_url,
            handler=handler,
            exchange=self.exchange,
            queue_prefix=self.prefix,
            **options,
        )

    async def __aenter__(self) -> Self:
        self._connection = await aio_pika.connect(self.amqp_url)
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await self._channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        dead = await self._channel.declare_queue(f"{self.queue}.dead")
        requests = await self._channel.declare_queue(
            self.queue,
            arguments={
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{self.queue}.dead",
            },
        )
        await requests.bind(self._exchange, routing_key=f"request.{self.department}")
        # Every response key, not only the department's own: a test should see an answer sent
        # under a wrong key (the platform refuses it) rather than wait for it in vain.
        answers = await self._channel.declare_queue(f"{self.prefix}.answers", exclusive=True)
        await answers.bind(self._exchange, routing_key="response.*")
        await answers.consume(self._answers.put, no_ack=True)
        self._queues = [requests, dead, answers]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            for queue in self._queues:
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await queue.delete(if_unused=False, if_empty=False)
        finally:
            await self._connection.close()

    async def send(self, request: Envelope | None = None) -> Envelope:
        """Publish ``request`` (default: the recorded one) as the platform would."""
        assert self._exchange is not None
        request = request or recorded_request(self.department)
        # A single request names its department in data, a batch too (and in each item).
        await self._exchange.publish(
            envelope_message(request),
            routing_key=f"request.{request.data['department']}",
            mandatory=True,
        )
        return request

    async def next_answer(self, wait_seconds: float = 10.0) -> ReceivedAnswer:
        """The next answer the department published, validated against the contract (a
        ``pydantic.ValidationError`` if it breaks it; ``TimeoutError`` if none comes)."""
        message = await asyncio.wait_for(self._answers.get(), wait_seconds)
        envelope = Envelope.from_bytes(message.body)
        return ReceivedAnswer(
            envelope,
            DepartmentAnswered.model_validate(envelope.data),
            message.routing_key or "",
        )

    async def next_answers(self, wait_seconds: float = 10.0) -> list[ReceivedAnswer]:
        """The answers of the next message the department published: one for a single answer,
        one per item for an answer batch (each with the batch's envelope), validated."""
        message = await asyncio.wait_for(self._answers.get(), wait_seconds)
        envelope = Envelope.from_bytes(message.body)
        key = message.routing_key or ""
        if envelope.type != DepartmentAnswerBatch.event_type:
            return [ReceivedAnswer(envelope, DepartmentAnswered.model_validate(envelope.data), key)]
        batch = DepartmentAnswerBatch.model_validate(envelope.data)
        return [ReceivedAnswer(envelope, item, key) for item in batch.items]

    async def dead_letters(self) -> list[Envelope]:
        """The requests the department rejected so far (its dead-letter queue), taken off it."""
        assert self._channel is not None
        dead = await self._channel.get_queue(f"{self.queue}.dead", ensure=False)
        found = []
        while (message := await dead.get(no_ack=True, fail=False)) is not None:
            found.append(Envelope.from_bytes(message.body))
        return found

    async def round_trip(
        self, handler: Handler, request: Envelope | None = None, wait_seconds: float = 10.0
    ) -> ReceivedAnswer:
        """Run ``handler`` in a :class:`DepartmentClient` against this platform, send
        ``request`` (default: the recorded one) and return the answer it published."""
        client = self.client(handler)
        running = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(client.connected.wait(), wait_seconds)
            await self.send(request)
            return await self.next_answer(wait_seconds)
        finally:
            client.stop()
            await running

"""Trust follows the route: what outside parties send can never pose as an internal event, and
nothing they put in the headers can stall a consumer.

Both run against the real verification service, broker and database: verification is the
service whose queue outside parties (the departments) can write to.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import sqlalchemy as sa

from services.verification.tables import verification_cases
from shared.amqp.deadletters import DeadLetter
from shared.clock import now
from shared.events.catalogue import DepartmentAnswered
from shared.events.envelope import Envelope
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import publish, wait_for
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def verification(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "verification", system="routes") as svc:
        yield svc


def _envelope(event_type: str, data: dict[str, object], subject: str) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        version=1,
        occurred_at=now(),
        producer="tax",
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        subject=subject,
        data=data,
    )


async def _send_as_department(
    infra: Infra, svc: RunningService, envelopes: list[Envelope], **properties: object
) -> None:
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(svc.runtime.exchange_names["verification"])
        for envelope in envelopes:
            await exchange.publish(
                aio_pika.Message(
                    envelope.to_bytes(),
                    message_id=str(envelope.id),
                    content_type="application/json",
                    **properties,  # type: ignore[arg-type]
                ),
                routing_key="response.tax",
                mandatory=True,
            )
    finally:
        await connection.close()


async def _take_parked(infra: Infra, svc: RunningService, ids: set[str]) -> list[DeadLetter]:
    """Wait until every message in ``ids`` is in the service's dead-letter queue; take them."""
    found: dict[str, DeadLetter] = {}
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(svc.runtime.queue_spec.dead_letter_queue, passive=True)

        async def all_parked() -> bool:
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                await message.ack()
                if message.message_id in ids:
                    found[message.message_id] = DeadLetter.of(message)
            return set(found) == ids

        await wait_for(all_parked, timeout=30, what=f"{len(ids)} messages parked")
    finally:
        await connection.close()
    return list(found.values())


async def _case_count(svc: RunningService, application_id: uuid.UUID) -> int:
    async with svc.runtime.engine.connect() as conn:
        return await conn.scalar(
            sa.select(sa.func.count())
            .select_from(verification_cases)
            .where(verification_cases.c.application_id == application_id)
        )


async def test_an_internal_event_sent_on_a_department_route_is_parked_and_changes_nothing(
    infra: Infra, verification: RunningService
) -> None:
    forged = accepted_application("350203001")
    envelope = _envelope(
        "application.accepted", forged.model_dump(mode="json"), str(forged.application_id)
    )

    await _send_as_department(infra, verification, [envelope])

    [parked] = await _take_parked(infra, verification, {str(envelope.id)})
    assert (parked.reason, parked.message_id) == ("unexpected_type", str(envelope.id))
    assert "'application.accepted' may not arrive on" in parked.error
    assert await _case_count(verification, forged.application_id) == 0

    # The same event from intake's route opens the case: the route, not the type, was refused.
    real = forged.model_copy(update={"application_id": uuid.uuid4()})
    await publish(verification, real, producer="intake")

    async def opened() -> bool:
        return await _case_count(verification, real.application_id) == 1

    await wait_for(opened, what="case opened from the real route")


async def test_malformed_retry_headers_from_outside_never_stall_the_consumer(
    infra: Infra, verification: RunningService
) -> None:
    # 64 answers to requests that do not exist, each with a retry count no sender may set;
    # before, one such message broke its whole batch and left it unacknowledged.
    answers = [
        _envelope(
            "department.answered",
            DepartmentAnswered(
                request_id=uuid.uuid4(), department="tax", answered_at=now(), no_record=True
            ).model_dump(mode="json"),
            str(uuid.uuid4()),
        )
        for _ in range(64)
    ]
    await _send_as_department(infra, verification, answers, headers={"x-retry-count": "lots"})

    parked = await _take_parked(infra, verification, {str(e.id) for e in answers})
    # Every one was tried as often as the service's own retries allow, then parked.
    assert {p.reason for p in parked} == {"retries_exhausted"}

    # The consumer is still attached and handles what comes next.
    application = accepted_application("350203001")
    await publish(verification, application, producer="intake")

    async def opened() -> bool:
        return await _case_count(verification, application.application_id) == 1

    await wait_for(opened, what="case opened after the malformed headers")
    assert (await verification.client.get("/readyz")).status_code == 200

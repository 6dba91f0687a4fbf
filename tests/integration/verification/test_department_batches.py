"""Department batches: one request message per department per verification transaction,
answer batches applied item by item (a bad item split off alone, a duplicate a no-op, a resent
batch absorbed), and the single request and answer contract still accepted."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import orjson
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from services.verification.commands import start_case
from services.verification.handlers import SPLIT_ITEM_NAMESPACE
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.clock import now
from shared.events.envelope import Envelope
from shared.tables import outbox
from simulators.sdk import Answer, answer_envelope
from tests.conftest import Infra
from tests.harness import emitted, publish, wait_for
from tests.integration.verification.helpers import (
    accepted,
    requests_of,
    requests_sent,
    wait_completed,
    wait_for_case,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration


async def _drain(infra: Infra, queue_name: str, wanted: set[str], count: int) -> list[Any]:
    """Take messages off ``queue_name`` (once verification declared it) until ``count`` of
    them mention one of ``wanted`` (application ids or message ids); those, as delivered."""
    found: list[Any] = []
    connection = await aio_pika.connect(infra.amqp_url)
    try:

        async def declared() -> Any:
            channel = await connection.channel()
            try:
                return await channel.declare_queue(queue_name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                return None

        queue = await wait_for(declared, timeout=30, what=f"{queue_name} declared")

        async def enough() -> bool:
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                await message.ack()
                text = message.body.decode()
                if message.message_id in wanted or any(w in text for w in wanted):
                    found.append(message)
            return len(found) >= count

        await wait_for(enough, timeout=30, what=f"{count} messages on {queue_name}")
    finally:
        await connection.close()
    return found


async def _as_department(infra: Infra, svc: RunningService, envelope: Envelope, key: str) -> None:
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(svc.runtime.settings.verification_exchange)
        await exchange.publish(
            aio_pika.Message(
                envelope.to_bytes(), message_id=str(envelope.id), content_type="application/json"
            ),
            routing_key=key,
            mandatory=True,
        )
    finally:
        await connection.close()


def _batch(items: list[Any], *, department: str = "tax") -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type="department.answered_batch",
        version=1,
        occurred_at=now(),
        producer=f"department:{department}",
        correlation_id=uuid.uuid4().hex,
        subject="batch",
        data={"department": department, "items": items},
    )


def _no_record(request: Any, department: str = "tax") -> dict[str, Any]:
    return {
        "request_id": str(request.request_id),
        "department": department,
        "answered_at": now().isoformat(),
        "answered_by": "batch-test",
        "no_record": True,
        "findings": [],
    }


def _handled(event_type: str, outcome: str) -> float:
    labels = {"service": "verification", "type": event_type, "outcome": outcome}
    return REGISTRY.get_sample_value("events_handled_total", labels) or 0.0


async def _started(svc: RunningService, n: int) -> list[dict[str, Any]]:
    events = [accepted() for _ in range(n)]
    await publish(svc, *events)
    found = []
    for event in events:
        await wait_for_case(svc.runtime, event.application_id)
        found.append(
            {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
        )
    return found


async def test_one_transaction_sends_one_request_message_per_department(
    svc: RunningService, infra: Infra
) -> None:
    runtime = svc.runtime
    events = [accepted() for _ in range(5)]
    ids = {str(e.application_id) for e in events}
    assert runtime.context.batched == {d.code for d in runtime.city.departments}
    async with runtime.uow() as uow:
        for event in events:
            assert await start_case(uow, event, runtime.city, batched=runtime.context.batched)
        await uow.commit()

    # In the outbox: one batch per department, no single request, each with the five.
    sent = [s for e in events for s in await requests_sent(runtime, e.application_id)]
    assert {row.type for row, _ in sent} == {"verification.requested_batch"}
    rows = {row.id: row for row, _ in sent}
    assert sorted(r.routing_key for r in rows.values()) == sorted(
        f"request.{d}" for d in DEFAULT_VERIFYING_DEPARTMENTS
    )
    # On a department's queue: exactly one message for the five applications.
    queue = f"{runtime.settings.queue_prefix}.dept.vehicle"
    [message] = await _drain(infra, queue, ids, 1)
    body = orjson.loads(message.body)
    assert (body["type"], message.routing_key) == (
        "verification.requested_batch",
        "request.vehicle",
    )
    items = body["data"]["items"]
    assert {i["application_id"] for i in items} == ids and len(items) == 5
    stored = {
        str(r.request_id)
        for e in events
        for r in await requests_of(runtime, e.application_id)
        if r.department == "vehicle"
    }
    assert len({i["request_id"] for i in items}) == 5
    assert {i["request_id"] for i in items} == stored
    assert {i["department"] for i in items} == {"vehicle"}
    # Its id is derived from its items: the same batch would have the same id.
    vehicle_row = next(r for r in rows.values() if r.routing_key == "request.vehicle")
    assert message.message_id == str(vehicle_row.id) == body["id"]


async def test_departments_left_out_of_the_setting_get_singles(svc: RunningService) -> None:
    runtime = svc.runtime
    event = accepted()
    batched = runtime.context.settings.model_copy(
        update={"request_batches": "tax"}
    ).batched_departments([d.code for d in runtime.city.departments])
    async with runtime.uow() as uow:
        assert await start_case(uow, event, runtime.city, batched=batched)
        await uow.commit()
    sent = await requests_sent(runtime, event.application_id)
    kinds = sorted((row.type, data["department"]) for row, data in sent)
    assert kinds == sorted(
        ("verification.requested_batch" if d == "tax" else "verification.requested", d)
        for d in DEFAULT_VERIFYING_DEPARTMENTS
    )


async def test_a_bad_item_is_split_off_and_the_good_ones_are_applied(
    svc: RunningService, infra: Infra
) -> None:
    a, b = await _started(svc, 2)
    unknown = {**_no_record(a["tax"]), "request_id": str(uuid.uuid4())}
    malformed = {**_no_record(b["tax"]), "answered_at": "yesterday"}
    batch = _batch([_no_record(a["tax"]), malformed, _no_record(b["tax"]), unknown])
    await _as_department(infra, svc, batch, "response.tax")

    async def both_answered() -> bool:
        rows = [
            r
            for case in (a, b)
            for r in await requests_of(svc.runtime, case["tax"].application_id)
            if r.department == "tax"
        ]
        return [r.status for r in rows] == ["answered", "answered"]

    await wait_for(both_answered, what="the good items applied")
    # The bad ones went the way a bad single answer goes: retried, then parked, each alone,
    # as the single department.answered it stands for, with its own error.
    split = {str(uuid.uuid5(SPLIT_ITEM_NAMESPACE, f"{batch.id}:{i}")): i for i in (1, 3)}
    parked = await _drain(infra, svc.runtime.queue_spec.dead_letter_queue, set(split), 2)
    by_index = {split[m.message_id]: m for m in parked}
    assert sorted(by_index) == [1, 3]
    for index, message in by_index.items():
        envelope = Envelope.from_bytes(message.body)
        assert (envelope.type, envelope.causation_id) == ("department.answered", str(batch.id))
        assert envelope.data == batch.data["items"][index]
        assert message.headers["x-dead-reason"] == "retries_exhausted"
        assert message.headers["x-original-routing-key"] == "response.tax"
    assert str(by_index[1].headers["x-error"]).startswith("ValidationError")
    assert str(by_index[3].headers["x-error"]).startswith("UnknownRequest")
    assert unknown["request_id"] in str(by_index[3].headers["x-error"])

    # The same batch again: absorbed by the inbox, nothing changes, nothing is parked again.
    before = {
        r.request_id: r.answered_at for r in await requests_of(svc.runtime, a["tax"].application_id)
    }
    duplicates = _handled("department.answered_batch", "duplicate")
    await _as_department(infra, svc, batch, "response.tax")

    async def absorbed() -> bool:
        return _handled("department.answered_batch", "duplicate") == duplicates + 1

    await wait_for(absorbed, what="the resent batch absorbed")
    after = {
        r.request_id: r.answered_at for r in await requests_of(svc.runtime, a["tax"].application_id)
    }
    assert after == before
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        dead = await channel.declare_queue(svc.runtime.queue_spec.dead_letter_queue, passive=True)
        again = []
        while (message := await dead.get(no_ack=False, fail=False)) is not None:
            await message.ack()
            again.append(message.message_id)
        assert not set(again) & set(split)
    finally:
        await connection.close()


async def test_a_duplicate_item_is_a_no_op_and_single_answers_still_count(
    svc: RunningService, infra: Infra
) -> None:
    [asked] = await _started(svc, 1)
    application_id = asked["tax"].application_id
    # A department that has not moved answers singly, as before.
    single = answer_envelope("vehicle", asked["vehicle"], Answer.nothing_on_record())
    await _as_department(infra, svc, single, "response.vehicle")
    first = await _as_batches(infra, svc, asked, ["tax"])

    async def answered(department: str) -> Any:
        rows = {r.department: r for r in await requests_of(svc.runtime, application_id)}
        return rows[department] if rows[department].status == "answered" else None

    await wait_for(lambda: answered("vehicle"), what="the single answer applied")
    tax = await wait_for(lambda: answered("tax"), what="the batch applied")
    assert first and tax.channel == "amqp"

    # Every other department in batches, tax again among them: tax's first answer stands.
    rest = [d for d in asked if d not in ("tax", "vehicle")]
    await _as_batches(infra, svc, asked, ["tax", *rest])
    case = await wait_completed(svc.runtime, application_id)
    assert case.status == "completed"
    assert (await answered("tax")).answered_at == tax.answered_at
    assert len(await emitted(svc, "verification.completed", application_id)) == 1
    # Caused by batch items, yet it follows its own application.
    async with svc.runtime.engine.connect() as conn:
        correlation = await conn.scalar(
            sa.select(outbox.c.correlation_id).where(
                outbox.c.type == "verification.completed", outbox.c.subject == str(application_id)
            )
        )
    assert correlation == str(application_id)


async def _as_batches(
    infra: Infra, svc: RunningService, asked: dict[str, Any], departments: list[str]
) -> list[Envelope]:
    sent = []
    for department in departments:
        batch = _batch([_no_record(asked[department], department)], department=department)
        await _as_department(infra, svc, batch, f"response.{department}")
        sent.append(batch)
    return sent


async def _delivered(infra: Infra, sent: list[tuple[Envelope, str]]) -> tuple[Any, list[Any]]:
    """``sent`` as real deliveries, each under its routing key, off a private queue (the
    service's own queue would consume them); the connection, to close after use."""
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(
        f"test.lock-all.{uuid.uuid4().hex[:8]}", aio_pika.ExchangeType.TOPIC, auto_delete=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, "response.*")
    for envelope, key in sent:
        message = aio_pika.Message(envelope.to_bytes(), message_id=str(envelope.id))
        await exchange.publish(message, routing_key=key)
    messages = []
    for _ in sent:
        message = await wait_for(lambda: queue.get(no_ack=False, fail=False), what="a delivery")
        messages.append(message)
    return connection, messages


async def test_a_micro_batch_locks_the_cases_of_all_its_answer_runs_at_once(
    svc: RunningService, infra: Infra
) -> None:
    # Two runs in one micro-batch (a tax batch for case a, then vehicle's single answer for
    # case b) while another transaction holds case b. The cases of both runs are locked first,
    # together and in order, so the micro-batch waits for b and then applies both in its one
    # transaction; locking run by run took b with NOWAIT while holding a, which failed the
    # micro-batch and applied its events once more one by one.
    a, b = await _started(svc, 2)
    runtime = svc.runtime
    assert runtime.consumer is not None
    batch = _batch([_no_record(a["tax"])])
    single = answer_envelope("vehicle", b["vehicle"], Answer.nothing_on_record())
    connection, messages = await _delivered(
        infra, [(batch, "response.tax"), (single, "response.vehicle")]
    )
    try:
        async with runtime.engine.connect() as holder:
            await holder.execute(
                sa.text("SELECT 1 FROM verification_cases WHERE case_id = :c FOR UPDATE"),
                {"c": b["vehicle"].case_id},
            )
            handling = asyncio.create_task(
                runtime.consumer._handle_batch([(messages[0], batch), (messages[1], single)])
            )
            await asyncio.sleep(1.0)
            assert not handling.done()  # waiting for case b, not failed on it
            await holder.rollback()
        assert await handling == [True, True]
    finally:
        await connection.close()
    tax = {r.department: r for r in await requests_of(runtime, a["tax"].application_id)}["tax"]
    vehicle = {r.department: r for r in await requests_of(runtime, b["tax"].application_id)}[
        "vehicle"
    ]
    assert (tax.status, tax.no_record, vehicle.status, vehicle.no_record) == (
        "answered",
        True,
        "answered",
        True,
    )

"""Fan-out on application.accepted: one case, one request per department, one transaction,
minimal data per department, requests in each department's own durable queue."""

from __future__ import annotations

import aio_pika
import orjson
import pytest
import sqlalchemy as sa

from services.verification.commands import start_case
from services.verification.tables import department_requests
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.tables import outbox
from tests.conftest import Infra
from tests.harness import publish, wait_for
from tests.integration.verification.helpers import (
    accepted,
    events_of,
    requests_of,
    requests_sent,
    wait_for_case,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration


async def test_the_eight_requests_are_written_in_one_transaction(svc: RunningService) -> None:
    event = accepted("newly_employed")
    runtime = svc.runtime

    async def visible() -> tuple[int, int]:
        # What any other connection sees: requests and their outbox events.
        async with runtime.engine.connect() as conn:
            requests = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(department_requests)
                .where(department_requests.c.application_id == event.application_id)
            )
            events = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.subject == str(event.application_id))
            )
        return int(requests or 0), int(events or 0)

    async with runtime.uow() as uow:
        assert await start_case(uow, event, runtime.city) is True
        # Everything is written, nothing is visible until the one commit.
        assert len(uow.emitted) == 9  # verification.started + eight verification.requested
        assert await visible() == (0, 0)
        await uow.commit()
    assert await visible() == (8, 9)

    requests = await requests_of(runtime, event.application_id)
    assert sorted(r.department for r in requests) == sorted(DEFAULT_VERIFYING_DEPARTMENTS)
    assert {r.status for r in requests} == {"pending"}
    assert len({r.requested_at for r in requests}) == 1
    rows = await events_of(runtime, "verification.requested", event.application_id)
    assert sorted(r.routing_key for r in rows) == sorted(
        f"request.{d}" for d in DEFAULT_VERIFYING_DEPARTMENTS
    )
    assert {r.exchange for r in rows} == {runtime.settings.verification_exchange}
    # One outbox flush: consecutive sequence numbers, one creation instant.
    seqs = sorted(r.seq for r in rows)
    assert seqs == list(range(seqs[0], seqs[0] + 8))
    assert len(await events_of(runtime, "verification.started", event.application_id)) == 1


async def test_application_accepted_on_the_broker_opens_the_case(svc: RunningService) -> None:
    event = accepted("newly_employed")
    await publish(svc, event)
    case = await wait_for_case(svc.runtime, event.application_id)
    assert case.status == "open" and case.category == "newly_employed"
    assert len(await requests_of(svc.runtime, event.application_id)) == 8
    # The declared figures are kept without names or ID numbers.
    text = orjson.dumps(case.declared).decode()
    for member in event.household.members:
        assert member.resident_id not in text and member.name not in text


async def test_each_department_receives_only_what_it_needs(svc: RunningService) -> None:
    event = accepted("newly_employed")
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    by_dept = {}
    for _row, data in await requests_sent(svc.runtime, event.application_id):
        by_dept[data["department"]] = data
    members = event.household.members
    for dept, data in by_dept.items():
        assert [s["resident_id"] for s in data["subjects"]] == [m.resident_id for m in members]
        assert [s["member_ref"] for s in data["subjects"]] == [m.member_id_hash for m in members]
        text = orjson.dumps(data).decode()
        # Declared incomes and assets never leave verification.
        assert "declared" not in text and "3200" not in text, dept
    subject = by_dept["public_security"]["subjects"][0]
    assert subject["hukou_division"] == members[0].hukou_division
    assert subject["relationship"] is None and subject["employer"] is None
    assert by_dept["civil_affairs"]["subjects"][1]["relationship"] == "spouse"
    assert by_dept["civil_affairs"]["subjects"][1]["hukou_division"] is None
    for dept in ("real_estate", "market_supervision", "vehicle"):
        s = by_dept[dept]["subjects"][0]
        assert (s["relationship"], s["hukou_division"], s["employer"]) == (None, None, None)
    assert by_dept["tax"]["time_limit_working_days"] == 5
    assert by_dept["vehicle"]["time_limit_working_days"] == 3


async def test_requests_wait_in_the_department_queue(svc: RunningService, infra: Infra) -> None:
    event = accepted("newly_employed")
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    queue_name = f"{svc.runtime.settings.queue_prefix}.dept.vehicle"
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)

        async def find() -> dict | None:
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                body = orjson.loads(message.body)
                await message.ack()
                if any(i["application_id"] == str(event.application_id) for i in items(body)):
                    return body
            return None

        body = await wait_for(find, timeout=15)
    finally:
        await connection.close()
    # A batch (the default, HOUSING_VERIFICATION_REQUEST_BATCHES=all) for the department.
    assert body["type"] == "verification.requested_batch"
    assert body["data"]["department"] == "vehicle"
    assert {i["department"] for i in items(body)} == {"vehicle"}


def items(body: dict) -> list[dict]:
    return body["data"]["items"] if body["type"].endswith("_batch") else [body["data"]]


async def test_a_second_acceptance_of_the_same_application_changes_nothing(
    svc: RunningService,
) -> None:
    event = accepted("newly_employed")
    await publish(svc, event)
    first = await wait_for_case(svc.runtime, event.application_id)
    # A re-published acceptance: a new event id (the inbox lets it in), the same application.
    async with svc.runtime.uow() as uow:
        assert await start_case(uow, event, svc.runtime.city) is False
        await uow.commit()
    again = await wait_for_case(svc.runtime, event.application_id)
    assert again.case_id == first.case_id
    assert len(await requests_of(svc.runtime, event.application_id)) == 8
    assert len(await requests_sent(svc.runtime, event.application_id)) == 8

"""Department answers over HTTP and AMQP: any order, empty, duplicate, unknown, wrong department."""

from __future__ import annotations

import random
import uuid

import aio_pika
import orjson
import pytest

from shared.events.catalogue import VerificationRequested
from shared.events.envelope import Envelope
from simulators.sdk import Answer, answer_envelope
from tests.conftest import Infra
from tests.harness import emitted, publish, wait_for
from tests.integration.verification.helpers import (
    accepted,
    answer_http,
    case_row,
    dept_token,
    requests_of,
    wait_completed,
    wait_for_case,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration


async def parked_answer(
    svc: RunningService, infra: Infra, envelope: Envelope, routing_key: str
) -> aio_pika.abc.AbstractIncomingMessage:
    """Publish ``envelope`` on the verification exchange as a department system would, and
    wait for it in verification's dead-letter queue."""
    dead_queue = f"{svc.runtime.settings.queue_name}.dead"
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(
            svc.runtime.settings.verification_exchange, ensure=False
        )
        await exchange.publish(
            aio_pika.Message(envelope.to_bytes(), content_type="application/json"),
            routing_key=routing_key,
            mandatory=True,
        )
        queue = await channel.declare_queue(dead_queue, passive=True)

        async def parked() -> aio_pika.abc.AbstractIncomingMessage | None:
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                await message.ack()
                if orjson.loads(message.body)["id"] == str(envelope.id):
                    return message
            return None

        return await wait_for(parked, timeout=20)
    finally:
        await connection.close()


async def started(svc: RunningService, category: str = "newly_employed"):
    event = accepted(category)
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    return event, {r.department: r for r in await requests_of(svc.runtime, event.application_id)}


def tax_income(ref: str, amount: str) -> dict[str, object]:
    return {"member_ref": ref, "kind": "income", "monthly_amount": amount, "source": "wages"}


async def test_answers_in_any_order_complete_the_case_once(svc: RunningService) -> None:
    event, requests = await started(svc)
    members = event.household.members
    order = list(requests)
    random.Random(7).shuffle(order)
    for i, dept in enumerate(order):
        body: dict[str, object] = {"no_record": True}
        if dept == "tax":
            body = {
                "no_record": False,
                "findings": [
                    tax_income(members[0].member_id_hash, "3200.00"),
                    tax_income(members[1].member_id_hash, "2800.00"),
                ],
            }
        if dept == "public_security":
            body = {
                "no_record": False,
                "findings": [
                    {
                        "member_ref": members[0].member_id_hash,
                        "kind": "hukou",
                        "division": "350203",
                        "residence_permit": True,
                    }
                ],
            }
        response = await answer_http(svc.client, dept, requests[dept].request_id, body)
        assert response.status_code == 201, response.text
        receipt = response.json()
        last = i == len(order) - 1
        assert receipt["case_completed"] is last
        assert (await case_row(svc.runtime, event.application_id)).status == (
            "completed" if last else "open"
        )
    case = await case_row(svc.runtime, event.application_id)
    completed = await emitted(svc, "verification.completed", event.application_id)
    assert len(completed) == 1
    data = completed[0]
    assert data["recommendation"] == "eligible", data["reasons"]
    assert data["missing_departments"] == []
    assert data["parameters_version"] == 1
    assert data["profile"]["per_capita_monthly_income"] == "3000.00"
    assert data["discrepancies"] == []
    assert case.result == data


async def test_an_empty_answer_is_stored_and_announced(svc: RunningService) -> None:
    event, requests = await started(svc)
    response = await answer_http(
        svc.client, "real_estate", requests["real_estate"].request_id, {"no_record": False}
    )
    assert response.status_code == 201
    assert response.json()["empty"] is True
    empties = await emitted(svc, "verification.answer_empty", event.application_id)
    assert [e["department"] for e in empties] == ["real_estate"]
    for dept, request in requests.items():
        if dept != "real_estate":
            assert (await answer_http(svc.client, dept, request.request_id)).status_code == 201
    case = await wait_completed(svc.runtime, event.application_id)
    assert case.recommendation == "needs_review"
    assert any("市不动产登记中心反馈为空" in r for r in case.result["reasons"])
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["real_estate"].empty is True and stored["real_estate"].status == "answered"


async def test_a_duplicate_answer_changes_nothing(svc: RunningService) -> None:
    event, requests = await started(svc)
    rid = requests["vehicle"].request_id
    first = await answer_http(svc.client, "vehicle", rid, {"no_record": True})
    assert first.status_code == 201
    second = await answer_http(
        svc.client,
        "vehicle",
        rid,
        {"no_record": False, "findings": []},  # differs: ignored
    )
    assert second.status_code == 200
    assert second.json()["duplicate"] is True and second.json()["empty"] is False
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["vehicle"].no_record is True and stored["vehicle"].empty is False
    assert await emitted(svc, "verification.answer_empty", event.application_id) == []
    # The same request with the same Idempotency-Key replays the first response.
    # (One token for both calls: without a principal on the request, shared.idempotency
    # scopes keys by the Authorization header.)
    headers = {**dept_token("tax"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/departments/tax/requests/{requests['tax'].request_id}/answer"
    a = await svc.client.post(url, json={"no_record": True}, headers=headers)
    b = await svc.client.post(url, json={"no_record": True}, headers=headers)
    assert (a.status_code, b.status_code) == (201, 201)
    assert b.headers.get("Idempotent-Replayed") == "true"


async def test_amqp_answers_are_applied_once_even_when_sent_twice(
    svc: RunningService, infra: Infra
) -> None:
    event, requests = await started(svc)
    request = VerificationRequested(
        request_id=requests["market_supervision"].request_id,
        case_id=requests["market_supervision"].case_id,
        application_id=event.application_id,
        city="350200",
        department="market_supervision",
        requested_at=requests["market_supervision"].requested_at,
        deadline=requests["market_supervision"].deadline,
        time_limit_working_days=3,
        subjects=requests["market_supervision"].subjects,
    )
    envelope = answer_envelope("market_supervision", request, Answer.nothing_on_record())
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(
            svc.runtime.settings.verification_exchange, ensure=False
        )
        # The same event twice (inbox), then a re-sent answer with a new id (request state).
        again = envelope.model_copy(update={"id": uuid.uuid4()})
        for env in (envelope, envelope, again):
            await exchange.publish(
                aio_pika.Message(env.to_bytes(), content_type="application/json"),
                routing_key="response.market_supervision",
                mandatory=True,
            )
    finally:
        await connection.close()

    async def answered() -> bool:
        rows = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
        return rows["market_supervision"].status == "answered"

    await wait_for(answered)
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["market_supervision"].channel == "amqp"
    assert stored["market_supervision"].no_record is True


async def test_an_unknown_request_is_a_clear_404(svc: RunningService) -> None:
    response = await answer_http(svc.client, "tax", uuid.uuid4(), {"no_record": True})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["field"] == "request_id" and "协查请求" in body["detail"]


async def test_a_department_answers_only_its_own_requests(svc: RunningService) -> None:
    event, requests = await started(svc)
    # tax's token on vehicle's path: forbidden.
    wrong = await svc.client.post(
        f"/departments/vehicle/requests/{requests['vehicle'].request_id}/answer",
        json={"no_record": True},
        headers=dept_token("tax"),
    )
    assert wrong.status_code == 403
    # tax's path with vehicle's request id: that request is not tax's.
    other = await answer_http(svc.client, "tax", requests["vehicle"].request_id)
    assert other.status_code == 404
    # Staff, even an admin, cannot answer for a department.
    admin = await svc.client.post(
        f"/departments/tax/requests/{requests['tax'].request_id}/answer",
        json={"no_record": True},
        headers=token("admin"),
    )
    assert admin.status_code == 403
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["vehicle"].status == "pending" and stored["tax"].status == "pending"


async def test_bad_answers_are_refused_with_the_field_named(svc: RunningService) -> None:
    event, requests = await started(svc)
    rid = requests["tax"].request_id
    both = await answer_http(
        svc.client,
        "tax",
        rid,
        {
            "no_record": True,
            "findings": [tax_income(event.household.members[0].member_id_hash, "1")],
        },
    )
    assert both.status_code == 422
    stranger = await answer_http(
        svc.client, "tax", rid, {"no_record": False, "findings": [tax_income("f" * 64, "100")]}
    )
    assert stranger.status_code == 422 and stranger.json()["field"] == "findings"
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["tax"].status == "pending"


async def test_a_department_lists_its_pending_requests(svc: RunningService) -> None:
    event, requests = await started(svc)
    response = await svc.client.get(
        "/departments/provident_fund/requests",
        params={"status": "pending", "limit": 200},
        headers=dept_token("provident_fund"),
    )
    assert response.status_code == 200
    page = response.json()
    mine = [i for i in page["items"] if i["application_id"] == str(event.application_id)]
    assert len(mine) == 1
    assert mine[0]["request_id"] == str(requests["provident_fund"].request_id)
    assert [s["member_ref"] for s in mine[0]["subjects"]] == [
        m.member_id_hash for m in event.household.members
    ]
    assert mine[0]["subjects"][0]["employer"] is None  # declared employer absent in example
    assert {i["department"] for i in page["items"]} == {"provident_fund"}
    assert page["total"] >= 1
    forbidden = await svc.client.get(
        "/departments/provident_fund/requests", headers=dept_token("tax")
    )
    assert forbidden.status_code == 403


async def test_an_answer_to_an_unknown_request_over_amqp_is_dead_lettered(
    svc: RunningService, infra: Infra
) -> None:
    _, requests = await started(svc)
    real = requests["vehicle"]
    bogus = VerificationRequested(
        request_id=uuid.uuid4(),
        case_id=real.case_id,
        application_id=real.application_id,
        city="350200",
        department="vehicle",
        requested_at=real.requested_at,
        deadline=real.deadline,
        time_limit_working_days=3,
        subjects=real.subjects,
    )
    envelope = answer_envelope("vehicle", bogus, Answer.nothing_on_record())
    message = await parked_answer(svc, infra, envelope, "response.vehicle")
    error = str(message.headers["x-error"])
    assert "UnknownRequest" in error and str(bogus.request_id) in error
    assert message.headers["x-dead-reason"] == "retries_exhausted"
    # The consumer is still alive and handling answers afterwards.
    ok = await answer_http(svc.client, "vehicle", real.request_id)
    assert ok.status_code == 201


async def test_staff_read_the_case_within_their_unit(svc: RunningService) -> None:
    event, requests = await started(svc)
    ok = await svc.client.get(
        f"/verifications/{event.application_id}", headers=token("street_clerk", org="350203001")
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["status"] == "open"
    assert sorted(d["department"] for d in body["departments"]) == sorted(requests)
    assert "resident_id" not in ok.text
    other = await svc.client.get(
        f"/verifications/{event.application_id}", headers=token("street_clerk", org="350206001")
    )
    assert other.status_code == 403
    missing = await svc.client.get(
        f"/verifications/{uuid.uuid4()}", headers=token("city_clerk", org="350200")
    )
    assert missing.status_code == 404


async def test_an_answer_in_another_departments_name_is_refused(
    svc: RunningService, infra: Infra
) -> None:
    """The tax office answering the vehicle office's request: the routing key gives it away."""
    event, requests = await started(svc)
    vehicle = requests["vehicle"]
    envelope = answer_envelope("vehicle", vehicle, Answer.nothing_on_record())
    message = await parked_answer(svc, infra, envelope, "response.tax")
    assert "DepartmentMismatch" in str(message.headers["x-error"])
    assert "'response.tax'" in str(message.headers["x-error"])
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["vehicle"].status == "pending"
    # The vehicle office itself can still answer.
    ok = await answer_http(svc.client, "vehicle", vehicle.request_id)
    assert ok.status_code == 201


async def test_an_answer_of_a_misspelt_type_is_parked_not_forgotten(
    svc: RunningService, infra: Infra
) -> None:
    event, requests = await started(svc)
    vehicle = requests["vehicle"]
    envelope = answer_envelope("vehicle", vehicle, Answer.nothing_on_record()).model_copy(
        update={"type": "department.answerd"}
    )
    message = await parked_answer(svc, infra, envelope, "response.vehicle")
    assert message.headers["x-dead-reason"] == "unexpected_type"
    assert "'department.answerd'" in str(message.headers["x-error"])
    stored = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    assert stored["vehicle"].status == "pending"

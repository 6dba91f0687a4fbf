"""Answers applied together (the consumer hands a crowd of them to one call): each case still
completes exactly once, duplicates inside and across calls change nothing, and one bad answer
leaves the whole call unapplied."""

from __future__ import annotations

import pytest

from services.verification.commands import IncomingAnswer, apply_answers
from services.verification.problems import UnknownRequest
from tests.harness import emitted, publish
from tests.integration.verification.helpers import (
    accepted,
    case_row,
    requests_of,
    wait_for_case,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration


def nothing_on_record(request) -> IncomingAnswer:
    return IncomingAnswer(
        department=request.department,
        request_id=request.request_id,
        no_record=True,
        findings=(),
        reported_answered_at=None,
        answered_by="batch-test",
        channel="amqp",
    )


async def test_a_batch_of_answers_completes_each_case_once(svc: RunningService) -> None:
    first, second = accepted(), accepted()
    for event in (first, second):
        await publish(svc, event)
        await wait_for_case(svc.runtime, event.application_id)
    a = sorted(await requests_of(svc.runtime, first.application_id), key=lambda r: r.department)
    b = sorted(await requests_of(svc.runtime, second.application_id), key=lambda r: r.department)
    assert (len(a), len(b)) == (8, 8)

    batch = [nothing_on_record(r) for r in a] + [nothing_on_record(a[0])]
    batch += [nothing_on_record(r) for r in b[:3]]
    async with svc.runtime.uow() as uow:
        outcomes = await apply_answers(uow, city=svc.runtime.city, answers=batch)
        await uow.commit()

    assert [o.duplicate for o in outcomes] == [False] * 8 + [True] + [False] * 3
    assert [o.case_completed for o in outcomes] == [False] * 7 + [True] + [False] * 4
    assert (await case_row(svc.runtime, first.application_id)).status == "completed"
    assert (await case_row(svc.runtime, second.application_id)).status == "open"
    assert len(await emitted(svc, "verification.completed", first.application_id)) == 1

    # The rest of the second case, with an answer already applied: completes it, once.
    async with svc.runtime.uow() as uow:
        rest = [nothing_on_record(r) for r in [b[0], *b[3:]]]
        outcomes = await apply_answers(uow, city=svc.runtime.city, answers=rest)
        await uow.commit()
    assert [o.duplicate for o in outcomes] == [True] + [False] * 5
    assert outcomes[-1].case_completed is True
    assert (await case_row(svc.runtime, second.application_id)).status == "completed"
    assert len(await emitted(svc, "verification.completed", second.application_id)) == 1
    answered = await requests_of(svc.runtime, second.application_id)
    assert {r.status for r in answered} == {"answered"}


async def test_one_unknown_request_leaves_the_whole_batch_unapplied(svc: RunningService) -> None:
    event = accepted()
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    requests = await requests_of(svc.runtime, event.application_id)
    stranger = IncomingAnswer(
        department=requests[0].department,
        request_id=requests[1].request_id,  # another department's request
        no_record=True,
        findings=(),
        reported_answered_at=None,
        answered_by="batch-test",
        channel="amqp",
    )
    with pytest.raises(UnknownRequest):
        async with svc.runtime.uow() as uow:
            await apply_answers(
                uow,
                city=svc.runtime.city,
                answers=[nothing_on_record(requests[0]), stranger],
            )
            await uow.commit()
    assert {r.status for r in await requests_of(svc.runtime, event.application_id)} == {"pending"}

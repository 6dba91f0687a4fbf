"""The serial dispatch the pipeline benchmark uses as its baseline (``dispatch=serial``): the
departments are asked one after another, each only once the previous one has answered, and the
case still completes with the same result as the parallel fan-out."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator

import pytest

from shared.city import city_config
from simulators.departments import Behaviour, answering
from tests.conftest import Infra
from tests.harness import publish
from tests.integration.verification.helpers import (
    accepted,
    requests_of,
    wait_completed,
)
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def serial_svc(infra: Infra) -> AsyncIterator[RunningService]:
    os.environ["HOUSING_VERIFICATION_DISPATCH"] = "serial"
    try:
        async with running_service(infra, "verification", system="verserial") as service:
            yield service
    finally:
        del os.environ["HOUSING_VERIFICATION_DISPATCH"]


async def test_serial_dispatch_asks_one_department_after_another(
    serial_svc: RunningService,
) -> None:
    settings = serial_svc.runtime.settings
    order = [
        d.code for d in city_config(settings.city_config).verifying_departments("newly_employed")
    ]
    async with answering(
        order,
        amqp_url=settings.amqp_url,
        exchange=settings.verification_exchange,
        queue_prefix=settings.queue_prefix,
        behaviour=Behaviour(latency_ms=20),
    ) as running:
        event = accepted("newly_employed")
        await publish(serial_svc, event)
        case = await wait_completed(serial_svc.runtime, event.application_id, timeout=30)

    requests = await requests_of(serial_svc.runtime, event.application_id)
    by_answer = sorted(requests, key=lambda r: r.answered_at)
    # Answered in the city's order: nobody was asked before the previous department answered.
    assert [r.department for r in by_answer] == order
    # ... and each took its 20 ms after the previous answer (in parallel they overlap).
    gaps = [
        (b.answered_at - a.answered_at).total_seconds() for a, b in itertools.pairwise(by_answer)
    ]
    assert min(gaps) >= 0.02, gaps
    assert [c.answered for c in running] == [1] * len(order)  # each asked exactly once
    assert case.status == "completed"
    assert case.result["missing_departments"] == []

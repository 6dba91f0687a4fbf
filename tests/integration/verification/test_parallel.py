"""The headline: departments work at the same time, so verification takes about as long as the
slowest department, not the sum of all of them (推送相关、同步核查). Run with the reference
department simulators (the SDK over the real broker), each taking DELAY to answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from simulators.departments import Behaviour, answering
from simulators.sdk import DepartmentClient
from tests.harness import publish
from tests.integration.verification.helpers import (
    accepted,
    requests_of,
    wait_completed,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration

DELAY_S = 0.75
SERIAL_S = DELAY_S * len(DEFAULT_VERIFYING_DEPARTMENTS)  # 6 s if departments took turns


@pytest.fixture(scope="module")
async def departments(svc: RunningService) -> AsyncIterator[list[DepartmentClient]]:
    settings = svc.runtime.settings
    async with answering(
        DEFAULT_VERIFYING_DEPARTMENTS,
        amqp_url=settings.amqp_url,
        exchange=settings.verification_exchange,
        queue_prefix=settings.queue_prefix,
        behaviour=Behaviour(latency_ms=DELAY_S * 1000),
    ) as running:
        yield running


async def test_verification_takes_the_slowest_department_not_the_sum(
    svc: RunningService, departments: list[DepartmentClient]
) -> None:
    # Warm-up: first-use costs (calendar years, connection pools) are not what is measured.
    warm = accepted("newly_employed")
    await publish(svc, warm)
    await wait_completed(svc.runtime, warm.application_id, timeout=30)

    event = accepted("newly_employed")
    started = time.monotonic()
    await publish(svc, event)
    case = await wait_completed(svc.runtime, event.application_id, timeout=30, interval=0.02)
    elapsed = time.monotonic() - started
    print(f"verification of 8 departments x {DELAY_S} s took {elapsed:.2f} s")

    assert elapsed >= DELAY_S  # every department really took its time
    # Generous for a loaded machine, yet far from the 6 s of one department after another.
    assert elapsed < SERIAL_S / 2, f"{elapsed:.2f} s: departments did not work in parallel"
    requests = await requests_of(svc.runtime, event.application_id)
    assert {r.channel for r in requests} == {"amqp"}
    answered = sorted(r.answered_at for r in requests)
    # All eight answers arrived within one department's delay of each other.
    assert (answered[-1] - answered[0]).total_seconds() < DELAY_S
    assert case.result["missing_departments"] == []
    assert all(c.answered >= 2 for c in departments)  # each answered both applications

"""Deadlines: a department that never answers is announced overdue; the case completes at the
last deadline with the silent department missing (or keeps waiting, by configuration); a late
answer is accepted and flagged."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from services.verification import sweeps
from services.verification.settings import VerificationSettings
from shared.clock import clock
from shared.scheduler import run_once
from tests.harness import emitted, publish
from tests.integration.verification.helpers import (
    accepted,
    answer_http,
    case_row,
    requests_of,
    wait_for_case,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration


@pytest.fixture
def moved_clock() -> Iterator[None]:
    yield
    clock.reset()


async def start_and_answer_all_but(svc: RunningService, silent: str):
    event = accepted("newly_employed")
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    requests = {r.department: r for r in await requests_of(svc.runtime, event.application_id)}
    for dept, request in requests.items():
        if dept != silent:
            assert (await answer_http(svc.client, dept, request.request_id)).status_code == 201
    return event, requests


async def sweep(svc: RunningService, on_deadline: str) -> None:
    settings = VerificationSettings(on_deadline=on_deadline)  # type: ignore[arg-type]
    ctx = dataclasses.replace(svc.runtime.context, settings=settings)
    assert await run_once(
        svc.runtime, f"test-sweep-{on_deadline}", lambda uow: sweeps.deadlines(ctx, uow)
    )


async def test_a_department_that_never_answers(svc: RunningService, moved_clock: None) -> None:
    event, requests = await start_and_answer_all_but(svc, "real_estate")
    await sweep(svc, "complete")  # nothing is due yet
    assert (await case_row(svc.runtime, event.application_id)).status == "open"
    assert await emitted(svc, "verification.department_overdue", event.application_id) == []

    clock.advance(timedelta(days=30))
    await sweep(svc, "complete")
    await sweep(svc, "complete")  # a second tick announces nothing twice
    overdue = await emitted(svc, "verification.department_overdue", event.application_id)
    assert [e["department"] for e in overdue] == ["real_estate"]
    case = await case_row(svc.runtime, event.application_id)
    assert case.status == "completed"
    assert case.result["missing_departments"] == ["real_estate"]
    assert case.recommendation == "needs_review"
    assert "未反馈部门：市不动产登记中心。" in case.result["reasons"]

    # The late answer is accepted and flagged; the case stays completed once.
    late = await answer_http(svc.client, "real_estate", requests["real_estate"].request_id)
    assert late.status_code == 201
    assert late.json()["late"] is True and late.json()["case_completed"] is False
    flagged = await emitted(svc, "verification.answer_late", event.application_id)
    assert len(flagged) == 1
    assert flagged[0]["working_days_late"] > 0
    completed = await emitted(svc, "verification.completed", event.application_id)
    assert len(completed) == 1


async def test_keep_waiting_completes_only_with_the_last_answer(
    svc: RunningService, moved_clock: None
) -> None:
    event, requests = await start_and_answer_all_but(svc, "vehicle")
    clock.advance(timedelta(days=30))
    await sweep(svc, "wait")
    overdue = await emitted(svc, "verification.department_overdue", event.application_id)
    assert [e["department"] for e in overdue] == ["vehicle"]
    assert (await case_row(svc.runtime, event.application_id)).status == "open"

    late = await answer_http(svc.client, "vehicle", requests["vehicle"].request_id)
    assert late.json()["late"] is True and late.json()["case_completed"] is True
    case = await case_row(svc.runtime, event.application_id)
    assert case.status == "completed" and case.result["missing_departments"] == []

"""Working-day clocks under the controlled clock: a deadline reaching into 2027 (calendar
fallback visible), a stage passing its limit, a suspension over the Spring Festival that ends
by itself and does not count toward the limit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime

import pytest

from services.review import sweeps
from shared.clock import SHANGHAI, clock
from shared.db import UnitOfWork
from shared.scheduler import run_once
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import emitted, publish_and_handle
from tests.integration.review.support import case_of
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

STREET = "350206001"  # 湖里街道
CLERK = token("street_clerk", org=STREET, sub="clerk-huli")


@pytest.fixture(scope="module")
async def review(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "review", system="rvc") as svc:
        yield svc


@pytest.fixture(autouse=True)
def controlled_clock() -> Iterator[None]:
    yield
    clock.reset()


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


async def sweep(review: RunningService) -> None:
    runtime = review.runtime

    async def tick(uow: UnitOfWork) -> None:
        await sweeps.clock(runtime.context, uow)

    assert await run_once(runtime, "review-clock", tick)


async def open_case(review: RunningService) -> tuple[uuid.UUID, uuid.UUID]:
    application = accepted_application(STREET)
    await publish_and_handle(review, application, subject=application.application_id)
    return application.application_id, await case_of(review, application.application_id)


async def first_stage(review: RunningService, case_id: uuid.UUID) -> dict:
    view = await review.client.get(f"/cases/{case_id}", headers=CLERK)
    assert view.status_code == 200, view.text
    return view.json()["stages"][0]


async def test_a_deadline_crossing_into_2027_shows_the_calendar_fallback(
    review: RunningService,
) -> None:
    clock.set(at(2026, 12, 21))
    app_id, case_id = await open_case(review)
    [started] = await emitted(review, "review.stage_started", app_id)
    assert started["calendar_fallback"] is True
    assert started["fallback_years"] == [2027]
    stage = await first_stage(review, case_id)
    # 8 working days left in 2026, then 7 Monday-to-Friday days of 2027 (no official calendar).
    assert (stage["due_date"], stage["fallback_years"]) == ("2027-01-11", [2027])
    tasks = (await review.client.get("/tasks", headers=CLERK)).json()["items"]
    [task] = [t for t in tasks if t["case_id"] == str(case_id)]
    assert (task["due_date"], task["fallback_years"], task["working_days_left"]) == (
        "2027-01-11",
        [2027],
        15,
    )


async def test_a_stage_passing_its_limit_is_reported_once(review: RunningService) -> None:
    clock.set(at(2026, 3, 2))
    app_id, case_id = await open_case(review)
    assert (await first_stage(review, case_id))["due_date"] == "2026-03-23"

    clock.set(at(2026, 3, 23, 20, 0))  # the last day: still in time
    await sweep(review)
    assert await emitted(review, "review.stage_overdue", app_id) == []

    clock.set(at(2026, 3, 24, 0, 30))
    await sweep(review)
    await sweep(review)  # idempotent: reported once
    [overdue] = await emitted(review, "review.stage_overdue", app_id)
    assert (overdue["stage"], overdue["unit"], overdue["calendar_fallback"]) == (
        "street_initial",
        STREET,
        False,
    )
    assert datetime.fromisoformat(overdue["due_at"]).astimezone(SHANGHAI).date() == date(
        2026, 3, 23
    )
    tasks = (await review.client.get("/tasks", headers=CLERK)).json()["items"]
    [task] = [t for t in tasks if t["case_id"] == str(case_id)]
    assert (task["overdue"], task["working_days_left"]) == (True, -1)


async def test_a_suspension_over_the_spring_festival_ends_by_itself_and_does_not_count(
    review: RunningService,
) -> None:
    clock.set(at(2026, 2, 12, 10, 0))
    app_id, case_id = await open_case(review)
    stage = await first_stage(review, case_id)
    assert stage["due_date"] == "2026-03-11"  # 15 working days around the holiday

    response = await review.client.post(
        f"/cases/{case_id}/stages/street_initial/suspend",
        json={"missing_items": ["居民户口簿（全家）", "离婚证明材料"]},
        headers={**CLERK, "Idempotency-Key": f"suspend-{case_id}"},
    )
    assert response.status_code == 201, response.text
    suspension = response.json()
    # 10 working days: 13 and 14 Feb (make-up Saturday), 24-28 Feb (28th a make-up
    # Saturday), 2-4 Mar; 15-23 Feb is the Spring Festival holiday.
    resumes_by = datetime.fromisoformat(suspension["resumes_by"]).astimezone(SHANGHAI)
    assert resumes_by.date() == date(2026, 3, 4)
    [suspended] = await emitted(review, "review.stage_suspended", app_id)
    assert suspended["reason"] == "补件：居民户口簿（全家）、离婚证明材料"
    # Signing is refused while suspended.
    refused = await review.client.post(
        f"/cases/{case_id}/stages/street_initial/opinions",
        json={
            "role": "handler",
            "decision": "approve",
            "opinion": "经核查，家庭收入与住房情况符合条件，同意上报。",
        },
        headers=CLERK,
    )
    assert refused.status_code == 409
    assert refused.json()["detail"] == "该环节正在补件挂起中，请先恢复办理再签字。"
    tasks = (await review.client.get("/tasks", headers=CLERK)).json()["items"]
    assert [t["status"] for t in tasks if t["case_id"] == str(case_id)] == ["suspended"]

    clock.set(at(2026, 3, 4, 22, 0))  # the last suspended day: not yet ended
    await sweep(review)
    assert await emitted(review, "review.stage_resumed", app_id) == []

    clock.set(at(2026, 3, 5, 8, 0))
    await sweep(review)
    await sweep(review)
    [resumed] = await emitted(review, "review.stage_resumed", app_id)
    assert (resumed["automatic"], resumed["resumed_by"], resumed["suspended_working_days"]) == (
        True,
        None,
        10,
    )
    assert datetime.fromisoformat(resumed["resumed_at"]) == resumes_by
    # The clock stood still for 10 working days: the deadline moved from 11 to 25 March.
    assert datetime.fromisoformat(resumed["due_at"]).astimezone(SHANGHAI).date() == date(
        2026, 3, 25
    )
    stage = await first_stage(review, case_id)
    assert (stage["status"], stage["due_date"], stage["suspended_working_days"]) == (
        "active",
        "2026-03-25",
        10,
    )
    assert stage["suspensions"][0]["automatic"] is True

    clock.set(at(2026, 3, 12, 9, 0))  # past the original deadline, within the moved one
    await sweep(review)
    assert await emitted(review, "review.stage_overdue", app_id) == []
    clock.set(at(2026, 3, 26, 9, 0))
    await sweep(review)
    assert len(await emitted(review, "review.stage_overdue", app_id)) == 1

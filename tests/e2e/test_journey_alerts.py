"""End-to-end alert scenarios (issue 9, item 1): what a supervisor sees when things go wrong.

All six services run in-process in a system of their own ("alerts"), over the real broker and
each on its own PostgreSQL database; the eight departments answer over the department AMQP
contract (``simulators.sdk``). The test acts through public interfaces only: the portal and the
clerks call the HTTP APIs, the supervisor reads alerting's ``/alerts``, ``/tickets``,
``/notifications`` and ``/cockpit``. The periodic sweeps are run by the test (``run_once``) at
instants set on the process-wide clock, which is reset after each scenario.

Reads of service databases are limited to ``alert_support.alerting_caught_up``: a barrier that
alerting has handled every event published about an application, so that "nothing else was
raised" is asserted after the fact and not before it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep as alerting_sweep
from services.review.sweeps import clock as review_clock
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.clock import SHANGHAI, clock
from shared.db import UnitOfWork
from shared.scheduler import run_once
from shared.settings import SERVICES
from shared.workdays import default_calendar
from simulators.sdk import DepartmentClient
from tests.conftest import Infra
from tests.e2e.alert_support import (
    SUPERVISOR,
    SometimesEmptyDepartment,
    accepted_application,
    alerting_caught_up,
    alerts_of,
    tickets_of,
    verified_case,
)
from tests.e2e.journey_support import environment, eventually, free_port
from tests.examples import resident_id
from tests.integration.review.support import sign_stage
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.e2e

SYSTEM = "alerts"
CITY = "350200"
STREET = "350203001"  # 厦港街道, 思明区
CATEGORY = "newly_employed"  # verified by the default eight departments
STREET_CLERK = token("street_clerk", org=STREET, sub="clerk-alerts-reader")


@dataclass
class AlertSystem:
    svc: dict[str, RunningService]
    departments: dict[str, SometimesEmptyDepartment]

    def client(self, name: str) -> Any:
        return self.svc[name].client

    async def sweep_review(self) -> None:
        """One tick of review's clock (suspensions ending, stages past their deadline)."""
        runtime = self.svc["review"].runtime

        async def tick(uow: UnitOfWork) -> None:
            await review_clock(runtime.context, uow)

        assert await run_once(runtime, "review-clock", tick)

    async def sweep_alerting(self) -> None:
        """One tick of alerting's clock rules, ticket escalation and reminders."""
        cfg = rule_config()

        async def tick(uow: UnitOfWork) -> None:
            await alerting_sweep(uow, cfg)

        assert await run_once(self.svc["alerting"].runtime, "alerting-clock-sweep", tick)

    async def sweep_both(self, application_id: uuid.UUID) -> None:
        """Review's clock, then (once alerting heard what it said) alerting's clock."""
        await self.sweep_review()
        await alerting_caught_up(self.svc, application_id)
        await self.sweep_alerting()


@pytest.fixture(scope="module")
async def system(infra: Infra) -> AsyncIterator[AlertSystem]:
    async with AsyncExitStack() as stack:
        stack.enter_context(
            environment(
                {
                    # The sweeps these scenarios need are run by the test itself, at the
                    # instants it sets; the periodic ones only tick once, at start-up.
                    "HOUSING_VERIFICATION_DEADLINE_SWEEP_SECONDS": "3600",
                    "HOUSING_ALERTING_SWEEP_SECONDS": "3600",
                    "HOUSING_PUBLICATION_NOTICE_SWEEP_SECONDS": "3600",
                    # Notifications are sent (to the log) as they come.
                    "HOUSING_ALERTING_DISPATCH_SECONDS": "0.3",
                    # Nothing here is pushed to a province: a port nobody listens on.
                    "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": json.dumps(
                        [
                            {
                                "name": "province",
                                "url": f"http://127.0.0.1:{free_port()}/pushes",
                                "secret": "e2e-alerts-province-secret",
                            }
                        ]
                    ),
                    "HOUSING_PUBLICATION_PUSH_INTERVAL_SECONDS": "3600",
                }
            )
        )
        services: dict[str, RunningService] = {}
        for name in SERVICES:
            # Small pools: six services share one PostgreSQL server with other test runs.
            services[name] = await stack.enter_async_context(
                running_service(infra, name, system=SYSTEM, db_pool_size=5)
            )
        settings = services["verification"].runtime.settings
        departments = {d: SometimesEmptyDepartment(d) for d in DEFAULT_VERIFYING_DEPARTMENTS}
        clients = [
            DepartmentClient(
                department=d.department,
                amqp_url=settings.amqp_url,
                handler=d,
                exchange=settings.verification_exchange,
                queue_prefix=settings.queue_prefix,
            )
            for d in departments.values()
        ]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 30)
            yield AlertSystem(services, departments)
        finally:
            for c in clients:
                c.stop()
            await asyncio.gather(*tasks)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _shanghai(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def _working_day_before(day: date) -> date:
    calendar = default_calendar()
    day -= timedelta(days=1)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


async def _sent_notification(
    alerting: Any, alert_id: str, recipient: str | None = None
) -> dict[str, Any]:
    """The notification queued for ``alert_id`` (to ``recipient``, when an alert notifies
    several), once the dispatcher has delivered it."""

    async def sent() -> dict[str, Any] | None:
        listed = await alerting.get("/notifications", params={"limit": 200}, headers=SUPERVISOR)
        assert listed.status_code == 200, listed.text
        mine = [
            n
            for n in listed.json()["items"]
            if n["alert_id"] == alert_id and recipient in (None, n["recipient"])
        ]
        assert len(mine) <= 1, mine
        return mine[0] if mine and mine[0]["status"] == "sent" else None

    return await eventually(sent, 20, f"the notification of alert {alert_id} sent")


# -- R6: a department answers empty ----------------------------------------------------------


async def test_an_empty_department_answer_raises_one_red_light_with_its_ticket(
    system: AlertSystem,
) -> None:
    applicant_id = resident_id(birth="19880202", serial=f"{uuid.uuid4().int % 1000:03d}")
    spouse_id = resident_id(birth="19890303", serial="135")
    empty = system.departments["real_estate"]
    app_id, tracking_no = await accepted_application(
        system.client("intake"),
        applicant_id,
        spouse_id,
        street=STREET,
        category=CATEGORY,
        key=f"r6-{uuid.uuid4().hex[:8]}",
    )
    empty.empty_for.add(app_id)

    # Seven honest answers and one empty one: verification still completes, and says so.
    view = await verified_case(system.client("review"), app_id, STREET)
    request = empty.request_for(app_id)
    assert view["verification"]["recommendation"] == "needs_review", view["verification"]
    assert view["verification"]["missing_departments"] == []  # it did answer, emptily
    reasons = view["verification"]["reasons"]
    assert [r for r in reasons if "需人工审核" in r] == [
        "家庭人均住房建筑面积：上限0.00平方米，市不动产登记中心反馈为空，无法核实，需人工审核。"
    ]
    assert reasons[-1] == "反馈为空的部门：市不动产登记中心。"

    await alerting_caught_up(system.svc, app_id)
    alerting = system.client("alerting")
    [alert] = await alerts_of(alerting, app_id)
    assert alert == {
        **alert,
        "rule_id": "R6",
        "colour": "red",
        "title": "协查部门的协查反馈意见为空",
        "application_id": str(app_id),
        "tracking_no": tracking_no,
        "case_id": None,
        "stage": None,
        "department": "real_estate",
        # Raised at the application's street: its supervisors, the district's (which sends the
        # 督办通知 to the department, art. 10) and the city's all see it.
        "unit": STREET,
        "source": "verification.answer_empty",
        "details": {"department": "real_estate", "request_id": str(request.request_id)},
        "status": "open",
        "cleared_at": None,
        "cleared_by": None,
        "clear_reason": None,
    }

    # A red light opens its red ticket at once, to be handled the same day (rules.yaml:
    # R6 clears only by confirmation on that ticket).
    [ticket] = await tickets_of(alerting, app_id)
    opened_at = _at(ticket["opened_at"])
    assert ticket == {
        **ticket,
        "colour": "red",
        "rule_id": "R6",
        "application_id": str(app_id),
        "stage": None,
        "unit": STREET,
        "department": "real_estate",  # addressed to the department (协查单位)
        "opened_by": None,
        "step": "handling",
        "overdue": False,
        "escalation_level": 0,
        "escalated_to": None,
        "closed_at": None,
        "alert_ids": [alert["alert_id"]],
    }
    assert ticket["ticket_no"] == (
        f"HD-{opened_at.astimezone(SHANGHAI):%Y%m%d}-{uuid.UUID(ticket['ticket_id']).hex[:8].upper()}"
    )
    assert _at(ticket["due_at"]) == default_calendar().add_workdays(opened_at, 0).at
    assert [(e["action"], e["step"], e["automatic"], e["to_unit"]) for e in ticket["events"]] == [
        ("opened", "handling", True, STREET)
    ]
    message = await _sent_notification(alerting, alert["alert_id"])
    assert (message["kind"], message["rule_id"], message["recipient"], message["ticket_id"]) == (
        "red_light",
        "R6",
        f"supervisor@{STREET}",
        ticket["ticket_id"],
    )
    assert message["message"] == (
        f"【红灯预警】R6 协查部门的协查反馈意见为空。督办单{ticket['ticket_no']}，"
        "请当日办结并按规定逐级书面报告。"
    )
    assert applicant_id not in json.dumps(message, ensure_ascii=False)


# -- Y3 then R8: a stage deadline approaches and passes ------------------------------------------


async def test_a_stage_deadline_warns_then_turns_red_and_the_signature_clears_it(
    system: AlertSystem,
) -> None:
    applicant_id = resident_id(birth="19910404", serial=f"{uuid.uuid4().int % 1000:03d}")
    spouse_id = resident_id(birth="19930505", serial="579")
    app_id, _ = await accepted_application(
        system.client("intake"),
        applicant_id,
        spouse_id,
        street=STREET,
        category=CATEGORY,
        key=f"r8-{uuid.uuid4().hex[:8]}",
    )
    review = system.client("review")
    alerting = system.client("alerting")
    view = await verified_case(review, app_id, STREET)
    assert view["verification"]["recommendation"] == "eligible", view["verification"]
    case_id = view["id"]
    [street] = view["stages"]
    assert (street["stage"], street["status"], street["unit"]) == (
        "street_initial",
        "active",
        STREET,
    )
    due_at = _at(street["due_at"])
    due_day = date.fromisoformat(street["due_date"])
    assert due_at == default_calendar().add_workdays(due_day, 0).at  # the end of the due day
    warn_day = _working_day_before(due_day)  # 到期前一个工作日
    calm_day = _working_day_before(warn_day)
    late_day = default_calendar().add_workdays(due_day, 1).date

    await alerting_caught_up(system.svc, app_id)
    assert await alerts_of(alerting, app_id) == []
    key = {"application_id": str(app_id), "case_id": case_id, "stage": "street_initial"}
    try:
        # Two working days before the deadline: nothing yet.
        clock.set(_shanghai(calm_day, 17))
        await system.sweep_both(app_id)
        assert await alerts_of(alerting, app_id) == []

        # One working day before the deadline: one yellow Y3 for the street stage, and its
        # SMS reminder N1 (rules.yaml: "together with Y3").
        clock.set(_shanghai(warn_day, 9))
        await system.sweep_both(app_id)
        [y3] = await alerts_of(alerting, app_id)
        assert y3 == {
            **y3,
            **key,
            "rule_id": "Y3",
            "colour": "yellow",
            "unit": STREET,
            "source": "clock",
            "status": "open",
        }
        assert _at(y3["raised_at"]) == _shanghai(warn_day, 9)
        assert _at(y3["details"]["due_at"]) == due_at
        assert await tickets_of(alerting, app_id) == []  # a yellow ticket is the supervisor's call
        # N1 goes to the unit's supervisor and to the handler who must sign (nobody has yet).
        reminder = await _sent_notification(alerting, y3["alert_id"], f"supervisor@{STREET}")
        assert (reminder["kind"], reminder["rule_id"], reminder["recipient"]) == (
            "stage_deadline",
            "N1",
            f"supervisor@{STREET}",
        )
        to_handler = await _sent_notification(alerting, y3["alert_id"], f"handler@{STREET}")
        assert (to_handler["rule_id"], to_handler["message"]) == ("N1", reminder["message"])
        assert reminder["message"] == (
            f"【临期提醒】审核环节street_initial将于{due_at.isoformat()[:10]}到期，"
            "请及时提交审核意见。"
        )
        # A second tick at the same instant raises nothing more.
        await system.sweep_both(app_id)
        assert [a["alert_id"] for a in await alerts_of(alerting, app_id)] == [y3["alert_id"]]

        # The working day after the deadline: review reports the stage overdue, alerting turns
        # the yellow light red (R8) and opens its red ticket; its own clock rule agrees and
        # raises nothing twice.
        late = _shanghai(late_day, 9)
        clock.set(late)
        await system.sweep_both(app_id)
        y3_after, r8 = await alerts_of(alerting, app_id)
        assert y3_after == {
            **y3,
            "status": "cleared",
            "cleared_at": y3_after["cleared_at"],
            "cleared_by": None,
            "clear_reason": "已超出时限，转为红灯",
            "clear_source": "review.stage_overdue",
            "cleared_actor": None,
        }
        assert _at(y3_after["cleared_at"]) == late
        assert r8 == {
            **r8,
            **key,
            "rule_id": "R8",
            "colour": "red",
            "unit": STREET,
            "source": "review.stage_overdue",
            "status": "open",
            "cleared_at": None,
        }
        assert _at(r8["raised_at"]) == late
        assert _at(r8["details"]["due_at"]) == due_at
        [ticket] = await tickets_of(alerting, app_id)
        assert ticket == {
            **ticket,
            "colour": "red",
            "rule_id": "R8",
            "application_id": str(app_id),
            "stage": "street_initial",
            "unit": STREET,
            "step": "handling",
            "escalation_level": 0,
            "closed_at": None,
            "alert_ids": [r8["alert_id"]],
        }
        assert _at(ticket["opened_at"]) == late
        assert [(e["action"], e["automatic"], e["to_unit"]) for e in ticket["events"]] == [
            ("opened", True, STREET)
        ]
        red_message = await _sent_notification(alerting, r8["alert_id"])
        assert (red_message["kind"], red_message["recipient"], red_message["ticket_id"]) == (
            "red_light",
            f"supervisor@{STREET}",
            ticket["ticket_id"],
        )
        case = (await review.get(f"/cases/{case_id}", headers=STREET_CLERK)).json()
        assert _at(case["stages"][0]["overdue_at"]) == late

        # The street signs at last: the red light goes out (the breach stays on the ticket).
        signed = await sign_stage(
            review,
            uuid.UUID(case_id),
            "street_initial",
            "street",
            ["handler", "reviewer"],
            street=STREET,
        )
        assert signed[-1]["stage_status"] == "completed", signed[-1]
        await alerting_caught_up(system.svc, app_id)
        await system.sweep_both(app_id)
        y3_final, r8_final = await alerts_of(alerting, app_id)
        assert y3_final == y3_after
        assert r8_final == {
            **r8,
            "status": "cleared",
            "cleared_at": r8_final["cleared_at"],
            "cleared_by": None,
            "clear_reason": "环节已办结",
            "clear_source": "review.stage_completed",
        }
        assert _at(r8_final["cleared_at"]) == late
        # rules.yaml R8: "超时事实仍保留在督办单和报表中": the ticket stays open, to be handled.
        assert await tickets_of(alerting, app_id) == [ticket]
        cockpit = await alerting.get(
            "/cockpit", params={"application_id": str(app_id)}, headers=SUPERVISOR
        )
        assert cockpit.status_code == 200, cockpit.text
        stages = {s["stage"]: s for s in cockpit.json()["case"]["stages"]}
        # The acceptance stage (申请受理) is timed too; this family was accepted at once.
        assert sorted(stages) == ["acceptance", "district_review", "street_initial"]
        assert (stages["acceptance"]["status"], stages["acceptance"]["overdue"]) == (
            "completed",
            False,
        )
        assert (stages["street_initial"]["status"], stages["street_initial"]["overdue"]) == (
            "completed",
            True,
        )
        assert _at(stages["street_initial"]["completed_at"]) == late
        assert (stages["district_review"]["status"], stages["district_review"]["overdue"]) == (
            "open",
            False,
        )
        batch = cockpit.json()["case"]["application"]["batch"]
        report = await alerting.get(f"/reports/batches/{batch}", headers=SUPERVISOR)
        assert report.status_code == 200, report.text
        [reported] = [r for r in report.json()["red_lights"] if r["alert_id"] == r8["alert_id"]]
        assert reported == {
            **reported,
            "rule_id": "R8",
            "stage": "street_initial",
            "unit": STREET,
            "ticket_no": ticket["ticket_no"],
            "ticket_step": "handling",
            "closed_at": None,
            "auto_escalations": 0,
        }
        assert _at(reported["cleared_at"]) == late
    finally:
        clock.reset()

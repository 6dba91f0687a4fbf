"""N5–N7 fire in alerting from tenancy's real events: tenancy and alerting in one system on
the real broker; tenancy's sweeps and a visit announce the deadlines, alerting stores one SMS
reminder each for the city's unit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from services.alerting.bootstrap import rule_config
from services.alerting.tables import notifications
from services.tenancy import sweeps
from tests.conftest import Infra
from tests.harness import emitted, wait_for
from tests.integration.tenancy.conftest import on_day, open_lease, post, run
from tests.services import RunningService, running_service


@pytest.fixture(scope="module")
async def pair(infra: Infra) -> AsyncIterator[tuple[RunningService, RunningService]]:
    # Alerting first: its queue is bound before tenancy publishes anything.
    async with running_service(infra, "alerting", system="tnrem") as alerting:
        async with running_service(infra, "tenancy", system="tnrem") as tenancy:
            yield tenancy, alerting


async def _reminders(alerting: RunningService, rule_id: str) -> list[Any]:
    async def probe() -> list[Any]:
        async with alerting.runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        notifications.c.kind,
                        notifications.c.unit,
                        notifications.c.recipient,
                        notifications.c.message,
                    ).where(notifications.c.rule_id == rule_id)
                )
            ).all()
        return rows

    return await wait_for(probe, what=f"{rule_id} reminder in alerting")


async def test_visit_violation_and_rereview_deadlines_reach_alerting(
    pair: tuple[RunningService, RunningService],
) -> None:
    tenancy, alerting = pair
    city = rule_config().city
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 10))
    reference = lease["household_reference"]

    with on_day(date(2026, 12, 15)):
        await run(tenancy, sweeps.visit_reminders)
        visit = {"visited_on": "2026-12-15", "visitors": ["officer-a"], "finding": "sublet"}
        r = await post(tenancy, f"/leases/{lease['id']}/visits", visit)
        assert r.status_code == 201, r.text
    with on_day(date(2027, 1, 5)):
        assert (await post(tenancy, "/campaigns/2027")).json()["deadline"] == "2027-03-06"
    with on_day(date(2027, 2, 25)):
        await run(tenancy, sweeps.rereview_reminders)
    assert len(await emitted(tenancy, "tenancy.rereview_due", lease["id"])) == 1

    [n6] = await _reminders(alerting, "N6")
    assert (n6.kind, n6.unit, n6.recipient) == ("tenancy_deadline", city, f"supervisor@{city}")
    assert n6.message == (
        f"【临期提醒】承租家庭{reference}的入户巡查将于2027-01-10到期，请及时安排走访。"
    )
    [n7] = await _reminders(alerting, "N7")
    assert (n7.unit, n7.message) == (
        city,
        f"【临期提醒】承租家庭{reference}的违规整改期限为2026-12-30，请督促按期整改并核验。",
    )
    [n5] = await _reminders(alerting, "N5")
    assert (n5.unit, n5.message) == (
        city,
        f"【临期提醒】承租家庭{reference}的2027年度资格复核将于2027-03-06到期，请督促按期完成。",
    )

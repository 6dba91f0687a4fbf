"""准入、使用、退出 (tenancy's figures) in the cockpit and the monthly report: tenancy's events
go through the real broker to an alerting service of its own, so the counts are exact, and the
same facts published again (new envelopes, same ids) count once."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from services.alerting.sweeps import periodic_reports
from services.alerting.tables import periodic_reports as reports_table
from shared.clock import clock
from shared.events import catalogue as ev
from shared.scheduler import run_once
from tests.conftest import Infra
from tests.harness import publish_and_handle, wait_for
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

SUPERVISOR = token("supervisor", org="350200", sub="sup-city")


def xm(month: int, day: int, hour: int = 10) -> datetime:
    """``hour`` o'clock in Xiamen on that day of 2025 (UTC+8)."""
    return datetime(2025, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture(scope="module")
async def alerting(infra: Infra) -> AsyncIterator[RunningService]:
    keys = (
        "HOUSING_ALERTING_SWEEP_SECONDS",
        "HOUSING_ALERTING_DISPATCH_SECONDS",
        "HOUSING_ALERTING_REPORT_SWEEP_SECONDS",
    )
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "3600" for k in keys})
    try:
        async with running_service(infra, "alerting", system="alten") as svc:
            # The report sweep's first tick (real time) stores its month: wait for it, so it
            # cannot run under the moved clock of the test.
            async def started() -> bool:
                async with svc.runtime.engine.connect() as conn:
                    return bool(
                        await conn.scalar(sa.select(sa.func.count()).select_from(reports_table))
                    )

            await wait_for(started, what="the start-up report tick")
            yield svc
    finally:
        clock.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def send(svc: RunningService, *payloads: ev.EventPayload, at: datetime | None = None) -> None:
    if at is not None:
        clock.set(at)
    await publish_and_handle(svc, *payloads, producer="tenancy", subject="tenancy")


def lease(lease_id: uuid.UUID, unit_id: uuid.UUID, starts_on: date) -> ev.TenancyLeaseOpened:
    return ev.TenancyLeaseOpened(
        lease_id=lease_id,
        lease_no=f"ZY-{lease_id.hex[:8]}",
        contract_id=uuid.uuid4(),
        household_reference=f"HH-{lease_id.hex[:8]}",
        unit_id=unit_id,
        starts_on=starts_on,
        monthly_rent=Decimal("420.00"),
        rent_band="low_income",
        next_visit_due=starts_on + timedelta(days=365),
        opened_at=datetime.combine(starts_on, datetime.min.time(), tzinfo=UTC),
    )


def arrears(lease_id: uuid.UUID, months: int, at: datetime) -> ev.TenancyArrearsStep:
    return ev.TenancyArrearsStep(
        lease_id=lease_id,
        lease_no=f"ZY-{lease_id.hex[:8]}",
        household_reference=f"HH-{lease_id.hex[:8]}",
        step="notice" if months >= 3 else "reminder",
        arrears_months=months,
        amount_due=Decimal("420.00") * months,
        oldest_month=date(2025, 6 - months, 1),
        taken_at=at,
    )


def visit_due(lease_id: uuid.UUID, due_on: date) -> ev.TenancyVisitDue:
    return ev.TenancyVisitDue(
        lease_id=lease_id,
        household_reference=f"HH-{lease_id.hex[:8]}",
        unit_id=uuid.uuid4(),
        due_on=due_on,
    )


def visited(visit_id: uuid.UUID, lease_id: uuid.UUID, on: date) -> ev.TenancyVisitRecorded:
    return ev.TenancyVisitRecorded(
        visit_id=visit_id,
        lease_id=lease_id,
        unit_id=uuid.uuid4(),
        visited_on=on,
        finding="occupied_normally",
        recorded_by="officer-1",
        next_visit_due=on + timedelta(days=365),
    )


def violation(violation_id: uuid.UUID, lease_id: uuid.UUID) -> ev.TenancyViolationOpened:
    return ev.TenancyViolationOpened(
        violation_id=violation_id,
        lease_id=lease_id,
        household_reference=f"HH-{lease_id.hex[:8]}",
        finding="sublet",
        clause="sublet",
        deadline=date(2025, 7, 31),
    )


def closed(
    violation_id: uuid.UUID, lease_id: uuid.UUID, outcome: str, at: datetime
) -> ev.TenancyViolationClosed:
    return ev.TenancyViolationClosed(
        violation_id=violation_id,
        lease_id=lease_id,
        outcome=outcome,
        closed_by="officer-1",
        closed_at=at,
    )


def concluded(lease_id: uuid.UUID, outcome: str, at: datetime) -> ev.TenancyRereviewConcluded:
    return ev.TenancyRereviewConcluded(
        lease_id=lease_id,
        household_reference=f"HH-{lease_id.hex[:8]}",
        campaign=2025,
        outcome=outcome,
        rent_band="market" if outcome == "graded_exit" else "low_income",
        exit_on=date(2025, 6, 20) if outcome == "graded_exit" else None,
        concluded_at=at,
    )


def vacated(unit_id: uuid.UUID, on: date, recovered: bool) -> ev.TenancyUnitVacated:
    return ev.TenancyUnitVacated(unit_id=unit_id, vacated_on=on, recovered=recovered)


async def test_admission_use_and_exit_figures_reach_the_cockpit_and_the_monthly_report(
    alerting: RunningService,
) -> None:
    l1, l2, l3, l4, l5 = (uuid.uuid4() for _ in range(5))
    u1, u2, u3, u4, u5 = (uuid.uuid4() for _ in range(5))
    v1, v2, v3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    visit = uuid.uuid4()
    opened = [
        lease(l1, u1, date(2025, 3, 1)),
        lease(l2, u2, date(2025, 6, 10)),
        lease(l3, u3, date(2024, 5, 1)),  # last year's
        lease(l4, u4, date(2025, 2, 1)),
        lease(l5, u5, date(2025, 1, 10)),
    ]
    await send(alerting, *opened)
    facts: list[ev.EventPayload] = [
        arrears(l1, 1, xm(6, 5)),
        arrears(l1, 3, xm(6, 20)),  # L1's latest: three months behind
        arrears(l2, 1, xm(6, 25)),
        arrears(l3, 2, xm(5, 10)),  # L3 leaves in June: no longer counted
        visit_due(l1, date(2025, 6, 15)),
        visit_due(l2, date(2025, 6, 20)),
        visit_due(l4, date(2025, 5, 10)),
        visited(visit, l1, date(2025, 6, 14)),
        concluded(l1, "continued", xm(6, 10)),
        concluded(l4, "graded_exit", xm(6, 5)),
        concluded(l2, "officer_decides", xm(6, 15)),
        concluded(l2, "band_changed", xm(6, 25)),  # the officer's decision concludes it again
    ]
    await send(alerting, *facts)
    await send(alerting, violation(v3, l5), at=xm(5, 5))
    await send(alerting, violation(v1, l1), at=xm(6, 12))
    await send(alerting, violation(v2, l2), at=xm(6, 18))
    exits = [
        closed(v3, l5, "escalated", xm(6, 2)),
        closed(v1, l1, "rectified", xm(6, 20)),
        vacated(u3, date(2025, 6, 28), recovered=True),
        vacated(u4, date(2025, 6, 29), recovered=True),  # after L4's graded exit
        vacated(u5, date(2025, 6, 30), recovered=False),
    ]
    await send(alerting, *exits)
    # The same facts again, as new envelopes: each counts once.
    await send(alerting, *opened, *facts, violation(v2, l2), *exits)

    clock.set(xm(7, 1, 0) + timedelta(minutes=5))
    cockpit = await alerting.client.get("/cockpit", headers=SUPERVISOR)
    assert cockpit.status_code == 200, cockpit.text
    year = cockpit.json()["admission_use_exit"]
    assert year == {
        "unit": "350200",
        "from": "2025-01-01",
        "to": "2025-07-01",
        "admission": {"received": 0, "qualified": 0, "leases_opened": 4},
        "use": {
            "active_leases": 2,
            "arrears_by_months": [{"months": 1, "households": 1}, {"months": 3, "households": 1}],
            "households_in_arrears": 2,
            "visits_planned": 3,
            "visits_done": 1,
            "violations_opened": 3,
            "violations_rectified": 1,
            "violations_escalated": 1,
            "violations_open": 1,
        },
        "exit": {
            "exits": {"move_out": 1, "recovery": 1, "graded_exit": 1},
            "exits_total": 3,
            "rereview_outcomes": {
                "continued": 1,
                "band_changed": 1,
                "graded_exit": 1,
                "exit_noticed": 0,
                "officer_decides": 0,
                "not_cooperated": 0,
            },
        },
    }

    assert await run_once(
        alerting.runtime,
        "alerting-periodic-reports",
        lambda uow: periodic_reports(alerting.runtime.context, uow),
    )
    listed = await alerting.client.get(
        "/reports/periodic", params={"kind": "monthly"}, headers=SUPERVISOR
    )
    june = [r for r in listed.json()["items"] if r["period"] == "2025-06"]
    assert len(june) == 1
    report_id = june[0]["id"]
    body = (await alerting.client.get(f"/reports/periodic/{report_id}", headers=SUPERVISOR)).json()
    month: dict[str, Any] = body["admission_use_exit"]
    assert month["from"] == "2025-06-01" and month["to"] == "2025-06-30"
    assert month["admission"] == {"received": 0, "qualified": 0, "leases_opened": 1}
    assert month["use"] == {
        "active_leases": 2,
        "arrears_by_months": [{"months": 1, "households": 1}, {"months": 3, "households": 1}],
        "households_in_arrears": 2,
        "visits_planned": 2,
        "visits_done": 1,
        "violations_opened": 2,
        "violations_rectified": 1,
        "violations_escalated": 1,
        "violations_open": 1,
    }
    assert month["exit"] == year["exit"]

    as_csv = await alerting.client.get(f"/reports/periodic/{report_id}.csv", headers=SUPERVISOR)
    rows = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    lifecycle = {
        (r["section"], r["metric"]): r["value"]
        for r in rows
        if r["section"] in ("admission", "use", "exit")
    }
    assert lifecycle[("admission", "leases_opened")] == "1"
    assert lifecycle[("use", "arrears_3_months")] == "1"
    assert lifecycle[("use", "visits_planned")] == "2"
    assert lifecycle[("exit", "exits_graded_exit")] == "1"
    assert lifecycle[("exit", "rereview_band_changed")] == "1"
    assert len(lifecycle) == 3 + 8 + 2 + 4 + 6

    printed = await alerting.client.get(f"/reports/periodic/{report_id}/print", headers=SUPERVISOR)
    assert printed.status_code == 200
    assert "五、准入、使用、退出" in printed.text
    assert "<td>退出</td><td>退出：梯度退出</td><td>1</td>" in printed.text
    assert "<td>使用</td><td>欠租3个月户数</td><td>1</td>" in printed.text

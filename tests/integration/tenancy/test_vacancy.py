"""Vacancy leads from the power company's monthly electricity use: tenancy asks for every let
unit's month, the power company answers over HTTP as `department:power_company`, and a run of
months under the threshold brings the lease's visit forward and announces it (N6)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.tenancy import sweeps
from services.tenancy.tables import power_readings
from simulators import power_company
from tests.harness import emitted
from tests.integration.tenancy.conftest import (
    OFFICER,
    credit_records,
    on_day,
    open_lease,
    post,
    run,
)
from tests.services import RunningService, token

POWER = token("department:power_company", sub="power-sim")


async def _requests(tenancy: RunningService, month: str) -> list[dict[str, Any]]:
    r = await tenancy.client.get(
        f"/departments/power_company/requests?month={month}&limit=200", headers=POWER
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _answer(tenancy: RunningService, readings: list[dict[str, Any]]) -> Any:
    return await post(tenancy, "/departments/power_company/readings", {"readings": readings}, POWER)


async def _ask(tenancy: RunningService, *months: str) -> None:
    for month in months:
        r = await post(tenancy, f"/power-requests/{month}")
        assert r.status_code == 200, r.text


async def _request_id(tenancy: RunningService, unit_id: str, month: str) -> str:
    [request] = [q for q in await _requests(tenancy, month) if q["unit_id"] == unit_id]
    return request["request_id"]


async def _leads(tenancy: RunningService, lease_id: str) -> list[dict[str, Any]]:
    r = await tenancy.client.get(f"/vacancy-leads?lease_id={lease_id}", headers=OFFICER)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_three_low_months_are_a_lead_that_brings_the_visit_forward(
    tenancy: RunningService,
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 10))
    unit = lease["unit_id"]
    assert lease["next_visit_due"] == "2027-01-10"
    with on_day(date(2026, 5, 5)):
        await _ask(tenancy, "2026-02", "2026-03")
        await run(tenancy, sweeps.power_requests)  # last month: 2026-04
        await run(tenancy, sweeps.power_requests)  # asked once per unit-month
        r = await post(tenancy, "/power-requests/2026-05")
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "month"

        [request] = [q for q in await _requests(tenancy, "2026-02") if q["unit_id"] == unit]
        assert set(request) == {"request_id", "unit_id", "month"}
        assert request["month"] == "2026-02"
        batch = [
            {"request_id": request["request_id"], "kwh": "3.2"},
            {"unit_id": unit, "month": "2026-03", "kwh": 0},
            {"request_id": await _request_id(tenancy, unit, "2026-04"), "kwh": "9.9"},
        ]
        r = await _answer(tenancy, batch)
        assert r.status_code == 200, r.text
        assert r.json() == {"recorded": 3, "duplicates": 0}
        # The same batch again (a retry) changes nothing.
        r = await _answer(tenancy, batch)
        assert r.json() == {"recorded": 0, "duplicates": 3}
        for month in ("2026-02", "2026-03", "2026-04"):
            assert [q for q in await _requests(tenancy, month) if q["unit_id"] == unit] == []

        await run(tenancy, sweeps.vacancy_leads)
        await run(tenancy, sweeps.vacancy_leads)
        await run(tenancy, sweeps.visit_reminders)

    [lead] = await _leads(tenancy, lease["id"])
    assert (lead["unit_id"], lead["streak_from"], lead["streak_to"], lead["months"]) == (
        unit,
        "2026-02",
        "2026-04",
        3,
    )
    assert lead["visit_due"] == "2026-05-19"
    r = await tenancy.client.get(f"/leases/{lease['id']}", headers=OFFICER)
    assert r.json()["next_visit_due"] == "2026-05-19"
    due = await emitted(tenancy, "tenancy.visit_due", lease["id"])
    assert [(e["unit_id"], e["due_on"]) for e in due] == [(unit, "2026-05-19")]


async def test_a_month_above_the_threshold_starts_the_count_again(
    tenancy: RunningService,
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 10))
    unit = lease["unit_id"]
    with on_day(date(2026, 6, 2)):
        await _ask(tenancy, "2026-02", "2026-03", "2026-04", "2026-05")
        uses = {"2026-02": "1.0", "2026-03": "10.0", "2026-04": "0.4", "2026-05": "2.5"}
        batch = [{"unit_id": unit, "month": m, "kwh": kwh} for m, kwh in uses.items()]
        assert (await _answer(tenancy, batch)).json() == {"recorded": 4, "duplicates": 0}
        await run(tenancy, sweeps.vacancy_leads)
    assert await _leads(tenancy, lease["id"]) == []
    assert await emitted(tenancy, "tenancy.visit_due", lease["id"]) == []

    with on_day(date(2026, 7, 3)):
        await run(tenancy, sweeps.power_requests)  # 2026-06
        r = await _answer(tenancy, [{"unit_id": unit, "month": "2026-06", "kwh": "0.0"}])
        assert r.json() == {"recorded": 1, "duplicates": 0}
        await run(tenancy, sweeps.vacancy_leads)
    [lead] = await _leads(tenancy, lease["id"])
    assert (lead["streak_from"], lead["streak_to"], lead["months"]) == ("2026-04", "2026-06", 3)
    assert lead["visit_due"] == "2026-07-17"
    due = await emitted(tenancy, "tenancy.visit_due", lease["id"])
    assert [e["due_on"] for e in due] == ["2026-07-17"]


async def test_conflicts_roles_and_bad_readings_are_refused(tenancy: RunningService) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 10))
    unit = lease["unit_id"]
    with on_day(date(2026, 3, 4)):
        await run(tenancy, sweeps.power_requests)  # 2026-02
        request_id = await _request_id(tenancy, unit, "2026-02")

        r = await _answer(tenancy, [{"request_id": request_id, "kwh": "120.5"}])
        assert r.json() == {"recorded": 1, "duplicates": 0}
        # A different use for a unit-month already answered: refused, the first one stands.
        r = await _answer(
            tenancy,
            [
                {"unit_id": unit, "month": "2026-02", "kwh": "120.5"},
                {"request_id": request_id, "kwh": "3.0"},
            ],
        )
        assert r.status_code == 409, r.text
        assert r.json()["field"] == "readings.1.kwh"
        assert (await _answer(tenancy, [{"request_id": request_id, "kwh": "120.5"}])).json() == {
            "recorded": 0,
            "duplicates": 1,
        }

        for bad, field in (
            ({"request_id": request_id, "kwh": -1}, "readings.0.kwh"),
            ({"request_id": request_id, "kwh": "一百"}, "readings.0.kwh"),
            ({"request_id": request_id, "kwh": "1.25"}, "readings.0.kwh"),
            ({"unit_id": unit, "kwh": "1.0"}, "readings.0.request_id"),
            ({"unit_id": unit, "month": "2026-13", "kwh": "1.0"}, "readings.0.month"),
            ({"unit_id": unit, "month": "2025-12", "kwh": "1.0"}, "readings.0.unit_id"),
        ):
            r = await _answer(tenancy, [bad])
            assert r.status_code == 422, (bad, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["field"] == field, (bad, r.text)

        for other in (OFFICER, token("department:tax"), token("admin")):
            r = await tenancy.client.get("/departments/power_company/requests", headers=other)
            assert r.status_code == 403, r.text
            r = await post(
                tenancy,
                "/departments/power_company/readings",
                {"readings": [{"request_id": request_id, "kwh": "1.0"}]},
                other,
            )
            assert r.status_code == 403, r.text
        r = await tenancy.client.get("/vacancy-leads", headers=POWER)
        assert r.status_code == 403, r.text


async def test_the_reference_power_company_answers_every_pending_unit_month(
    tenancy: RunningService,
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 10))
    with on_day(date(2026, 9, 1)):
        await run(tenancy, sweeps.power_requests)  # 2026-08
        answered = await power_company.answer_pending(tenancy.client, 0.05, random.Random(7), POWER)
        assert answered >= 1
        assert await _requests(tenancy, "2026-08") == []
    assert await power_company.answer_pending(tenancy.client, 0.05, random.Random(7), POWER) == 0
    async with tenancy.runtime.engine.connect() as conn:
        kwh = await conn.scalar(
            sa.select(power_readings.c.kwh).where(
                power_readings.c.lease_id == lease["id"],
                power_readings.c.month == date(2026, 8, 1),
            )
        )
    vacant = power_company.is_vacant(lease["unit_id"], 0.05)
    assert (kwh < 5) if vacant else (kwh >= 25)


async def test_a_lead_leads_to_a_visit_a_missed_rectification_and_a_credit_record(
    tenancy: RunningService, credit: RunningService
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 10))
    unit = lease["unit_id"]
    with on_day(date(2026, 5, 5)):
        await _ask(tenancy, "2026-02", "2026-03", "2026-04")
        batch = [{"unit_id": unit, "month": f"2026-0{m}", "kwh": "0.3"} for m in (2, 3, 4)]
        assert (await _answer(tenancy, batch)).json() == {"recorded": 3, "duplicates": 0}
        await run(tenancy, sweeps.vacancy_leads)
    [lead] = await _leads(tenancy, lease["id"])
    assert lead["visit_due"] == "2026-05-19"

    with on_day(date(2026, 5, 18)):
        visit = {"visited_on": "2026-05-18", "visitors": ["officer-a"], "finding": "vacant"}
        r = await post(tenancy, f"/leases/{lease['id']}/visits", visit)
        assert r.status_code == 201, r.text
        assert r.json()["next_visit_due"] == "2027-05-18"
    [opened] = await emitted(tenancy, "tenancy.violation_opened", lease["id"])
    assert (opened["clause"], opened["deadline"]) == ("vacant_six_months", "2026-06-17")
    [record] = await credit_records(credit, lease["tenant_id_hash"])
    assert record["kind"] == "tenancy_vacancy"

    with on_day(date(2026, 6, 18)):
        await run(tenancy, sweeps.rectification_deadlines)
    [overdue] = await emitted(tenancy, "tenancy.rectification_overdue", lease["id"])
    assert overdue["violation_id"] == opened["violation_id"]

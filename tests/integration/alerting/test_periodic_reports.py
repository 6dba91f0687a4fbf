"""Periodic reports (定期通报): the report sweep stores last month's report once, and a batch's
once its publicity closed; each is served as JSON, CSV and a printable page. Events go through
the real broker to an alerting service of its own, so the counts are exact."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep, periodic_reports
from services.alerting.tables import periodic_reports as reports_table
from shared.clock import clock
from shared.events import catalogue as ev
from shared.scheduler import run_once
from tests.conftest import Infra
from tests.harness import handled, publish, wait_for
from tests.integration.alerting.builders import (
    accepted,
    end_of_day_utc,
    publicity_opened,
    sha,
    stage_completed,
    stage_started,
)
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

SUPERVISOR = token("supervisor", org="350200", sub="sup-city")
STREET = "350203001"
DISTRICT = "350203"


def xm(day: int, hour: int, month: int = 6) -> datetime:
    """``hour`` o'clock in Xiamen on that day of 2025 (UTC+8)."""
    return datetime(2025, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


def submitted(application_id: uuid.UUID, at: datetime) -> ev.ApplicationSubmitted:
    return ev.ApplicationSubmitted(
        application_id=application_id,
        tracking_no=f"SQ-{application_id.hex[:8]}",
        city="350200",
        district=DISTRICT,
        street=STREET,
        channel="online",
        category="low_income_family",
        member_count=2,
        submitted_at=at,
        member_id_hashes=[sha(str(application_id))],
        applicant_name_masked="张*丰",
        applicant_id_masked="3502**********1234",
        pledge_version="2026.1",
        pledge_signed_at=at,
    )


def acc(application_id: uuid.UUID, at: datetime) -> ev.ApplicationAccepted:
    return accepted(STREET).model_copy(update={"application_id": application_id, "accepted_at": at})


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
        async with running_service(infra, "alerting", system="alrep") as svc:
            # The report sweep's first tick at start (real time) has stored its month: wait
            # for it, so that it cannot run under the moved clock of a test.
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


async def feed(svc: RunningService, *payloads: ev.EventPayload) -> None:
    sent = []
    for p in payloads:
        sent += await publish(svc, p, producer=p.producer)
    await handled(svc, *sent)


async def report_tick(svc: RunningService, at: datetime) -> list[str]:
    clock.set(at)
    before = await stored(svc)
    assert await run_once(
        svc.runtime,
        "alerting-periodic-reports",
        lambda uow: periodic_reports(svc.runtime.context, uow),
    )
    return sorted(set(await stored(svc)) - set(before))


async def stored(svc: RunningService) -> list[str]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(reports_table.c.kind, reports_table.c.period))
        return [f"{r.kind}:{r.period}" for r in rows]


async def test_the_monthly_report_is_produced_once_by_the_sweep_with_exact_counts(
    alerting: RunningService,
) -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    case_a, case_b, case_c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(
        alerting,
        # A: received and accepted in June, its street stage done on time, qualified in June.
        submitted(a, xm(16, 9)),
        acc(a, xm(16, 10)),
        stage_started(
            a, case_a, unit=STREET, started_at=xm(17, 9), due_at=end_of_day_utc(2025, 6, 24)
        ),
        stage_completed(a, case_a, unit=STREET, at=xm(19, 15), days=3),
        # B: received and accepted in June; its district stage runs past its deadline (R8).
        submitted(b, xm(16, 11)),
        acc(b, xm(17, 10)),
        stage_started(
            b,
            case_b,
            stage="district_review",
            level="district",
            unit=DISTRICT,
            started_at=xm(18, 9),
            due_at=end_of_day_utc(2025, 6, 20),
        ),
        # C: accepted in May, rejected in June.
        acc(c, xm(28, 10, month=5)),
        ev.ApplicationRejected(
            application_id=c,
            case_id=case_c,
            tracking_no="SQ-C",
            city="350200",
            district=DISTRICT,
            street=STREET,
            category="low_income_family",
            stage="street_initial",
            reasons=["家庭人均收入超过标准"],
            rejected_at=xm(18, 16),
        ),
        # D: received in July: not June's.
        submitted(d, xm(2, 9, month=7)),
    )
    clock.set(xm(23, 10))
    counts: dict[str, int] = {}

    async def tick(uow):
        counts.update(await clock_sweep(uow, rule_config()))

    assert await run_once(alerting.runtime, "alerting-clock-sweep", tick)
    assert counts["R8"] == 1
    qualified = ev.ApplicationQualified(
        application_id=a,
        case_id=case_a,
        tracking_no=f"SQ-{a.hex[:8]}",
        city="350200",
        district=DISTRICT,
        street=STREET,
        category="low_income_family",
        member_count=2,
        applicant_name_masked="张*丰",
        qualified_at=xm(27, 10),
    )
    await feed(alerting, qualified)

    # Still June: the sweep reports May (the month before), not June.
    assert await report_tick(alerting, xm(30, 23)) == ["monthly:2025-05"]
    assert await report_tick(alerting, xm(1, 0, month=7) + timedelta(minutes=5)) == [
        "monthly:2025-06"
    ]
    assert await report_tick(alerting, xm(1, 2, month=7)) == []  # once
    assert await report_tick(alerting, xm(15, 2, month=7)) == []

    listed = await alerting.client.get(
        "/reports/periodic", params={"kind": "monthly"}, headers=SUPERVISOR
    )
    assert listed.status_code == 200, listed.text
    june = [r for r in listed.json()["items"] if r["period"] == "2025-06"]
    assert [(r["from"], r["to"]) for r in june] == [("2025-06-01", "2025-06-30")]
    report_id = june[0]["id"]

    body = (await alerting.client.get(f"/reports/periodic/{report_id}", headers=SUPERVISOR)).json()
    assert body["kind"] == "monthly" and body["period"] == "2025-06"
    assert body["progress"] == {
        "received": 2,
        "accepted": 2,
        "qualified": 1,
        "rejected": 1,
        "in_review": 1,
    }
    units = {u["unit"]: u for u in body["units"]}
    assert sorted(units) == [DISTRICT, STREET]
    street = units[STREET]
    # Two acceptance stages (submission to acceptance) and A's street stage, all on time.
    assert (street["completed"], street["on_time"], street["late"], street["open_overdue"]) == (
        3,
        3,
        0,
        0,
    )
    district = units[DISTRICT]
    assert (district["completed"], district["open_overdue"]) == (0, 1)
    assert body["departments"] == []
    r8 = [r for r in body["red_lights"]["by_rule"] if r["rule_id"] == "R8"]
    assert [
        (r["opened"], r["cleared"], r["tickets"], r["handled_in_time"], r["overdue"], r["open"])
        for r in r8
    ] == [(1, 0, 1, 0, 1, 1)]
    assert body["red_lights"]["total"]["opened"] == 1

    as_csv = await alerting.client.get(f"/reports/periodic/{report_id}.csv", headers=SUPERVISOR)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert {(r["metric"], r["value"]) for r in rows if r["section"] == "progress"} == {
        ("received", "2"),
        ("accepted", "2"),
        ("qualified", "1"),
        ("rejected", "1"),
        ("in_review", "1"),
    }
    assert {
        "section": "units",
        "code": DISTRICT,
        "metric": "open_overdue",
        "value": "1",
    }.items() <= next(
        r for r in rows if r["code"] == DISTRICT and r["metric"] == "open_overdue"
    ).items()
    assert [
        r["value"]
        for r in rows
        if r["section"] == "red_lights" and r["code"] == "R8" and r["metric"] == "opened"
    ] == ["1"]

    page = await alerting.client.get(f"/reports/periodic/{report_id}/print", headers=SUPERVISOR)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "2025年6月通报" in page.text and "size: A4" in page.text
    assert "红灯预警及处理情况" in page.text

    missing = await alerting.client.get(f"/reports/periodic/{uuid.uuid4()}", headers=SUPERVISOR)
    assert missing.status_code == 404
    anonymous = await alerting.client.get("/reports/periodic")
    assert anonymous.status_code == 401


async def test_a_batch_report_is_stored_once_when_its_publicity_closed(
    alerting: RunningService,
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await feed(
        alerting,
        acc(a, xm(2, 10, month=8)),
        acc(b, xm(2, 11, month=8)),
    )
    opened = publicity_opened([a, b], batch="2025-QB1", at=xm(11, 9, month=8))
    await feed(alerting, opened)
    # Still on notice: only July's monthly report, no batch report yet.
    assert await report_tick(alerting, xm(12, 9, month=8)) == ["monthly:2025-07"]
    await feed(
        alerting,
        ev.PublicityClosed(
            notice_id=opened.notice_id,
            kind="qualification",
            application_ids=[a, b],
            opened_at=opened.opened_at,
            closed_at=xm(18, 9, month=8),
            closed_early=False,
        ),
    )
    assert await report_tick(alerting, xm(18, 10, month=8)) == ["batch:2025-QB1"]
    assert await report_tick(alerting, xm(19, 10, month=8)) == []
    listed = await alerting.client.get(
        "/reports/periodic", params={"kind": "batch"}, headers=SUPERVISOR
    )
    (item,) = [r for r in listed.json()["items"] if r["period"] == "2025-QB1"]
    body = (await alerting.client.get(item["json"], headers=SUPERVISOR)).json()
    # The batch's notice closed: both went through publicity (counted as qualified).
    assert body["progress"] == {
        "applications": 2,
        "accepted": 2,
        "qualified": 2,
        "rejected": 0,
        "withdrawn": 0,
        "in_review": 0,
    }
    page = await alerting.client.get(item["print"], headers=SUPERVISOR)
    assert "批次通报（2025-QB1）" in page.text

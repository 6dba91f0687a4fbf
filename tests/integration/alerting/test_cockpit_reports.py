"""The cockpit's counts and drill-down, the batch report (JSON and CSV) and stored
notification results. District 350212 (同安区) belongs to these tests alone."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

from services.alerting.adapters.notifier import LogNotifier, dispatch_pending
from tests.integration.alerting.builders import (
    accepted,
    end_of_day_utc,
    publicity_opened,
    signed,
    stage_completed,
    stage_started,
)
from tests.integration.alerting.conftest import Harness
from tests.services import token

pytestmark = pytest.mark.integration

DISTRICT = "350212"
INSPECTOR = token("discipline_inspector", org="350000", sub="jj-9")


@pytest.fixture(scope="module")
async def scenario(harness: Harness) -> dict:
    """Two streets of 同安区: 大同街道 with R1 + Y1 and an overdue stage (R8), 祥平街道 with an
    out-of-order signature (R3); neither uploaded a material (Y2 each); everything in
    acceptance batch 2026-11. The signatures arrive together, so the consumer handles them
    concurrently: R3 must still be seen."""
    a = accepted("350212001", receipt_no=None, materials_complete=False)  # R1, Y1
    b = accepted("350212002")
    case_a, case_b = uuid.uuid4(), uuid.uuid4()
    await harness.publish(a, b)
    await harness.publish(
        stage_started(
            a.application_id, case_a, unit="350212001", due_at=end_of_day_utc(2026, 11, 20)
        ),
        stage_started(
            b.application_id, case_b, unit="350212002", due_at=end_of_day_utc(2026, 11, 20)
        ),
        signed(
            b.application_id,
            case_b,
            role="reviewer",
            unit="350212002",
            at=datetime(2026, 11, 17, 1, 0, tzinfo=UTC),
        ),
        signed(
            b.application_id,
            case_b,
            role="handler",
            unit="350212002",
            at=datetime(2026, 11, 17, 2, 0, tzinfo=UTC),
        ),  # R3
        stage_completed(
            b.application_id,
            case_b,
            unit="350212002",
            days=2,
            at=datetime(2026, 11, 18, 2, 0, tzinfo=UTC),
        ),
    )
    await harness.sweep(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))  # R8 for case_a
    await harness.publish(publicity_opened([b.application_id], unit="350200", batch="GS-2026-07"))
    return {"a": a.application_id, "b": b.application_id, "case_a": case_a, "case_b": case_b}


async def test_cockpit_counts_by_unit_rule_and_colour(harness: Harness, scenario: dict) -> None:
    response = await harness.client.get("/cockpit", params={"unit": DISTRICT}, headers=INSPECTOR)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == {"unit": DISTRICT, "level": "district", "name": "同安区"}
    assert body["totals"] == [
        {"colour": "red", "status": "open", "count": 3},
        {"colour": "yellow", "status": "open", "count": 3},
    ]
    assert [(u["unit"], u["name"], u["red_open"], u["yellow_open"]) for u in body["by_unit"]] == [
        ("350212001", "大同街道", 2, 2),
        ("350212002", "祥平街道", 1, 1),
    ]
    assert [(r["rule_id"], r["open"]) for r in body["by_rule"]] == [
        ("R1", 1),
        ("R3", 1),
        ("R8", 1),
        ("Y1", 1),
        ("Y2", 2),
    ]
    assert body["tickets"]["total"] == 3  # one per red light
    # The city sees the district as one row among its districts.
    city = (
        await harness.client.get("/cockpit", params={"unit": "350200"}, headers=INSPECTOR)
    ).json()
    tongan = next(u for u in city["by_unit"] if u["unit"] == DISTRICT)
    assert (tongan["red_open"], tongan["yellow_open"]) == (3, 3)


async def test_cockpit_drills_down_to_one_case_stage_rule_and_ticket(
    harness: Harness, scenario: dict
) -> None:
    params = {
        "unit": "350212001",
        "application_id": str(scenario["a"]),
        "stage": "street_initial",
        "rule_id": "R8",
    }
    body = (await harness.client.get("/cockpit", params=params, headers=INSPECTOR)).json()
    case = body["case"]
    assert case["application"]["batch"] == "2026-11"
    assert [(s["stage"], s["status"], s["overdue"]) for s in case["stages"]] == [
        ("street_initial", "open", True)
    ]
    assert [a["rule_id"] for a in case["alerts"]] == ["R8"]
    [ticket] = case["tickets"]
    assert (ticket["rule_id"], ticket["step"]) == ("R8", "handling")
    assert ticket["alert_ids"] == [case["alerts"][0]["alert_id"]]
    # A street supervisor cannot drill into another street.
    other = token("supervisor", org="350212002", sub="x")
    refused = await harness.client.get("/cockpit", params={"unit": "350212001"}, headers=other)
    assert refused.status_code == 403


async def test_batch_report_json_and_csv(harness: Harness, scenario: dict) -> None:
    supervisor = token("supervisor", org=DISTRICT, sub="sup-ta")
    report = await harness.client.get("/reports/batches/2026-11", headers=supervisor)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["applications"] == 2
    assert body["progress"] == {"accepted": 1, "published": 1}
    assert [
        (u["unit"], u["stages"], u["completed_on_time"], u["open_overdue"]) for u in body["units"]
    ] == [("350212001", 1, 0, 1), ("350212002", 1, 1, 0)]
    assert sorted(r["rule_id"] for r in body["red_lights"]) == ["R1", "R3", "R8"]
    assert all(r["ticket_no"].startswith("HD-") for r in body["red_lights"])
    # The publicity batch label selects the application published in it.
    by_label = (await harness.client.get("/reports/batches/GS-2026-07", headers=supervisor)).json()
    assert by_label["applications"] == 1
    assert [r["rule_id"] for r in by_label["red_lights"]] == ["R3"]

    as_csv = await harness.client.get(
        "/reports/batches/2026-11", headers={**supervisor, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert sorted((r["rule_id"], r["unit"]) for r in rows) == [
        ("R1", "350212001"),
        ("R3", "350212002"),
        ("R8", "350212001"),
    ]
    assert next(r for r in rows if r["rule_id"] == "R8")["title"].startswith("环节超出")
    units_csv = await harness.client.get(
        "/reports/batches/2026-11", params={"format": "csv", "part": "units"}, headers=supervisor
    )
    unit_rows = list(csv.DictReader(io.StringIO(units_csv.text.lstrip("\ufeff"))))
    assert [(r["unit"], r["name"], r["completed_on_time"]) for r in unit_rows] == [
        ("350212001", "大同街道", "0"),
        ("350212002", "祥平街道", "1"),
    ]
    bad = await harness.client.get("/reports/batches/bad batch!", headers=supervisor)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_red_lights_are_notified_and_the_delivery_result_stored(
    harness: Harness, scenario: dict
) -> None:
    async with harness.alerting.runtime.uow() as uow:
        while await dispatch_pending(uow, LogNotifier()):
            pass
        await uow.commit()
    page = await harness.client.get(
        "/notifications",
        params={"kind": "red_light", "limit": 200},
        headers=token("supervisor", org="350212001", sub="s"),
    )
    items = page.json()["items"]
    assert sorted(n["rule_id"] for n in items) == ["R1", "R8"]
    assert {(n["status"], n["channel"], n["attempts"], n["recipient"]) for n in items} == {
        ("sent", "log", 1, "supervisor@350212001")
    }

"""Departments supervised and the ticket chain as written (Xiamen art. 3(5), 10-12, 15): a late
department answer lights D1 and opens a ticket addressed to that department, which its staff
see and handle; R6 is visible from the street up; the reporting ladder in working days; the
escalation of a missed step to the level above the one that missed it; the 联系函; the export
of human-caused lights; the departments' timeliness report; the feedback for the province.

Everything goes through the public interfaces: events through the real broker
(``tests/harness.py``), HTTP with development tokens."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.alerting.tables import alerts, notifications, tickets
from shared.clock import clock
from shared.events import catalogue as ev
from tests.integration.alerting.builders import accepted
from tests.integration.alerting.conftest import Harness
from tests.services import token

pytestmark = pytest.mark.integration

CITY_SUPERVISOR = token("supervisor", org="350200", sub="sup-city")
TAX = token("department:tax", org="350200", sub="tax-officer-1", name="税务协查员")
RED_FORM = {
    "cause": "协查系统接口故障，未在时限内反馈",
    "handling_opinion": "已恢复接口并补充反馈",
    "section_head": "陈科长",
    "handler": "林经办",
    "cause_kind": "system",
}


def started(
    app_id: uuid.UUID, case_id: uuid.UUID, departments: list[str], at: datetime
) -> ev.VerificationStarted:
    return ev.VerificationStarted(
        case_id=case_id,
        application_id=app_id,
        departments=departments,
        started_at=at,
        due_on=date(2026, 12, 31),
    )


def completed(
    app_id: uuid.UUID, case_id: uuid.UUID, missing: list[str]
) -> ev.VerificationCompleted:
    zero = Decimal("0")
    return ev.VerificationCompleted(
        case_id=case_id,
        application_id=app_id,
        category="low_income_family",
        completed_at=datetime(2026, 12, 15, 2, 0, tzinfo=UTC),
        recommendation="needs_review",
        reasons=["部分部门未反馈，需人工审核。"],
        profile=ev.EconomicProfile(
            member_count=1,
            monthly_income_total=Decimal("3000.00"),
            per_capita_monthly_income=Decimal("3000.00"),
            financial_assets=zero,
            housing_area_m2=zero,
            per_capita_housing_area_m2=zero,
            vehicle_count=0,
            vehicle_value=zero,
            business_count=0,
            registered_capital_total=zero,
        ),
        missing_departments=missing,
        parameters_version=1,
    )


async def alert_rows(h: Harness, app_id: uuid.UUID) -> list[tuple[str, str | None, str, str]]:
    async with h.alerting.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(alerts.c.rule_id, alerts.c.department, alerts.c.unit, alerts.c.colour)
                .where(alerts.c.application_id == app_id)
                .order_by(alerts.c.rule_id)
            )
        ).all()
    return [tuple(r) for r in rows]


async def only_ticket(h: Harness, app_id: uuid.UUID, headers: dict) -> dict:
    page = await h.client.get("/tickets", params={"application_id": str(app_id)}, headers=headers)
    assert page.status_code == 200, page.text
    [ticket] = page.json()["items"]
    return ticket


async def test_overdue_department_lights_d1_and_its_staff_handle_the_ticket(
    harness: Harness,
) -> None:
    street = "350205001"  # 海沧街道, 海沧区
    clock.set(datetime(2026, 11, 17, 1, 0, tzinfo=UTC))  # Tuesday 09:00 in Xiamen
    app = accepted(street)
    case_id, request_id = uuid.uuid4(), uuid.uuid4()
    overdue = ev.VerificationDepartmentOverdue(
        case_id=case_id,
        application_id=app.application_id,
        request_id=request_id,
        department="tax",
        deadline=date(2026, 11, 16),
        detected_at=datetime(2026, 11, 17, 1, 0, tzinfo=UTC),
    )
    # The acceptance first: the consumer handles a batch concurrently, and the street of the
    # application must be known when the light is raised.
    await harness.publish(app)
    await harness.publish(
        started(app.application_id, case_id, ["tax", "real_estate"], app.accepted_at), overdue
    )
    # Raised at the application's street, about the department.
    assert await alert_rows(harness, app.application_id) == [("D1", "tax", street, "red")]
    district = token("supervisor", org="350205", sub="sup-hc")
    seen = await harness.client.get(
        "/alerts", params={"application_id": str(app.application_id)}, headers=district
    )
    assert [a["rule_id"] for a in seen.json()["items"]] == ["D1"]

    # The ticket is addressed to the department (协查单位); its staff see it, and only theirs.
    ticket = await only_ticket(harness, app.application_id, TAX)
    tid = ticket["ticket_id"]
    assert (ticket["rule_id"], ticket["unit"], ticket["department"], ticket["step"]) == (
        "D1",
        street,
        "tax",
        "handling",
    )
    everything = await harness.client.get("/tickets", params={"limit": 200}, headers=TAX)
    assert {t["department"] for t in everything.json()["items"]} == {"tax"}
    other = token("department:civil_affairs", org="350200", sub="ca-1")
    assert (await harness.client.get(f"/tickets/{tid}", headers=other)).status_code == 403
    none = await harness.client.get(
        "/tickets", params={"application_id": str(app.application_id)}, headers=other
    )
    assert none.json()["items"] == []
    # Department staff read their tickets, not the city's lights.
    assert (await harness.client.get("/alerts", headers=TAX)).status_code == 403
    async with harness.alerting.runtime.engine.connect() as conn:
        recipients = (
            await conn.scalars(
                sa.select(notifications.c.recipient)
                .where(notifications.c.ticket_id == uuid.UUID(tid))
                .order_by(notifications.c.recipient)
            )
        ).all()
    assert recipients == ["department:tax@350200", f"supervisor@{street}"]

    # The street does not handle the department's ticket; the department does, same day.
    clerk = token("street_clerk", org=street, sub="clerk-hc1")
    refused = await harness.client.post(f"/tickets/{tid}/handle", json=RED_FORM, headers=clerk)
    assert refused.status_code == 403
    handled = await harness.client.post(f"/tickets/{tid}/handle", json=RED_FORM, headers=TAX)
    assert handled.status_code == 200, handled.text
    # The department reports to the district within 2 working days: Thursday.
    assert (handled.json()["step"], handled.json()["due_at"]) == (
        "report_district",
        "2026-11-19T15:59:59.999999Z",
    )
    # The reminder of that deadline goes to the department, which holds the step.
    await harness.sweep(datetime(2026, 11, 18, 20, 0, tzinfo=UTC))
    async with harness.alerting.runtime.engine.connect() as conn:
        reminders = (
            await conn.scalars(
                sa.select(notifications.c.recipient).where(
                    notifications.c.ticket_id == uuid.UUID(tid),
                    notifications.c.kind == "ticket_deadline",
                )
            )
        ).all()
    assert reminders == ["department:tax@350200"]
    # Its late answer afterwards is the same condition: still one light, one ticket.
    late = ev.VerificationAnswerLate(
        case_id=case_id,
        application_id=app.application_id,
        request_id=request_id,
        department="tax",
        deadline=date(2026, 11, 16),
        answered_at=datetime(2026, 11, 17, 6, 0, tzinfo=UTC),
        working_days_late=1,
    )
    await harness.publish(late)
    department_lights = [r for r in await alert_rows(harness, app.application_id) if r[1]]
    assert department_lights == [("D1", "tax", street, "red")]

    reported = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "接口已恢复"}, headers=TAX
    )
    assert (reported.status_code, reported.json()["step"]) == (200, "report_city_centre")
    # From there the district reports to the city centre, not the department.
    again = await harness.client.post(f"/tickets/{tid}/report", json={"summary": "x"}, headers=TAX)
    assert again.status_code == 403
    district_clerk = token("district_clerk", org="350205", sub="dc-hc")
    up = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "区级审查"}, headers=district_clerk
    )
    assert (up.status_code, up.json()["step"]) == (200, "report_city_office")
    assert [(e["action"], e["to_level"], e["to_unit"]) for e in up.json()["events"]] == [
        ("opened", None, street),
        ("handled", None, None),
        ("reported", "district", "350205"),
        ("reported", "city_centre", "350200"),
    ]

    # The district's 联系函 to the department names it as the responsible unit.
    letter = await harness.client.get(f"/tickets/{tid}/letter", headers=district)
    assert letter.status_code == 200
    for text in ("国家税务总局厦门市税务局", "部门协查", "海沧区住房保障行政管理部门"):
        assert text in letter.text


async def test_r6_is_raised_at_the_street_and_seen_by_its_district_and_city(
    harness: Harness,
) -> None:
    street = "350212001"  # 大同街道, 同安区
    app = accepted(street)
    empty = ev.VerificationAnswerEmpty(
        case_id=uuid.uuid4(),
        application_id=app.application_id,
        request_id=uuid.uuid4(),
        department="real_estate",
        answered_at=app.accepted_at,
    )
    await harness.publish(app)
    await harness.publish(empty)
    assert await alert_rows(harness, app.application_id) == [("R6", "real_estate", street, "red")]

    async def sees(org: str) -> list[str]:
        page = await harness.client.get(
            "/alerts",
            params={"application_id": str(app.application_id)},
            headers=token("supervisor", org=org, sub=f"sup-{org}"),
        )
        assert page.status_code == 200, page.text
        return [a["rule_id"] for a in page.json()["items"]]

    assert [await sees(org) for org in (street, "350212", "350200", "350211")] == [
        ["R6"],
        ["R6"],
        ["R6"],
        [],
    ]
    ticket = await only_ticket(harness, app.application_id, token("supervisor", org="350212"))
    assert (ticket["unit"], ticket["department"]) == (street, "real_estate")


async def test_ladder_in_working_days_and_a_missed_city_centre_step_goes_to_the_office(
    harness: Harness,
) -> None:
    street = "350205003"  # 嵩屿街道, 海沧区
    clock.set(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))  # Friday 09:00 in Xiamen
    app = accepted(street, receipt_no=None)  # R1
    await harness.publish(app)
    ticket = await only_ticket(harness, app.application_id, CITY_SUPERVISOR)
    tid = ticket["ticket_id"]
    assert ticket["due_at"] == "2026-11-20T15:59:59.999999Z"  # the same day
    clerk = token("street_clerk", org=street, sub="clerk-sy")
    form = {**RED_FORM, "cause": "窗口未录入回执，申请人电话13812345678", "cause_kind": "human"}
    handled = await harness.client.post(f"/tickets/{tid}/handle", json=form, headers=clerk)
    # Street -> district: 2 working days over the weekend, Tuesday.
    assert (handled.json()["step"], handled.json()["due_at"]) == (
        "report_district",
        "2026-11-24T15:59:59.999999Z",
    )
    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday
    r1 = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "已补录"}, headers=clerk
    )
    # District -> city centre: 2 working days, Wednesday.
    assert (r1.json()["step"], r1.json()["due_at"]) == (
        "report_city_centre",
        "2026-11-25T15:59:59.999999Z",
    )
    clock.set(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))  # Wednesday
    district = token("district_clerk", org="350205", sub="dc-sy")
    r2 = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "区级审查"}, headers=district
    )
    # City centre -> city office: 1 working day, Thursday.
    assert (r2.json()["step"], r2.json()["due_at"]) == (
        "report_city_office",
        "2026-11-26T15:59:59.999999Z",
    )

    # The city centre misses its day: the ticket goes to the city office, the level above the
    # one that missed, never back down to the district.
    await harness.sweep(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))  # Friday
    await harness.sweep(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))  # no second escalation
    detail = (await harness.client.get(f"/tickets/{tid}", headers=CITY_SUPERVISOR)).json()
    assert (detail["escalated_to"], detail["escalation_level"], detail["due_at"]) == (
        "city_office",
        1,
        "2026-11-30T15:59:59.999999Z",  # one more working day, Monday
    )
    # The city office lets its working day pass too: the province.
    await harness.sweep(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # Tuesday
    detail = (await harness.client.get(f"/tickets/{tid}", headers=CITY_SUPERVISOR)).json()
    auto = [(e["step"], e["to_level"], e["to_unit"]) for e in detail["events"] if e["automatic"]][
        1:
    ]  # after "opened"
    assert auto == [
        ("report_city_office", "city_office", "350200"),
        ("report_city_office", "province", None),
    ]
    escalated = [e for e in await harness.emitted("ticket.escalated") if e["ticket_id"] == tid]
    assert [(e["to_level"], e["automatic"]) for e in escalated] == [
        ("district", False),
        ("city_centre", False),
        ("city_office", True),
        ("province", True),
    ]

    # The city centre and the city office report; the office's feedback goes to the province.
    city = token("city_clerk", org="350200", sub="office-1")
    r3 = await harness.client.post(f"/tickets/{tid}/report", json={"summary": "报备"}, headers=city)
    assert r3.json()["step"] == "report_province"
    r4 = await harness.client.post(
        f"/tickets/{tid}/report",
        json={"summary": "已整改并约谈经办人", "category": "acceptance"},
        headers=city,
    )
    assert (r4.json()["step"], r4.json()["feedback_category"]) == ("confirmation", "acceptance")
    [feedback] = [
        e for e in await harness.emitted("ticket.feedback_reported") if e["ticket_id"] == tid
    ]
    assert {k: feedback[k] for k in ("rule_id", "unit", "category", "cause_kind")} == {
        "rule_id": "R1",
        "unit": street,
        "category": "acceptance",
        "cause_kind": "human",
    }
    assert feedback["summary_text"] == "已整改并约谈经办人"
    # The mobile a clerk typed into the cause does not leave the city.
    assert "13812345678" not in feedback["cause"]
    assert feedback["cause"].startswith("窗口未录入回执")

    # Confirmed and filed by category (分类归档).
    confirmed = await harness.client.post(
        f"/tickets/{tid}/confirm", json={"note": "归档"}, headers=CITY_SUPERVISOR
    )
    assert confirmed.status_code == 200, confirmed.text
    filed = await harness.client.get(
        "/tickets/archive",
        params={"category": "acceptance", "from": "2026-12-01", "to": "2026-12-01"},
        headers=CITY_SUPERVISOR,
    )
    assert filed.status_code == 200, filed.text
    [group] = filed.json()["categories"]
    assert (group["category"], group["title"]) == ("acceptance", "申请受理类")
    assert ticket["ticket_no"] in [t["ticket_no"] for t in group["tickets"]]
    by_category = await harness.client.get(
        "/tickets",
        params={
            "status": "closed",
            "category": "acceptance",
            "application_id": str(app.application_id),
        },
        headers=CITY_SUPERVISOR,
    )
    assert [t["ticket_id"] for t in by_category.json()["items"]] == [tid]


async def test_letter_to_a_lower_unit_carries_its_fields(harness: Harness) -> None:
    street = "350212107"  # 洪塘镇, 同安区
    clock.set(datetime(2026, 11, 16, 1, 0, tzinfo=UTC))  # Monday 09:00 in Xiamen
    app = accepted(street, receipt_no=None)
    await harness.publish(app)
    district = token("supervisor", org="350212", sub="sup-ta")
    ticket = await only_ticket(harness, app.application_id, district)
    page = await harness.client.get(f"/tickets/{ticket['ticket_id']}/letter", headers=district)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    for field, value in (
        ("联系函编号", ticket["ticket_no"]),
        ("责任单位", "洪塘镇"),
        ("预警业务环节", "申请受理"),
        ("预警时间", "2026-11-16 09:00"),
        ("预警数量", "1 项"),
        ("申请受理编号", app.tracking_no),
        # Handled the day of the letter, reported within 2 working days: Wednesday.
        ("督办反馈最后期限", "2026-11-18 23:59"),
    ):
        assert f"<tr><th>{field}</th><td>{value}</td></tr>" in text, field
    assert "<h1>电子监察工作联系函</h1>" in text
    assert "同安区住房保障行政管理部门" in text
    # Another district's supervisor cannot read it.
    other = token("supervisor", org="350211", sub="sup-jm")
    assert (
        await harness.client.get(f"/tickets/{ticket['ticket_id']}/letter", headers=other)
    ).status_code == 403
    # By hand, too, a ticket goes to the level above the one holding its step.
    rungs = []
    for _ in range(2):
        up = await harness.client.post(
            f"/tickets/{ticket['ticket_id']}/escalate",
            json={"reason": "未按期办结"},
            headers=CITY_SUPERVISOR,
        )
        assert up.status_code == 200, up.text
        rungs.append((up.json()["escalated_to"], up.json()["escalation_level"]))
    assert rungs == [("district", 1), ("city_centre", 2)]
    # A light of the city itself has no lower unit to write to.
    f2 = ev.VerificationParametersChanged(
        parameter_set_id=uuid.uuid4(),
        city="350200",
        category="newly_employed",
        version=7,
        changes=[ev.ParameterChange(name="max_financial_assets", old="200000", new="900000")],
        proposed_by="clerk-x",
        proposed_at=datetime(2026, 11, 16, 1, 0, tzinfo=UTC),
        approved=False,
        effective_from=date(2026, 11, 16),
    )
    await harness.publish(f2, subject="params")
    async with harness.alerting.runtime.engine.connect() as conn:
        f2_ticket = await conn.scalar(
            sa.select(tickets.c.ticket_id)
            .where(tickets.c.rule_id == "F2", tickets.c.unit == "350200")
            .order_by(tickets.c.opened_at.desc())
            .limit(1)
        )
    refused = await harness.client.get(f"/tickets/{f2_ticket}/letter", headers=CITY_SUPERVISOR)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"


async def test_human_caused_lights_are_exported_for_the_efficiency_office(
    harness: Harness,
) -> None:
    street = "350211102"  # 灌口镇, 集美区
    clock.set(datetime(2026, 12, 9, 1, 0, tzinfo=UTC))  # Wednesday
    human, system = accepted(street, receipt_no=None), accepted(street, receipt_no=None)
    await harness.publish(human, system)
    clerk = token("street_clerk", org=street, sub="clerk-gk")
    numbers = {}
    for app, kind in ((human, "human"), (system, "system")):
        ticket = await only_ticket(harness, app.application_id, clerk)
        numbers[kind] = ticket["ticket_no"]
        form = {**RED_FORM, "cause": "经办人漏录回执，联系电话13912345678", "cause_kind": kind}
        done = await harness.client.post(
            f"/tickets/{ticket['ticket_id']}/handle", json=form, headers=clerk
        )
        assert done.status_code == 200, done.text
    district = token("supervisor", org="350211", sub="sup-jm")
    export = await harness.client.get(
        "/tickets/export",
        params={"cause": "human", "from": "2026-12-09", "to": "2026-12-09"},
        headers=district,
    )
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["ticket_no"] for r in rows] == [numbers["human"]]
    [row] = rows
    assert (row["rule_id"], row["unit"], row["unit_name"], row["cause_kind"]) == (
        "R1",
        street,
        "灌口镇",
        "human",
    )
    assert (row["section_head"], row["handler"]) == ("陈科长", "林经办")
    assert "13912345678" not in export.text
    bad = await harness.client.get("/tickets/export", params={"cause": "bad"}, headers=district)
    assert (bad.status_code, bad.json()["field"]) == (422, "cause")


async def test_department_timeliness_report(harness: Harness) -> None:
    street = "350212105"  # 莲花镇, 同安区
    clock.set(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    app = accepted(street)
    app_id, case_id = app.application_id, uuid.uuid4()
    requested = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Xiamen
    departments = ["public_security", "tax", "real_estate", "civil_affairs"]

    def about(department: str) -> dict:
        return {
            "case_id": case_id,
            "application_id": app_id,
            "request_id": uuid.uuid4(),
            "department": department,
        }

    await harness.publish(app)
    await harness.publish(started(app_id, case_id, departments, requested))
    await harness.publish(
        ev.VerificationAnswerEmpty(
            **about("real_estate"), answered_at=datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
        ),
        ev.VerificationAnswerLate(
            **about("tax"),
            deadline=date(2026, 12, 14),
            answered_at=datetime(2026, 12, 16, 2, 0, tzinfo=UTC),
            working_days_late=2,
        ),
        ev.VerificationDepartmentOverdue(
            **about("civil_affairs"),
            deadline=date(2026, 12, 14),
            detected_at=datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
        ),
    )
    # Completion comes after the answers (verification completes a case on its last answer or
    # deadline).
    await harness.publish(completed(app_id, case_id, ["civil_affairs"]))
    supervisor = token("supervisor", org=street, sub="sup-lh")
    response = await harness.client.get(
        "/reports/departments",
        params={"from": "2026-12-07", "to": "2026-12-07"},
        headers=supervisor,
    )
    assert response.status_code == 200, response.text
    counts = [
        (
            d["department"],
            d["requests"],
            d["answered_in_time"],
            d["late"],
            d["overdue"],
            d["empty"],
            d["pending"],
        )
        for d in response.json()["departments"]
    ]
    assert counts == [
        ("civil_affairs", 1, 0, 0, 1, 0, 1),
        ("public_security", 1, 1, 0, 0, 0, 0),
        ("real_estate", 1, 1, 0, 0, 1, 0),
        ("tax", 1, 0, 1, 0, 0, 0),
    ]
    lights = {d["department"]: d["red_lights"] for d in response.json()["departments"]}
    assert lights == {
        "civil_affairs": {"D1": {"total": 1, "open": 1}},
        "public_security": {},
        "real_estate": {"R6": {"total": 1, "open": 1}},
        "tax": {"D1": {"total": 1, "open": 1}},
    }
    names = {d["department"]: d["name"] for d in response.json()["departments"]}
    assert names["tax"] == "国家税务总局厦门市税务局"
    # Another street's supervisor sees none of these requests.
    elsewhere = await harness.client.get(
        "/reports/departments",
        params={"from": "2026-12-07", "to": "2026-12-07"},
        headers=token("supervisor", org="350212107", sub="sup-ht"),
    )
    assert elsewhere.json()["departments"] == []
    # A completion handled before its own start still counts the departments as answered.
    other_app = accepted(street)
    other_case = uuid.uuid4()
    await harness.publish(other_app)
    await harness.publish(completed(other_app.application_id, other_case, []))
    await harness.publish(
        started(
            other_app.application_id,
            other_case,
            ["vehicle"],
            datetime(2026, 12, 10, 1, 0, tzinfo=UTC),
        )
    )
    later = await harness.client.get(
        "/reports/departments",
        params={"from": "2026-12-10", "to": "2026-12-10"},
        headers=supervisor,
    )
    assert [
        (d["department"], d["requests"], d["answered_in_time"], d["pending"])
        for d in later.json()["departments"]
    ] == [("vehicle", 1, 1, 0)]
    backwards = await harness.client.get(
        "/reports/departments",
        params={"from": "2026-12-08", "to": "2026-12-07"},
        headers=supervisor,
    )
    assert (backwards.status_code, backwards.json()["field"]) == (422, "from")

"""Supervision tickets: the red reporting chain, escalation after a missed deadline, yellow
tickets on request, and who may see and do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.alerting.tables import alerts, tickets
from shared.audit import audit_log
from shared.clock import clock
from tests.integration.alerting.builders import accepted, end_of_day_utc, stage_started
from tests.integration.alerting.conftest import Harness
from tests.services import token

pytestmark = pytest.mark.integration

SUPERVISOR_CITY = token("supervisor", org="350200", sub="sup-city")


async def red_ticket_for(h: Harness, application_id: uuid.UUID) -> dict:
    page = await h.client.get(
        "/tickets", params={"application_id": str(application_id)}, headers=SUPERVISOR_CITY
    )
    assert page.status_code == 200
    [ticket] = page.json()["items"]
    return ticket


async def test_red_ticket_goes_up_the_written_reporting_chain(harness: Harness) -> None:
    app = accepted("350206003", receipt_no=None)  # R1
    clock.set(datetime(2026, 11, 17, 1, 0, tzinfo=UTC))  # Tuesday 09:00 in Xiamen
    await harness.publish(app)
    ticket = await red_ticket_for(harness, app.application_id)
    tid = ticket["ticket_id"]
    assert (ticket["rule_id"], ticket["step"], ticket["unit"]) == ("R1", "handling", "350206003")
    assert ticket["due_at"] == "2026-11-17T15:59:59.999999Z"  # same day (当日办结)

    street = token("street_clerk", org="350206003", sub="clerk-hl3")
    # A red ticket states the cause and the handling opinion.
    bad = await harness.client.post(f"/tickets/{tid}/handle", json={}, headers=street)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["field"] == "cause"
    handling = {"cause": "受理时系统未生成回执", "handling_opinion": "已补发受理回执"}
    # The red ticket names the section head and the handler, and the kind of cause.
    for field, value in (("section_head", "王科长"), ("handler", "李经办")):
        missing = await harness.client.post(f"/tickets/{tid}/handle", json=handling, headers=street)
        assert (missing.status_code, missing.json()["field"]) == (422, field)
        handling[field] = value
    no_kind = await harness.client.post(f"/tickets/{tid}/handle", json=handling, headers=street)
    assert (no_kind.status_code, no_kind.json()["field"]) == (422, "cause_kind")
    handled = await harness.client.post(
        f"/tickets/{tid}/handle",
        json={**handling, "cause_kind": "system"},
        headers=street,
    )
    assert handled.status_code == 200, handled.text
    body = handled.json()
    assert (body["section_head"], body["handler"], body["cause_kind"]) == (
        "王科长",
        "李经办",
        "system",
    )
    # A street reports to its district within 2 working days: Thursday.
    assert (body["step"], body["due_at"]) == ("report_district", "2026-11-19T15:59:59.999999Z")

    # The street files its written report; then the district reports to the city centre, the
    # city centre to the city office and the city office to the province.
    r1 = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "原因及办理结果见附件"}, headers=street
    )
    assert (r1.status_code, r1.json()["step"]) == (200, "report_city_centre")
    # A street cannot file the district's report.
    refused = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "越级"}, headers=street
    )
    assert refused.status_code == 403
    district = token("district_clerk", org="350206", sub="district-hl")
    r2 = await harness.client.post(
        f"/tickets/{tid}/report", json={"summary": "区级审查确认"}, headers=district
    )
    assert (r2.status_code, r2.json()["step"]) == (200, "report_city_office")
    city = token("city_clerk", org="350200", sub="centre-1")
    r3 = await harness.client.post(f"/tickets/{tid}/report", json={"summary": "报备"}, headers=city)
    assert r3.json()["step"] == "report_province"
    r4 = await harness.client.post(f"/tickets/{tid}/report", json={"summary": "报省"}, headers=city)
    assert r4.json()["step"] == "confirmation"
    # Whoever handled or reported it cannot confirm it, whatever roles they also hold.
    for sub in ("clerk-hl3", "centre-1"):
        own = token(["supervisor", "street_clerk", "city_clerk"], org="350200", sub=sub)
        refused = await harness.client.post(f"/tickets/{tid}/confirm", json={}, headers=own)
        assert (refused.status_code, refused.json()["detail"]) == (
            403,
            "办理或报告过本红灯督办单的人员不能确认其预警消失",
        ), sub
    confirmed = await harness.client.post(
        f"/tickets/{tid}/confirm", json={"note": "红灯业务已办结归档"}, headers=SUPERVISOR_CITY
    )
    assert confirmed.status_code == 200, confirmed.text
    final = confirmed.json()
    assert (final["step"], final["confirmed_by"]) == ("closed", "sup-city")
    assert [(e["action"], e["to_level"]) for e in final["events"]] == [
        ("opened", None),
        ("handled", None),
        ("reported", "district"),
        ("reported", "city_centre"),
        ("reported", "city_office"),
        ("reported", "province"),
        ("confirmed", None),
    ]
    async with harness.alerting.runtime.engine.connect() as conn:
        alert = (
            await conn.execute(
                sa.select(alerts).where(alerts.c.application_id == app.application_id)
            )
        ).one()
    assert (alert.rule_id, alert.cleared_by) == ("R1", "sup-city")
    escalations = [e for e in await harness.emitted("ticket.escalated") if e["ticket_id"] == tid]
    assert [(e["to_level"], e["automatic"]) for e in escalations] == [
        ("district", False),
        ("city_centre", False),
        ("city_office", False),
        ("province", False),
    ]
    # Every staff operation is in the audit log, attributed.
    async with harness.alerting.runtime.engine.connect() as conn:
        trail = (
            await conn.execute(
                sa.select(audit_log.c.action, audit_log.c.actor)
                .where(audit_log.c.subject_type == "ticket", audit_log.c.subject_id == tid)
                .order_by(audit_log.c.seq)
            )
        ).all()
    assert [tuple(r) for r in trail] == [
        ("ticket.handle", "clerk-hl3"),
        ("ticket.report", "clerk-hl3"),
        ("ticket.report", "district-hl"),
        ("ticket.report", "centre-1"),
        ("ticket.report", "centre-1"),
        ("ticket.confirm", "sup-city"),
    ]
    closed = [e for e in await harness.emitted("ticket.closed") if e["ticket_id"] == tid]
    assert [(e["outcome"], e["confirmed_by"]) for e in closed] == [("resolved", "sup-city")]


async def test_missed_reporting_deadline_escalates_by_itself(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    unit = "350206004"
    await harness.publish(
        stage_started(app_id, case_id, unit=unit, due_at=end_of_day_utc(2026, 11, 20))
    )
    await harness.sweep(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday: R8 + red ticket
    ticket = await red_ticket_for(harness, app_id)
    assert (ticket["rule_id"], ticket["step"], ticket["escalation_level"]) == ("R8", "handling", 0)
    assert ticket["due_at"] == "2026-11-23T15:59:59.999999Z"

    await harness.sweep(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # 17:00, still in time
    assert (await red_ticket_for(harness, app_id))["escalation_level"] == 0
    # Not handled on the day: Tuesday's tick escalates it to the district by itself.
    result = await harness.sweep(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert result["escalated"] >= 1
    await harness.sweep(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # no second escalation
    ticket = await red_ticket_for(harness, app_id)
    assert (ticket["escalation_level"], ticket["escalated_to"]) == (1, "district")
    assert ticket["due_at"] == "2026-11-25T15:59:59.999999Z"  # one more working day
    detail = (
        await harness.client.get(f"/tickets/{ticket['ticket_id']}", headers=SUPERVISOR_CITY)
    ).json()
    auto = [e for e in detail["events"] if e["action"] == "escalated"]
    assert [(e["to_level"], e["to_unit"], e["automatic"]) for e in auto] == [
        ("district", "350206", True)
    ]
    # Visible as such: in the escalated list of the district supervisor.
    district = token("supervisor", org="350206", sub="sup-hl")
    escalated = await harness.client.get(
        "/tickets", params={"escalated": "true", "application_id": str(app_id)}, headers=district
    )
    assert [t["ticket_id"] for t in escalated.json()["items"]] == [ticket["ticket_id"]]
    events = [
        e
        for e in await harness.emitted("ticket.escalated")
        if e["ticket_id"] == ticket["ticket_id"]
    ]
    assert [(e["to_level"], e["automatic"]) for e in events] == [("district", True)]
    # Missed again: the next rung, the city centre.
    await harness.sweep(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    ticket = await red_ticket_for(harness, app_id)
    assert (ticket["escalation_level"], ticket["escalated_to"]) == (2, "city_centre")
    async with harness.alerting.runtime.engine.connect() as conn:
        messages = (
            await conn.execute(
                sa.text(
                    "SELECT kind, unit FROM notifications WHERE ticket_id = :t"
                    " ORDER BY created_at, kind"
                ),
                {"t": ticket["ticket_id"]},
            )
        ).all()
    assert [(m.kind, m.unit) for m in messages] == [
        ("red_light", unit),
        ("ticket_deadline", unit),
        ("ticket_escalated", "350206"),
        ("ticket_escalated", "350200"),
    ]


async def test_yellow_ticket_on_request_with_idempotency_and_confirmation(harness: Harness) -> None:
    app = accepted("350206005", materials_complete=False, incomplete_reason="缺少申请表")
    await harness.publish(app)
    async with harness.alerting.runtime.engine.connect() as conn:
        alert_id = await conn.scalar(
            sa.select(alerts.c.alert_id).where(alerts.c.application_id == app.application_id)
        )
    supervisor = token("supervisor", org="350206005", sub="sup-street")
    body = {
        "alert_ids": [str(alert_id)],
        "responsible_section": "受理科",
        "section_head": "王科长",
        "handler": "李经办",
        "due_date": "2026-12-31",
    }
    headers = {**supervisor, "Idempotency-Key": "yellow-1"}
    first = await harness.client.post("/tickets", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await harness.client.post("/tickets", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    async with harness.alerting.runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(tickets)
            .where(tickets.c.application_id == app.application_id)
        )
    assert count == 1
    # Without the key, the same alert cannot get a second open ticket.
    dup = await harness.client.post("/tickets", json=body, headers=supervisor)
    assert (dup.status_code, dup.json()["field"]) == (409, "alert_ids")
    tid = first.json()["ticket_id"]
    # The light is still on (materials not in): confirming is refused.
    handled = await harness.client.post(
        f"/tickets/{tid}/handle", json={"cause_kind": "human"}, headers=supervisor
    )
    assert (handled.status_code, handled.json()["step"]) == (200, "confirmation")
    early = await harness.client.post(f"/tickets/{tid}/confirm", json={}, headers=supervisor)
    assert early.status_code == 409
    from tests.integration.alerting.builders import uploaded

    await harness.publish(uploaded(app.application_id, 4096, "application_form"))
    done = await harness.client.post(f"/tickets/{tid}/confirm", json={}, headers=supervisor)
    assert done.status_code == 200, done.text
    assert (done.json()["step"], done.json()["confirmed_by"]) == ("closed", "sup-street")
    assert done.json()["handled_by"] == "sup-street"


async def test_yellow_ticket_bad_input_is_problem_json_naming_the_field(harness: Harness) -> None:
    supervisor = token("supervisor", org="350200", sub="sup-city")
    missing = await harness.client.post(
        "/tickets",
        json={
            "alert_ids": [str(uuid.uuid4())],
            "section_head": "甲",
            "handler": "乙",
            "due_date": "2026-12-31",
        },
        headers=supervisor,
    )
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["field"] == "responsible_section"
    unknown = await harness.client.post(
        "/tickets",
        json={
            "alert_ids": [str(uuid.uuid4())],
            "responsible_section": "科",
            "section_head": "甲",
            "handler": "乙",
            "due_date": "2026-12-31",
        },
        headers=supervisor,
    )
    assert (unknown.status_code, unknown.json()["field"]) == (404, "alert_ids")
    # A red light needs no request: its ticket exists already.
    app = accepted("350206006", receipt_no=None)
    await harness.publish(app)
    async with harness.alerting.runtime.engine.connect() as conn:
        red = await conn.scalar(
            sa.select(alerts.c.alert_id).where(alerts.c.application_id == app.application_id)
        )
    refused = await harness.client.post(
        "/tickets",
        json={
            "alert_ids": [str(red)],
            "responsible_section": "科",
            "section_head": "甲",
            "handler": "乙",
            "due_date": "2026-12-31",
        },
        headers=supervisor,
    )
    assert (refused.status_code, refused.json()["field"]) == (409, "alert_ids")
    # A discipline inspector reads everything and acts nowhere.
    inspector = token("discipline_inspector", org="350000", sub="jj-1")
    forbidden = await harness.client.post(
        "/tickets",
        json={
            "alert_ids": [str(red)],
            "responsible_section": "科",
            "section_head": "甲",
            "handler": "乙",
            "due_date": "2026-12-31",
        },
        headers=inspector,
    )
    assert forbidden.status_code == 403


async def test_visibility_by_jurisdiction(harness: Harness) -> None:
    mine = accepted("350213001", receipt_no=None)
    other = accepted("350213002", receipt_no=None)
    await harness.publish(mine, other)

    async def visible(headers: dict) -> set[str]:
        page = await harness.client.get(
            "/alerts", params={"unit": "350213", "limit": 200}, headers=headers
        )
        if page.status_code != 200:
            return {f"status {page.status_code}"}
        return {a["application_id"] for a in page.json()["items"]}

    ids = {str(mine.application_id), str(other.application_id)}
    street = token("supervisor", org="350213001", sub="s1")
    page = await harness.client.get("/alerts", params={"limit": 200}, headers=street)
    assert {a["application_id"] for a in page.json()["items"]} & ids == {str(mine.application_id)}
    # A street supervisor may not ask for the district.
    assert await visible(street) == {"status 403"}
    assert await visible(token("supervisor", org="350213", sub="d1")) == ids
    assert await visible(token("supervisor", org="350200", sub="c1")) == ids
    assert await visible(token("discipline_inspector", org="350000", sub="j1")) == ids
    assert await visible(token("supervisor", org="350211", sub="d2")) == {"status 403"}
    # One alert of the neighbouring street, read by id: refused.
    async with harness.alerting.runtime.engine.connect() as conn:
        other_alert = await conn.scalar(
            sa.select(alerts.c.alert_id).where(alerts.c.application_id == other.application_id)
        )
    refused = await harness.client.get(f"/alerts/{other_alert}", headers=street)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    # Applicants see no supervision data at all.
    assert (await harness.client.get("/alerts", headers=token("applicant"))).status_code == 403

"""Every evaluated rule, raised and cleared by the events (or the clock) that should do it,
through the real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.alerting.rules import catalogue
from services.alerting.tables import alerts, notifications, tickets
from shared.events import catalogue as ev
from tests.harness import event_tap
from tests.integration.alerting.builders import (
    T0,
    accepted,
    end_of_day_utc,
    publicity_opened,
    signed,
    stage_completed,
    stage_started,
    uploaded,
)
from tests.integration.alerting.conftest import Harness
from tests.services import token

pytestmark = pytest.mark.integration


async def lights(h: Harness, **where: object) -> list[tuple[str, str]]:
    """(rule_id, open|cleared) of the alerts matching ``where``, sorted."""
    cond = [getattr(alerts.c, k) == v for k, v in where.items()]
    async with h.alerting.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(alerts.c.rule_id, alerts.c.cleared_at).where(*cond))
        ).all()
    return sorted((r.rule_id, "open" if r.cleared_at is None else "cleared") for r in rows)


async def test_rules_endpoint_serves_the_catalogue(harness: Harness) -> None:
    response = await harness.client.get("/rules")
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body] == list(catalogue())
    r8 = next(r for r in body if r["id"] == "R8")
    assert r8["colour"] == "red" and "第九条（八）" in r8["article"]


async def test_acceptance_y1_and_r1_once_each_and_y1_clears_on_upload(harness: Harness) -> None:
    app = accepted(
        "350203001", materials_complete=False, receipt_no=None, incomplete_reason="缺少户口簿"
    )
    await harness.publish(app)
    assert await lights(harness, application_id=app.application_id) == [
        ("R1", "open"),
        ("Y1", "open"),
    ]
    # The same condition reported again by another event: still one alert each.
    again = ev.ApplicationAccepted.model_validate(app.model_dump())
    await harness.publish(again)
    assert await lights(harness, application_id=app.application_id) == [
        ("R1", "open"),
        ("Y1", "open"),
    ]
    raised = [
        e
        for e in await harness.emitted("alert.raised")
        if e["application_id"] == str(app.application_id)
    ]
    assert sorted(e["rule_id"] for e in raised) == ["R1", "Y1"]
    # R1 is red: its ticket opened by itself, to be handled the same day.
    async with harness.alerting.runtime.engine.connect() as conn:
        t = (
            await conn.execute(
                sa.select(tickets).where(tickets.c.application_id == app.application_id)
            )
        ).one()
    assert (t.colour, t.rule_id, t.step, t.unit) == ("red", "R1", "handling", "350203001")

    await harness.publish(uploaded(app.application_id, 2048, "household_register"))
    assert await lights(harness, application_id=app.application_id) == [
        ("R1", "open"),
        ("Y1", "cleared"),
    ]
    cleared = [
        e
        for e in await harness.emitted("alert.cleared")
        if e["application_id"] == str(app.application_id)
    ]
    assert [(e["rule_id"], e["cleared_by"]) for e in cleared] == [("Y1", None)]
    # Who and when: the upload that ended it, by the clerk it names.
    page = await harness.client.get(
        "/alerts",
        params={"status": "cleared", "application_id": str(app.application_id)},
        headers=token("supervisor", org="350203", sub="sup-sm"),
    )
    [y1] = page.json()["items"]
    assert (y1["rule_id"], y1["clear_source"], y1["cleared_actor"], y1["cleared_by"]) == (
        "Y1",
        "application.materials_uploaded",
        "clerk-001",
        None,
    )
    assert y1["cleared_at"] is not None and y1["clear_reason"] == "已上传申请材料"


async def test_r2_empty_material_and_its_clearing(harness: Harness) -> None:
    app = accepted("350203003")
    await harness.publish(app)
    await harness.publish(uploaded(app.application_id, 0, "id_card"))
    assert await lights(harness, application_id=app.application_id) == [("R2", "open")]
    # A non-empty file of another type does not cure the empty ID card.
    await harness.publish(uploaded(app.application_id, 100, "application_form"))
    assert await lights(harness, application_id=app.application_id) == [("R2", "open")]
    await harness.publish(uploaded(app.application_id, 100, "id_card"))
    assert await lights(harness, application_id=app.application_id) == [("R2", "cleared")]


@pytest.mark.parametrize(
    ("level", "roles", "rule"),
    [
        ("street", [("reviewer", 0), ("handler", 1)], "R3"),
        ("district", [("reviewer", 0), ("handler", 5)], "R4"),
        ("city", [("handler", 0), ("leader", 1), ("reviewer", 2)], "R5"),
        ("city", [("handler", 0), ("reviewer", 1), ("leader", 2)], None),
    ],
)
async def test_signature_order(harness: Harness, level: str, roles: list, rule: str | None) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    unit = {"street": "350206001", "district": "350206", "city": "350200"}[level]
    events = [
        signed(
            app_id,
            case_id,
            role=role,
            at=T0 + timedelta(hours=h),
            stage=f"{level}_review",
            level=level,
            unit=unit,
        )
        for role, h in roles
    ]
    for e in events:  # one by one, in arrival order
        await harness.publish(e)
    expected = [(rule, "open")] if rule else []
    assert await lights(harness, case_id=case_id) == expected


async def test_f1_boilerplate_opinion_raised_then_cleared_by_a_specific_one(
    harness: Harness,
) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    await harness.publish(
        signed(app_id, case_id, role="handler", at=T0, unit="350206002", quality="boilerplate")
    )
    assert await lights(harness, case_id=case_id) == [("F1", "open")]
    await harness.publish(
        signed(
            app_id,
            case_id,
            role="handler",
            at=T0 + timedelta(hours=1),
            unit="350206002",
            quality="specific",
        )
    )
    assert await lights(harness, case_id=case_id) == [("F1", "cleared")]


async def test_y3_lights_at_the_yellow_at_review_published(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    # Due Friday 2026-11-20; review says yellow from Wednesday 00:00 in Xiamen, a day before
    # alerting's own rule would light it (Thursday): the published threshold wins.
    started = stage_started(
        app_id, case_id, unit="350205002", due_at=end_of_day_utc(2026, 11, 20)
    ).model_copy(update={"yellow_at": datetime(2026, 11, 17, 16, 0, tzinfo=UTC)})
    await harness.publish(started)
    await harness.sweep(datetime(2026, 11, 17, 15, 0, tzinfo=UTC))  # Tuesday 23:00
    assert await lights(harness, case_id=case_id) == []
    await harness.sweep(datetime(2026, 11, 18, 8, 0, tzinfo=UTC))  # Wednesday 16:00
    assert await lights(harness, case_id=case_id) == [("Y3", "open")]


async def n1_reminders(harness: Harness, case_id: uuid.UUID) -> list:
    async with harness.alerting.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(
                    notifications.c.kind,
                    notifications.c.unit,
                    notifications.c.recipient,
                    notifications.c.message,
                )
                .join(alerts, alerts.c.alert_id == notifications.c.alert_id)
                .where(alerts.c.case_id == case_id, notifications.c.rule_id == "N1")
                .order_by(notifications.c.recipient)
            )
        ).all()


async def test_n1_goes_to_whoever_must_sign_next_on_the_stage(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    unit = "350205003"
    await harness.publish(
        stage_started(app_id, case_id, unit=unit, due_at=end_of_day_utc(2026, 11, 20)),
        signed(app_id, case_id, role="handler", at=T0 + timedelta(hours=2), unit=unit),
    )
    await harness.sweep(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))  # Thursday: Y3
    await harness.sweep(datetime(2026, 11, 19, 4, 0, tzinfo=UTC))  # again: nothing new
    # The handler signed: the reviewer is the one who must act before Friday.
    assert [r.recipient for r in await n1_reminders(harness, case_id)] == [
        f"reviewer@{unit}",
        f"supervisor@{unit}",
    ]


async def test_n1_names_the_handler_review_named_on_the_stage(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    unit = "350205004"
    due = end_of_day_utc(2026, 11, 20)
    base = {"case_id": case_id, "application_id": app_id, "level": "street", "unit": unit}
    suspension = uuid.uuid4()
    # One at a time: a resumption handled before its suspension would leave the stage
    # suspended (the consumer does not order events of one application).
    await harness.publish(stage_started(app_id, case_id, unit=unit, due_at=due))
    await harness.publish(
        ev.ReviewStageSuspended(
            **base,
            stage="street_initial",
            suspension_id=suspension,
            reason="缺户口簿",
            suspended_by="clerk-wang",
            suspended_at=T0 + timedelta(hours=1),
            resumes_by=T0 + timedelta(days=14),
        )
    )
    await harness.publish(
        ev.ReviewStageResumed(
            **base,
            stage="street_initial",
            suspension_id=suspension,
            resumed_at=T0 + timedelta(hours=3),
            automatic=True,
            suspended_working_days=0,
            due_at=due,
        ),
    )
    await harness.sweep(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))  # Thursday: Y3
    # The handler who suspended it must sign: the reminder names that person.
    assert [r.recipient for r in await n1_reminders(harness, case_id)] == [
        "staff:clerk-wang",
        f"supervisor@{unit}",
    ]


async def test_stage_clock_y3_then_r8_then_cleared_by_completion(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    unit = "350205001"
    # Due Friday 2026-11-20 (end of day in Xiamen): Y3 from Thursday, R8 from Saturday.
    await harness.publish(
        stage_started(app_id, case_id, unit=unit, due_at=end_of_day_utc(2026, 11, 20))
    )
    await harness.sweep(datetime(2026, 11, 18, 8, 0, tzinfo=UTC))  # Wednesday: nothing yet
    assert await lights(harness, case_id=case_id) == []
    await harness.sweep(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))  # Thursday 10:00
    assert await lights(harness, case_id=case_id) == [("Y3", "open")]
    await harness.sweep(datetime(2026, 11, 19, 3, 0, tzinfo=UTC))  # idempotent
    assert await lights(harness, case_id=case_id) == [("Y3", "open")]
    # N1: one SMS reminder goes with the yellow light, however often the sweep runs, to the
    # unit's supervisor and to the handler who must sign first (nobody has signed yet).
    reminders = await n1_reminders(harness, case_id)
    assert [(r.kind, r.unit, r.recipient) for r in reminders] == [
        ("stage_deadline", unit, f"handler@{unit}"),
        ("stage_deadline", unit, f"supervisor@{unit}"),
    ]
    assert all("2026-11-20" in r.message for r in reminders)
    await harness.sweep(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))  # Saturday: past due
    assert await lights(harness, case_id=case_id) == [("R8", "open"), ("Y3", "cleared")]
    # review's own overdue event for the same stage: the same condition, no second R8.
    await harness.publish(
        ev.ReviewStageOverdue(
            case_id=case_id,
            application_id=app_id,
            stage="street_initial",
            level="street",
            unit=unit,
            due_at=end_of_day_utc(2026, 11, 20),
            detected_at=datetime(2026, 11, 21, 1, 0, tzinfo=UTC),
        )
    )
    assert await lights(harness, case_id=case_id) == [("R8", "open"), ("Y3", "cleared")]
    await harness.publish(
        stage_completed(
            app_id,
            case_id,
            unit=unit,
            overdue=True,
            days=6,
            at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        )
    )
    assert await lights(harness, case_id=case_id) == [("R8", "cleared"), ("Y3", "cleared")]
    await harness.sweep(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert await lights(harness, case_id=case_id) == [("R8", "cleared"), ("Y3", "cleared")]


async def test_suspension_stops_the_clock(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    unit = "350205002"
    await harness.publish(
        stage_started(app_id, case_id, unit=unit, due_at=end_of_day_utc(2026, 11, 20))
    )
    await harness.sweep(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))
    assert await lights(harness, case_id=case_id) == [("Y3", "open")]
    suspension = uuid.uuid4()
    base = {
        "case_id": case_id,
        "application_id": app_id,
        "stage": "street_initial",
        "level": "street",
        "unit": unit,
        "suspension_id": suspension,
    }
    await harness.publish(
        ev.ReviewStageSuspended(
            **base,
            reason="补交收入证明",
            suspended_by="clerk-9",
            suspended_at=datetime(2026, 11, 19, 3, 0, tzinfo=UTC),
            resumes_by=end_of_day_utc(2026, 12, 3),
        )
    )
    assert await lights(harness, case_id=case_id) == [("Y3", "cleared")]
    await harness.sweep(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # past the old deadline
    assert await lights(harness, case_id=case_id) == [("Y3", "cleared")]
    # Resumed with the deadline moved by the suspended days: no light until it nears.
    await harness.publish(
        ev.ReviewStageResumed(
            **base,
            resumed_at=datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
            automatic=False,
            resumed_by="clerk-9",
            suspended_working_days=3,
            due_at=end_of_day_utc(2026, 11, 25),
        )
    )
    await harness.sweep(
        datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    )  # Tuesday: the day before the new deadline
    assert await lights(harness, case_id=case_id) == [("Y3", "cleared"), ("Y3", "open")]


async def test_y2_no_material_after_the_grace_day_and_cleared_by_upload(harness: Harness) -> None:
    app = accepted("350203005")  # accepted Monday 09:00, grace 1 working day: Tuesday
    await harness.publish(app)
    await harness.sweep(datetime(2026, 11, 17, 8, 0, tzinfo=UTC))  # Tuesday 16:00
    assert await lights(harness, application_id=app.application_id) == []
    await harness.sweep(datetime(2026, 11, 18, 1, 0, tzinfo=UTC))  # Wednesday
    assert await lights(harness, application_id=app.application_id) == [("Y2", "open")]
    await harness.publish(uploaded(app.application_id, 512))
    assert await lights(harness, application_id=app.application_id) == [("Y2", "cleared")]


async def test_r6_empty_department_answer(harness: Harness) -> None:
    app_id, request_id = uuid.uuid4(), uuid.uuid4()
    event = ev.VerificationAnswerEmpty(
        case_id=uuid.uuid4(),
        application_id=app_id,
        request_id=request_id,
        department="real_estate",
        answered_at=T0,
    )
    await harness.publish(event)
    await harness.publish(ev.VerificationAnswerEmpty.model_validate(event.model_dump()))
    async with harness.alerting.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(alerts).where(alerts.c.application_id == app_id))
        ).all()
    assert [(r.rule_id, r.department, r.unit) for r in rows] == [("R6", "real_estate", "350200")]


async def test_f2_parameters_changed_without_approval_until_approved(harness: Harness) -> None:
    def change(version: int, approved: bool) -> ev.VerificationParametersChanged:
        return ev.VerificationParametersChanged(
            parameter_set_id=uuid.uuid4(),
            city="350200",
            category="migrant_worker",
            version=version,
            changes=[
                ev.ParameterChange(name="max_monthly_income_per_capita", old="6000", new="9000")
            ],
            proposed_by="admin-1",
            proposed_at=T0,
            approved=approved,
            approved_by="leader-1" if approved else None,
            approved_at=T0 + timedelta(days=1) if approved else None,
            effective_from=date(2026, 12, 1),
        )

    scope_key = "app:-|case:-|stage:-|scope:category:migrant_worker"
    await harness.publish(change(7, approved=False))
    assert await lights(harness, condition_key=scope_key) == [("F2", "open")]
    await harness.publish(change(8, approved=True))
    assert await lights(harness, condition_key=scope_key) == [("F2", "cleared")]


async def test_r7_short_publicity_opened_then_closed_early_is_one_alert(harness: Harness) -> None:
    notice_id = uuid.uuid4()
    apps = [uuid.uuid4()]
    await harness.publish(publicity_opened(apps, unit="350211", days=5, notice_id=notice_id))
    await harness.publish(
        ev.PublicityClosed(
            notice_id=notice_id,
            kind="qualification",
            application_ids=apps,
            opened_at=T0,
            closed_at=T0 + timedelta(days=3),
            closed_early=True,
            override_by="admin-2",
            reason="系统调整",
        )
    )
    key = f"app:-|case:-|stage:-|scope:notice:{notice_id}"
    assert await lights(harness, condition_key=key) == [("R7", "open")]
    # A proper 7-day notice raises nothing.
    fine = uuid.uuid4()
    await harness.publish(publicity_opened([uuid.uuid4()], unit="350211", notice_id=fine))
    assert await lights(harness, condition_key=f"app:-|case:-|stage:-|scope:notice:{fine}") == []


async def test_f3_qualified_not_published_in_time_then_published(harness: Harness) -> None:
    app_id, case_id = uuid.uuid4(), uuid.uuid4()
    await harness.publish(
        ev.ApplicationQualified(
            application_id=app_id,
            case_id=case_id,
            tracking_no="XM2026-000777",
            city="350200",
            district="350211",
            street="350211001",
            category="low_income_family",
            member_count=2,
            applicant_name_masked="张*丰",
            qualified_at=T0,
        )
    )
    await harness.sweep(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # 5 working days not over
    assert await lights(harness, application_id=app_id) == []
    await harness.sweep(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert await lights(harness, application_id=app_id) == [("F3", "open")]
    await harness.publish(
        publicity_opened([app_id], unit="350200", at=datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    )
    assert await lights(harness, application_id=app_id) == [("F3", "cleared")]


async def test_f5_objection_conclusion_overdue_then_concluded(harness: Harness) -> None:
    app_id, objection_id, notice_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await harness.publish(
        ev.ObjectionFiled(
            objection_id=objection_id,
            notice_id=notice_id,
            application_id=app_id,
            channel="online",
            anonymous=True,
            filed_at=T0,
            conclude_by=date(2026, 11, 20),
        )
    )
    await harness.sweep(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    assert await lights(harness, application_id=app_id) == []
    await harness.sweep(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    assert await lights(harness, application_id=app_id) == [("F5", "open")]
    await harness.publish(
        ev.ObjectionConcluded(
            objection_id=objection_id,
            notice_id=notice_id,
            application_id=app_id,
            outcome="dismissed",
            conclusion="经核查，异议不成立。",
            concluded_by="city-clerk-1",
            concluded_at=datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
        )
    )
    assert await lights(harness, application_id=app_id) == [("F5", "cleared")]


async def test_withdrawal_ends_clock_lights_but_not_past_facts(harness: Harness) -> None:
    app = accepted("350203007", receipt_no=None)  # R1, a past fact
    case_id = uuid.uuid4()
    await harness.publish(app)
    await harness.publish(
        stage_started(
            app.application_id, case_id, unit="350203007", due_at=end_of_day_utc(2026, 11, 20)
        )
    )
    await harness.sweep(datetime(2026, 11, 19, 2, 0, tzinfo=UTC))
    assert await lights(harness, application_id=app.application_id) == [
        ("R1", "open"),
        ("Y2", "open"),
        ("Y3", "open"),
    ]
    await harness.publish(
        ev.ApplicationWithdrawn(
            application_id=app.application_id,
            tracking_no=app.tracking_no,
            initiated_by="applicant",
            withdrawn_by="portal-user",
            withdrawn_at=datetime(2026, 11, 19, 3, 0, tzinfo=UTC),
        )
    )
    assert await lights(harness, application_id=app.application_id) == [
        ("R1", "open"),
        ("Y2", "cleared"),
        ("Y3", "cleared"),
    ]
    await harness.sweep(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # no R8 for a withdrawn case
    assert await lights(harness, application_id=app.application_id) == [
        ("R1", "open"),
        ("Y2", "cleared"),
        ("Y3", "cleared"),
    ]


async def test_openapi_documents_the_api(harness: Harness) -> None:
    spec = (await harness.client.get("/openapi.json")).json()
    assert {
        "/rules",
        "/alerts",
        "/tickets",
        "/tickets/{ticket_id}/report",
        "/cockpit",
        "/reports/batches/{batch}",
        "/notifications",
    } <= set(spec["paths"])


async def test_lights_and_tickets_reach_the_broker(harness: Harness) -> None:
    app = accepted("350203009", receipt_no=None)
    async with event_tap(harness.infra, harness.alerting, ("alert.#", "ticket.#")) as tap:
        await harness.publish(app)
        raised = await tap.wait_for("alert.raised", app.application_id)
        opened = await tap.wait_for("ticket.opened", app.application_id)
    seen = [(raised.type, raised.producer), (opened.type, opened.producer)]
    assert sorted(seen) == [("alert.raised", "alerting"), ("ticket.opened", "alerting")]

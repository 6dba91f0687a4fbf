"""The annual re-review (年度复核) on the real broker and database: tenancy asks, verification
fans out to every department again with ``purpose = re_review`` about the household it
verified at admission, and answers with ``verification.rereview_completed`` — never with
``verification.completed``, the event review (and credit) decide on."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from services.verification.commands import complete_case
from services.verification.tables import department_requests, verification_cases
from shared.clock import now
from shared.events.catalogue import ApplicationAccepted, TenancyRereviewRequested
from simulators.departments import Behaviour, answering
from tests.harness import emitted, publish, publish_and_handle, wait_for
from tests.integration.verification.helpers import (
    accepted,
    answer_http,
    dept_token,
    events_of,
    requests_sent,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

CATEGORY = "low_income_family"  # admission 4500 yuan per capita, continuation 5400


def rereview(event: ApplicationAccepted, campaign: int = 2027) -> TenancyRereviewRequested:
    return TenancyRereviewRequested(
        lease_id=uuid.uuid4(),
        application_id=event.application_id,
        household_reference=event.tracking_no,
        campaign=campaign,
        deadline=date(campaign, 6, 30),
        requested_at=now(),
    )


async def cases_of(svc: RunningService, application_id: uuid.UUID) -> dict[str, Any]:
    c = verification_cases
    async with svc.runtime.engine.connect() as conn:
        rows = (await conn.execute(sa.select(c).where(c.c.application_id == application_id))).all()
    return {row.purpose: row for row in rows}


async def requests_of_case(svc: RunningService, case_id: uuid.UUID) -> dict[str, Any]:
    r = department_requests
    async with svc.runtime.engine.connect() as conn:
        rows = (await conn.execute(sa.select(r).where(r.c.case_id == case_id))).all()
    return {row.department: row for row in rows}


async def case_of(svc: RunningService, application_id: uuid.UUID, purpose: str) -> Any:
    async def found() -> Any:
        return (await cases_of(svc, application_id)).get(purpose)

    return await wait_for(found, what=f"{purpose} case")


def income(ref: str, amount: str) -> dict[str, object]:
    return {"member_ref": ref, "kind": "income", "monthly_amount": amount, "source": "wages"}


def answers_for(
    event: ApplicationAccepted, incomes: tuple[str, str], assistance: str | None = None
) -> dict[str, dict[str, Any]]:
    """Bodies per department: wages from tax, local hukou, optionally a civil-affairs status;
    every other department has nothing on record."""
    a, b = (m.member_id_hash for m in event.household.members)
    bodies: dict[str, dict[str, Any]] = {
        "tax": {"no_record": False, "findings": [income(a, incomes[0]), income(b, incomes[1])]},
        "public_security": {
            "no_record": False,
            "findings": [
                {"member_ref": a, "kind": "hukou", "division": "350203", "residence_permit": True}
            ],
        },
    }
    if assistance is not None:
        bodies["civil_affairs"] = {
            "no_record": False,
            "findings": [{"member_ref": a, "kind": "assistance", "status": assistance}],
        }
    return bodies


async def answer_all(
    svc: RunningService, requests: dict[str, Any], bodies: dict[str, dict[str, Any]]
) -> None:
    for dept, request in requests.items():
        response = await answer_http(
            svc.client, dept, request.request_id, bodies.get(dept, {"no_record": True})
        )
        assert response.status_code == 201, response.text


async def verified(
    svc: RunningService, incomes: tuple[str, str] = ("3200.00", "2800.00")
) -> ApplicationAccepted:
    """An application verified at admission (answers over HTTP), its case completed."""
    event = accepted(CATEGORY)
    await publish(svc, event)
    case = await case_of(svc, event.application_id, "admission")
    await answer_all(svc, await requests_of_case(svc, case.case_id), answers_for(event, incomes))
    done = await emitted(svc, "verification.completed", event.application_id)
    assert [d["recommendation"] for d in done] == ["eligible"], done
    return event


async def rereviewed(
    svc: RunningService, event: ApplicationAccepted, bodies: dict[str, dict[str, Any]]
) -> tuple[TenancyRereviewRequested, dict[str, Any]]:
    asked = rereview(event)
    await publish_and_handle(svc, asked, producer="tenancy")
    case = await case_of(svc, event.application_id, "re_review")
    await answer_all(svc, await requests_of_case(svc, case.case_id), bodies)
    (completed,) = await emitted(svc, "verification.rereview_completed", event.application_id)
    return asked, completed


def verdicts(completed: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["result"], c["reason"]) for c in completed["checks"]}


async def test_a_rereview_asks_every_department_again_about_the_same_people(
    svc: RunningService,
) -> None:
    event = await verified(svc)
    asked = rereview(event)
    await publish_and_handle(svc, asked, producer="tenancy")
    cases = await cases_of(svc, event.application_id)
    admission, again = cases["admission"], cases["re_review"]
    assert again.case_id != admission.case_id
    assert (again.lease_id, again.campaign, again.status) == (asked.lease_id, 2027, "open")
    assert again.declared == admission.declared and again.category == CATEGORY

    before = await requests_of_case(svc, admission.case_id)
    now_asked = await requests_of_case(svc, again.case_id)
    departments = [d.code for d in svc.runtime.city.verifying_departments(CATEGORY)]
    assert sorted(now_asked) == sorted(departments) and len(departments) == 12
    # The same people with the same minimal fields per department as at admission.
    for dept in departments:
        assert now_asked[dept].subjects == before[dept].subjects, dept

    sent = await requests_sent(svc.runtime, event.application_id)
    rows = [(r, data) for r, data in sent if data["case_id"] == str(again.case_id)]
    assert sorted(r.routing_key for r, _ in rows) == sorted(f"request.{d}" for d in departments)
    assert {data["purpose"] for _, data in rows} == {"re_review"}
    # Admission requests are what departments always received: no purpose field at all.
    first = [data for _, data in sent if data["case_id"] == str(admission.case_id)]
    assert len(first) == 12 and all("purpose" not in d for d in first)
    started = await emitted(svc, "verification.started", event.application_id)
    assert [s["purpose"] for s in started] == ["admission", "re_review"]

    # The HTTP alternative shows the purpose too.
    response = await svc.client.get(
        "/departments/tax/requests", params={"status": "pending"}, headers=dept_token("tax")
    )
    assert response.status_code == 200
    mine = [i for i in response.json()["items"] if i["case_id"] == str(again.case_id)]
    assert [i["purpose"] for i in mine] == ["re_review"]

    # A re-published request (a new event id, the same campaign) opens nothing more.
    await publish_and_handle(svc, asked, producer="tenancy")
    assert len(await events_of(svc.runtime, "verification.started", event.application_id)) == 2


async def test_an_unchanged_household_continues_in_the_low_income_band(
    svc: RunningService,
) -> None:
    event = await verified(svc)
    asked, completed = await rereviewed(svc, event, answers_for(event, ("3300.00", "2900.00")))
    case = (await cases_of(svc, event.application_id))["re_review"]
    assert completed["lease_id"] == str(asked.lease_id)
    assert completed["case_id"] == str(case.case_id) and completed["campaign"] == 2027
    assert completed["household_found"] is True
    assert completed["income_band"] == "low_income"
    assert completed["meets_continuation"] is True
    assert completed["missing_departments"] == []
    assert verdicts(completed) == {
        "income": ("passed", "within_limit"),
        "housing_area": ("passed", "within_limit"),
        "financial_assets": ("passed", "within_limit"),
        "vehicle_value": ("passed", "within_limit"),
        "business_capital": ("passed", "within_limit"),
    }
    assert {c["check"]: c["source"] for c in completed["checks"]}["financial_assets"] == (
        "declared_at_admission"
    )
    assert case.status == "completed" and case.result == completed
    # Minimal personal data: no incomes, no names, no ID numbers in the answer to tenancy.
    text = orjson.dumps(completed).decode()
    for member in event.household.members:
        assert member.resident_id not in text and member.name not in text
        assert member.member_id_hash not in text
    assert "3300" not in text and "3100" not in text


async def test_income_past_admission_but_within_continuation_continues_in_another_band(
    svc: RunningService,
) -> None:
    event = await verified(svc)
    # 5 400.00 per capita: above admission's 4 500, exactly at continuation's limit.
    _, completed = await rereviewed(svc, event, answers_for(event, ("5600.00", "5200.00")))
    assert completed["income_band"] == "other"
    assert completed["meets_continuation"] is True
    assert verdicts(completed)["income"] == ("passed", "within_limit")


async def test_income_past_continuation_fails(svc: RunningService) -> None:
    event = await verified(svc)
    # 5 400.01 per capita: one cent over the continuation limit.
    _, completed = await rereviewed(svc, event, answers_for(event, ("5600.01", "5200.01")))
    assert completed["income_band"] == "other"
    assert completed["meets_continuation"] is False
    assert verdicts(completed)["income"] == ("failed", "above_limit")
    assert {k for k, (result, _) in verdicts(completed).items() if result == "failed"} == {"income"}


async def test_a_subsistence_status_gives_the_subsistence_band(svc: RunningService) -> None:
    event = await verified(svc)
    _, completed = await rereviewed(
        svc, event, answers_for(event, ("900.00", "0.00"), assistance="minimum_living")
    )
    assert completed["income_band"] == "subsistence"
    assert completed["meets_continuation"] is True


async def test_silent_income_departments_leave_band_and_verdict_open(
    svc: RunningService,
) -> None:
    event = await verified(svc)
    await publish_and_handle(svc, rereview(event), producer="tenancy")
    case = await case_of(svc, event.application_id, "re_review")
    requests = await requests_of_case(svc, case.case_id)
    silent = {"tax", "hr_social_security"}
    await answer_all(svc, {d: r for d, r in requests.items() if d not in silent}, {})
    # The last deadline passes (the sweep's step, run here on the locked case).
    async with svc.runtime.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(verification_cases)
                .where(verification_cases.c.case_id == case.case_id)
                .with_for_update()
            )
        ).one()
        await complete_case(uow, row, svc.runtime.city)
        await uow.commit()
    (completed,) = await emitted(svc, "verification.rereview_completed", event.application_id)
    assert completed["income_band"] is None
    assert completed["meets_continuation"] is None
    assert verdicts(completed)["income"] == ("unverified", "no_department_answer")
    assert completed["missing_departments"] == ["hr_social_security", "tax"]


async def test_an_unknown_application_is_answered_with_no_household(svc: RunningService) -> None:
    asked = TenancyRereviewRequested(
        lease_id=uuid.uuid4(),
        application_id=uuid.uuid4(),
        household_reference="XM2019-000777",
        campaign=2027,
        deadline=date(2027, 6, 30),
        requested_at=now(),
    )
    await publish_and_handle(svc, asked, producer="tenancy")
    (completed,) = await emitted(svc, "verification.rereview_completed", asked.application_id)
    assert completed == {
        "lease_id": str(asked.lease_id),
        "application_id": str(asked.application_id),
        "campaign": 2027,
        "case_id": None,
        "household_found": False,
        "completed_at": completed["completed_at"],
        "checks": [],
        "income_band": None,
        "meets_continuation": None,
        "missing_departments": [],
    }
    assert await cases_of(svc, asked.application_id) == {}
    assert await requests_sent(svc.runtime, asked.application_id) == []


async def test_review_hears_nothing_of_a_rereview(svc: RunningService) -> None:
    event = await verified(svc)
    await rereviewed(svc, event, answers_for(event, ("6000.00", "6000.00")))
    # Review decides on verification.completed only: the admission's one stays the only one.
    completed = await emitted(svc, "verification.completed", event.application_id)
    assert len(completed) == 1
    assert completed[0]["case_id"] == str(
        (await cases_of(svc, event.application_id))["admission"].case_id
    )
    # And the application's case view is still its admission case.
    response = await svc.client.get(
        f"/verifications/{event.application_id}",
        headers=token("city_clerk", org="350200"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["case_id"] == completed[0]["case_id"]


async def test_simulated_departments_answer_a_rereview_as_they_answered_admission(
    svc: RunningService,
) -> None:
    settings = svc.runtime.settings
    departments = [d.code for d in svc.runtime.city.verifying_departments(CATEGORY)]
    async with answering(
        departments,
        amqp_url=settings.amqp_url,
        exchange=settings.verification_exchange,
        queue_prefix=settings.queue_prefix,
        behaviour=Behaviour(latency_ms=0),
    ):
        event = accepted(CATEGORY)
        await publish(svc, event)
        (admitted,) = await wait_for(
            lambda: emitted(svc, "verification.completed", event.application_id), timeout=60
        )
        await publish(svc, rereview(event), producer="tenancy")
        (completed,) = await wait_for(
            lambda: emitted(svc, "verification.rereview_completed", event.application_id),
            timeout=60,
        )
    cases = await cases_of(svc, event.application_id)
    first = await requests_of_case(svc, cases["admission"].case_id)
    again = await requests_of_case(svc, cases["re_review"].case_id)
    assert {d: r.channel for d, r in again.items()} == {d: "amqp" for d in departments}
    for dept in departments:
        assert (again[dept].no_record, again[dept].findings) == (
            first[dept].no_record,
            first[dept].findings,
        ), dept
    assert completed["missing_departments"] == []

    # The same records give the band the admission profile implies.
    profile = admitted["profile"]
    per_capita = Decimal(profile["per_capita_monthly_income"])
    if profile["assistance_status"] in ("minimum_living", "extreme_poverty"):
        band = "subsistence"
    elif profile["assistance_status"] == "low_income" or per_capita <= Decimal("4500"):
        band = "low_income"
    else:
        band = "other"
    assert completed["income_band"] == band
    expected_income = "passed" if per_capita <= Decimal("5400") else "failed"
    assert verdicts(completed)["income"][0] == expected_income

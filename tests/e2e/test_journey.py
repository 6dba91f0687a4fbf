"""The happy-path journey of one family through all six services (issue 9, item 1).

All six services run in-process in one system, talking over the real broker and each on its
own PostgreSQL database. The test acts only through public interfaces: the portal and the
clerks call the HTTP APIs, the eight departments answer over the department AMQP contract
(``simulators.sdk``), the public files an objection and asks for progress, and the provincial
supervision platform is the reference receiver on a real port. The in-process clock, shared by
all six services, is moved past the publicity period so the notice closes.

Reads of service databases are limited to the audit chains (verified with
``shared.audit.verify``) and the alerting inbox, used as a barrier that alerting has caught up
before asserting that it raised nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep
from services.publication.sweeps import notice_sweep
from shared.audit import verify
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.clock import clock, now
from shared.db import UnitOfWork
from shared.scheduler import run_once
from shared.settings import SERVICES
from shared.tables import inbox
from simulators.sdk import DepartmentClient
from tests.conftest import Infra
from tests.e2e.journey_support import (
    MATERIALS,
    HonestDepartment,
    application_body,
    environment,
    eventually,
    province_receiver,
)
from tests.examples import resident_id
from tests.integration.review.support import sign_stage
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.e2e

STREET = "350203001"  # 厦港街道, 思明区
CATEGORY = "newly_employed"  # verified by the default eight departments
PROVINCE_SECRET = "e2e-province-secret"
PDF = b"%PDF-1.4 journey material "

PORTAL = token("applicant", org="350200", sub="resident-journey", name="张三丰")
STREET_CLERK = token("street_clerk", org=STREET, sub="clerk-journey", name="王经办")
CITY_CLERK = token("city_clerk", org="350200", sub="city-clerk-journey")
CITY_REVIEWER = token("city_reviewer", org="350200", sub="city-reviewer-journey")
SUPERVISOR = token("supervisor", org="350200", sub="supervisor-journey")
INSPECTOR = token("discipline_inspector", org="350000", sub="inspector-journey")


class Journey:
    def __init__(self, services: dict[str, RunningService]) -> None:
        self.svc = services

    def client(self, name: str) -> Any:
        return self.svc[name].client

    async def progress(self, tracking_no: str, id_tail: str) -> dict[str, Any] | None:
        response = await self.client("publication").get(
            "/public/progress", params={"tracking_no": tracking_no, "id_tail": id_tail}
        )
        return response.json() if response.status_code == 200 else None


@pytest.fixture(scope="module")
async def journey(infra: Infra) -> AsyncIterator[tuple[Journey, Any, list[HonestDepartment]]]:
    async with AsyncExitStack() as stack:
        receiver, url = await stack.enter_async_context(province_receiver(PROVINCE_SECRET))
        stack.enter_context(
            environment(
                {
                    # The sweeps this journey needs are run by the test itself.
                    "HOUSING_VERIFICATION_DEADLINE_SWEEP_SECONDS": "3600",
                    "HOUSING_ALERTING_SWEEP_SECONDS": "3600",
                    "HOUSING_PUBLICATION_NOTICE_SWEEP_SECONDS": "3600",
                    "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": json.dumps(
                        [{"name": "province", "url": url, "secret": PROVINCE_SECRET}]
                    ),
                    "HOUSING_PUBLICATION_PUSH_INTERVAL_SECONDS": "0.3",
                    "HOUSING_PUBLICATION_PUSH_BACKOFF_SECONDS": "0.3",
                    "HOUSING_PUBLICATION_PROGRESS_BURST": "1000",
                    "HOUSING_PUBLICATION_PROGRESS_PER_MINUTE": "1000",
                }
            )
        )
        services: dict[str, RunningService] = {}
        for name in SERVICES:
            services[name] = await stack.enter_async_context(
                running_service(infra, name, system="journey")
            )
        settings = services["verification"].runtime.settings
        departments = [HonestDepartment(d) for d in DEFAULT_VERIFYING_DEPARTMENTS]
        clients = [
            DepartmentClient(
                department=d.department,
                amqp_url=settings.amqp_url,
                handler=d,
                exchange=settings.verification_exchange,
                queue_prefix=settings.queue_prefix,
            )
            for d in departments
        ]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 30)
            yield Journey(services), receiver, departments
        finally:
            for c in clients:
                c.stop()
            await asyncio.gather(*tasks)


async def test_a_family_goes_from_online_application_to_qualification(
    journey: tuple[Journey, Any, list[HonestDepartment]],
) -> None:
    j, receiver, departments = journey
    applicant_id = resident_id(birth="19900101", serial=f"{uuid.uuid4().int % 1000:03d}")
    spouse_id = resident_id(birth="19920315", serial="246")
    id_tail = applicant_id[-4:]

    # -- the portal: online application and its materials ----------------------------------
    intake = j.client("intake")
    created = await intake.post(
        "/applications",
        json=application_body(applicant_id, spouse_id, category=CATEGORY, street=STREET),
        headers={**PORTAL, "Idempotency-Key": "journey-apply"},
    )
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    tracking_no = created.json()["tracking_no"]
    for code in MATERIALS:
        uploaded = await intake.post(
            f"/applications/{app_id}/materials",
            params={"material_type": code, "file_name": f"{code}.pdf"},
            content=PDF + code.encode(),
            headers={**PORTAL, "Content-Type": "application/pdf"},
        )
        assert uploaded.status_code == 201, uploaded.text

    # -- the street clerk accepts with a receipt -------------------------------------------
    accepted = await intake.post(
        f"/applications/{app_id}/accept",
        json={},
        headers={**STREET_CLERK, "Idempotency-Key": "journey-accept"},
    )
    assert accepted.status_code == 201, accepted.text
    receipt = accepted.json()
    assert receipt["receipt_no"].startswith(f"SL{STREET}-")
    assert receipt["materials_complete"] is True and receipt["materials_missing"] == []

    # -- eight departments answer in parallel over AMQP -------------------------------------
    async def all_asked() -> bool:
        return all(len(d.requests) == 1 for d in departments)

    await eventually(all_asked, 20, "a request to each of the eight departments")
    assert {str(d.requests[0].application_id) for d in departments} == {app_id}

    # -- review: the case reaches the street clerk with the verification result -------------
    review = j.client("review")

    async def task() -> dict[str, Any] | None:
        items = (await review.get("/tasks", headers=STREET_CLERK)).json()["items"]
        return next((t for t in items if t["application_id"] == app_id), None)

    case_id = (await eventually(task, 20, "the street clerk's review task"))["case_id"]

    async def verified() -> dict[str, Any] | None:
        view = (await review.get(f"/cases/{case_id}", headers=STREET_CLERK)).json()
        return view if view.get("verification") else None

    view = await eventually(verified, 20, "the verification result on the case")
    assert view["verification"]["recommendation"] == "eligible", view["verification"]
    assert view["applicant_name_masked"] == "张*丰"

    # Street, district and city signatures in their statutory order.
    await sign_stage(
        review,
        uuid.UUID(case_id),
        "street_initial",
        "street",
        ["handler", "reviewer"],
        street=STREET,
    )
    await sign_stage(
        review,
        uuid.UUID(case_id),
        "district_review",
        "district",
        ["handler", "reviewer"],
        street=STREET,
    )
    signed = await sign_stage(
        review,
        uuid.UUID(case_id),
        "city_confirmation",
        "city",
        ["handler", "reviewer", "leader"],
        street=STREET,
    )
    assert signed[-1]["stage_status"] == "completed", signed[-1]

    # -- publicity: the public sees "qualified, awaiting publicity", the city opens a notice --
    async def decided() -> dict[str, Any] | None:
        answer = await j.progress(tracking_no, id_tail)
        return answer if answer and answer["stage"] == "qualified" else None

    await eventually(decided, 20, "the decision in the public progress")
    publication = j.client("publication")
    notice = await publication.post(
        "/notices",
        json={"kind": "qualification", "unit": STREET, "batch": "journey", "days": 7},
        headers={**CITY_CLERK, "Idempotency-Key": "journey-notice"},
    )
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    assert (notice.json()["status"], notice.json()["entry_count"]) == ("open", 1)
    detail = (await publication.get(f"/public/notices/{notice_id}")).json()
    [entry] = detail["entries"]["items"]
    assert entry["name_masked"] == "张*丰"
    assert applicant_id not in json.dumps(detail, ensure_ascii=False)

    async def in_publicity() -> dict[str, Any] | None:
        case = (await review.get(f"/cases/{case_id}", headers=STREET_CLERK)).json()
        return case if case["status"] == "in_publicity" else None

    await eventually(in_publicity, 20, "the case in publicity")
    during = await j.progress(tracking_no, id_tail)
    assert during is not None
    assert (during["stage"], during["stage_title"]) == ("publicity", "公示中")
    assert during["publicity_opened_at"] is not None
    assert during["publicity_closes_at"] is not None

    # -- the public objects; staff investigate and dismiss ---------------------------------
    objection = await publication.post(
        "/public/objections",
        json={
            "notice_id": notice_id,
            "entry_id": entry["entry_id"],
            "contact": "13912345678",
            "content": "听说该户在本市另有住房一套，请核查。",
        },
    )
    assert objection.status_code == 201, objection.text
    objection_id = objection.json()["objection_id"]
    concluded = await publication.post(
        f"/objections/{objection_id}/conclusion",
        json={
            "outcome": "dismissed",
            "conclusion": "经不动产登记核查，该户名下无住房，异议不成立。",
        },
        headers=CITY_REVIEWER,
    )
    assert concluded.status_code == 200, concluded.text
    public_objection = (await publication.get(f"/public/objections/{objection_id}")).json()
    assert public_objection["outcome_title"] == "异议不成立"

    # -- the publicity period ends: the notice closes and the family is qualified -----------
    alerting = j.svc["alerting"]
    try:
        clock.set(now() + timedelta(days=7, hours=1))
        publication_runtime = j.svc["publication"].runtime

        async def sweep(uow: UnitOfWork) -> None:
            await notice_sweep(publication_runtime.context, uow)

        assert await run_once(publication_runtime, "journey-notice-sweep", sweep)

        async def qualified() -> dict[str, Any] | None:
            case = (await review.get(f"/cases/{case_id}", headers=STREET_CLERK)).json()
            return case if case["status"] == "qualified" else None

        await eventually(qualified, 20, "the qualification after the notice closed")

        # Alerting has handled application.qualified: it is up to date with this journey.
        async def alerting_saw_qualification() -> bool:
            async with alerting.runtime.engine.connect() as conn:
                return bool(
                    await conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(inbox)
                        .where(inbox.c.type == "application.qualified")
                    )
                )

        await eventually(alerting_saw_qualification, 20, "alerting handling the qualification")

        # Its clock rules, run at the moved clock, find nothing late either.
        async def tick(uow: UnitOfWork) -> None:
            await clock_sweep(uow, rule_config())

        assert await run_once(alerting.runtime, "journey-alerting-sweep", tick)

        # The province received the key events. (Still at the moved clock: events logged for the
        # push while it was moved are due at that time, and a clock moved back would hold them.)
        wanted = {
            "application.accepted",
            "publicity.opened",
            "objection.filed",
            "objection.concluded",
            "publicity.closed",
            "application.qualified",
        }

        async def pushed() -> list[str] | None:
            types = [p["type"] for p in receiver.received if p["stream"] == f"application:{app_id}"]
            return types if wanted <= set(types) else None

        pushed_types = await eventually(pushed, 20, "the provincial pushes")
        # Every key event of the application, once each, in the order it happened.
        assert pushed_types == [
            "application.accepted",
            "review.stage_started",
            "verification.completed",
            "review.stage_completed",
            "review.stage_started",
            "review.stage_completed",
            "review.stage_started",
            "review.stage_completed",
            "review.decided",
            "publicity.opened",
            "objection.filed",
            "objection.concluded",
            "publicity.closed",
            "application.qualified",
        ]
        assert receiver.rejected_signatures == 0
        assert applicant_id not in json.dumps(receiver.received, ensure_ascii=False)
    finally:
        clock.reset()

    # -- no alerts on the happy path ---------------------------------------------------------
    for reader in (SUPERVISOR, INSPECTOR):
        listed = await alerting.client.get("/alerts", params={"status": "all"}, headers=reader)
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 0, listed.json()["items"]

    # -- the public progress answers at the end -----------------------------------------------
    final = await j.progress(tracking_no, id_tail)
    assert final is not None
    assert (final["tracking_no"], final["stage"], final["stage_title"]) == (
        tracking_no,
        "confirmed",
        "资格认定通过，已取得轮候资格",
    )
    assert final["accepted_at"] is not None and final["decided_at"] is not None
    assert final["publicity_opened_at"] is not None and final["publicity_closes_at"] is not None
    assert applicant_id not in json.dumps(final) and "张三丰" not in json.dumps(final)
    assert (await j.progress(tracking_no, "0000")) is None

    # -- every service's audit chain verifies ------------------------------------------------
    for name, running in j.svc.items():
        async with running.runtime.engine.connect() as conn:
            result = await verify(conn)
        assert result.ok, (name, result)
        if name in ("intake", "review", "publication"):  # staff acted there on this path
            assert result.checked > 0, name

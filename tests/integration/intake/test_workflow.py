"""After submission: materials, acceptance receipts, supplement notices, withdrawal, refusal,
and reads, on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.intake.sweeps import overdue_notices
from services.intake.tables import materials, supplement_notices
from shared.audit import audit_log
from shared.city import CORE_MATERIALS
from shared.clock import clock, today_shanghai
from shared.db import UnitOfWork
from shared.problems import problem_type
from shared.scheduler import run_once
from shared.tables import outbox
from shared.workdays import default_calendar
from tests.integration.intake.conftest import (
    MAX_UPLOAD,
    EventTap,
    application_body,
    new_resident_id,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

APPLICANT = token("applicant", org="350200", sub="resident-001")
CLERK = token("street_clerk", org="350203001", sub="clerk-xg", name="王经办")
OTHER_STREET_CLERK = token("street_clerk", org="350206001", sub="clerk-hl", name="林经办")
DISTRICT_CLERK_AS_STREET = token("street_clerk", org="350203", sub="clerk-district")
FAR_REVIEWER = token("district_reviewer", org="350206", sub="rev-huli")
PDF = b"%PDF-1.4 test material "


async def new_application(svc: RunningService, **changes: Any) -> dict[str, Any]:
    response = await svc.client.post(
        "/applications", json=application_body(**changes), headers=APPLICANT
    )
    assert response.status_code == 201, response.text
    return response.json()


async def upload(
    svc: RunningService,
    app_id: str,
    material_type: str,
    content: bytes = PDF,
    *,
    content_type: str = "application/pdf",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await svc.client.post(
        f"/applications/{app_id}/materials",
        params={"material_type": material_type, "file_name": f"{material_type}.pdf"},
        content=content,
        headers={**(headers or APPLICANT), "Content-Type": content_type},
    )


def overdue_sweep(svc: RunningService) -> Callable[[UnitOfWork], Awaitable[None]]:
    """One tick of the overdue-notice sweep with the running service's context."""
    return lambda uow: overdue_notices(svc.runtime.context, uow)


async def outbox_types(svc: RunningService, subject: str) -> list[str]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.type).where(outbox.c.subject == subject).order_by(outbox.c.seq)
        )
        return [r.type for r in rows]


# -- materials ---------------------------------------------------------------------------------


async def test_upload_records_sha256_and_the_same_file_again_is_idempotent(
    intake: RunningService,
) -> None:
    app = await new_application(intake)
    first = await upload(intake, app["id"], "id_card")
    assert first.status_code == 201, first.text
    assert first.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert first.json()["size_bytes"] == len(PDF)
    again = await upload(intake, app["id"], "id_card")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    async with intake.runtime.engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(sa.func.lo_get(materials.c.content_oid)).where(
                    materials.c.application_id == uuid.UUID(app["id"])
                )
            )
        ).scalars()
        assert list(stored) == [PDF]  # one large object, outside the row
    assert await outbox_types(intake, app["id"]) == [
        "application.submitted",
        "application.materials_uploaded",
    ]


@pytest.mark.parametrize(
    ("material_type", "content", "content_type", "status", "ptype", "field"),
    [
        ("id_card", b"x" * (MAX_UPLOAD + 1), "application/pdf", 413, "payload-too-large", "body"),
        ("id_card", PDF, "application/zip", 415, "unsupported-media-type", "Content-Type"),
        ("spaceship_licence", PDF, "application/pdf", 422, "validation", "material_type"),
        ("id_card", b"", "application/pdf", 422, "validation", "body"),
    ],
)
async def test_bad_uploads_are_refused_and_nothing_is_stored(
    intake: RunningService,
    material_type: str,
    content: bytes,
    content_type: str,
    status: int,
    ptype: str,
    field: str,
) -> None:
    app = await new_application(intake)
    response = await upload(intake, app["id"], material_type, content, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.json()["type"] == problem_type(ptype)
    assert response.json()["field"] == field
    assert await outbox_types(intake, app["id"]) == ["application.submitted"]


async def test_someone_else_may_not_upload_to_my_application(intake: RunningService) -> None:
    app = await new_application(intake)
    stranger = token("applicant", org="350200", sub="resident-999")
    response = await upload(intake, app["id"], "id_card", headers=stranger)
    assert response.status_code == 403
    assert await outbox_types(intake, app["id"]) == ["application.submitted"]


# -- acceptance --------------------------------------------------------------------------------


async def test_any_street_in_the_city_accepts_with_a_receipt_and_the_full_household(
    intake: RunningService, tap: EventTap
) -> None:
    ids = [new_resident_id(), new_resident_id()]
    app = await new_application(intake, members=application_body(*ids)["members"])
    for code in CORE_MATERIALS:
        assert (await upload(intake, app["id"], code, PDF + code.encode())).status_code == 201
    # 全城通办: a Huli street clerk accepts a Siming application.
    response = await intake.client.post(
        f"/applications/{app['id']}/accept",
        json={},
        headers={**OTHER_STREET_CLERK, "Idempotency-Key": "accept-1"},
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["receipt_no"].startswith(f"SL350206001-{today_shanghai():%Y}-")
    assert (receipt["accepted_by"], receipt["accepted_by_name"]) == ("clerk-hl", "林经办")
    assert receipt["materials_complete"] is True and receipt["materials_missing"] == []
    assert [m["code"] for m in receipt["materials_received"]] == list(CORE_MATERIALS)
    assert receipt["materials_received"][0]["name"] == "居民身份证"

    replay = await intake.client.post(
        f"/applications/{app['id']}/accept",
        json={},
        headers={**OTHER_STREET_CLERK, "Idempotency-Key": "accept-1"},
    )
    assert replay.json() == receipt
    # A receipt reprinted later shows the same 受理人 as the one printed at the window.
    stored = (await intake.client.get(f"/applications/{app['id']}", headers=CLERK)).json()
    assert (stored["accepted_by"], stored["accepted_by_name"]) == ("clerk-hl", "林经办")

    envelope = await tap.wait_for("application.accepted", app["id"])
    data = envelope.data
    assert data["receipt_no"] == receipt["receipt_no"]
    assert data["materials_complete"] is True and data["incomplete_reason"] is None
    assert [m["resident_id"] for m in data["household"]["members"]] == ids
    assert data["household"]["housing_tenure"] == "private_rental"
    assert data["street"] == "350203001"

    again = await intake.client.post(f"/applications/{app['id']}/accept", json={}, headers=CLERK)
    assert again.status_code == 409
    assert again.json()["type"] == problem_type("invalid-state")


async def test_accepting_incomplete_materials_needs_a_reason_and_says_so(
    intake: RunningService, tap: EventTap
) -> None:
    app = await new_application(intake)
    await upload(intake, app["id"], "id_card")
    refused = await intake.client.post(f"/applications/{app['id']}/accept", json={}, headers=CLERK)
    assert refused.status_code == 422
    assert refused.json()["field"] == "incomplete_reason"
    assert "居民户口簿" in refused.json()["detail"]
    assert await outbox_types(intake, app["id"]) == [
        "application.submitted",
        "application.materials_uploaded",
    ]

    accepted = await intake.client.post(
        f"/applications/{app['id']}/accept",
        json={"incomplete_reason": "申请人年事已高，户口簿由家属次日补交"},
        headers=CLERK,
    )
    assert accepted.status_code == 201
    assert accepted.json()["materials_complete"] is False
    assert [m["code"] for m in accepted.json()["materials_missing"]] == list(CORE_MATERIALS[1:])
    data = (await tap.wait_for("application.accepted", app["id"])).data
    assert data["materials_complete"] is False
    assert data["incomplete_reason"] == "申请人年事已高，户口簿由家属次日补交"


async def test_only_a_street_office_accepts(intake: RunningService) -> None:
    app = await new_application(intake)
    for headers in (DISTRICT_CLERK_AS_STREET, APPLICANT):
        response = await intake.client.post(
            f"/applications/{app['id']}/accept", json={"incomplete_reason": "测试"}, headers=headers
        )
        assert response.status_code == 403
    missing = await intake.client.post(
        f"/applications/{uuid.uuid4()}/accept", json={}, headers=CLERK
    )
    assert missing.status_code == 404
    assert await outbox_types(intake, app["id"]) == ["application.submitted"]


# -- supplement notices ------------------------------------------------------------------------


async def test_one_notice_lists_everything_and_the_application_goes_on_when_it_arrives(
    intake: RunningService, tap: EventTap
) -> None:
    app = await new_application(intake)
    url = f"/applications/{app['id']}/supplement-notice"
    partial = await intake.client.post(url, json={"items": [{"code": "id_card"}]}, headers=CLERK)
    assert partial.status_code == 422
    assert partial.json()["field"] == "items"
    assert "居民户口簿" in partial.json()["detail"]

    items = [{"code": code} for code in CORE_MATERIALS]
    items[0]["note"] = "正反面复印件"
    response = await intake.client.post(url, json={"items": items}, headers=CLERK)
    assert response.status_code == 201, response.text
    notice = response.json()
    expected_deadline = default_calendar().add_workdays(today_shanghai(), 10).date
    assert notice["deadline"] == expected_deadline.isoformat()
    assert notice["n"] == 1 and notice["notice_no"].startswith("BJ350203001-")
    event = await tap.wait_for("application.supplement_requested", app["id"])
    assert [i["code"] for i in event.data["items"]] == list(CORE_MATERIALS)

    second = await intake.client.post(url, json={"items": items}, headers=CLERK)
    assert second.status_code == 409

    page = await intake.client.get(notice["url"], headers=CLERK)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for text in (
        "补件通知单",
        notice["notice_no"],
        "居民身份证",
        "正反面复印件",
        "张三丰",
        "王经办",
    ):
        assert text in html
    assert f"{expected_deadline:%Y年%m月%d日}" in html

    for code in CORE_MATERIALS[:-1]:
        await upload(intake, app["id"], code, PDF + code.encode())
    got = await intake.client.get(f"/applications/{app['id']}", headers=APPLICANT)
    assert got.json()["status"] == "supplement_requested"
    await upload(intake, app["id"], CORE_MATERIALS[-1], PDF + b"last")
    got = await intake.client.get(f"/applications/{app['id']}", headers=APPLICANT)
    assert got.json()["status"] == "submitted"
    assert got.json()["supplement_notices"][0]["status"] == "received"
    received = await tap.wait_for("application.supplement_received", app["id"])
    assert received.data["notice_no"] == notice["notice_no"]


async def test_a_notice_past_its_deadline_is_recorded_and_announced(
    intake: RunningService, tap: EventTap
) -> None:
    app = await new_application(intake)
    items = [{"code": code} for code in CORE_MATERIALS]
    response = await intake.client.post(
        f"/applications/{app['id']}/supplement-notice", json={"items": items}, headers=CLERK
    )
    deadline = response.json()["deadline"]
    await upload(intake, app["id"], "id_card")
    try:
        clock.advance(timedelta(days=30))
        assert await run_once(intake.runtime, "intake.supplement_overdue", overdue_sweep(intake))
    finally:
        clock.reset()
    event = await tap.wait_for("application.supplement_overdue", app["id"])
    assert event.data["deadline"] == deadline
    assert event.data["missing"] == list(CORE_MATERIALS[1:])
    async with intake.runtime.engine.connect() as conn:
        status = await conn.scalar(
            sa.select(supplement_notices.c.status).where(
                supplement_notices.c.application_id == uuid.UUID(app["id"])
            )
        )
        audited = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_log)
            .where(
                audit_log.c.subject_id == app["id"],
                audit_log.c.action == "supplement_notice.overdue",
            )
        )
    assert (status, audited) == ("overdue", 1)
    # Idempotent: a second tick announces nothing more.
    clock.advance(timedelta(days=30))
    try:
        await run_once(intake.runtime, "intake.supplement_overdue", overdue_sweep(intake))
    finally:
        clock.reset()
    assert (await outbox_types(intake, app["id"])).count("application.supplement_overdue") == 1


# -- withdraw and reject -----------------------------------------------------------------------


async def test_withdrawal_needs_a_reason_and_frees_the_members(
    intake: RunningService, tap: EventTap
) -> None:
    ids = [new_resident_id(), new_resident_id()]
    body = application_body(*ids)
    app = (await intake.client.post("/applications", json=body, headers=APPLICANT)).json()
    url = f"/applications/{app['id']}/withdraw"
    no_reason = await intake.client.post(url, json={}, headers=APPLICANT)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    blank = await intake.client.post(url, json={"reason": "  "}, headers=APPLICANT)
    assert blank.status_code == 422 and blank.json()["field"] == "reason"
    done = await intake.client.post(url, json={"reason": "已购买住房"}, headers=APPLICANT)
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"
    event = await tap.wait_for("application.withdrawn", app["id"])
    assert event.data["initiated_by"] == "applicant" and event.data["reason"] == "已购买住房"
    again = await intake.client.post(url, json={"reason": "再次"}, headers=APPLICANT)
    assert again.status_code == 409
    # The same family may apply again.
    assert (
        await intake.client.post("/applications", json=body, headers=APPLICANT)
    ).status_code == 201


async def test_a_street_clerk_refuses_with_a_reason(intake: RunningService, tap: EventTap) -> None:
    app = await new_application(intake)
    url = f"/applications/{app['id']}/reject"
    outsider = await intake.client.post(
        url, json={"reason": "不符合条件"}, headers=OTHER_STREET_CLERK
    )
    assert outsider.status_code == 403
    done = await intake.client.post(url, json={"reason": "申请人户籍不在本市"}, headers=CLERK)
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    event = await tap.wait_for("application.refused", app["id"])
    assert event.data["reasons"] == ["申请人户籍不在本市"]
    assert event.data["refused_by"] == "clerk-xg"
    # Review alone publishes application.rejected: one producer per event type.
    assert tap.of("application.rejected", app["id"]) == []


# -- reads -------------------------------------------------------------------------------------


async def test_reads_are_scoped_and_staff_reads_are_audited(intake: RunningService) -> None:
    ids = [new_resident_id(), new_resident_id()]
    app = (
        await intake.client.post("/applications", json=application_body(*ids), headers=APPLICANT)
    ).json()
    url = f"/applications/{app['id']}"

    async def audited_reads() -> int:
        async with intake.runtime.engine.connect() as conn:
            return int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(audit_log)
                    .where(
                        audit_log.c.subject_id == app["id"],
                        audit_log.c.action == "personal_data.read",
                        audit_log.c.actor == "clerk-xg",
                    )
                )
                or 0
            )

    own = await intake.client.get(url, headers=APPLICANT)
    assert own.status_code == 200
    assert [m["resident_id"] for m in own.json()["members"]] == ids
    assert await audited_reads() == 0
    staff = await intake.client.get(url, headers=CLERK)
    assert staff.status_code == 200 and staff.json()["mobile"] == "13812345678"
    assert await audited_reads() == 1
    assert (await intake.client.get(url, headers=FAR_REVIEWER)).status_code == 403
    stranger = token("applicant", org="350200", sub="resident-999")
    assert (await intake.client.get(url, headers=stranger)).status_code == 403


async def test_staff_list_is_paginated_filtered_and_masked(intake: RunningService) -> None:
    for _ in range(3):
        await new_application(intake, street="350205001")
    await new_application(intake, street="350205002")
    haicang = token("district_clerk", org="350205", sub="dc-haicang")
    page = await intake.client.get(
        "/applications",
        params={"unit": "350205001", "status": "submitted", "limit": 2},
        headers=haicang,
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (3, 2, 0, 2)
    item = body["items"][0]
    assert item["applicant_name_masked"] == "张*丰"
    assert item["applicant_id_masked"].startswith("3502**********")
    assert item["member_count"] == 2
    whole = await intake.client.get("/applications", headers=haicang)
    assert whole.json()["total"] == 4
    assert (
        await intake.client.get("/applications", params={"unit": "350203"}, headers=haicang)
    ).status_code == 403
    bad = await intake.client.get("/applications", params={"unit": "35x"}, headers=haicang)
    assert bad.status_code == 422 and bad.json()["field"] == "unit"
    assert (await intake.client.get("/applications", headers=APPLICANT)).status_code == 403

"""POST /applications on real PostgreSQL and RabbitMQ: the tracking number, the published
event, every refusal (nothing stored, nothing published), race-safe duplicates and bans
projected from real credit events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.intake.tables import applications, credit_bans, members
from shared.clock import now, today_shanghai
from shared.events.catalogue import ApplicationRejected, CreditBanImposed, CreditBanLifted
from shared.pii import keyed_hash, mask_resident_id
from shared.problems import problem_type
from shared.settings import DEV_ID_HASH_KEY, settings_for
from tests.harness import EventTap, publish_and_handle
from tests.integration.intake.conftest import application_body, counts, new_resident_id
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

PORTAL = token("portal", org="350200", sub="portal-web")


async def submit(svc: RunningService, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await svc.client.post("/applications", json=body, headers={**PORTAL, **headers})


def test_the_id_hash_key_has_the_agreed_name_and_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file here: only the environment counts
    monkeypatch.delenv("HOUSING_ID_HASH_KEY", raising=False)
    monkeypatch.delenv("HOUSING_INTAKE_ID_HASH_KEY", raising=False)
    key = settings_for("intake").id_hash_key.get_secret_value()
    assert key == DEV_ID_HASH_KEY == "dev-only-id-hash-key"
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "k2")
    assert settings_for("intake").id_hash_key.get_secret_value() == "k2"


async def test_submission_answers_a_tracking_number_and_publishes_hashes_only(
    intake: RunningService, tap: EventTap
) -> None:
    ids = [new_resident_id(), new_resident_id()]
    response = await submit(intake, application_body(*ids))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["status"] == "submitted"
    assert answer["tracking_no"].startswith(f"SQ350200-{today_shanghai():%Y%m%d}-")

    envelope = await tap.wait_for("application.submitted", answer["id"])
    assert envelope.correlation_id == answer["id"]
    data = envelope.data
    assert data["tracking_no"] == answer["tracking_no"]
    assert data["member_id_hashes"] == [keyed_hash(i, DEV_ID_HASH_KEY) for i in ids]
    assert data["applicant_id_masked"] == mask_resident_id(ids[0])
    assert data["applicant_name_masked"] == "张*丰"
    assert (data["street"], data["district"], data["city"]) == ("350203001", "350203", "350200")
    assert data["member_count"] == 2 and data["pledge_version"] == "2026.1"
    # No resident ID or name travels in the submitted event.
    assert not any(i in envelope.model_dump_json() for i in ids)
    assert "张三丰" not in envelope.model_dump_json()


async def test_idempotency_key_replays_the_first_answer(intake: RunningService) -> None:
    body = application_body()
    first = await submit(intake, body, **{"Idempotency-Key": "submit-1"})
    again = await submit(intake, body, **{"Idempotency-Key": "submit-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"


def _without_pledge() -> dict[str, Any]:
    body = application_body()
    del body["pledge"]
    return body


def _bad_check_digit() -> dict[str, Any]:
    rid = new_resident_id()
    body = application_body(rid)
    body["members"][0]["resident_id"] = rid[:17] + ("0" if rid[17] != "0" else "1")
    return body


def _two_applicants() -> dict[str, Any]:
    body = application_body()
    body["members"][1]["relationship"] = "applicant"
    return body


def _same_person_twice() -> dict[str, Any]:
    rid = new_resident_id()
    return application_body(rid, new_resident_id(), rid)


@pytest.mark.parametrize(
    ("make_body", "field", "detail"),
    [
        (_without_pledge, "pledge", "未签署守信承诺书，不能提交申请"),
        (lambda: application_body(category="luxury_villa"), "category", "未知的申请类别"),
        (lambda: application_body(street="350203999"), "street", "不属于厦门市"),
        (lambda: application_body(street="110101001"), "street", "不属于厦门市"),
        (_bad_check_digit, "members.0.resident_id", "身份证号码校验位错误"),
        (lambda: application_body(mobile="1234"), "mobile", "手机号码"),
        (_two_applicants, "members", "有且只有一名申请人"),
        (_same_person_twice, "members.2.resident_id", "与第1名家庭成员的身份证号码重复"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_happens(
    intake: RunningService, make_body: Any, field: str, detail: str
) -> None:
    before = await counts(intake)
    response = await submit(intake, make_body())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == problem_type("validation")
    assert problem["field"] == field
    assert detail in problem["detail"]
    assert await counts(intake) == before


async def test_a_role_that_may_not_submit_is_refused(intake: RunningService) -> None:
    before = await counts(intake)
    response = await intake.client.post(
        "/applications", json=application_body(), headers=token("city_reviewer")
    )
    assert response.status_code == 403
    assert response.json()["type"] == problem_type("forbidden")
    assert await counts(intake) == before


async def test_a_member_on_a_live_application_is_refused_by_masked_id(
    intake: RunningService,
) -> None:
    shared_member = new_resident_id()
    assert (
        await submit(intake, application_body(new_resident_id(), shared_member))
    ).status_code == 201
    before = await counts(intake)
    response = await submit(
        intake, application_body(new_resident_id(), new_resident_id(), shared_member)
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == problem_type("duplicate-application")
    assert problem["field"] == "members.2.resident_id"
    assert problem["member_id_masked"] == mask_resident_id(shared_member)
    assert mask_resident_id(shared_member) in problem["detail"]
    assert shared_member not in response.text
    assert await counts(intake) == before


async def test_fifty_concurrent_submissions_naming_one_member_yield_one_application(
    intake: RunningService,
) -> None:
    contested = new_resident_id()
    bodies = [application_body(new_resident_id(), contested) for _ in range(50)]
    before = await counts(intake)
    responses = await asyncio.gather(*(submit(intake, body) for body in bodies))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, statuses
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {
        problem_type("duplicate-application")
    }
    async with intake.runtime.engine.connect() as conn:
        live = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(members)
            .where(members.c.id_hash == keyed_hash(contested, DEV_ID_HASH_KEY), members.c.active)
        )
    assert live == 1
    apps, events = await counts(intake)
    assert (apps, events) == (before[0] + 1, before[1] + 1)


async def _from_credit(svc: RunningService, event: CreditBanImposed | CreditBanLifted) -> None:
    """Publish a credit event as credit would, and wait until intake has handled it."""
    await publish_and_handle(svc, event, producer="credit", subject=event.record_id)


async def _projected(svc: RunningService, record_id: uuid.UUID, column: str) -> None:
    async with svc.runtime.engine.connect() as conn:
        value = await conn.scalar(
            sa.select(credit_bans.c[column]).where(credit_bans.c.record_id == record_id)
        )
    assert value is not None, f"credit_bans.{column} of {record_id} never projected"


async def test_a_ban_from_credit_refuses_the_member_until_credit_lifts_it(
    intake: RunningService,
) -> None:
    banned = new_resident_id()
    record_id = uuid.uuid4()
    today = today_shanghai()
    ends_on = today + timedelta(days=365)
    imposed = CreditBanImposed(
        record_id=record_id,
        id_hash=keyed_hash(banned, DEV_ID_HASH_KEY),
        subject_kind="family",
        severity="general",
        starts_on=today - timedelta(days=1),
        ends_on=ends_on,
    )
    assert (await submit(intake, application_body(new_resident_id()))).status_code == 201
    await _from_credit(intake, imposed)
    await _projected(intake, record_id, "ends_on")

    body = application_body(new_resident_id(), banned)
    before = await counts(intake)
    response = await submit(intake, body)
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"] == problem_type("integrity-ban")
    assert problem["ban_ends_on"] == ends_on.isoformat()
    assert problem["field"] == "members.1.resident_id"
    assert problem["member_id_masked"] == mask_resident_id(banned)
    assert f"{ends_on:%Y年%m月%d日}起方可重新申请" in problem["detail"]
    assert banned not in response.text
    assert await counts(intake) == before

    lifted = CreditBanLifted(
        record_id=record_id,
        id_hash=imposed.id_hash,
        lifted_on=today,
        early=True,
        reason="经复核撤销失信记录",
    )
    await _from_credit(intake, lifted)
    await _projected(intake, record_id, "lifted_on")
    assert (await submit(intake, body)).status_code == 201


async def test_a_ban_past_its_end_date_no_longer_counts(intake: RunningService) -> None:
    person = new_resident_id()
    record_id = uuid.uuid4()
    today = today_shanghai()
    expired = CreditBanImposed(
        record_id=record_id,
        id_hash=keyed_hash(person, DEV_ID_HASH_KEY),
        subject_kind="family",
        severity="general",
        starts_on=today - timedelta(days=366),
        ends_on=today,  # today is the first day the person may apply again
    )
    await _from_credit(intake, expired)
    await _projected(intake, record_id, "ends_on")
    assert (await submit(intake, application_body(person))).status_code == 201


async def test_a_rejection_by_review_frees_the_members(intake: RunningService) -> None:
    ids = [new_resident_id(), new_resident_id()]
    body = application_body(*ids)
    app = (await submit(intake, body)).json()
    rejected = ApplicationRejected(
        application_id=uuid.UUID(app["id"]),
        case_id=uuid.uuid4(),
        tracking_no=app["tracking_no"],
        city="350200",
        district="350203",
        street="350203001",
        category="low_income_family",
        stage="district",
        reasons=["家庭人均收入超过准入标准"],
        rejected_at=now(),
    )
    await publish_and_handle(intake, rejected, producer="review")
    async with intake.runtime.engine.connect() as conn:
        status = await conn.scalar(
            sa.select(applications.c.status).where(applications.c.id == rejected.application_id)
        )
    assert status == "rejected"
    assert (await submit(intake, body)).status_code == 201

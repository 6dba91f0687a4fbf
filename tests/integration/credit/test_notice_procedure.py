"""The notice procedure end to end through the HTTP API, with its events, audit and ban."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from services.credit.tables import bans, credit_shares, records
from shared.audit import audit_log
from shared.pii import keyed_hash
from shared.settings import DEV_ID_HASH_KEY
from tests.examples import resident_id
from tests.integration.credit.conftest import (
    OFFICER_A,
    OFFICER_B,
    at_shanghai,
    events_for,
    family_record,
    step,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

_GOOD = resident_id(serial="599")
BAD_ID = _GOOD[:17] + ("0" if _GOOD[17] != "0" else "1")  # wrong check digit


async def test_undelivered_notice_is_announced_then_recorded_banned_and_taken_to_court(
    credit: RunningService, frozen_clock: Any
) -> None:
    rid = resident_id(serial="501")
    id_hash = keyed_hash(rid, DEV_ID_HASH_KEY)
    frozen_clock.set(at_shanghai("2026-11-21"))
    created = await credit.client.post(
        "/records", json=family_record(rid, severity="serious"), headers=OFFICER_A
    )
    assert created.status_code == 201
    record = created.json()
    record_id = record["id"]
    # Only the hash and masked values are kept.
    assert record["id_hash"] == id_hash
    assert record["subject_id_masked"] == "3502**********" + rid[-4:]
    assert record["subject_name_masked"] == "王*明"
    assert record["stage"] == "pending_approval"

    # No notice before a second officer approved, and the recorder cannot approve.
    early = await credit.client.post(
        f"/records/{record_id}/notices", json={"step": "notice_issued"}, headers=OFFICER_A
    )
    assert early.status_code == 409
    assert early.json()["current_step"] == "pending_approval"
    assert "待审批" in early.json()["detail"]
    self_approval = await credit.client.post(
        f"/records/{record_id}/approve", json={}, headers=OFFICER_A
    )
    assert self_approval.status_code == 403
    assert self_approval.json()["field"] == "approved_by"
    approved = await credit.client.post(f"/records/{record_id}/approve", json={}, headers=OFFICER_B)
    assert approved.json()["approved_by"] == "officer-b"

    await step(credit, record_id, "notice_issued", document_no="GZH-2026-002")
    await step(credit, record_id, "undeliverable", note="查无此人")
    wrong = await credit.client.post(
        f"/records/{record_id}/notices", json={"step": "recorded"}, headers=OFFICER_A
    )
    assert wrong.status_code == 409
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["current_step"] == "undeliverable"
    assert wrong.json()["allowed_steps"] == ["announced"]

    frozen_clock.set(at_shanghai("2026-11-23"))
    announced = await step(credit, record_id, "announced", document_no="GG-2026-01")
    assert announced["correction_deadline"] == "2026-12-08"
    frozen_clock.set(at_shanghai("2026-12-08", 23, 59))
    too_soon = await credit.client.post(
        f"/records/{record_id}/notices", json={"step": "deadline_passed"}, headers=OFFICER_A
    )
    assert too_soon.status_code == 409
    assert too_soon.json()["current_step"] == "announced"
    frozen_clock.set(at_shanghai("2026-12-09"))
    await step(credit, record_id, "deadline_passed")
    recorded = await step(credit, record_id, "recorded")
    assert recorded["filed_on"] == "2026-12-09"
    assert recorded["ban"]["starts_on"] == "2026-12-09"
    assert recorded["ban"]["ends_on"] == "2029-12-09"  # serious: 3 years
    frozen_clock.set(at_shanghai("2027-01-05"))
    await step(credit, record_id, "lawyer_letter", document_no="LSH-2027-003")
    final = await step(credit, record_id, "legal_procedure", document_no="AH-2027-17")
    assert [s["stage"] for s in final["steps"]] == [
        "pending_approval",
        "approved",
        "notice_issued",
        "undeliverable",
        "announced",
        "deadline_passed",
        "recorded",
        "lawyer_letter",
        "legal_procedure",
    ]
    assert final["steps"][-1]["taken_at"].startswith("2027-01-05T02:00:00")

    events = await events_for(credit, record_id)
    assert [(t, d.get("step"), d.get("delivered")) for t, d in events] == [
        ("credit.notice_step", "notice_letter", None),
        ("credit.notice_step", "notice_letter", False),
        ("credit.notice_step", "public_announcement", None),
        ("credit.notice_step", "correction_deadline", None),
        ("credit.notice_step", "credit_file", None),
        ("credit.record_created", None, None),
        ("credit.ban_imposed", None, None),
        ("credit.notice_step", "lawyer_letter", None),
        ("credit.notice_step", "legal_procedure", None),
    ]
    announcement = events[2][1]
    assert announcement["subject_display"] == "王*明"
    assert announcement["correction_deadline"] == "2026-12-08"
    assert announcement["announcement"].startswith("王*明（身份证号码3502**********")
    assert "2026年12月08日前" in announcement["announcement"]
    assert rid not in str(events)
    assert events[6][1] == {
        "record_id": record_id,
        "id_hash": id_hash,
        "subject_kind": "family",
        "severity": "serious",
        "starts_on": "2026-12-09",
        "ends_on": "2029-12-09",
    }
    assert events[5][1]["kind"] == "concealed_housing"
    assert events[5][1]["source"] == "verification"

    async with credit.runtime.engine.connect() as conn:
        actions = (
            await conn.scalars(
                sa.select(audit_log.c.action)
                .where(audit_log.c.subject_id == record_id)
                .order_by(audit_log.c.seq)
            )
        ).all()
        share = (
            await conn.execute(
                sa.select(credit_shares).where(credit_shares.c.record_id == record_id)
            )
        ).one()
        stored = (await conn.execute(sa.select(records).where(records.c.id == record_id))).one()
    assert actions == [
        "credit.record.create",
        "credit.record.approve",
        "credit.notice.notice_issued",
        "credit.notice.undeliverable",
        "credit.notice.announced",
        "credit.notice.deadline_passed",
        "credit.notice.recorded",
        "credit.notice.lawyer_letter",
        "credit.notice.legal_procedure",
    ]
    assert share.status == "pending"
    assert share.payload["id_hash"] == id_hash
    assert share.payload["sanction_ends_on"] == "2029-12-09"
    assert rid not in str(tuple(stored))
    assert rid not in str(share.payload)

    # Joint sharing (信用记录共享): another department sees the filed record, minimised.
    department = token("department:civil_affairs", org="350200", sub="mz-system")
    shared = await credit.client.get(f"/shared-records/{id_hash}", headers=department)
    assert shared.status_code == 200
    assert shared.json()["total"] == 1
    item = shared.json()["items"][0]
    assert (item["record_id"], item["kind"], item["severity"], item["filed_on"]) == (
        record_id,
        "concealed_housing",
        "serious",
        "2026-12-09",
    )
    assert (item["sanction_ends_on"], item["sanction_in_force"]) == ("2029-12-09", True)
    assert "facts" not in item and "evidence" not in item
    officer = await credit.client.get(f"/shared-records/{id_hash}", headers=OFFICER_A)
    assert officer.status_code == 403


async def test_a_corrected_subject_is_never_recorded(
    credit: RunningService, frozen_clock: Any
) -> None:
    frozen_clock.set(at_shanghai("2026-11-21"))
    created = await credit.client.post(
        "/records", json=family_record(resident_id(serial="502")), headers=OFFICER_A
    )
    record_id = created.json()["id"]
    await credit.client.post(f"/records/{record_id}/approve", json={}, headers=OFFICER_B)
    await step(credit, record_id, "notice_issued")
    await step(credit, record_id, "delivered")
    corrected = await step(credit, record_id, "corrected", note="已退出多占住房并补充申报")
    assert corrected["stage"] == "corrected"
    assert corrected["ban"] is None
    again = await credit.client.post(
        f"/records/{record_id}/notices", json={"step": "recorded"}, headers=OFFICER_A
    )
    assert again.status_code == 409
    assert again.json()["current_step"] == "corrected"
    async with credit.runtime.engine.connect() as conn:
        assert (
            await conn.scalar(
                sa.select(sa.func.count()).select_from(bans).where(bans.c.record_id == record_id)
            )
        ) == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"resident_id": BAD_ID}, "resident_id"),
        ({"kind": "tenancy_sublet"}, "kind"),
        ({"severity": "extreme"}, "severity"),
        ({"evidence": []}, "evidence"),
        ({"resident_id": None}, "resident_id"),
    ],
)
async def test_bad_records_are_refused_with_the_field_and_nothing_is_stored(
    credit: RunningService, override: dict[str, Any], field: str
) -> None:
    async with credit.runtime.engine.connect() as conn:
        before = await conn.scalar(sa.select(sa.func.count()).select_from(records))
    body = family_record(resident_id(serial="503"))
    body.update(override)
    response = await credit.client.post("/records", json=body, headers=OFFICER_A)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert BAD_ID not in response.text
    async with credit.runtime.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(records)) == before


async def test_record_creation_honours_idempotency_key(credit: RunningService) -> None:
    body = family_record(resident_id(serial="504"))
    headers = {**OFFICER_A, "Idempotency-Key": "rec-504"}
    first = await credit.client.post("/records", json=body, headers=headers)
    second = await credit.client.post("/records", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    async with credit.runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(records)
            .where(records.c.id_hash == first.json()["id_hash"])
        )
    assert count == 1


async def test_an_employer_record_needs_its_credit_code_and_a_city_kind_is_accepted(
    credit: RunningService,
) -> None:
    body = {
        "category": "employer",
        "kind": "false_employment_certificate",
        "severity": "general",
        "origin": "inspection",
        "facts": "为非本单位人员出具在职证明",
        "evidence": [{"title": "社保缴纳记录", "reference": "SB-2026-1"}],
        "org_name": "厦门某某贸易有限公司",
    }
    missing = await credit.client.post("/records", json=body, headers=OFFICER_A)
    assert missing.status_code == 422
    assert missing.json()["field"] == "org_credit_code"
    body["org_credit_code"] = "91350200MA2XXXXX0A"
    ok = await credit.client.post("/records", json=body, headers=OFFICER_A)
    assert ok.status_code == 201, ok.json()
    assert ok.json()["kind_title"] == "为非本单位人员出具在职证明"
    listed = await credit.client.get(
        "/records", params={"category": "employer", "limit": 1}, headers=OFFICER_B
    )
    assert listed.json()["total"] >= 1
    assert listed.json()["limit"] == 1


async def test_bad_requests_on_every_write_endpoint_are_problems_not_errors(
    credit: RunningService,
) -> None:
    created = await credit.client.post(
        "/records", json=family_record(resident_id(serial="505")), headers=OFFICER_A
    )
    pending = created.json()["id"]
    missing = "00000000-0000-4000-8000-000000000000"
    cases: list[tuple[str, dict[str, Any], dict[str, str], int, str | None]] = [
        (f"/records/{pending}/notices", {"step": "approved"}, OFFICER_A, 422, "step"),
        (f"/records/{pending}/notices", {"step": "delivered", "x": 1}, OFFICER_A, 422, "x"),
        (f"/records/{missing}/notices", {"step": "notice_issued"}, OFFICER_A, 404, "record_id"),
        ("/records/not-a-uuid/notices", {"step": "notice_issued"}, OFFICER_A, 422, "record_id"),
        (f"/records/{pending}/lift", {"reason": "误报"}, OFFICER_A, 409, "record_id"),
        (f"/records/{pending}/approve", {}, token("street_clerk"), 403, None),
        (f"/records/{pending}/reject", {}, OFFICER_B, 422, "reason"),
        (
            f"/candidates/{missing}/confirm",
            {"severity": "general", "facts": "x"},
            OFFICER_A,
            404,
            "candidate_id",
        ),
        (f"/candidates/{missing}/dismiss", {"reason": "x"}, OFFICER_A, 404, "candidate_id"),
    ]
    for path, body, headers, status, field in cases:
        response = await credit.client.post(path, json=body, headers=headers)
        assert response.status_code == status, (path, body, response.json())
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json().get("field") == field, (path, response.json())
    # The pending record is untouched by all of that.
    detail = await credit.client.get(f"/records/{pending}", headers=OFFICER_B)
    assert detail.json()["stage"] == "pending_approval"
    assert [s["stage"] for s in detail.json()["steps"]] == ["pending_approval"]

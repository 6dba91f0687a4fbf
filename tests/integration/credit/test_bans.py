"""Bans lift themselves on the right day; early lifts need a second officer; services read them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from services.credit import sweeps
from services.credit.tables import bans
from shared.pii import keyed_hash
from shared.scheduler import run_once
from shared.settings import DEV_ID_HASH_KEY
from tests.examples import resident_id
from tests.integration.credit.conftest import (
    OFFICER_A,
    OFFICER_B,
    SERVICE,
    at_shanghai,
    events_for,
    family_record,
    file_record,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration


async def _expire(credit: RunningService) -> None:
    context = credit.runtime.context
    assert await run_once(
        credit.runtime,
        "credit-ban-expiry-test",
        lambda uow: sweeps.expire_bans(context, uow),
    )


async def test_a_general_ban_lifts_itself_on_its_end_date(
    credit: RunningService, frozen_clock: Any
) -> None:
    rid = resident_id(serial="601")
    id_hash = keyed_hash(rid, DEV_ID_HASH_KEY)
    recorded = await file_record(credit, family_record(rid, severity="general"))
    record_id = recorded["id"]
    assert recorded["ban"]["starts_on"] == "2026-12-07"
    assert recorded["ban"]["ends_on"] == "2027-12-07"

    status = await credit.client.get(f"/bans/{id_hash}", headers=SERVICE)
    assert status.status_code == 200
    assert status.json()["banned"] is True
    assert [b["record_id"] for b in status.json()["bans"]] == [record_id]

    # The last minute of the last banned day (Shanghai time): nothing to lift.
    frozen_clock.set(at_shanghai("2027-12-06", 23, 59))
    await _expire(credit)
    assert [t for t, _ in await events_for(credit, record_id)].count("credit.ban_lifted") == 0
    assert (await credit.client.get(f"/bans/{id_hash}", headers=SERVICE)).json()["banned"] is True

    # Midnight in Shanghai on the end date: lifted, exactly once even if the sweep runs again.
    frozen_clock.set(at_shanghai("2027-12-07", 0, 0))
    await _expire(credit)
    await _expire(credit)
    lifted = [d for t, d in await events_for(credit, record_id) if t == "credit.ban_lifted"]
    assert lifted == [
        {
            "record_id": record_id,
            "id_hash": id_hash,
            "lifted_on": "2027-12-07",
            "early": False,
            "reason": None,
        }
    ]
    status = await credit.client.get(f"/bans/{id_hash}", headers=SERVICE)
    assert status.json() == {"id_hash": id_hash, "banned": False, "bans": []}
    async with credit.runtime.engine.connect() as conn:
        row = (await conn.execute(sa.select(bans).where(bans.c.record_id == record_id))).one()
    assert (row.status, str(row.lifted_on), row.early) == ("lifted", "2027-12-07", False)


async def test_an_early_lift_without_a_second_officers_approval_is_refused(
    credit: RunningService, frozen_clock: Any
) -> None:
    rid = resident_id(serial="602")
    id_hash = keyed_hash(rid, DEV_ID_HASH_KEY)
    recorded = await file_record(credit, family_record(rid, severity="severe"))
    record_id = recorded["id"]
    assert recorded["ban"]["ends_on"] == "2031-12-07"

    no_reason = await credit.client.post(f"/records/{record_id}/lift", json={}, headers=OFFICER_A)
    assert no_reason.status_code == 422
    assert no_reason.json()["field"] == "reason"
    unrequested = await credit.client.post(
        f"/records/{record_id}/lift/approve", json={}, headers=OFFICER_B
    )
    assert unrequested.status_code == 409
    assert "须先提出申请" in unrequested.json()["detail"]

    requested = await credit.client.post(
        f"/records/{record_id}/lift",
        json={"reason": "经复查，住房系继承所得且已在申请前转让，原认定有误"},
        headers=OFFICER_A,
    )
    assert requested.status_code == 202
    assert requested.json()["ban"]["status"] == "active"
    assert requested.json()["ban"]["lift_requested_by"] == "officer-a"
    self_approved = await credit.client.post(
        f"/records/{record_id}/lift/approve", json={}, headers=OFFICER_A
    )
    assert self_approved.status_code == 403
    assert self_approved.json()["field"] == "approved_by"
    # Still banned, and nothing announced.
    assert (await credit.client.get(f"/bans/{id_hash}", headers=SERVICE)).json()["banned"] is True
    assert "credit.ban_lifted" not in [t for t, _ in await events_for(credit, record_id)]

    frozen_clock.set(at_shanghai("2027-03-01"))
    approved = await credit.client.post(
        f"/records/{record_id}/lift/approve", json={"note": "同意"}, headers=OFFICER_B
    )
    assert approved.status_code == 200
    assert approved.json()["ban"]["status"] == "lifted"
    assert approved.json()["ban"]["lift_approved_by"] == "officer-b"
    lifted = [d for t, d in await events_for(credit, record_id) if t == "credit.ban_lifted"]
    assert lifted == [
        {
            "record_id": record_id,
            "id_hash": id_hash,
            "lifted_on": "2027-03-01",
            "early": True,
            "reason": "经复查，住房系继承所得且已在申请前转让，原认定有误",
        }
    ]
    assert (await credit.client.get(f"/bans/{id_hash}", headers=SERVICE)).json()["banned"] is False


async def test_ban_lookup_is_for_services_only(credit: RunningService) -> None:
    id_hash = keyed_hash(resident_id(serial="603"), DEV_ID_HASH_KEY)
    officer = await credit.client.get(f"/bans/{id_hash}", headers=OFFICER_A)
    assert officer.status_code == 403
    anonymous = await credit.client.get(f"/bans/{id_hash}")
    assert anonymous.status_code == 401
    bad = await credit.client.get("/bans/not-a-hash", headers=SERVICE)
    assert bad.status_code == 422
    # Nor for the administrator, who administers and looks up no person (separation of duties).
    admin = await credit.client.get(f"/bans/{id_hash}", headers=token("admin", sub="root"))
    assert (admin.status_code, admin.json()["detail"]) == (
        403,
        "管理员账号只做系统管理，不办理业务",
    )
    service = await credit.client.get(f"/bans/{id_hash}", headers=SERVICE)
    assert service.json() == {"id_hash": id_hash, "banned": False, "bans": []}


async def test_a_recorded_agency_is_blacklisted_for_publication(
    credit: RunningService, frozen_clock: Any
) -> None:
    body = {
        "category": "agency",
        "kind": "paid_proxy_application",
        "severity": "serious",
        "origin": "complaint",
        "facts": "收取代办费用，代为编造申请材料",
        "evidence": [{"title": "举报材料及收款记录", "reference": "JB-2026-031"}],
        "org_name": "厦门安居代办服务部",
        "org_credit_code": "92350203MA3YYYYY1B",
    }
    recorded = await file_record(credit, body)
    record_id = recorded["id"]
    events = await events_for(credit, record_id)
    listed = [d for t, d in events if t == "credit.agency_blacklisted"]
    assert listed == [
        {
            "record_id": record_id,
            "id_hash": recorded["id_hash"],
            "agency_name": "厦门安居代办服务部",
            "org_credit_code": "92350203MA3YYYYY1B",
            "behaviour": "paid_proxy_application",
            "listed_on": "2026-12-07",
            "until": "2029-12-06",
        }
    ]
    announcement = next(d for t, d in events if t == "credit.notice_step")
    assert announcement["subject_display"] == "厦门安居代办服务部"
    page = await credit.client.get("/blacklist", headers=SERVICE)
    assert page.status_code == 200
    assert [e["org_name"] for e in page.json()["items"]] == ["厦门安居代办服务部"]
    assert page.json()["items"][0]["until"] == "2029-12-06"

"""Typical-case exposure (four eyes, only final records, masked) and the periodic export to the
central bank branch (人行征信): one file per period, idempotent, the changes since the previous
file, downloadable and audited. Real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from services.credit import sweeps
from services.credit.tables import pboc_exports
from shared.audit import audit_log
from shared.pii import keyed_hash
from shared.scheduler import run_once
from shared.settings import DEV_ID_HASH_KEY
from tests.conftest import Infra
from tests.examples import resident_id
from tests.integration.credit.conftest import (
    OFFICER_A,
    OFFICER_B,
    at_shanghai,
    events_for,
    family_record,
    file_record,
)
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

LEADER = token("city_leader", org="350200", sub="leader-1")
SUPERVISOR = token("supervisor", org="350200", sub="supervisor-1")
SUMMARY = (
    "王*明申请公共租赁住房时隐瞒名下住房一套，经告知逾期未纠正，已记入诚信档案，三年内不得申请。"
)


@pytest.fixture(scope="module")
async def credit(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:
    path: Path = tmp_path_factory.mktemp("credit-pboc") / "credit.yaml"
    path.write_text(
        "credit:\n  expiry_sweep_seconds: 3600\n  share_sweep_seconds: 3600\n"
        "  pboc_export:\n    period: day\n    sweep_seconds: 3600\n",
        encoding="utf-8",
    )
    previous = os.environ.get("HOUSING_CREDIT_CONFIG")
    os.environ["HOUSING_CREDIT_CONFIG"] = str(path)
    try:
        async with running_service(infra, "credit", system="crpboc") as svc:
            yield svc
    finally:
        if previous is None:
            os.environ.pop("HOUSING_CREDIT_CONFIG", None)
        else:
            os.environ["HOUSING_CREDIT_CONFIG"] = previous


async def export_now(credit: RunningService) -> None:
    context = credit.runtime.context
    assert await run_once(
        credit.runtime, "credit-pboc-export-test", lambda uow: sweeps.export_pboc(context, uow)
    )


async def exports(credit: RunningService) -> list[Any]:
    async with credit.runtime.engine.connect() as conn:
        return list(
            await conn.execute(sa.select(pboc_exports).order_by(pboc_exports.c.period_start))
        )


async def test_a_final_record_is_exposed_only_with_a_leaders_approval(
    credit: RunningService, frozen_clock: Any
) -> None:
    # Not final yet: an approved record still in its notice procedure cannot be exposed.
    frozen_clock.set(at_shanghai("2026-11-02"))
    created = await credit.client.post(
        "/records", json=family_record(resident_id(serial="711")), headers=OFFICER_A
    )
    pending = created.json()["id"]
    early = await credit.client.post(
        f"/records/{pending}/exposure", json={"summary": SUMMARY}, headers=OFFICER_A
    )
    assert early.status_code == 409, early.text
    assert early.json()["current_step"] == "pending_approval"

    filed = await file_record(
        credit, family_record(resident_id(serial="712"), severity="serious"), day="2026-11-02"
    )
    record_id = filed["id"]
    leaking = await credit.client.post(
        f"/records/{record_id}/exposure",
        json={"summary": "申请人身份证号" + resident_id(serial="712") + "，隐瞒住房"},
        headers=OFFICER_A,
    )
    assert leaking.status_code == 422, leaking.text
    assert leaking.json()["field"] == "summary"
    assert resident_id(serial="712") not in leaking.text

    proposed = await credit.client.post(
        f"/records/{record_id}/exposure", json={"summary": SUMMARY}, headers=OFFICER_A
    )
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["exposure_proposed_by"] == "officer-a"
    assert proposed.json()["exposed_at"] is None
    assert "credit.case_exposed" not in [t for t, _ in await events_for(credit, record_id)]

    # A second officer is not enough: a city leader decides.
    officer = await credit.client.post(
        f"/records/{record_id}/exposure/approve", json={}, headers=OFFICER_B
    )
    assert officer.status_code == 403
    leader_proposer = token("city_leader", org="350200", sub="officer-a")
    same = await credit.client.post(
        f"/records/{record_id}/exposure/approve", json={}, headers=leader_proposer
    )
    assert same.status_code == 403 and same.json()["field"] == "approved_by"
    approved = await credit.client.post(
        f"/records/{record_id}/exposure/approve", json={}, headers=LEADER
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["exposure_approved_by"] == "leader-1"

    [exposed] = [d for t, d in await events_for(credit, record_id) if t == "credit.case_exposed"]
    assert exposed["subject_display"] == "王*明"
    assert exposed["summary_text"] == SUMMARY
    assert exposed["record_no"] == filed["record_no"]
    assert exposed["filed_on"] == filed["filed_on"]
    assert exposed["ban_ends_on"] == filed["ban"]["ends_on"]
    assert (exposed["severity"], exposed["subject_kind"]) == ("serious", "family")
    assert "resident_id" not in orjson.dumps(exposed).decode()
    again = await credit.client.post(
        f"/records/{record_id}/exposure/approve", json={}, headers=LEADER
    )
    assert again.status_code == 409


async def test_the_pboc_export_runs_once_per_period_and_carries_the_changes_since_the_last(
    credit: RunningService, frozen_clock: Any
) -> None:
    rid = resident_id(serial="733")
    filed = await file_record(credit, family_record(rid), day="2026-12-01")
    filed_on = filed["filed_on"]  # 2026-12-17: the day after the correction deadline
    assert filed_on == "2026-12-17"
    # The service's own sweep may have written a file already (for the period before whatever
    # day the clock showed when it ticked); only the files written from here on are checked.
    before = {e.period_start.isoformat() for e in await exports(credit)}
    assert not before & {"2026-12-16", "2026-12-17", "2026-12-18"}

    # Four minutes after midnight: within the grace, the file of the 17th is not written yet
    # (the last complete period is still the 16th, which holds everything before the 17th).
    frozen_clock.set(at_shanghai("2026-12-18", 0, 4))
    await export_now(credit)
    assert {e.period_start.isoformat() for e in await exports(credit)} - before == {"2026-12-16"}
    frozen_clock.set(at_shanghai("2026-12-18", 0, 10))
    await export_now(credit)
    await export_now(credit)  # idempotent per period
    by_period = {e.period_start.isoformat(): e for e in await exports(credit)}
    first = by_period["2026-12-17"]
    assert set(by_period) - before == {"2026-12-16", "2026-12-17"}
    content = first.content
    assert content["format"] == "housing-credit-pboc/1"
    assert content["period"] == {"start": "2026-12-17", "end": "2026-12-18"}
    assert content["covers_to"] == "2026-12-18T00:00:00+08:00"
    [mine] = [r for r in content["records"] if r["record_id"] == filed["id"]]
    assert mine["subject"] == {
        "id_hash": keyed_hash(rid, DEV_ID_HASH_KEY),
        "id_masked": "3502**********" + rid[-4:],
        "name_masked": "王*明",
    }
    assert (mine["kind"], mine["behaviour"], mine["severity"], mine["filed_on"]) == (
        "concealed_housing",
        "concealed_housing",
        "general",
        "2026-12-17",
    )
    assert {"change": "imposed", "record_no": filed["record_no"]}.items() <= next(
        b for b in content["bans"] if b["record_no"] == filed["record_no"]
    ).items()
    body = orjson.dumps(content).decode()
    assert rid not in body and "王小明" not in body and "facts" not in body

    # The ban is lifted early the next day: the next file carries the lift, not the record again.
    frozen_clock.set(at_shanghai("2026-12-18", 9, 0))
    asked = await credit.client.post(
        f"/records/{filed['id']}/lift", json={"reason": "经复核，认定依据不足"}, headers=OFFICER_A
    )
    assert asked.status_code == 202, asked.text
    lifted = await credit.client.post(
        f"/records/{filed['id']}/lift/approve", json={}, headers=OFFICER_B
    )
    assert lifted.status_code == 200, lifted.text
    frozen_clock.set(at_shanghai("2026-12-19", 1, 0))
    await export_now(credit)
    second = {e.period_start.isoformat(): e for e in await exports(credit)}["2026-12-18"]
    assert second.content["covers_from"] == first.content["covers_to"]
    assert [r for r in second.content["records"] if r["record_id"] == filed["id"]] == []
    [lift] = [b for b in second.content["bans"] if b["record_no"] == filed["record_no"]]
    assert (lift["change"], lift["lifted_on"], lift["early"]) == ("lifted", "2026-12-18", True)

    # Officers list and download; the download is the stored file with its digest; audited.
    listed = await credit.client.get("/exports/pboc", headers=OFFICER_B)
    assert listed.status_code == 200, listed.text
    assert {i["period_start"] for i in listed.json()["items"]} >= {"2026-12-17", "2026-12-18"}
    assert "content" not in listed.json()["items"][0]
    download = await credit.client.get(f"/exports/pboc/{first.id}", headers=OFFICER_B)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="pboc-2026-12-17.json"'
    assert hashlib.sha256(download.content).hexdigest() == download.headers["x-content-sha256"]
    assert download.headers["x-content-sha256"] == first.sha256
    assert orjson.loads(download.content) == content
    assert (await credit.client.get("/exports/pboc", headers=SUPERVISOR)).status_code == 403
    missing = await credit.client.get(
        "/exports/pboc/00000000-0000-4000-8000-000000000000", headers=OFFICER_B
    )
    assert missing.status_code == 404
    async with credit.runtime.engine.connect() as conn:
        actions = set(
            (
                await conn.scalars(
                    sa.select(audit_log.c.action).where(
                        audit_log.c.subject_id.in_([str(first.id), str(second.id)])
                    )
                )
            ).all()
        )
    assert actions == {"credit.pboc_export.created", "credit.read.pboc_export"}

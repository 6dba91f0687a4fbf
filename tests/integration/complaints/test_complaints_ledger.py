"""The complaints ledger (投诉举报台账) from its public and staff endpoints: filing, lookup by
number and check code, answer, C1 past the deadline, transfer of a clue, credit referral of an
agency complaint, and the rate limit of the public form."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep
from services.alerting.tables import alerts
from services.credit.tables import records
from shared.clock import clock
from shared.scheduler import run_once
from shared.workdays import default_calendar
from tests.harness import wait_for
from tests.integration.complaints.conftest import System
from tests.services import RunningService, token

CITY_SUPERVISOR = token("supervisor", org="350200", sub="sup-city", name="市督察")
ANTI_FRAUD = "申请公租房不求人、不花钱、无代办、无中介"
_addresses = itertools.count(10)


@asynccontextmanager
async def citizen(svc: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    """A client from an address of its own, so each test has its own token bucket."""
    n = next(_addresses)
    transport = httpx.ASGITransport(app=svc.app, client=(f"10.9.{n // 250}.{n % 250}", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://citizen") as client:
        yield client


def sublet(**changes: Any) -> dict[str, Any]:
    body = {
        "kind": "sublet",
        "about": "某公租房小区3号楼承租人",
        "content": "该户长期不住，将房屋转租给他人收取租金，联系电话13900001111。",
    }
    body.update(changes)
    return body


async def file(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/public/complaints", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def sweep(system: System, at: datetime) -> dict[str, int]:
    clock.set(at)
    result: dict[str, int] = {}

    async def tick(uow):
        result.update(await clock_sweep(uow, rule_config()))

    try:
        assert await run_once(system.alerting.runtime, "alerting-clock-sweep", tick)
    finally:
        clock.reset()
    return result


async def c1_of(system: System, complaint_id: str) -> list[tuple[str, bool]]:
    async with system.alerting.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(alerts.c.unit, alerts.c.cleared_at).where(
                alerts.c.rule_id == "C1",
                alerts.c.condition_key.like(f"%scope:complaint:{complaint_id}"),
            )
        )
    return [(r.unit, r.cleared_at is not None) for r in rows]


async def ledger_row(system: System, complaint_no: str) -> dict[str, Any]:
    r = await system.alerting.client.get("/complaints", headers=CITY_SUPERVISOR)
    assert r.status_code == 200, r.text
    (row,) = [c for c in r.json() if c["complaint_no"] == complaint_no]
    return row


async def test_anonymous_complaint_looked_up_by_number_and_code_then_answered(
    system: System,
) -> None:
    async with citizen(system.alerting) as client:
        filed = await file(client, sublet())
        assert filed["unit"] == "350200" and filed["notice"] == ANTI_FRAUD
        assert len(filed["check_code"]) == 8
        filed_at = datetime.fromisoformat(filed["filed_at"])
        assert (
            datetime.fromisoformat(filed["due_at"])
            == default_calendar().add_workdays(filed_at, 15).at
        )
        no, code = filed["complaint_no"], filed["check_code"]
        r = await client.get(f"/public/complaints/{no}", params={"check_code": code})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["response"]) == ("open", None)
        # The number alone (or with a guessed code) opens nothing.
        wrong = await client.get(f"/public/complaints/{no}", params={"check_code": "AAAAAAAA"})
        assert wrong.status_code == 404
        assert wrong.headers["content-type"].startswith("application/problem+json")
        row = await ledger_row(system, no)
        # Staff see the content with the phone number in it masked.
        assert "13900001111" not in row["content"] and row["anonymous"] is True
        assert row["complainant_name_masked"] is None
        answered = await system.alerting.client.post(
            f"/complaints/{row['complaint_id']}/answer",
            json={"response": "经核查属实，已责令承租人限期腾退，并记入诚信档案。"},
            headers=CITY_SUPERVISOR,
        )
        assert answered.status_code == 200, answered.text
        r = await client.get(f"/public/complaints/{no}", params={"check_code": code.lower()})
        assert r.json()["status"] == "answered"
        assert r.json()["response"] == "经核查属实，已责令承租人限期腾退，并记入诚信档案。"
        again = await system.alerting.client.post(
            f"/complaints/{row['complaint_id']}/answer",
            json={"response": "再次答复"},
            headers=CITY_SUPERVISOR,
        )
        assert again.status_code == 409


async def test_named_complaint_needs_name_and_mobile(system: System) -> None:
    async with citizen(system.alerting) as client:
        r = await client.post("/public/complaints", json=sublet(anonymous=False, name="李四"))
        assert r.status_code == 422 and r.json()["field"] == "name"
        filed = await file(
            client,
            sublet(anonymous=False, name="李四光", mobile="13812345678", street="350203001"),
        )
        assert filed["unit"] == "350203001"
    row = await ledger_row(system, filed["complaint_no"])
    assert row["complainant_mobile_masked"] != "13812345678"
    assert "5678" in row["complainant_mobile_masked"]


async def test_unanswered_past_its_deadline_lights_c1_and_the_answer_puts_it_out(
    system: System,
) -> None:
    async with citizen(system.alerting) as client:
        filed = await file(client, sublet(street="350203001"))
    row = await ledger_row(system, filed["complaint_no"])
    due = datetime.fromisoformat(filed["due_at"])
    before = await sweep(system, due - timedelta(minutes=1))
    assert await c1_of(system, row["complaint_id"]) == []
    after = await sweep(system, due + timedelta(minutes=1))
    assert after["C1"] >= 1 and before["C1"] == 0
    assert await c1_of(system, row["complaint_id"]) == [("350203001", False)]
    # A second sweep keeps the one light.
    await sweep(system, due + timedelta(hours=1))
    assert await c1_of(system, row["complaint_id"]) == [("350203001", False)]
    district = token("supervisor", org="350203", sub="sup-siming")
    r = await system.alerting.client.post(
        f"/complaints/{row['complaint_id']}/answer",
        json={"response": "已上门核查，未发现转租行为。"},
        headers=district,
    )
    assert r.status_code == 200, r.text
    assert await c1_of(system, row["complaint_id"]) == [("350203001", True)]


async def test_a_clue_transferred_is_recorded(system: System) -> None:
    async with citizen(system.alerting) as client:
        filed = await file(
            client,
            sublet(kind="staff", about="某街道窗口工作人员", content="收取好处费后优先受理。"),
        )
        row = await ledger_row(system, filed["complaint_no"])
        r = await system.alerting.client.post(
            f"/complaints/{row['complaint_id']}/transfers",
            json={"to": "discipline_commission", "note": "涉嫌工作人员违纪，移送区纪委监委。"},
            headers=CITY_SUPERVISOR,
        )
        assert r.status_code == 200, r.text
        (t,) = r.json()["transfers"]
        assert (t["to"], t["to_name"], t["transferred_by"]) == (
            "discipline_commission",
            "纪委监委",
            "sup-city",
        )
        bad = await system.alerting.client.post(
            f"/complaints/{row['complaint_id']}/transfers",
            json={"to": "the_press", "note": "x"},
            headers=CITY_SUPERVISOR,
        )
        assert bad.status_code == 422 and bad.json()["field"] == "to"
        looked = await client.get(
            f"/public/complaints/{filed['complaint_no']}",
            params={"check_code": filed["check_code"]},
        )
        assert looked.json()["transferred_to"] == ["discipline_commission"]


async def test_an_agency_complaint_starts_a_credit_record(system: System) -> None:
    async with citizen(system.alerting) as client:
        r = await client.post("/public/complaints", json=sublet(kind="agency"))
        assert r.status_code == 422 and r.json()["field"] == "agency_name"
        filed = await file(
            client,
            sublet(
                kind="agency",
                about="某某房产咨询工作室",
                agency_name="厦门某某房产咨询工作室",
                content="收取3000元承诺代办公租房资格。",
            ),
        )
    row = await ledger_row(system, filed["complaint_no"])
    r = await system.alerting.client.post(
        f"/complaints/{row['complaint_id']}/credit-referral", headers=CITY_SUPERVISOR
    )
    assert r.status_code == 200, r.text
    assert r.json()["credit_referred_at"] is not None

    async def record() -> Any:
        async with system.credit.runtime.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(records).where(records.c.org_name == "厦门某某房产咨询工作室")
                )
            ).first()

    rec = await wait_for(record, what="credit record from the complaint")
    assert (rec.category, rec.kind, rec.origin, rec.stage) == (
        "agency",
        "paid_proxy_application",
        "complaint",
        "pending_approval",
    )
    assert rec.evidence == [{"title": "投诉举报", "reference": filed["complaint_no"]}]
    assert (rec.recorded_by, rec.unit) == ("sup-city", "350200")
    again = await system.alerting.client.post(
        f"/complaints/{row['complaint_id']}/credit-referral", headers=CITY_SUPERVISOR
    )
    assert again.status_code == 409
    # A complaint about a tenant is no agency: no referral.
    async with citizen(system.alerting) as client:
        tenant = await file(client, sublet())
    tenant_row = await ledger_row(system, tenant["complaint_no"])
    r = await system.alerting.client.post(
        f"/complaints/{tenant_row['complaint_id']}/credit-referral", headers=CITY_SUPERVISOR
    )
    assert r.status_code == 422 and r.json()["field"] == "kind"


async def test_the_public_form_is_rate_limited_with_retry_after(system: System) -> None:
    async with citizen(system.alerting) as client:
        answers = [await client.post("/public/complaints", json=sublet()) for _ in range(6)]
        assert [a.status_code for a in answers] == [201] * 5 + [429]
        limited = answers[-1]
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert int(limited.headers["retry-after"]) >= 1
        # Lookups share the bucket: guessing check codes is as slow as filing.
        r = await client.get("/public/complaints/TS-20260101-000001", params={"check_code": "ABCD"})
        assert r.status_code == 429
    async with citizen(system.alerting) as other:
        assert (await other.post("/public/complaints", json=sublet())).status_code == 201


async def test_the_public_page_carries_the_anti_fraud_message(system: System) -> None:
    async with citizen(system.alerting) as client:
        r = await client.get("/public/pages/complaints")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert ANTI_FRAUD in r.text and "查询码" in r.text


async def test_only_supervisors_read_and_answer_the_ledger(system: System) -> None:
    r = await system.alerting.client.get("/complaints", headers=token("street_clerk"))
    assert r.status_code == 403
    r = await system.alerting.client.get("/complaints")
    assert r.status_code == 401

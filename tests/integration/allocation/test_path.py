"""From qualification to a signed contract through the HTTP API, and the lottery's guards."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from services.allocation import sweeps
from services.allocation.domain import CSV_FIELDS
from services.allocation.tables import round_pool
from shared.clock import clock
from shared.events.catalogue import CreditBanImposed, TenancyUnitVacated
from tests.harness import emitted, publish_and_handle
from tests.integration.allocation.conftest import (
    LEADER,
    NOTARY,
    OFFICER,
    OFFICER_B,
    add_units,
    drafted_contract,
    draw_after_objections,
    drawn_round,
    frozen_round,
    id_hash,
    new_category,
    post,
    qualify,
    ranking,
)
from tests.services import RunningService
from tools import verify_lottery


async def test_qualified_family_reaches_a_signed_contract(allocation: RunningService) -> None:
    category = new_category()
    refs = await qualify(allocation, category, 5)
    entry = (await allocation.client.get(f"/waiting/{refs[2]}", headers=OFFICER)).json()
    assert entry["status"] == "waiting" and entry["position"] == 3
    public = (await allocation.client.get(f"/public/waiting/{category}")).json()
    assert len(public) == 5 and refs[0] not in str(public)
    units = await add_units(allocation, 3)
    round_id = await drawn_round(allocation, category, units)

    files = {}
    for name in verify_lottery.FILES:
        r = await allocation.client.get(f"/public/rounds/{round_id}/files/{name}")
        assert r.status_code == 200, name
        files[name] = r.content
    assert verify_lottery.verify(files) == []

    order = await ranking(allocation, round_id)
    assert sorted(order) == sorted(refs)
    # Out of rank order is refused.
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": order[1], "unit_id": units[0]},
    )
    assert r.status_code == 409
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": order[0], "unit_id": units[0]},
    )
    assert r.status_code == 201, r.text
    allocation_id = r.json()["id"]
    r = await post(allocation, f"/allocations/{allocation_id}/contract", OFFICER)
    assert r.status_code == 201, r.text
    contract = r.json()
    assert "[sublet]" in contract["text"] and len(contract["clauses"]) == 14
    r = await post(allocation, f"/contracts/{contract['id']}/sign", OFFICER)
    assert r.status_code == 200, r.text
    assert r.json()["signed_at"] is not None
    stock = (await allocation.client.get("/units?status=let", headers=OFFICER)).json()
    assert units[0] in [u["id"] for u in stock]
    stats = (await allocation.client.get("/public/waiting-statistics")).json()
    [mine] = [s for s in stats if s["category"] == category]
    assert mine["households_waiting"] == 4 and mine["allocated"] == 1
    assert sum(mine["allocations_per_quarter"].values()) == 1


async def test_four_eyes_on_round_approval(allocation: RunningService) -> None:
    category = new_category()
    await qualify(allocation, category, 1)
    units = await add_units(allocation, 1)
    r = await post(
        allocation, "/rounds", OFFICER, {"category": category, "title": "批次", "unit_ids": units}
    )
    round_id = r.json()["id"]
    same = {"Authorization": OFFICER["Authorization"]}
    assert (await post(allocation, f"/rounds/{round_id}/approve", same)).status_code == 403
    leader_who_opened = await post(allocation, f"/rounds/{round_id}/freeze", OFFICER, {})
    assert leader_who_opened.status_code == 409  # not approved yet
    assert (await post(allocation, f"/rounds/{round_id}/approve", LEADER)).status_code == 200


async def test_draw_without_commitment_is_refused(allocation: RunningService) -> None:
    category = new_category()
    await qualify(allocation, category, 2)
    round_id = await frozen_round(allocation, category, await add_units(allocation, 1))
    r = await post(
        allocation, f"/rounds/{round_id}/draw", NOTARY, {"public_input": uuid.uuid4().hex}
    )
    assert r.status_code == 409 and "承诺" in r.json()["detail"]


async def test_no_draw_while_the_pool_is_open_to_objection(allocation: RunningService) -> None:
    category = new_category()
    await qualify(allocation, category, 2)
    round_id = await frozen_round(allocation, category, await add_units(allocation, 1))
    assert (await post(allocation, f"/rounds/{round_id}/commitment", OFFICER)).status_code == 200
    r = await post(
        allocation, f"/rounds/{round_id}/draw", NOTARY, {"public_input": uuid.uuid4().hex}
    )
    assert r.status_code == 409 and "异议期" in r.json()["detail"]
    assert (await draw_after_objections(allocation, round_id, uuid.uuid4().hex)).status_code == 200


async def test_tampered_pool_is_refused(allocation: RunningService) -> None:
    category = new_category()
    refs = await qualify(allocation, category, 3)
    round_id = await frozen_round(allocation, category, await add_units(allocation, 1))
    assert (await post(allocation, f"/rounds/{round_id}/commitment", OFFICER)).status_code == 200
    async with allocation.runtime.engine.begin() as conn:  # a database administrator's edit
        await conn.execute(
            sa.update(round_pool)
            .where(round_pool.c.household_reference == refs[2])
            .values(priority_tier=1)
        )
    r = await draw_after_objections(allocation, round_id, uuid.uuid4().hex)
    assert r.status_code == 409 and "改动" in r.json()["detail"]


async def test_replayed_public_input_is_refused(allocation: RunningService) -> None:
    public_input = f"replayed {uuid.uuid4().hex}"
    category = new_category()
    await qualify(allocation, category, 2)
    await drawn_round(allocation, category, await add_units(allocation, 1), public_input)
    other = new_category()
    await qualify(allocation, other, 2)
    round_id = await frozen_round(allocation, other, await add_units(allocation, 1))
    assert (await post(allocation, f"/rounds/{round_id}/commitment", OFFICER)).status_code == 200
    r = await draw_after_objections(allocation, round_id, public_input)
    assert r.status_code == 409 and "重复" in r.json()["detail"]


async def test_concurrent_requests_never_take_one_unit_twice(allocation: RunningService) -> None:
    category = new_category()
    await qualify(allocation, category, 4)
    units = await add_units(allocation, 2)
    round_id = await drawn_round(allocation, category, units)
    order = await ranking(allocation, round_id)
    # The first household's request sent ten times at once with different keys, and the
    # next households trying the same unit at the same moment: one wins.
    bodies = [{"household_reference": order[0], "unit_id": units[0]}] * 6 + [
        {"household_reference": ref, "unit_id": units[0]} for ref in order[1:]
    ]
    answers = await asyncio.gather(
        *(
            allocation.client.post(
                f"/rounds/{round_id}/selections",
                headers={**OFFICER, "Idempotency-Key": uuid.uuid4().hex},
                json=b,
            )
            for b in bodies
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1, codes
    assert set(codes) == {201, 409}
    # The second household cannot take that unit either, but can take the other.
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": order[1], "unit_id": units[0]},
    )
    assert r.status_code == 409
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": order[1], "unit_id": units[1]},
    )
    assert r.status_code == 201, r.text


async def test_declines_past_the_limit_suspend_the_entry(allocation: RunningService) -> None:
    category = new_category()
    await qualify(allocation, category, 2)
    round_id = await drawn_round(allocation, category, await add_units(allocation, 1))
    first = (await ranking(allocation, round_id))[0]
    r = await post(
        allocation, f"/rounds/{round_id}/declines", OFFICER, {"household_reference": first}
    )
    assert r.status_code == 200 and r.json()["suspended_until"] is None
    second_round = await drawn_round(allocation, category, await add_units(allocation, 1))
    assert first in await ranking(allocation, second_round)
    order = await ranking(allocation, second_round)
    for ref in order[: order.index(first)]:
        await post(
            allocation, f"/rounds/{second_round}/declines", OFFICER_B, {"household_reference": ref}
        )
    r = await post(
        allocation,
        f"/rounds/{second_round}/declines",
        OFFICER,
        {"household_reference": first, "no_show": True},
    )
    assert r.status_code == 200 and r.json()["suspended_until"] is not None
    entry = (await allocation.client.get(f"/waiting/{first}", headers=OFFICER)).json()
    assert entry["status"] == "suspended" and entry["suspended_reason"] == "declines"


async def test_a_ban_suspends_a_waiting_household(allocation: RunningService) -> None:
    category = new_category()
    banned = id_hash()
    refs = await qualify(allocation, category, 2, hashes=[banned, id_hash()])
    await publish_and_handle(
        allocation,
        CreditBanImposed(
            record_id=uuid.uuid4(),
            id_hash=banned,
            subject_kind="family",
            severity="serious",
            starts_on="2026-12-01",
            ends_on="2029-12-01",
        ),
        producer="credit",
        subject="ban",
    )
    entry = (await allocation.client.get(f"/waiting/{refs[0]}", headers=OFFICER)).json()
    assert entry["status"] == "suspended" and entry["suspended_reason"] == "credit_ban"
    round_id = await drawn_round(allocation, category, await add_units(allocation, 1))
    assert await ranking(allocation, round_id) == [refs[1]]


async def test_a_vacated_unit_returns_to_stock_for_the_next_household(
    allocation: RunningService,
) -> None:
    category = new_category()
    await qualify(allocation, category, 2)
    units = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, units)
    order = await ranking(allocation, round_id)
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": order[0], "unit_id": units[0]},
    )
    assert r.status_code == 201
    await publish_and_handle(
        allocation,
        TenancyUnitVacated(unit_id=uuid.UUID(units[0]), vacated_on="2027-03-01"),
        producer="tenancy",
        subject=units[0],
    )
    vacant = (await allocation.client.get("/units?status=vacant", headers=OFFICER)).json()
    assert units[0] in [u["id"] for u in vacant]
    # 轮候补进: a new round offers it to the household still waiting.
    again = await drawn_round(allocation, category, units)
    assert await ranking(allocation, again) == [order[1]]
    r = await post(
        allocation,
        f"/rounds/{again}/selections",
        OFFICER,
        {"household_reference": order[1], "unit_id": units[0]},
    )
    assert r.status_code == 201, r.text


async def test_stock_import_is_all_or_nothing(allocation: RunningService) -> None:
    p = uuid.uuid4().hex[:8]
    header = ",".join(CSV_FIELDS)
    good = f"{p},湖里花园,350206,1,{p}-101,湖里区1号101,38.5,1,1,是,12.5,vacant"
    bad = f"{p},湖里花园,350206,1,{p}-102,湖里区1号102,abc,1,1,是,12.5,vacant"
    r = await allocation.client.post(
        "/stock/import", headers=OFFICER, content=f"{header}\n{good}\n{bad}\n".encode()
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 3, "field": "area_m2", "message": "不是数字"}]
    stock = (await allocation.client.get("/public/stock")).json()
    assert f"{p}-101" not in [u["code"] for u in stock]
    r = await allocation.client.post(
        "/stock/import", headers=OFFICER, content=f"{header}\n{good}\n".encode()
    )
    assert r.status_code == 201 and r.json()["imported"] == 1


async def test_out_of_order_needs_a_leaders_override_with_a_reason(
    allocation: RunningService,
) -> None:
    category = new_category()
    await qualify(allocation, category, 3)
    units = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, units)
    order = await ranking(allocation, round_id)
    body = {
        "household_reference": order[2],
        "unit_id": units[0],
        "reason": "重大疾病特殊困难，经研究同意",
    }
    r = await post(allocation, f"/rounds/{round_id}/overrides", OFFICER, body)
    assert r.status_code == 403  # an officer cannot override
    r = await post(allocation, f"/rounds/{round_id}/overrides", LEADER, body)
    assert r.status_code == 201, r.text
    [event] = await emitted(allocation, "allocation.order_overridden", r.json()["id"])
    assert event["next_in_order"] == order[0] and event["rank"] == 3
    assert event["reason"] == body["reason"] and event["leader"] == "leader-1"


async def test_a_household_may_take_the_rental_subsidy_instead(
    allocation: RunningService,
) -> None:
    category = new_category()
    await qualify(allocation, category, 2, members=3)
    round_id = await drawn_round(allocation, category, await add_units(allocation, 1))
    first = (await ranking(allocation, round_id))[0]
    r = await post(
        allocation,
        f"/rounds/{round_id}/subsidy",
        OFFICER,
        {"household_reference": first, "income_band": "low"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["monthly_amount"] == "900.00"  # 15 m² × 3 persons × 20 元
    entry = (await allocation.client.get(f"/waiting/{first}", headers=OFFICER)).json()
    assert entry["status"] == "subsidised"


async def test_a_contract_unsigned_past_its_deadline_is_announced_once(
    allocation: RunningService,
) -> None:
    first, contract = await drafted_contract(allocation)
    runtime = allocation.runtime
    clock.set(
        datetime.combine(date.fromisoformat(contract["sign_by"]), time(12), UTC) + timedelta(days=1)
    )
    try:
        for _ in range(2):
            async with runtime.uow() as uow:
                await sweeps.contract_deadlines(runtime.context, uow)
                await uow.commit()
        overdue = await emitted(allocation, "allocation.contract_overdue", contract["id"])
        assert [e["household_reference"] for e in overdue] == [first]
        r = await post(allocation, f"/contracts/{contract['id']}/sign", OFFICER)
        assert r.status_code == 409
    finally:
        clock.reset()


async def test_the_annual_confirmation_keeps_the_list_true(allocation: RunningService) -> None:
    category = new_category()
    confirmed, silent = await qualify(allocation, category, 2)
    deadline = datetime.now(UTC).date() + timedelta(days=30)
    r = await post(
        allocation,
        "/waiting/confirmation-notices",
        OFFICER,
        {"category": category, "confirm_by": deadline.isoformat()},
    )
    assert r.status_code == 200 and r.json()["households"] == 2
    assert len(await emitted(allocation, "allocation.confirmation_requested")) >= 2
    assert (await post(allocation, f"/waiting/{confirmed}/confirm", OFFICER)).status_code == 200
    clock.set(datetime.combine(deadline, time(12), UTC) + timedelta(days=1))
    try:
        async with allocation.runtime.uow() as uow:
            await sweeps.unconfirmed_entries(allocation.runtime.context, uow)
            await uow.commit()
    finally:
        clock.reset()
    get = allocation.client.get
    assert (await get(f"/waiting/{confirmed}", headers=OFFICER)).json()["status"] == "waiting"
    entry = (await get(f"/waiting/{silent}", headers=OFFICER)).json()
    assert entry["status"] == "suspended" and entry["suspended_reason"] == "unconfirmed"

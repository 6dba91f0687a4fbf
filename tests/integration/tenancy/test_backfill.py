"""Through allocation's public interfaces: a contract signed there opens the lease here, and
the move-out here puts the unit back in allocation's stock for the next household."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.tenancy import sweeps
from shared.events.catalogue import VerificationRereviewCompleted
from tests.conftest import Infra
from tests.harness import emitted, publish_and_handle, wait_for
from tests.integration.allocation.conftest import OFFICER as ALLOCATION_OFFICER
from tests.integration.allocation.conftest import (
    add_units,
    drawn_round,
    new_category,
    qualify,
    ranking,
)
from tests.integration.tenancy.conftest import OFFICER, on_day, post, run
from tests.services import RunningService, running_service


@pytest.fixture(scope="module")
async def pair(infra: Infra) -> AsyncIterator[tuple[RunningService, RunningService]]:
    async with (
        running_service(infra, "allocation", system="backfill") as allocation,
        running_service(infra, "tenancy", system="backfill") as tenancy,
    ):
        yield allocation, tenancy


async def test_contract_to_lease_and_move_out_back_to_stock(
    pair: tuple[RunningService, RunningService],
) -> None:
    allocation, tenancy = pair
    category = new_category()
    [reference] = await qualify(allocation, category, 1)
    [unit_id] = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, [unit_id])
    assert await ranking(allocation, round_id) == [reference]
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        {"household_reference": reference, "unit_id": unit_id},
        ALLOCATION_OFFICER,
    )
    assert r.status_code == 201, r.text
    r = await post(allocation, f"/allocations/{r.json()['id']}/contract", None, ALLOCATION_OFFICER)
    assert r.status_code == 201, r.text
    contract = r.json()
    r = await post(allocation, f"/contracts/{contract['id']}/sign", None, ALLOCATION_OFFICER)
    assert r.status_code == 200, r.text

    async def lease() -> dict[str, Any] | None:
        r = await tenancy.client.get(f"/leases?household_reference={reference}", headers=OFFICER)
        items = r.json()["items"]
        return items[0] if items else None

    opened = await wait_for(lease, what="the lease opened from allocation.contract_signed")
    assert (opened["unit_id"], opened["contract_id"]) == (unit_id, contract["id"])
    assert opened["monthly_rent"] == contract["monthly_rent"]
    assert opened["starts_on"] == contract["starts_on"]
    assert sorted(opened["recovery_clauses"]) == sorted(contract["clauses"])

    moved_in = date.fromisoformat(opened["starts_on"])
    with on_day(moved_in + timedelta(days=40)):
        r = await post(
            tenancy,
            f"/leases/{opened['id']}/exits",
            {"kind": "voluntary", "reason": "承租家庭购买商品住房，申请退租"},
        )
        assert r.status_code == 201, r.text
        exit_id = r.json()["id"]
        day = (moved_in + timedelta(days=40)).isoformat()
        r = await post(tenancy, f"/exits/{exit_id}/inspection", {"inspected_on": day})
        assert r.status_code == 200, r.text
        r = await post(tenancy, f"/exits/{exit_id}/move-out", {"vacated_on": day})
        assert r.status_code == 200, r.text

    async def back_in_stock() -> bool:
        r = await allocation.client.get("/units?status=vacant", headers=ALLOCATION_OFFICER)
        return unit_id in [u["id"] for u in r.json()]

    assert await wait_for(back_in_stock, what="the unit vacant again in allocation's stock")
    exits = (await tenancy.client.get("/public/exits?limit=200")).json()["items"]
    assert [e["kind"] for e in exits if e["exit_no"] == r.json()["exit_no"]] == ["主动退租"]
    left = moved_in + timedelta(days=40)
    r = await tenancy.client.get(f"/statistics?year={left.year}", headers=OFFICER)
    assert r.status_code == 200, r.text
    figures = r.json()
    assert (figures["leases_active"], figures["leases_ended"], figures["exits_open"]) == (0, 1, 0)
    assert figures["exits_this_year"] == {"early_recovery": 0, "voluntary": 1}
    assert figures["violations"] == {"open": 0, "overdue": 0, "rectified": 0, "escalated": 0}


async def _let(
    allocation: RunningService, tenancy: RunningService, round_id: str, reference: str, unit: str
) -> dict[str, Any]:
    """The household chooses the unit, signs with allocation; the lease as tenancy opened it."""
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        {"household_reference": reference, "unit_id": unit},
        ALLOCATION_OFFICER,
    )
    assert r.status_code == 201, r.text
    r = await post(allocation, f"/allocations/{r.json()['id']}/contract", None, ALLOCATION_OFFICER)
    assert r.status_code == 201, r.text
    r = await post(allocation, f"/contracts/{r.json()['id']}/sign", None, ALLOCATION_OFFICER)
    assert r.status_code == 200, r.text

    async def lease() -> dict[str, Any] | None:
        r = await tenancy.client.get(f"/leases?household_reference={reference}", headers=OFFICER)
        items = r.json()["items"]
        return items[0] if items else None

    return await wait_for(lease, what="the lease opened from allocation.contract_signed")


async def test_journey_from_lottery_through_rereview_and_graded_exit_to_the_next_household(
    pair: tuple[RunningService, RunningService],
) -> None:
    """Qualification → lottery → contract → rent → re-review (verification's verdict published
    as verification would) → graded exit → move-out → the unit let to the next household."""
    allocation, tenancy = pair
    category = new_category()
    first, second = await qualify(allocation, category, 2)
    [unit_id] = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, [unit_id])
    winner, waiting = await ranking(allocation, round_id)
    lease = await _let(allocation, tenancy, round_id, winner, unit_id)
    assert lease["unit_id"] == unit_id and lease["rent_band"] == "other"

    with on_day(date(2030, 3, 2)):
        assert (await post(tenancy, "/billing/2030-03")).status_code == 200
        r = await post(tenancy, "/campaigns/2030")
        assert r.status_code == 200 and r.json()["deadline"] == "2030-05-01", r.text
    [request] = await emitted(tenancy, "tenancy.rereview_requested", lease["id"])
    verdict = VerificationRereviewCompleted(
        lease_id=uuid.UUID(lease["id"]),
        application_id=uuid.UUID(request["application_id"]),
        campaign=2030,
        case_id=uuid.uuid4(),
        household_found=True,
        completed_at=datetime(2030, 3, 20, 2, tzinfo=UTC),
        income_band="other",
        meets_continuation=False,
    )
    with on_day(date(2030, 3, 20)):
        await publish_and_handle(tenancy, verdict, producer="verification")
        assert (await post(tenancy, "/billing/2030-04")).status_code == 200
    april = (await tenancy.client.get(f"/leases/{lease['id']}/bills", headers=OFFICER)).json()[-1]
    assert (april["month"], april["rent_band"], april["factor"]) == ("2030-04-01", "market", "1.50")

    with on_day(date(2030, 10, 1)):
        await run(tenancy, sweeps.graded_exits)
    [notice] = await emitted(tenancy, "tenancy.recovery_noticed", lease["id"])
    with on_day(date(2030, 10, 9)):
        exit_id = notice["exit_id"]
        r = await post(tenancy, f"/exits/{exit_id}/inspection", {"inspected_on": "2030-10-09"})
        assert r.status_code == 200, r.text
        r = await post(tenancy, f"/exits/{exit_id}/move-out", {"vacated_on": "2030-10-09"})
        assert r.status_code == 200, r.text

    async def recovered() -> bool:
        r = await allocation.client.get("/units?status=recovered", headers=ALLOCATION_OFFICER)
        return unit_id in [u["id"] for u in r.json()]

    assert await wait_for(recovered, what="the unit recovered in allocation's stock")
    # Recovered early: the housing officer releases it to the stock after the inspection.
    r = await allocation.client.patch(
        f"/units/{unit_id}", headers=ALLOCATION_OFFICER, json={"status": "vacant"}
    )
    assert r.status_code == 200, r.text
    # The next household on the waiting list gets it in the next round.
    next_round = await drawn_round(allocation, category, [unit_id])
    assert await ranking(allocation, next_round) == [waiting]
    second_lease = await _let(allocation, tenancy, next_round, waiting, unit_id)
    assert (second_lease["unit_id"], second_lease["status"]) == (unit_id, "active")
    assert {first, second} == {winner, waiting}

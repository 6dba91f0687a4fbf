"""What allocation announces for publication and alerting: the frozen pool (shortlist), the
draw's ranking, the contract to sign by a day, the confirmed need, the entry's tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.harness import emitted
from tests.integration.allocation.conftest import (
    OFFICER,
    add_units,
    drawn_round,
    new_category,
    post,
    qualify,
    ranking,
)
from tests.services import RunningService


async def test_pool_ranking_contract_and_confirmation_are_announced(
    allocation: RunningService,
) -> None:
    category = new_category()
    refs = await qualify(allocation, category, 3)
    entered = [
        e
        for e in await emitted(allocation, "allocation.waiting_entered")
        if e["category"] == category
    ]
    # No priority finding: the default group's tier (general, 9 in the rules file).
    assert sorted(e["household_reference"] for e in entered) == sorted(refs)
    assert {e["priority_tier"] for e in entered} == {9}

    units = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, units)
    [frozen] = await emitted(allocation, "allocation.pool_frozen", round_id)
    assert frozen["households"] == 3 and sorted(frozen["household_references"]) == sorted(refs)
    pool_digest = (
        await allocation.client.get(f"/public/rounds/{round_id}/files/pool_digest.txt")
    ).text.strip()
    assert frozen["pool_digest"] == pool_digest
    assert frozen["objection_until"] > frozen["cut_off"]

    [drawn] = await emitted(allocation, "allocation.round_drawn", round_id)
    order = await ranking(allocation, round_id)
    assert [(r["rank"], r["household_reference"]) for r in drawn["ranking"]] == list(
        enumerate(order, start=1)
    )
    assert {r["priority_tier"] for r in drawn["ranking"]} == {9}

    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": order[0], "unit_id": units[0]},
    )
    assert r.status_code == 201, r.text
    contract = await post(allocation, f"/allocations/{r.json()['id']}/contract", OFFICER)
    assert contract.status_code == 201, contract.text
    [issued] = await emitted(allocation, "allocation.contract_issued", contract.json()["id"])
    assert issued == {
        "contract_id": contract.json()["id"],
        "allocation_id": r.json()["id"],
        "household_reference": order[0],
        "sign_by": contract.json()["sign_by"],
    }

    deadline = datetime.now(UTC).date() + timedelta(days=30)
    asked = await post(
        allocation,
        "/waiting/confirmation-notices",
        OFFICER,
        {"category": category, "confirm_by": deadline.isoformat()},
    )
    assert asked.status_code == 200 and asked.json()["households"] == 2
    assert (await post(allocation, f"/waiting/{order[1]}/confirm", OFFICER)).status_code == 200
    confirmed = [
        e
        for e in await emitted(allocation, "allocation.need_confirmed")
        if e["household_reference"] == order[1]
    ]
    assert len(confirmed) == 1
    entry = (await allocation.client.get(f"/waiting/{order[1]}", headers=OFFICER)).json()
    assert confirmed[0]["entry_id"] == entry["id"]

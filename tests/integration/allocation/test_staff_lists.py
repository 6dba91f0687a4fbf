"""The staff's reads behind the workbench's screens: the round list and a round's allocations."""

from __future__ import annotations

import uuid

from tests.integration.allocation.conftest import (
    NOTARY,
    OFFICER,
    add_units,
    drawn_round,
    new_category,
    post,
    qualify,
    ranking,
)
from tests.services import RunningService, token


async def test_rounds_are_listed_newest_first_with_their_counts(
    allocation: RunningService,
) -> None:
    category = new_category()
    await qualify(allocation, category, 2)
    units = await add_units(allocation, 3)
    drawn = await drawn_round(allocation, category, units[:2])
    opened = await post(
        allocation,
        "/rounds",
        OFFICER,
        {"category": category, "title": "第二批", "unit_ids": units[2:]},
    )
    assert opened.status_code == 201, opened.text

    listed = await allocation.client.get("/rounds", headers=NOTARY, params={"limit": 2})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["total"] >= 2
    assert page["limit"] == 2
    first, second = page["items"]
    assert (first["id"], first["title"], first["status"]) == (
        opened.json()["id"],
        "第二批",
        "opened",
    )
    assert (first["units"], first["households"], first["approved_by"]) == (1, 0, None)
    assert first["drawn_at"] is None
    assert (second["id"], second["status"], second["units"], second["households"]) == (
        drawn,
        "drawn",
        2,
        2,
    )
    assert second["approved_by"] == "leader-1"
    assert second["drawn_at"] is not None

    refused = await allocation.client.get("/rounds", headers=token("street_clerk"))
    assert refused.status_code == 403


async def test_a_rounds_allocations_carry_their_unit_and_contract(
    allocation: RunningService,
) -> None:
    category = new_category()
    await qualify(allocation, category, 1)
    units = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, units)
    empty = await allocation.client.get(f"/rounds/{round_id}/allocations", headers=OFFICER)
    assert (empty.status_code, empty.json()) == (200, [])

    [household] = await ranking(allocation, round_id)
    selected = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": household, "unit_id": units[0]},
    )
    assert selected.status_code == 201, selected.text
    [row] = (await allocation.client.get(f"/rounds/{round_id}/allocations", headers=OFFICER)).json()
    assert (row["id"], row["household_reference"], row["rank"]) == (
        selected.json()["id"],
        household,
        1,
    )
    assert row["unit_code"].endswith("-1-101")
    assert (row["contract_id"], row["signed_at"]) == (None, None)

    contract = await post(allocation, f"/allocations/{row['id']}/contract", OFFICER)
    assert contract.status_code == 201, contract.text
    [row] = (await allocation.client.get(f"/rounds/{round_id}/allocations", headers=OFFICER)).json()
    assert (row["contract_id"], row["signed_at"]) == (contract.json()["id"], None)

    missing = await allocation.client.get(f"/rounds/{uuid.uuid4()}/allocations", headers=OFFICER)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "批次不存在"

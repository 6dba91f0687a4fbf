"""The README's walkthroughs (``tools/walkthrough_allocation.py`` and its continuation
``tools/walkthrough_tenancy.py``) against the eight services started in-process, with the
reference department simulators answering over AMQP, so the walkthroughs cannot rot: one
family from an online application through the lottery, a signed contract, a year of rent, the
annual re-review by every department, a home visit and its move-out, to the unit let to the
next household on the waiting list, through the HTTP APIs alone (issue 16, "Done when")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from tests.conftest import Infra
from tests.integration.walk_support import walk_suite
from tests.services import RunningService
from tools import demo_allocation
from tools.walkthrough_allocation import OFFICER
from tools.walkthrough_tenancy import CONTINUING, REREVIEW_MONTH, TenancyWalkthrough, month_start

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def suite(infra: Infra) -> AsyncIterator[dict[str, RunningService]]:
    async with walk_suite(infra, "walk") as services:
        yield services


async def test_the_walkthrough_goes_from_application_to_the_next_household(
    suite: dict[str, RunningService],
) -> None:
    allocation, tenancy = suite["allocation"], suite["tenancy"]
    # The demo stock, as the run command imports it; a second import changes nothing.
    csv = demo_allocation.DEMO_STOCK.read_bytes()
    post = allocation.client.post
    first = await post("/stock/import", content=csv, headers=OFFICER)
    assert (first.status_code, first.json()["imported"]) == (201, 64), first.text
    again = await post("/stock/import", content=csv, headers={**OFFICER, "Idempotency-Key": "x"})
    assert again.status_code == 422 and {e["message"] for e in again.json()["errors"]} == {
        "房号已存在"
    }

    lines: list[str] = []
    walk = TenancyWalkthrough(
        {n: s.client for n, s in suite.items()}, say=lines.append, timeout=120
    )
    try:
        journey = await walk.journey()
    finally:
        print("\n".join(lines))  # the steps reached, shown with a failure

    # Qualification, lottery and contract.
    assert lines[0].startswith("[01] 网上申请")
    assert any("符合条件" in line for line in lines)  # only an eligible family goes on
    outcome = journey.first
    contract = (await allocation.client.get(f"/public/rounds/{outcome.round_id}")).json()
    assert contract["status"] == "drawn"
    # Two persons: the unit is within the 1–2 person standard (≤ 40 m²).
    units = (await allocation.client.get("/units", headers=OFFICER)).json()
    [unit] = [u for u in units if u["id"] == outcome.unit_id]
    assert float(unit["area_m2"]) <= 40 and unit["status"] == "let"

    # The lease tenancy opened from the contract, and its year of rent.
    lease = journey.lease
    assert (lease["contract_id"], lease["unit_id"]) == (outcome.contract_id, outcome.unit_id)
    assert lease["monthly_rent"] == outcome.monthly_rent
    starts = date.fromisoformat(lease["starts_on"])
    # Every month from the first to the one of the move-out, once.
    months = journey.year.months
    assert months >= 12
    assert [b["month"] for b in journey.bills] == [
        month_start(starts, i).isoformat() for i in range(months + 1)
    ]
    assert all(b["paid_amount"] == b["amount"] and b["paid_at"] for b in journey.bills)
    assert journey.bills[0]["days"] == (month_start(starts, 1) - starts).days

    # The re-review went through verification and every department simulator, and its band
    # holds from the month after the campaign.
    rereview = journey.year.rereview
    campaign = journey.year.campaign_month
    assert (campaign.month, rereview["campaign"]) == (REREVIEW_MONTH, campaign.year)
    assert rereview["status"] in CONTINUING
    assert (rereview["household_found"], rereview["meets_continuation"]) == (True, True)
    later = [b["rent_band"] for b in journey.bills if b["month"] > campaign.isoformat()]
    assert set(later) == {rereview["rent_band"]}

    # Moved out, and the unit let to the next household on the waiting list.
    assert (journey.exit["kind"], journey.exit["status"]) == ("voluntary", "vacated")
    assert journey.exit["vacated_on"] == month_start(starts, months).replace(day=10).isoformat()
    assert journey.next_household != lease["household_reference"]
    assert (journey.next_lease["unit_id"], journey.next_lease["status"]) == (
        outcome.unit_id,
        "active",
    )
    ended = (await tenancy.client.get(f"/leases/{lease['id']}", headers=OFFICER)).json()
    assert (ended["status"], ended["ended_on"]) == ("ended", journey.exit["vacated_on"])
    exits = (await tenancy.client.get("/public/exits?limit=200")).json()["items"]
    assert [e["kind"] for e in exits] == ["主动退租"]

    # The cockpit's figures for the year of the move-out.
    figures = journey.cockpit
    assert figures["from"] == f"{journey.exit['vacated_on'][:4]}-01-01"
    # The visit counts in the year of the move-out unless it was made in the year before.
    visited_that_year = journey.visit["visited_on"][:4] == journey.exit["vacated_on"][:4]
    assert figures["use"]["visits_done"] == int(visited_that_year)
    assert figures["exit"]["exits"] == {"move_out": 1, "recovery": 0, "graded_exit": 0}
    assert figures["exit"]["rereview_outcomes"][rereview["status"]] == 1

"""The demo seed (``tools/demo_seed.py``, issue 18 item 4) against the eight services started
in-process, with the reference department simulators answering over AMQP: a small city of 40
households ends with exactly the planned number at every stage, as the services' own APIs show
them (public progress, review cases, the waiting list, leases, lights, tickets, bans), and a
second run on the same installation seeds nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Infra
from tests.integration.walk_support import walk_suite
from tests.services import RunningService
from tools import demo_allocation, demo_seed
from tools.walkthrough_allocation import OFFICER
from tools.walkthrough_tenancy import SUPERVISOR

pytestmark = [pytest.mark.integration, pytest.mark.demo_seed]

HOUSEHOLDS = 40
SEED = 7


@pytest.fixture(scope="module")
async def suite(infra: Infra) -> AsyncIterator[dict[str, RunningService]]:
    async with walk_suite(infra, "seed") as services:
        yield services


# Where each planned stage leaves a household, as the services' staff APIs show it: intake's
# status, then review's case status, its current stage, that stage's status and round.
EXPECTED: dict[str, str] = {
    "submitted": "submitted",
    "supplement": "supplement_requested",
    "street_review": "accepted in_review street_initial active 1",
    "street_incomplete": "accepted in_review street_initial active 1",
    "street_yellow": "accepted in_review street_initial active 1",
    "street_overdue": "accepted in_review street_initial active 1",
    "street_suspended": "accepted in_review street_initial suspended 1",
    "district_review": "accepted in_review district_review active 1",
    "city_review": "accepted in_review city_confirmation active 1",
    "returned": "accepted in_review street_initial active 2",
    "publicity": "accepted in_publicity",
    "objected": "accepted in_publicity",
    "waiting": "accepted qualified",
    "allocated": "accepted qualified",
    "tenancy": "accepted qualified",
    "rejected": "rejected rejected",
    "withdrawn": "withdrawn withdrawn",
}


async def _state(clients: dict[str, Any], h: demo_seed.Household) -> str:
    application = await clients["intake"].get(
        f"/applications/{h.application_id}", headers=demo_seed.CITY_CLERK
    )
    assert application.status_code == 200, application.text
    state = application.json()["status"]
    if h.case_id:
        case = (await clients["review"].get(f"/cases/{h.case_id}", headers=demo_seed.READER)).json()
        state += f" {case['status']}"
        runs = [r for r in case["stages"] if r["status"] in ("active", "suspended")]
        if case["status"] == "in_review":
            [run] = runs
            state += f" {run['stage']} {run['status']} {run['round']}"
    return state


async def test_the_seed_fills_every_stage_exactly_and_only_once(
    suite: dict[str, RunningService],
) -> None:
    clients = {n: s.client for n, s in suite.items()}
    imported = await clients["allocation"].post(
        "/stock/import", content=demo_allocation.DEMO_STOCK.read_bytes(), headers=OFFICER
    )
    assert imported.status_code == 201, imported.text
    lines: list[str] = []
    try:
        report = await demo_seed.seed(clients, households=HOUSEHOLDS, seed=SEED, say=lines.append)
    finally:
        print("\n".join(lines))
    assert report is not None
    print(report.summary())
    planned = demo_seed.plan(HOUSEHOLDS)
    assert sum(planned.values()) == HOUSEHOLDS
    assert dict(report.stages) == planned
    outside = Counter(h.stage for h in report.households if h.stage in demo_seed.OUTSIDE_PLAN)
    assert (outside["rejected"], outside["withdrawn"]) == (report.rejected, report.withdrawn)

    # Every household where its stage leaves it (the ones just sent to the departments move on
    # as the simulators answer: accepted, whatever review shows by now).
    by_stage: dict[str, Counter[str]] = {}
    for h in report.households:
        state = await _state(clients, h)
        if h.stage == "verifying":
            state = state.split()[0]
        by_stage.setdefault(h.stage, Counter())[state] += 1
    expected = {
        **{
            stage: Counter({EXPECTED[stage]: n})
            for stage, n in planned.items()
            if stage != "verifying"
        },
        "verifying": Counter({"accepted": planned["verifying"]}),
        **{s: Counter({EXPECTED[s]: n}) for s, n in outside.items()},
    }
    assert by_stage == expected

    # The waiting list, the round's households and the leases.
    allocation, tenancy = clients["allocation"], clients["tenancy"]
    entries = Counter()
    for h in report.households:
        if h.stage in ("waiting", "allocated", "tenancy"):
            entry = await allocation.get(f"/waiting/{h.tracking_no}", headers=OFFICER)
            entries[(h.stage, entry.json()["status"])] += 1
    assert entries == Counter(
        {
            ("waiting", "waiting"): planned["waiting"],
            ("allocated", "allocated"): planned["allocated"],
            ("tenancy", "allocated"): planned["tenancy"],
        }
    )
    leases = (await tenancy.get("/leases", params={"status": "active"}, headers=OFFICER)).json()
    tenants = {h.tracking_no for h in report.households if h.stage == "tenancy"}
    assert sorted(x["household_reference"] for x in leases["items"]) == sorted(tenants)

    # Lights: R8 on each long-overdue street stage, Y3 on each due tomorrow, Y1 on each accepted
    # with materials missing; the red tickets handled and reported as the seed says.
    alerting = clients["alerting"]
    alerts = (
        await alerting.get("/alerts", params={"status": "open", "limit": 200}, headers=SUPERVISOR)
    ).json()["items"]
    stage_of = {h.application_id: h.stage for h in report.households}
    lights = Counter((a["rule_id"], stage_of.get(a["application_id"])) for a in alerts)
    for rule, stage in (
        ("R8", "street_overdue"),
        ("Y3", "street_yellow"),
        ("Y1", "street_incomplete"),
    ):
        assert lights[(rule, stage)] == planned[stage], lights
    assert sum(n for (rule, _), n in lights.items() if rule == "R8") == planned["street_overdue"]
    assert report.lights == Counter(a["rule_id"] for a in alerts)
    overdue = planned["street_overdue"]
    assert report.tickets == (
        Counter(
            {
                "red/report_district": len(range(0, overdue, 3)),
                "red/report_city_centre": len(range(1, overdue, 3)),
                "red/handling": len(range(2, overdue, 3)),
                "yellow/handling": 1,
            }
        )
        - Counter()
    )

    # Credit: three families banned, two agencies on the public blacklist.
    assert (report.bans, report.blacklisted) == (3, 2)
    public = (await clients["publication"].get("/public/blacklist")).json()
    assert sorted(e["agency_name"] for e in public["items"]) == sorted(
        n for n, _, _ in demo_seed.AGENCIES
    )

    # A second run finds the applications and seeds nothing.
    again: list[str] = []
    assert await demo_seed.seed(clients, households=HOUSEHOLDS, seed=SEED, say=again.append) is None
    assert again == ["[demo] applications already present: no demo households seeded"]

"""Priority groups from qualification, quotas in a round, fitting units, selection time slots
with no-shows, and online selection by the household's own account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.allocation import sweeps
from shared.audit import audit_log
from shared.clock import clock
from tests.harness import emitted
from tests.integration.allocation.conftest import (
    OFFICER,
    add_units,
    drawn_round,
    new_category,
    post,
    qualify,
    ranking,
    selection,
)
from tests.services import RunningService, token
from tools import verify_lottery

SUBSISTENCE = {"code": "subsistence", "reason": "低保/特困家庭：市民政局核实最低生活保障家庭"}
ELDERLY = {
    "code": "elderly",
    "reason": "老年人家庭（60周岁以上）：市卫生健康委员会核实家庭成员年满67周岁",
}


async def _audit(svc: RunningService, action: str, subject: str) -> list[dict]:
    async with svc.runtime.engine.connect() as conn:
        rows = (
            await conn.scalars(
                sa.select(audit_log.c.details).where(
                    audit_log.c.action == action, audit_log.c.subject_id == subject
                )
            )
        ).all()
    return list(rows)


async def test_the_highest_tier_group_from_qualification_is_the_entry_s(
    allocation: RunningService,
) -> None:
    category = new_category()
    both, none = await qualify(allocation, category, 2, priority=[[ELDERLY, SUBSISTENCE], []])
    entry = (await allocation.client.get(f"/waiting/{both}", headers=OFFICER)).json()
    assert (entry["priority_group"], entry["priority_reason"]) == (
        "subsistence",
        SUBSISTENCE["reason"],
    )
    [entered] = await emitted(allocation, "allocation.waiting_entered", entry["id"])
    assert entered["priority_group"] == "subsistence"
    [audited] = await _audit(allocation, "waiting.entered", entry["id"])
    assert audited["priority_groups"] == ["elderly", "subsistence"]
    plain = (await allocation.client.get(f"/waiting/{none}", headers=OFFICER)).json()
    assert plain["priority_group"] == "general"

    # The officer's override stays, audited with what it replaced.
    r = await post(
        allocation,
        f"/waiting/{both}/priority",
        OFFICER,
        {"priority_group": "model_worker", "reason": "市总工会证明为省级劳动模范"},
    )
    assert r.status_code == 200, r.text
    [override] = await _audit(allocation, "waiting.priority_set", entry["id"])
    assert override == {
        "group": "model_worker",
        "previous_group": "subsistence",
        "reason": "市总工会证明为省级劳动模范",
    }

    # Tiers decide the draw: the subsistence household of another round goes first.
    other = new_category()
    refs = await qualify(allocation, other, 4, priority=[[], [], [SUBSISTENCE], []])
    round_id = await drawn_round(allocation, other, await add_units(allocation, 1))
    assert (await ranking(allocation, round_id))[0] == refs[2]


async def test_quota_seats_go_first_and_the_verifier_reproduces_the_order(
    allocation: RunningService,
) -> None:
    category = new_category()
    tier1 = [[SUBSISTENCE]] * 4
    refs = await qualify(allocation, category, 10, priority=tier1 + [[]] * 6)
    units = await add_units(allocation, 5)
    bad = await post(
        allocation,
        "/rounds",
        OFFICER,
        {
            "category": category,
            "title": "配额有误",
            "unit_ids": units,
            "quotas": [{"tier": 1, "percent": 60}, {"tier": 2, "percent": 50}],
        },
    )
    assert bad.status_code == 422 and bad.json()["field"] == "quotas", bad.text
    # 40 % of 5 units: 2 seats reserved for tier 1, the rest drawn among all ten.
    round_id = await drawn_round(allocation, category, units, quotas=[{"tier": 1, "percent": 40}])
    order = await selection(allocation, round_id)
    ranked = await ranking(allocation, round_id)
    assert order[:2] == [(ranked[0], "quota"), (ranked[1], "quota")]
    assert {ref for ref, seat in order[2:]} == set(refs) - {ranked[0], ranked[1]}
    assert {seat for _, seat in order[2:]} == {"open"}
    files = {}
    for name in (*verify_lottery.FILES, *verify_lottery.SELECTION_FILES):
        r = await allocation.client.get(f"/public/rounds/{round_id}/files/{name}")
        assert r.status_code == 200, name
        files[name] = r.content
    assert files["quotas.csv"] == b"units_on_offer,tier,percent,seats\n5,1,40,2\n"
    assert verify_lottery.verify(files) == []
    public = (await allocation.client.get(f"/public/rounds/{round_id}")).json()
    assert public["quotas"] == [{"tier": 1, "percent": 40}]

    # Selection follows that order: the third household (first open seat) after the two.
    third = order[2][0]
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": third, "unit_id": units[0]},
    )
    assert r.status_code == 409
    for (ref, _), unit in zip(order[:3], units, strict=False):
        r = await post(
            allocation,
            f"/rounds/{round_id}/selections",
            OFFICER,
            {"household_reference": ref, "unit_id": unit},
        )
        assert r.status_code == 201, r.text


async def test_choices_list_the_vacant_units_that_fit(allocation: RunningService) -> None:
    category = new_category()
    [three] = await qualify(allocation, category, 1, members=3)  # up to 60 m²
    [small], [medium], [large] = [
        await add_units(allocation, 1, area=a) for a in ("38.00", "55.00", "75.00")
    ]
    round_id = await drawn_round(allocation, category, [small, medium, large])
    get = allocation.client.get
    url = f"/rounds/{round_id}/households/{three}/choices"
    answer = (await get(url, headers=OFFICER)).json()
    assert {u["id"] for u in answer["units"]} == {small, medium}
    assert answer["max_area_m2"] == "60" and answer["slot"]["your_turn"] is True
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": three, "unit_id": large},
    )
    assert r.status_code == 409 and "面积" in r.json()["detail"]
    missing = await get(f"/rounds/{round_id}/households/XM-NOPE/choices", headers=OFFICER)
    assert missing.status_code == 404


async def test_a_household_that_lets_its_slot_pass_is_a_no_show(
    allocation: RunningService,
) -> None:
    category = new_category()
    await qualify(allocation, category, 3)
    units = await add_units(allocation, 2)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    round_id = await drawn_round(
        allocation,
        category,
        units,
        selection_starts_at=starts.isoformat(),
        slot_minutes=30,
        households_per_slot=1,
    )
    first, second, third = await ranking(allocation, round_id)
    get = allocation.client.get
    slot = (await get(f"/rounds/{round_id}/households/{second}/choices", headers=OFFICER)).json()[
        "slot"
    ]
    assert datetime.fromisoformat(slot["slot_starts_at"]) == starts + timedelta(minutes=30)
    assert datetime.fromisoformat(slot["slot_deadline"]) == starts + timedelta(minutes=60)
    assert slot["your_turn"] is False

    runtime = allocation.runtime
    clock.set(starts + timedelta(minutes=31))
    try:
        for _ in range(2):  # a second sweep changes nothing
            async with runtime.uow() as uow:
                await sweeps.selection_deadlines(runtime.context, uow)
                await uow.commit()
        entry = (await get(f"/waiting/{first}", headers=OFFICER)).json()
        assert (entry["status"], entry["declines"]) == ("waiting", 1)
        answer = (
            await get(f"/rounds/{round_id}/households/{second}/choices", headers=OFFICER)
        ).json()
        assert answer["slot"]["your_turn"] is True
        r = await post(
            allocation,
            f"/rounds/{round_id}/selections",
            OFFICER,
            {"household_reference": first, "unit_id": units[0]},
        )
        assert r.status_code == 409  # recorded as a no-show, no longer in the queue
    finally:
        clock.reset()
    # Past the second's deadline but before the sweep: refused, the sweep records it.
    clock.set(starts + timedelta(minutes=61))
    try:
        r = await post(
            allocation,
            f"/rounds/{round_id}/selections",
            OFFICER,
            {"household_reference": second, "unit_id": units[0]},
        )
        assert r.status_code == 409 and "截止" in r.json()["detail"], r.text
        async with runtime.uow() as uow:
            await sweeps.selection_deadlines(runtime.context, uow)
            await uow.commit()
        r = await post(
            allocation,
            f"/rounds/{round_id}/selections",
            OFFICER,
            {"household_reference": third, "unit_id": units[0]},
        )
        assert r.status_code == 201, r.text  # the third's slot runs to +90 min
    finally:
        clock.reset()


async def test_a_household_chooses_online_with_its_own_account(
    allocation: RunningService,
) -> None:
    category = new_category()
    account = f"resident-{uuid.uuid4().hex[:8]}"
    [ref] = await qualify(allocation, category, 1, accounts=[account])
    units = await add_units(allocation, 1)
    round_id = await drawn_round(allocation, category, units)
    mine = token("applicant", org="350200", sub=account)
    other = token("applicant", org="350200", sub="someone-else")
    url = f"/rounds/{round_id}/households/{ref}"
    assert (await allocation.client.get(f"{url}/choices", headers=other)).status_code == 403
    answer = await allocation.client.get(f"{url}/choices", headers=mine)
    assert answer.status_code == 200 and [u["id"] for u in answer.json()["units"]] == units
    r = await post(allocation, f"{url}/selection", other, {"unit_id": units[0]})
    assert r.status_code == 403
    r = await post(allocation, f"{url}/selection", OFFICER, {"unit_id": units[0]})
    assert r.status_code == 403  # online selection is the household's own; staff use /selections
    r = await post(allocation, f"{url}/selection", mine, {"unit_id": units[0]})
    assert r.status_code == 201, r.text
    [allocated] = await emitted(allocation, "allocation.unit_allocated", r.json()["id"])
    assert allocated["household_reference"] == ref


async def test_a_round_may_set_its_own_unit_sizes(allocation: RunningService) -> None:
    category = new_category()
    [couple] = await qualify(allocation, category, 1, members=2)
    [small], [larger] = [await add_units(allocation, 1, area=a) for a in ("38.00", "55.00")]
    rules = [{"max_members": 2, "max_area_m2": "60.00"}, {"max_members": 30, "max_area_m2": "90"}]
    unordered = await post(
        allocation,
        "/rounds",
        OFFICER,
        {
            "category": category,
            "title": "户型有误",
            "unit_ids": [small],
            "unit_size_rules": list(reversed(rules)),
        },
    )
    assert unordered.status_code == 422 and unordered.json()["field"] == "unit_size_rules"
    round_id = await drawn_round(allocation, category, [small, larger], unit_size_rules=rules)
    url = f"/rounds/{round_id}/households/{couple}/choices"
    answer = (await allocation.client.get(url, headers=OFFICER)).json()
    # The city's rule would stop a couple at 40 m²; this round allows 60.
    assert answer["max_area_m2"] == "60.00"
    assert {u["id"] for u in answer["units"]} == {small, larger}
    r = await post(
        allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": couple, "unit_id": larger},
    )
    assert r.status_code == 201, r.text

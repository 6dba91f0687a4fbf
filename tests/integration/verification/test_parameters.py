"""Admission parameters: seeded from the city file, changed only by a proposal that another
person approves; the version in force on the acceptance date is the one applied."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from services.verification.tables import admission_parameter_sets
from shared.clock import today_shanghai
from shared.tables import outbox
from tests.harness import publish
from tests.integration.verification.helpers import (
    accepted,
    answer_http,
    requests_of,
    wait_completed,
    wait_for_case,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

CLERK = token("city_clerk", org="350200", sub="clerk-a")
LEADER_A = token(["city_leader", "city_clerk"], org="350200", sub="clerk-a")  # the proposer
LEADER_B = token("city_leader", org="350200", sub="leader-b")


def proposal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "newly_employed",
        "effective_from": today_shanghai().isoformat(),
        "reason": "根据本年度城镇居民人均可支配收入调整",
        "parameters": {
            "max_monthly_income_per_capita": "1000.00",  # far below the example household
            "max_housing_area_per_capita": "0",
            "max_financial_assets": "200000",
            "max_vehicle_value": "150000",
            "max_business_registered_capital": "100000",
            "hukou": "any",
            "min_social_security_months": 6,
        },
    }
    body.update(overrides)
    return body


async def verify_one(svc: RunningService) -> dict[str, Any]:
    """Run one application of newly_employed through with plain answers; its result."""
    event = accepted("newly_employed")
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    members = event.household.members
    for r in await requests_of(svc.runtime, event.application_id):
        body: dict[str, Any] = {"no_record": True}
        if r.department == "tax":
            body = {
                "no_record": False,
                "findings": [
                    {
                        "member_ref": m.member_id_hash,
                        "kind": "income",
                        "monthly_amount": str(m.declared_monthly_income),
                        "source": "wages",
                    }
                    for m in members
                ],
            }
        assert (await answer_http(svc.client, r.department, r.request_id, body)).status_code == 201
    case = await wait_completed(svc.runtime, event.application_id)
    return case.result


async def test_version_one_is_seeded_from_the_city_file(svc: RunningService) -> None:
    response = await svc.client.get(
        "/admission-parameters", params={"status": "approved"}, headers=CLERK
    )
    assert response.status_code == 200
    items = response.json()["items"]
    seeded = {i["category"]: i for i in items if i["version"] == 1}
    assert set(seeded) == {"low_income_family", "newly_employed", "migrant_worker"}
    assert seeded["low_income_family"]["parameters"]["max_monthly_income_per_capita"] == "4500"
    assert seeded["newly_employed"]["proposed_by"] == "system:city-config"


async def test_an_unapproved_change_never_takes_effect(svc: RunningService) -> None:
    created = await svc.client.post("/admission-parameters", json=proposal(), headers=LEADER_A)
    assert created.status_code == 201, created.text
    set_id = created.json()["id"]
    assert created.json()["status"] == "proposed" and created.json()["version"] is None

    # The proposer cannot approve their own change, even holding the approving role.
    own = await svc.client.post(f"/admission-parameters/{set_id}/approve", headers=LEADER_A)
    assert own.status_code == 403
    assert "本人" in own.json()["detail"]
    # A role that may propose may not approve.
    clerk = await svc.client.post(
        f"/admission-parameters/{set_id}/approve",
        headers=token("city_clerk", org="350200", sub="clerk-c"),
    )
    assert clerk.status_code == 403

    result = await verify_one(svc)
    assert result["parameters_version"] == 1
    assert result["recommendation"] == "eligible", result["reasons"]

    # Approved by someone else, it applies to acceptances from its effective date on.
    approved = await svc.client.post(f"/admission-parameters/{set_id}/approve", headers=LEADER_B)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["version"] == 2
    assert approved.json()["decided_by"] == "leader-b"
    async with svc.runtime.engine.connect() as conn:
        body = await conn.scalar(
            sa.select(outbox.c.body).where(
                outbox.c.type == "verification.parameters_changed", outbox.c.subject == set_id
            )
        )
    changed = orjson.loads(body)["data"]
    assert (changed["proposed_by"], changed["approved_by"], changed["approved"]) == (
        "clerk-a",
        "leader-b",
        True,
    )
    assert {c["name"]: (c["old"], c["new"]) for c in changed["changes"]} == {
        "max_monthly_income_per_capita": ("7000.00", "1000.00")
    }

    result = await verify_one(svc)
    assert result["parameters_version"] == 2
    assert result["recommendation"] == "ineligible"
    assert result["reasons"][0] == "依据准入参数第2版核查。"

    again = await svc.client.post(f"/admission-parameters/{set_id}/approve", headers=LEADER_B)
    assert again.status_code == 409


async def test_history_cannot_be_rewritten_in_the_database(svc: RunningService) -> None:
    async with svc.runtime.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="cannot change"):
            await conn.execute(
                admission_parameter_sets.update()
                .where(admission_parameter_sets.c.version == 1)
                .values(reason="篡改")
            )
        await conn.rollback()


async def test_bad_proposals_are_refused_with_the_field_named(svc: RunningService) -> None:
    unknown = await svc.client.post(
        "/admission-parameters", json=proposal(category="luxury_villa"), headers=CLERK
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "category")
    past = await svc.client.post(
        "/admission-parameters", json=proposal(effective_from="2020-01-01"), headers=CLERK
    )
    assert (past.status_code, past.json()["field"]) == (422, "effective_from")
    negative = proposal()
    negative["parameters"]["max_vehicle_value"] = "-1"
    bad = await svc.client.post("/admission-parameters", json=negative, headers=CLERK)
    assert bad.status_code == 422
    street = await svc.client.post(
        "/admission-parameters",
        json=proposal(),
        headers=token("street_clerk", org="350203001", sub="s-1"),
    )
    assert street.status_code == 403
    missing = await svc.client.post(
        f"/admission-parameters/{uuid.uuid4()}/approve", headers=LEADER_B
    )
    assert missing.status_code == 404
    async with svc.runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(admission_parameter_sets)
            .where(admission_parameter_sets.c.proposed_by == "s-1")
        )
    assert count == 0


async def test_a_retried_proposal_is_created_once(svc: RunningService) -> None:
    headers = {**CLERK, "Idempotency-Key": f"p-{uuid.uuid4()}"}
    body = proposal(reason="幂等重试")
    first = await svc.client.post("/admission-parameters", json=body, headers=headers)
    second = await svc.client.post("/admission-parameters", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    rejected = await svc.client.post(
        f"/admission-parameters/{first.json()['id']}/reject", headers=LEADER_B
    )
    assert rejected.json()["status"] == "rejected"

"""A running allocation service (real PostgreSQL and RabbitMQ) and helpers to walk a round."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.clock import clock
from shared.events.catalogue import ApplicationQualified, ApplicationSubmitted
from tests.conftest import Infra
from tests.harness import publish_and_handle
from tests.services import RunningService, running_service, token

OFFICER = token("housing_officer", sub="officer-a")
OFFICER_B = token("housing_officer", sub="officer-b")
LEADER = token("city_leader", sub="leader-1")
NOTARY = token("notary", sub="notary-1", name="公证员")


@pytest.fixture(scope="module")
async def allocation(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "allocation", system="allocation") as svc:
        yield svc


def new_category() -> str:
    return f"cat_{uuid.uuid4().hex[:12]}"


def id_hash() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


async def qualify(
    svc: RunningService,
    category: str,
    n: int,
    *,
    members: int = 2,
    hashes: list[str] | None = None,
    priority: list[list[dict[str, str]]] | None = None,
    accounts: list[str | None] | None = None,
) -> list[str]:
    """``n`` households submitted and qualified in ``category``; their references.
    ``priority[i]`` are the groups qualification decided for household i, ``accounts[i]``
    the applicant account that submitted it online."""
    events: list[Any] = []
    refs = []
    base = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    for i in range(n):
        app_id = uuid.uuid4()
        ref = f"XM-{uuid.uuid4().hex[:10].upper()}"
        refs.append(ref)
        member_hashes = [hashes[i] if hashes else id_hash()]
        events.append(
            ApplicationSubmitted(
                application_id=app_id,
                tracking_no=ref,
                city="350200",
                district="350206",
                street="350206001",
                channel="online",
                category="low_income_family",
                member_count=members,
                submitted_at=base,
                member_id_hashes=member_hashes,
                applicant_name_masked="张*丰",
                applicant_id_masked="3502**********1234",
                pledge_version="v1",
                pledge_signed_at=base,
                applicant_account=accounts[i] if accounts else None,
            )
        )
        events.append(
            ApplicationQualified(
                application_id=app_id,
                case_id=uuid.uuid4(),
                tracking_no=ref,
                city="350200",
                district="350206",
                street="350206001",
                category=category,
                member_count=members,
                applicant_name_masked="张*丰",
                qualified_at=base + timedelta(days=i),
                priority_groups=priority[i] if priority else [],
            )
        )
    await publish_and_handle(svc, *events, producer="review")
    return refs


async def add_units(svc: RunningService, n: int, *, area: str = "38.00") -> list[str]:
    ids = []
    project = uuid.uuid4().hex[:8]
    for i in range(n):
        response = await svc.client.post(
            "/units",
            headers=OFFICER,
            json={
                "project_code": project,
                "project_name": "湖里保障房",
                "district": "350206",
                "building_code": "1",
                "unit_code": f"{project}-1-{i + 101}",
                "address": f"湖里区保障路1号{i + 101}室",
                "area_m2": area,
                "rooms": 1,
                "floor": 1 + i // 4,
                "accessible": i == 0,
                "base_rent_per_m2": "12.50",
            },
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def post(svc: RunningService, url: str, headers: dict[str, str], body: Any = None) -> Any:
    return await svc.client.post(url, headers=headers, json=body)


async def frozen_round(
    svc: RunningService, category: str, unit_ids: list[str], **rules: Any
) -> str:
    """``rules``: the round's quotas and selection slot settings."""
    r = await post(
        svc,
        "/rounds",
        OFFICER,
        {"category": category, "title": "第一批", "unit_ids": unit_ids, **rules},
    )
    assert r.status_code == 201, r.text
    round_id = r.json()["id"]
    r = await post(svc, f"/rounds/{round_id}/approve", LEADER)
    assert r.status_code == 200, r.text
    r = await post(svc, f"/rounds/{round_id}/freeze", OFFICER, {})
    assert r.status_code == 200, r.text
    return round_id


async def drawn_round(
    svc: RunningService,
    category: str,
    unit_ids: list[str],
    public_input: str | None = None,
    **rules: Any,
) -> str:
    round_id = await frozen_round(svc, category, unit_ids, **rules)
    r = await post(svc, f"/rounds/{round_id}/commitment", OFFICER)
    assert r.status_code == 200, r.text
    r = await draw_after_objections(
        svc, round_id, public_input or f"{date.today()} {uuid.uuid4().hex[:8]}"
    )
    assert r.status_code == 200, r.text
    return round_id


async def draw_after_objections(svc: RunningService, round_id: str, public_input: str) -> Any:
    """The notary's draw once the pool's objection period (rules.yaml) has passed."""
    clock.set(datetime.now(UTC) + timedelta(days=6))
    try:
        return await post(svc, f"/rounds/{round_id}/draw", NOTARY, {"public_input": public_input})
    finally:
        clock.reset()


async def ranking(svc: RunningService, round_id: str) -> list[str]:
    r = await svc.client.get(f"/public/rounds/{round_id}/files/ranking.csv")
    assert r.status_code == 200, r.text
    return [line.split(",")[1] for line in r.text.strip().split("\n")[1:]]


async def selection(svc: RunningService, round_id: str) -> list[tuple[str, str]]:
    """The published selection order: (reference, seat) per household."""
    r = await svc.client.get(f"/public/rounds/{round_id}/files/selection.csv")
    assert r.status_code == 200, r.text
    return [(line.split(",")[1], line.split(",")[4]) for line in r.text.strip().split("\n")[1:]]


async def drafted_contract(svc: RunningService) -> tuple[str, dict[str, Any]]:
    """One household of a new category through the draw and selection to a drafted contract:
    its reference and the contract as drafting answered it."""
    category = new_category()
    await qualify(svc, category, 1)
    units = await add_units(svc, 1)
    round_id = await drawn_round(svc, category, units)
    [household] = await ranking(svc, round_id)
    r = await post(
        svc,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": household, "unit_id": units[0]},
    )
    assert r.status_code == 201, r.text
    r = await post(svc, f"/allocations/{r.json()['id']}/contract", OFFICER)
    assert r.status_code == 201, r.text
    return household, r.json()

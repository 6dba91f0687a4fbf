"""The stock disclosed (六公开: 房源): allocation's stock reaches publication's housing_stock
section through the real broker, without personal data, newest state per unit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from services.allocation import lottery
from services.allocation.domain import CSV_FIELDS
from services.allocation.tables import rounds
from shared.db import create_engine
from shared.events.envelope import Envelope
from shared.tables import outbox
from tests.conftest import Infra
from tests.harness import handled, publish_raw, wait_for
from tests.integration.allocation.conftest import (
    OFFICER as ALLOCATION_OFFICER,
)
from tests.integration.allocation.conftest import (
    add_units,
    draw_after_objections,
    drawn_round,
    frozen_round,
    new_category,
    qualify,
    ranking,
)
from tests.services import RunningService, running_service, token

OFFICER = token("housing_officer", sub="officer-stock")
UNIT_KEYS = {
    "unit_id",
    "project_name",
    "building_code",
    "unit_code",
    "district",
    "district_name",
    "address",
    "area_m2",
    "rooms",
    "floor",
    "accessible",
    "base_rent_per_m2",
    "status",
    "status_title",
}


@pytest.fixture(scope="module")
async def pair(infra: Infra) -> AsyncIterator[tuple[RunningService, RunningService]]:
    # One system: both services on the same exchanges, so allocation's events reach publication.
    async with (
        running_service(infra, "allocation", system="stock") as allocation,
        running_service(infra, "publication", system="stock") as publication,
    ):
        yield allocation, publication


async def _section(publication: RunningService) -> dict[str, Any]:
    r = await publication.client.get("/public/disclosures/housing_stock")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _outbox_envelopes(svc: RunningService, event_type: str) -> list[Envelope]:
    async with svc.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox.c.body).where(outbox.c.type == event_type).order_by(outbox.c.seq)
            )
        ).all()
    return [Envelope.from_bytes(r.body) for r in rows]


async def test_imported_stock_is_disclosed_and_only_newer_states_count(
    pair: tuple[RunningService, RunningService], infra: Infra
) -> None:
    allocation, publication = pair
    p = uuid.uuid4().hex[:8]
    lines = [
        ",".join(CSV_FIELDS),
        f"{p},湖里花园,350206,1,{p}-101,湖里区保障路1号101室,38.50,1,1,是,12.50,vacant",
        f"{p},湖里花园,350206,1,{p}-102,湖里区保障路1号102室,45.00,2,1,否,12.50,vacant",
        f"{p},湖里花园,350206,2,{p}-201,湖里区保障路2号201室,52.00,2,2,否,13.00,let",
    ]
    r = await allocation.client.post(
        "/stock/import", headers=OFFICER, content=("\n".join(lines) + "\n").encode()
    )
    assert r.status_code == 201 and r.json()["imported"] == 3, r.text

    # The whole file is one event.
    [imported] = await _outbox_envelopes(allocation, "allocation.units_changed")
    assert imported.data["reason"] == "imported"
    assert sorted(u["unit_code"] for u in imported.data["units"]) == [
        f"{p}-101",
        f"{p}-102",
        f"{p}-201",
    ]
    ids = {u["unit_code"]: u["unit_id"] for u in imported.data["units"]}

    async def listed() -> dict[str, Any] | None:
        s = await _section(publication)
        return s if s["page"]["total"] == 3 else None

    section = await wait_for(listed, what="the imported stock disclosed")
    items = section["page"]["items"]
    assert all(set(i) == UNIT_KEYS for i in items)
    assert [
        (i["unit_code"], i["building_code"], i["status"], i["status_title"]) for i in items
    ] == [
        (f"{p}-101", "1", "vacant", "空置"),
        (f"{p}-102", "1", "vacant", "空置"),
        (f"{p}-201", "2", "let", "已出租"),
    ]
    assert items[0] == {
        "unit_id": ids[f"{p}-101"],
        "project_name": "湖里花园",
        "building_code": "1",
        "unit_code": f"{p}-101",
        "district": "350206",
        "district_name": "湖里区",
        "address": "湖里区保障路1号101室",
        "area_m2": "38.50",
        "rooms": 1,
        "floor": 1,
        "accessible": True,
        "base_rent_per_m2": "12.50",
        "status": "vacant",
        "status_title": "空置",
    }
    assert section["summary"] == {"vacant": 2, "let": 1}
    assert section["note"] == "共 3 套：空置 2 套、已出租 1 套"
    counts = (await publication.client.get("/public/disclosures")).json()["items"]
    assert {c["section"]: c["count"] for c in counts}["housing_stock"] == 3

    r = await allocation.client.patch(
        f"/units/{ids[f'{p}-102']}", headers=OFFICER, json={"status": "under_repair"}
    )
    assert r.status_code == 200, r.text

    async def repaired() -> dict[str, Any] | None:
        s = await _section(publication)
        return s if s["page"]["items"][1]["status_title"] == "维修中" else None

    section = await wait_for(repaired, what="the unit under repair disclosed")
    assert section["summary"] == {"vacant": 1, "let": 1, "under_repair": 1}
    edited = (await _outbox_envelopes(allocation, "allocation.units_changed"))[1]
    assert edited.data["reason"] == "edited"
    assert [u["unit_code"] for u in edited.data["units"]] == [f"{p}-102"]

    page = await publication.client.get("/public/pages/disclosures/housing_stock")
    assert page.status_code == 200
    assert f"{p}-102" in page.text and "维修中" in page.text and "湖里区" in page.text

    # The import's state arriving again after the repair, as a new message (a new id, so the
    # inbox does not stop it): its older occurred_at changes nothing.
    late = imported.model_copy(update={"id": uuid.uuid4()})
    await publish_raw(infra, publication, late)
    await handled(publication, late)
    assert await _section(publication) == section

    # A status move: the unit a household selects shows as reserved.
    category = new_category()
    await qualify(allocation, category, 1)
    round_id = await drawn_round(allocation, category, [ids[f"{p}-101"]])
    [reference] = await ranking(allocation, round_id)
    r = await allocation.client.post(
        f"/rounds/{round_id}/selections",
        headers=OFFICER,
        json={"household_reference": reference, "unit_id": ids[f"{p}-101"]},
    )
    assert r.status_code == 201, r.text

    async def reserved() -> dict[str, Any] | None:
        s = await _section(publication)
        return s if s["page"]["items"][0]["status_title"] == "已预订" else None

    section = await wait_for(reserved, what="the selected unit disclosed as reserved")
    assert section["summary"] == {"reserved": 1, "let": 1, "under_repair": 1}
    assert all(set(i) == UNIT_KEYS for i in section["page"]["items"])
    assert reference not in str(section)


async def test_the_commitment_leaves_allocation_before_the_draw_and_a_rewrite_shows(
    pair: tuple[RunningService, RunningService],
) -> None:
    allocation, publication = pair
    units = await add_units(allocation, 2)

    async def published(round_id: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def probe() -> dict[str, Any] | None:
            r = await publication.client.get(f"/public/lottery/{round_id}/commitment")
            return dict(r.json()) if r.status_code == 200 else None

        return probe

    # An honest round: published before the draw, and the draw used it.
    category = new_category()
    await qualify(allocation, category, 2)
    honest = await frozen_round(allocation, category, units[:1])
    missing = await publication.client.get(f"/public/lottery/{honest}/commitment")
    assert (missing.status_code, missing.json()["detail"]) == (404, "该批次尚未公布承诺值")
    r = await allocation.client.post(f"/rounds/{honest}/commitment", headers=ALLOCATION_OFFICER)
    assert r.status_code == 200, r.text
    commitment = r.json()["commitment"]
    before = await wait_for(await published(honest), what="the commitment in publication")
    assert (before["commitment"], before["drawn"], before["matches"]) == (commitment, False, None)
    r = await draw_after_objections(allocation, honest, f"{uuid.uuid4().hex[:8]}")
    assert r.status_code == 200, r.text

    async def drawn(round_id: str) -> dict[str, Any] | None:
        found = await (await published(round_id))()
        return found if found and found["drawn"] else None

    after = await wait_for(lambda: drawn(honest), what="the draw in publication")
    assert (after["drawn_commitment"], after["matches"]) == (commitment, True)

    # A database administrator of allocation swaps the secret (and its hash) before the draw:
    # allocation's own files agree with each other, the copy outside it does not.
    category = new_category()
    await qualify(allocation, category, 2)
    rigged = await frozen_round(allocation, category, units[1:])
    r = await allocation.client.post(f"/rounds/{rigged}/commitment", headers=ALLOCATION_OFFICER)
    original = r.json()["commitment"]
    await wait_for(await published(rigged), what="the second commitment in publication")
    chosen = lottery.new_secret()
    owner = create_engine(allocation.runtime.settings.migration_database_url, pool_size=1)
    try:
        async with owner.begin() as conn:
            await conn.execute(
                sa.update(rounds)
                .where(rounds.c.id == uuid.UUID(rigged))
                .values(secret=chosen, commitment=lottery.commitment(chosen))
            )
    finally:
        await owner.dispose()
    r = await draw_after_objections(allocation, rigged, f"{uuid.uuid4().hex[:8]}")
    assert r.status_code == 200, r.text
    shown = await wait_for(lambda: drawn(rigged), what="the rigged draw in publication")
    assert (shown["commitment"], shown["drawn_commitment"], shown["matches"]) == (
        original,
        lottery.commitment(chosen),
        False,
    )

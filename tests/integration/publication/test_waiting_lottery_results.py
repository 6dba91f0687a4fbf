"""Allocation on the public side, from real allocation events on the real broker: the lottery
shortlist notice of a frozen pool, the ranking page of a draw, the allocation results notice
(one per round and selection day) with its publicity.opened and provincial push, the waiting
statistics and the household's waiting position in the progress query."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa

from services.publication.sweeps import notice_sweep
from services.publication.tables import lottery_rounds, notices, push_log
from shared.clock import SHANGHAI, clock, now
from shared.db import UnitOfWork
from shared.events import catalogue as ev
from shared.events.base import EventPayload
from shared.events.envelope import Envelope
from shared.pii import mask_resident_id
from shared.scheduler import run_once
from shared.tables import outbox
from tests.examples import resident_id
from tests.harness import publish_and_handle
from tests.integration.publication.conftest import Stack, accepted, publish_and_wait

pytestmark = pytest.mark.integration


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def households(stack: Stack, prefix: str, n: int) -> list[ev.ApplicationAccepted]:
    """``n`` accepted applications (masked in publication's read model) numbered from 1."""
    events = [accepted(f"{prefix}-{i:04d}") for i in range(1, n + 1)]
    for e in events:
        await publish_and_wait(stack, e, stage="accepted")
    return events


async def from_allocation(stack: Stack, *payloads: EventPayload, subject: object) -> None:
    await publish_and_handle(stack.svc, *payloads, producer="allocation", subject=str(subject))


async def outbox_of(stack: Stack, event_type: str) -> list[dict]:
    async with stack.svc.runtime.engine.connect() as conn:
        bodies = (
            await conn.scalars(
                sa.select(outbox.c.body).where(outbox.c.type == event_type).order_by(outbox.c.seq)
            )
        ).all()
    return [Envelope.from_bytes(b).data for b in bodies]


async def sweep(stack: Stack, at: datetime) -> None:
    async def tick(uow: UnitOfWork) -> None:
        await notice_sweep(stack.svc.runtime.context, uow)

    clock.set(at)
    try:
        assert await run_once(stack.svc.runtime, "notice-sweep-test", tick)
    finally:
        clock.reset()


def pool_frozen(
    round_id: uuid.UUID, references: list[str], **changes: object
) -> ev.AllocationPoolFrozen:
    at = now()
    values: dict[str, object] = {
        "round_id": round_id,
        "category": "low_income_family",
        "pool_digest": sha(f"pool {round_id}"),
        "households": len(references),
        "household_references": references,
        "cut_off": at - timedelta(hours=1),
        "objection_until": at + timedelta(days=5),
    }
    values.update(changes)
    return ev.AllocationPoolFrozen.model_validate(values)


def drawn(round_id: uuid.UUID, ranking: list[tuple[str, int]]) -> ev.AllocationRoundDrawn:
    return ev.AllocationRoundDrawn(
        round_id=round_id,
        category="low_income_family",
        pool_digest=sha(f"pool {round_id}"),
        commitment=sha("commitment"),
        public_input="2026-12-01 福彩3D 123",
        secret=sha("secret"),
        seed=sha("seed"),
        households=len(ranking),
        drawn_at=now(),
        ranking=[
            ev.RankedHousehold(household_reference=ref, rank=i, priority_tier=tier)
            for i, (ref, tier) in enumerate(ranking, start=1)
        ],
    )


def allocated(
    round_id: uuid.UUID, reference: str, rank: int, at: datetime
) -> ev.AllocationUnitAllocated:
    return ev.AllocationUnitAllocated(
        allocation_id=uuid.uuid4(),
        round_id=round_id,
        household_reference=reference,
        unit_id=uuid.uuid4(),
        unit_code=f"XM-A-{rank:03d}",
        rank=rank,
        allocated_at=at,
    )


async def test_pool_frozen_becomes_a_masked_shortlist_open_to_objection(stack: Stack) -> None:
    apps = await households(stack, "SHORT", 2)
    round_id = uuid.uuid4()
    event = pool_frozen(round_id, ["SHORT-0002", "SHORT-0001", "SHORT-9999"])
    await from_allocation(stack, event, subject=round_id)

    async with stack.svc.runtime.engine.connect() as conn:
        notice_id = await conn.scalar(
            sa.select(lottery_rounds.c.shortlist_notice_id).where(
                lottery_rounds.c.round_id == round_id
            )
        )
        closes_at = await conn.scalar(
            sa.select(notices.c.closes_at).where(notices.c.id == notice_id)
        )
    assert notice_id is not None
    assert closes_at == event.objection_until
    detail = (await stack.svc.client.get(f"/public/notices/{notice_id}")).json()
    assert detail["kind"] == "lottery_shortlist"
    assert detail["title"].startswith("摇号入围名单公示")
    assert detail["status"] == "open" and detail["accepts_objections"] is True
    assert detail["pool_digest"] == event.pool_digest
    assert detail["round_id"] == str(round_id)
    # The unknown household is not published blank; the two known ones in pool order.
    assert detail["entry_count"] == 2
    masked = [e["id_masked"] for e in detail["entries"]["items"]]
    assert masked == [mask_resident_id(resident_id())] * 2
    opened = [
        e for e in await outbox_of(stack, "publicity.opened") if e["notice_id"] == str(notice_id)
    ]
    assert len(opened) == 1 and opened[0]["kind"] == "lottery_shortlist"
    assert opened[0]["application_ids"] == [
        str(apps[1].application_id),
        str(apps[0].application_id),
    ]

    page = (await stack.svc.client.get(f"/public/pages/notices/{notice_id}")).text
    assert event.pool_digest in page and "摇号入围名单公示" in page
    assert resident_id() not in page

    # Anyone may object to an entry while the pool's objection period runs.
    entry_id = detail["entries"]["items"][0]["entry_id"]
    filed = await stack.svc.client.post(
        "/public/objections",
        json={
            "notice_id": str(notice_id),
            "entry_id": entry_id,
            "contact": "13900001111",
            "content": "该户家庭实际已有住房，请核查入围资格。",
        },
    )
    assert filed.status_code == 201, filed.text

    # Redelivery changes nothing: one notice for the round.
    async with stack.svc.runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(notices)
            .where(notices.c.batch.contains(str(round_id)[:8]))
        )
    assert count == 1


async def test_draw_is_published_as_a_ranking_page_with_the_verifier_files(stack: Stack) -> None:
    await households(stack, "RANK", 3)
    round_id = uuid.uuid4()
    refs = ["RANK-0001", "RANK-0002", "RANK-0003"]
    await from_allocation(stack, pool_frozen(round_id, refs), subject=round_id)
    draw = drawn(round_id, [("RANK-0003", 1), ("RANK-0001", 9), ("RANK-0002", 9)])
    await from_allocation(stack, draw, subject=round_id)

    body = (await stack.svc.client.get(f"/public/lottery/{round_id}")).json()
    assert body["households"] == 3
    assert (body["pool_digest"], body["commitment"], body["secret"], body["seed"]) == (
        draw.pool_digest,
        draw.commitment,
        draw.secret,
        draw.seed,
    )
    assert body["public_input"] == "2026-12-01 福彩3D 123"
    assert [(r["rank"], r["priority_tier"]) for r in body["ranking"]["items"]] == [
        (1, 1),
        (2, 9),
        (3, 9),
    ]
    assert all(r["name_masked"] == "张*丰" for r in body["ranking"]["items"])
    assert set(body["files"]) == {
        "pool.csv",
        "pool_digest.txt",
        "commitment.txt",
        "public_input.txt",
        "secret.txt",
        "ranking.csv",
    }
    assert body["files"]["ranking.csv"] == (
        f"http://127.0.0.1:8007/public/rounds/{round_id}/files/ranking.csv"
    )
    assert "RANK-0001" not in str(body)  # tracking numbers stay out of publication's pages

    page = await stack.svc.client.get(f"/public/pages/lottery/{round_id}")
    assert page.status_code == 200
    assert "摇号结果" in page.text and draw.secret in page.text and "verify_lottery.py" in page.text
    assert resident_id() not in page.text
    listed = (await stack.svc.client.get("/public/lottery?limit=100")).json()
    assert str(round_id) in [r["round_id"] for r in listed["items"]]
    unknown = await stack.svc.client.get(f"/public/lottery/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json()["field"] == "round_id"


async def test_results_of_a_selection_day_are_one_notice_the_morning_after(stack: Stack) -> None:
    apps = await households(stack, "RESULT", 3)
    round_id = uuid.uuid4()
    refs = ["RESULT-0001", "RESULT-0002", "RESULT-0003"]
    await from_allocation(stack, pool_frozen(round_id, refs), subject=round_id)
    await from_allocation(stack, drawn(round_id, [(r, 9) for r in refs]), subject=round_id)
    yesterday = now() - timedelta(days=1)
    first = allocated(round_id, "RESULT-0001", 1, yesterday)
    second = allocated(round_id, "RESULT-0002", 2, yesterday + timedelta(minutes=5))
    today = allocated(round_id, "RESULT-0003", 3, now())
    for e in (first, second, today):
        await from_allocation(stack, e, subject=e.allocation_id)

    # Each result goes to the province at once, in its household's application stream.
    async with stack.svc.runtime.engine.connect() as conn:
        streams = set(
            await conn.scalars(
                sa.select(push_log.c.stream_key).where(
                    push_log.c.event_type == "allocation.unit_allocated",
                    push_log.c.push_id.like(f"%application:{apps[0].application_id}"),
                )
            )
        )
    assert streams == {f"application:{apps[0].application_id}"}

    await sweep(stack, now())
    opened = [
        e
        for e in await outbox_of(stack, "publicity.opened")
        if e["kind"] == "allocation" and str(round_id)[:8] in (e["batch"] or "")
    ]
    assert len(opened) == 1
    day = yesterday.astimezone(SHANGHAI).date().isoformat()
    assert opened[0]["batch"].endswith(day)
    assert opened[0]["allocation_ids"] == [str(first.allocation_id), str(second.allocation_id)]
    assert opened[0]["application_ids"] == [
        str(apps[0].application_id),
        str(apps[1].application_id),
    ]
    notice = (await stack.svc.client.get(f"/public/notices/{opened[0]['notice_id']}")).json()
    assert notice["title"].startswith("分配结果公示")
    assert [e["remark"] for e in notice["entries"]["items"]] == [
        "摇号序号第1号，配租房源XM-A-001",
        "摇号序号第2号，配租房源XM-A-002",
    ]
    # Pushed too: one publicity.opened per listed application.
    async with stack.svc.runtime.engine.connect() as conn:
        bodies = await conn.scalars(
            sa.select(push_log.c.body).where(push_log.c.event_type == "publicity.opened")
        )
        pushed = [orjson.loads(b) for b in bodies]
    mine = [p for p in pushed if p["data"]["notice_id"] == opened[0]["notice_id"]]
    assert sorted(p["stream"] for p in mine) == sorted(
        f"application:{a}" for a in opened[0]["application_ids"]
    )
    assert all(p["data"]["allocation_ids"] == opened[0]["allocation_ids"] for p in mine)

    # Today's selection is published once today has ended, in its own notice.
    await sweep(stack, now() + timedelta(days=1))
    later = [
        e
        for e in await outbox_of(stack, "publicity.opened")
        if e["kind"] == "allocation" and str(round_id)[:8] in (e["batch"] or "")
    ]
    assert len(later) == 2
    assert later[1]["allocation_ids"] == [str(today.allocation_id)]


async def test_waiting_statistics_and_position_in_the_progress_query(stack: Stack) -> None:
    apps = await households(stack, "WAIT", 4)
    category = "wl_progress"
    base = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def entered(i: int, tier: int | None, days: int) -> ev.AllocationWaitingEntered:
        return ev.AllocationWaitingEntered(
            entry_id=uuid.uuid4(),
            application_id=apps[i].application_id,
            household_reference=apps[i].tracking_no,
            category=category,
            priority_group="general" if tier != 1 else "subsistence",
            qualified_at=base + timedelta(days=days),
            priority_tier=tier,
        )

    # Order: tier first (none = after every tier), then qualification date, then reference.
    waiting = [entered(0, 9, 1), entered(1, 1, 3), entered(2, 9, 2), entered(3, None, 0)]
    for e in waiting:
        await from_allocation(stack, e, subject=e.entry_id)

    async def positions(address: str) -> dict[str, tuple[str, int | None]]:
        tail = resident_id()[-4:]
        out = {}
        for n, app in enumerate(apps):
            async with stack.client(f"{address}.{n}") as client:
                body = (
                    await client.get(
                        f"/public/progress?tracking_no={app.tracking_no}&id_tail={tail}"
                    )
                ).json()
            out[app.tracking_no] = (body["waiting"]["status"], body["waiting"]["position"])
        return out

    assert await positions("10.7.1") == {
        "WAIT-0001": ("waiting", 2),
        "WAIT-0002": ("waiting", 1),
        "WAIT-0003": ("waiting", 3),
        "WAIT-0004": ("waiting", 4),
    }

    suspended = ev.AllocationEntrySuspended(
        entry_id=waiting[0].entry_id,
        household_reference="WAIT-0001",
        reason="credit_ban",
        until=(base + timedelta(days=400)).date(),
    )
    round_id = uuid.uuid4()
    unit = allocated(round_id, "WAIT-0002", 1, datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    subsidy = ev.AllocationSubsidyChosen(
        round_id=round_id,
        household_reference="WAIT-0003",
        member_count=2,
        income_band="low",
        monthly_amount="600.00",
        chosen_at=datetime(2026, 7, 1, 2, 0, tzinfo=UTC),
    )
    await from_allocation(stack, suspended, subject=suspended.entry_id)
    await from_allocation(stack, unit, subject=unit.allocation_id)
    await from_allocation(stack, subsidy, subject=round_id)
    # A late suspension never undoes an allocation.
    late = suspended.model_copy(update={"household_reference": "WAIT-0002", "reason": "declines"})
    await from_allocation(stack, late, subject=late.entry_id)

    assert await positions("10.7.2") == {
        "WAIT-0001": ("suspended", None),
        "WAIT-0002": ("allocated", None),
        "WAIT-0003": ("subsidised", None),
        "WAIT-0004": ("waiting", 1),
    }
    async with stack.client("10.7.3.1") as client:
        page = await client.get(
            f"/public/pages/progress?tracking_no=WAIT-0004&id_tail={resident_id()[-4:]}"
        )
    assert "当前轮候位次：第 1 位" in page.text

    clock.set(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    try:
        stats = (await stack.svc.client.get("/public/waiting-statistics")).json()
        html = (await stack.svc.client.get("/public/pages/waiting-statistics")).text
    finally:
        clock.reset()
    [mine] = [s for s in stats if s["category"] == category]
    assert mine["households_waiting"] == 1
    # WAIT-0004 qualified 2026-03-02 10:00 China time, 274 days before 2026-12-01 10:00.
    assert mine["average_waiting_days"] == 274.0
    assert mine["allocations_per_quarter"] == {"2026Q4": 1}
    assert mine["subsidies_per_quarter"] == {"2026Q3": 1}
    assert "轮候统计" in html and "2026Q4：1" in html

"""Read side of allocation: stock, waiting list and positions, rounds and their files."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi.responses import Response

from services.allocation import domain, store
from services.allocation.context import AllocationContext
from services.allocation.printing import render_contract
from services.allocation.schemas import (
    ChoicesOut,
    EntryOut,
    RoundAllocationOut,
    RoundOut,
    RoundSummaryOut,
    SlotOut,
    UnitOut,
)
from services.allocation.tables import (
    allocations,
    contracts,
    round_pool,
    rounds,
    units,
    waiting_entries,
)
from shared.auth import Principal
from shared.clock import now
from shared.pagination import Page, PageParams
from shared.printing import Document
from shared.problems import NotFound


async def list_units(ctx: AllocationContext, status: str | None) -> list[UnitOut]:
    query = store.UNIT_VIEW
    if status is not None:
        query = query.where(units.c.status == status)
    async with ctx.uow() as uow:
        rows = (await uow.conn.execute(query)).all()
    return [UnitOut.model_validate(dict(r._mapping)) for r in rows]


def _tier_of(ctx: AllocationContext) -> sa.ColumnElement[int]:
    """An entry's priority tier in SQL: the waiting order is tier (1 first), qualification
    date, reference, the order publication's progress query gives the household too."""
    return sa.case(
        {g.code: g.tier for g in ctx.rules.priority_groups},
        value=waiting_entries.c.priority_group,
        else_=max(g.tier for g in ctx.rules.priority_groups) + 1,
    )


async def entry(ctx: AllocationContext, reference: str) -> EntryOut:
    """The household's entry with its position among those waiting in its category."""
    async with ctx.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(waiting_entries).where(waiting_entries.c.household_reference == reference)
            )
        ).first()
        if row is None:
            raise NotFound("轮候家庭不存在")
        position = None
        if row.status == "waiting":
            tier = _tier_of(ctx)
            position = await uow.conn.scalar(
                sa.select(sa.func.count()).where(
                    waiting_entries.c.category == row.category,
                    waiting_entries.c.status == "waiting",
                    sa.tuple_(
                        tier, waiting_entries.c.qualified_at, waiting_entries.c.household_reference
                    )
                    <= sa.tuple_(
                        sa.literal(ctx.rules.tier(row.priority_group)),
                        sa.literal(row.qualified_at),
                        sa.literal(reference),
                    ),
                )
            )
    return EntryOut.model_validate({**row._mapping, "position": position})


async def public_list(ctx: AllocationContext, category: str) -> list[dict[str, Any]]:
    """The waiting list as the public sees it: masked references and names only."""
    async with ctx.uow() as uow:
        rows = (
            await uow.conn.execute(
                sa.select(
                    waiting_entries.c.household_reference,
                    waiting_entries.c.name_masked,
                    waiting_entries.c.qualified_at,
                    waiting_entries.c.priority_group,
                )
                .where(
                    waiting_entries.c.category == category, waiting_entries.c.status == "waiting"
                )
                .order_by(
                    _tier_of(ctx),
                    waiting_entries.c.qualified_at,
                    waiting_entries.c.household_reference,
                )
            )
        ).all()
    return [
        {
            "position": i,
            "household": domain.mask_reference(r.household_reference),
            "name": r.name_masked,
            "qualified_on": r.qualified_at.date().isoformat(),
            "priority_group": r.priority_group,
        }
        for i, r in enumerate(rows, start=1)
    ]


async def statistics(ctx: AllocationContext) -> list[dict[str, Any]]:
    async with ctx.uow() as uow:
        rows = (
            await uow.conn.execute(
                sa.select(
                    waiting_entries.c.category,
                    sa.func.count().filter(waiting_entries.c.status == "waiting").label("waiting"),
                    sa.func.count()
                    .filter(waiting_entries.c.status == "allocated")
                    .label("allocated"),
                    sa.func.avg(
                        sa.extract("epoch", sa.func.now() - waiting_entries.c.qualified_at) / 86400
                    )
                    .filter(waiting_entries.c.status == "waiting")
                    .label("avg_days"),
                ).group_by(waiting_entries.c.category)
            )
        ).all()
        quarter = sa.func.to_char(
            sa.func.timezone("Asia/Shanghai", allocations.c.allocated_at), 'YYYY"Q"Q'
        ).label("quarter")
        per_quarter = (
            await uow.conn.execute(
                sa.select(rounds.c.category, quarter, sa.func.count().label("n"))
                .select_from(allocations.join(rounds))
                .group_by(rounds.c.category, quarter)
            )
        ).all()
    quarters: dict[str, dict[str, int]] = {}
    for q in per_quarter:
        quarters.setdefault(q.category, {})[q.quarter] = q.n
    return [
        {
            "category": r.category,
            "households_waiting": r.waiting,
            "allocated": r.allocated,
            "average_waiting_days": round(float(r.avg_days or 0), 1),
            "allocations_per_quarter": quarters.get(r.category, {}),
        }
        for r in rows
    ]


async def round_out(ctx: AllocationContext, round_id: uuid.UUID) -> RoundOut:
    async with ctx.uow() as uow:
        row = await store.round_row(uow.conn, round_id)
        if row is None:
            raise NotFound("批次不存在")
        households = await uow.conn.scalar(
            sa.select(sa.func.count()).where(round_pool.c.round_id == round_id)
        )
    data = dict(row._mapping)
    if row.status != "drawn":
        data["secret"] = None  # the secret stays hidden until the draw
    return RoundOut.model_validate({**data, "households": households})


async def list_rounds(ctx: AllocationContext, page: PageParams) -> Page[RoundSummaryOut]:
    """The rounds, newest first, with their units and pooled households counted."""
    households = (
        sa.select(sa.func.count())
        .where(round_pool.c.round_id == rounds.c.id)
        .scalar_subquery()
        .label("households")
    )
    query = (
        sa.select(
            rounds.c.id,
            rounds.c.category,
            rounds.c.title,
            rounds.c.status,
            sa.func.cardinality(rounds.c.unit_ids).label("units"),
            households,
            rounds.c.opened_by,
            rounds.c.approved_by,
            rounds.c.created_at,
            rounds.c.objection_until,
            rounds.c.drawn_at,
        )
        .order_by(rounds.c.created_at.desc(), rounds.c.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    async with ctx.uow() as uow:
        rows = (await uow.conn.execute(query)).all()
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(rounds))
    items = [RoundSummaryOut.model_validate(dict(r._mapping)) for r in rows]
    return Page.of(items, total or 0, page)


async def round_allocations(
    ctx: AllocationContext, round_id: uuid.UUID
) -> list[RoundAllocationOut]:
    """The round's allocations in rank order, each with its unit and its contract if drafted."""
    async with ctx.uow() as uow:
        if await store.round_row(uow.conn, round_id) is None:
            raise NotFound("批次不存在")
        rows = (
            await uow.conn.execute(
                sa.select(
                    allocations.c.id,
                    allocations.c.round_id,
                    allocations.c.household_reference,
                    allocations.c.unit_id,
                    allocations.c.rank,
                    allocations.c.allocated_at,
                    units.c.code.label("unit_code"),
                    contracts.c.id.label("contract_id"),
                    contracts.c.signed_at,
                )
                .join(units, units.c.id == allocations.c.unit_id)
                .outerjoin(contracts, contracts.c.allocation_id == allocations.c.id)
                .where(allocations.c.round_id == round_id)
                .order_by(allocations.c.rank, allocations.c.allocated_at)
            )
        ).all()
    return [RoundAllocationOut.model_validate(dict(r._mapping)) for r in rows]


FILES = {
    "quotas.csv",
    "selection.csv",
    "pool.csv",
    "pool_digest.txt",
    "commitment.txt",
    "public_input.txt",
    "secret.txt",
    "ranking.csv",
}


async def round_file(ctx: AllocationContext, round_id: uuid.UUID, name: str) -> Response:
    """One published file of a round; each exists once its step has happened."""
    if name not in FILES:
        raise NotFound("没有该文件")
    async with ctx.uow() as uow:
        row = await store.round_row(uow.conn, round_id)
    if row is None:
        raise NotFound("批次不存在")
    drawn = row.status == "drawn"
    content: bytes | None = {
        "pool.csv": row.pool_file,
        "pool_digest.txt": row.pool_digest and f"{row.pool_digest}\n".encode(),
        "commitment.txt": row.commitment and f"{row.commitment}\n".encode(),
        "public_input.txt": (drawn and f"{row.public_input}\n".encode()) or None,
        "secret.txt": (drawn and f"{row.secret}\n".encode()) or None,
        "ranking.csv": row.ranking_file,
        "quotas.csv": row.quotas_file,
        "selection.csv": row.selection_file,
    }[name]
    if not content:
        raise NotFound("该文件尚未公布")
    media = "text/csv; charset=utf-8" if name.endswith(".csv") else "text/plain; charset=utf-8"
    return Response(content=content, media_type=media)


async def choices(
    ctx: AllocationContext, principal: Principal, round_id: uuid.UUID, reference: str
) -> ChoicesOut:
    """The household's place and slot in the round, and the round's units it may choose:
    vacant and no larger than its size allows (rules.yaml ``unit_size_rules``)."""
    async with ctx.uow() as uow:
        await store.ensure_household_account(uow.conn, principal, reference)
        row = await store.round_row(uow.conn, round_id)
        if row is None:
            raise NotFound("批次不存在")
        household = (
            await uow.conn.execute(
                sa.select(round_pool, waiting_entries.c.member_count, waiting_entries.c.status)
                .join(waiting_entries, waiting_entries.c.id == round_pool.c.entry_id)
                .where(
                    round_pool.c.round_id == round_id,
                    round_pool.c.household_reference == reference,
                )
            )
        ).first()
        if household is None:
            raise NotFound("该家庭不在本批次入围名单中")
        order = sa.func.coalesce(round_pool.c.selection_order, round_pool.c.rank)
        next_ref = await uow.conn.scalar(
            sa.select(round_pool.c.household_reference)
            .join(waiting_entries, waiting_entries.c.id == round_pool.c.entry_id)
            .where(
                round_pool.c.round_id == round_id,
                round_pool.c.outcome.is_(None),
                round_pool.c.rank.is_not(None),
                waiting_entries.c.status == "waiting",
            )
            .order_by(order)
            .limit(1)
        )
        limit = domain.max_area(ctx.rules, household.member_count, row.unit_size_rules)
        fitting = (
            await uow.conn.execute(
                store.UNIT_VIEW.where(
                    units.c.id.in_(row.unit_ids),
                    units.c.status == "vacant",
                    units.c.area_m2 <= limit,
                )
            )
        ).all()
    begins = deadline = None
    if household.rank is not None:
        begins, deadline = store.slot_of(row, household)
    open_now = deadline is not None and now() <= deadline
    slot = SlotOut(
        household_reference=reference,
        selection_order=household.selection_order or household.rank,
        rank=household.rank,
        slot_starts_at=begins,
        slot_deadline=deadline,
        outcome=household.outcome,
        your_turn=row.status == "drawn" and next_ref == reference and open_now,
    )
    return ChoicesOut(
        slot=slot,
        member_count=household.member_count,
        max_area_m2=limit,
        units=[UnitOut.model_validate(dict(u._mapping)) for u in fitting],
    )


async def contract_document(ctx: AllocationContext, contract_id: uuid.UUID) -> Document:
    """The lease contract as issued, laid out for printing and signing (签订)."""
    async with ctx.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(contracts, allocations.c.household_reference, allocations.c.unit_id)
                .join(allocations, allocations.c.id == contracts.c.allocation_id)
                .where(contracts.c.id == contract_id)
            )
        ).first()
        if row is None:
            raise NotFound("合同不存在", field="contract_id")
        unit = await store.unit(uow.conn, row.unit_id)
    return render_contract(
        city=ctx.city,
        contract=row,
        unit=unit,
        household_reference=row.household_reference,
        lessor=ctx.settings.lessor,
    )

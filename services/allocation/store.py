"""SQL shared by the commands, queries and handlers of allocation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.allocation import domain
from services.allocation.tables import (
    buildings,
    household_links,
    projects,
    round_pool,
    rounds,
    units,
    waiting_entries,
)
from shared.auth import HOUSING_OFFICER, Principal
from shared.problems import Forbidden

UNIT_VIEW = (
    sa.select(
        units.c.id,
        units.c.code,
        projects.c.code.label("project_code"),
        projects.c.name.label("project_name"),
        buildings.c.code.label("building_code"),
        projects.c.district,
        units.c.address,
        units.c.area_m2,
        units.c.rooms,
        units.c.floor,
        units.c.accessible,
        units.c.base_rent_per_m2,
        units.c.status,
    )
    .select_from(units.join(buildings).join(projects))
    .order_by(units.c.code)
)


async def unit(conn: AsyncConnection, unit_id: uuid.UUID) -> Any:
    return (await conn.execute(UNIT_VIEW.where(units.c.id == unit_id))).first()


async def round_row(conn: AsyncConnection, round_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(rounds).where(rounds.c.id == round_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def pool_rows(conn: AsyncConnection, round_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await conn.execute(
                sa.select(round_pool)
                .where(round_pool.c.round_id == round_id)
                .order_by(round_pool.c.priority_tier, round_pool.c.household_reference)
            )
        ).all()
    )


async def ensure_household_account(
    conn: AsyncConnection, principal: Principal, reference: str
) -> None:
    """Staff pass; an applicant only for the household whose online application its account
    submitted (the same refusal whether the household exists or not)."""
    if principal.has_role(HOUSING_OFFICER) and not principal.is_admin:
        return
    if not principal.has_role("applicant"):
        return  # other staff roles the endpoint admitted
    account = await conn.scalar(
        sa.select(household_links.c.applicant_account)
        .select_from(
            waiting_entries.join(
                household_links,
                household_links.c.application_id == waiting_entries.c.application_id,
            )
        )
        .where(waiting_entries.c.household_reference == reference)
    )
    if account is None or account != principal.sub:
        raise Forbidden("只能查看或办理本人申请家庭的选房")


def slot_of(round_row: Any, pool_row: Any) -> tuple[datetime, datetime]:
    """A drawn household's selection slot: start and deadline, from its selection order
    (its rank when the round has no quotas) and the round's slot settings."""
    order = pool_row.selection_order or pool_row.rank
    starts = round_row.selection_starts_at or round_row.drawn_at
    return domain.slot(starts, order, round_row.slot_minutes, round_row.households_per_slot)


def slot_deadline_sql() -> Any:
    """The same deadline in SQL, for the sweep (round_pool joined with rounds)."""
    order = sa.func.coalesce(round_pool.c.selection_order, round_pool.c.rank)
    slots = (order - 1) // rounds.c.households_per_slot + 1
    starts = sa.func.coalesce(rounds.c.selection_starts_at, rounds.c.drawn_at)
    return starts + sa.func.make_interval(0, 0, 0, 0, 0, slots * rounds.c.slot_minutes)

"""SQL shared by the commands, queries and handlers of allocation."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.allocation.tables import buildings, projects, round_pool, rounds, units

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

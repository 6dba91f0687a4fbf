"""SQL shared by the commands, queries and sweeps of tenancy."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.tenancy.tables import bills, exits, households, leases, violations
from shared.problems import NotFound


async def lease(conn: AsyncConnection, lease_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(leases).where(leases.c.id == lease_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("租约不存在")
    return row


async def household(conn: AsyncConnection, reference: str) -> Any:
    return (
        await conn.execute(
            sa.select(households).where(households.c.household_reference == reference)
        )
    ).first()


async def exit_row(conn: AsyncConnection, exit_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(exits).where(exits.c.id == exit_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("退出案件不存在")
    return row


async def violation(conn: AsyncConnection, violation_id: uuid.UUID) -> Any:
    row = (
        await conn.execute(
            sa.select(violations).where(violations.c.id == violation_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("违规整改单不存在")
    return row


async def overdue(conn: AsyncConnection, lease_id: uuid.UUID, today: date) -> Any:
    """Unpaid bills past their due day: how many, how much, the oldest and newest month."""
    return (
        await conn.execute(
            sa.select(
                sa.func.count().label("months"),
                sa.func.coalesce(sa.func.sum(bills.c.amount - bills.c.paid_amount), 0).label(
                    "amount"
                ),
                sa.func.min(bills.c.month).label("oldest"),
                sa.func.max(bills.c.month).label("newest"),
            ).where(bills.c.lease_id == lease_id, bills.c.paid_at.is_(None), bills.c.due_on < today)
        )
    ).one()


async def unpaid_total(conn: AsyncConnection, lease_id: uuid.UUID) -> Decimal:
    """Everything billed and not paid, due or not (what a move-out settles)."""
    value = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(bills.c.amount - bills.c.paid_amount), 0)).where(
            bills.c.lease_id == lease_id, bills.c.paid_at.is_(None)
        )
    )
    return Decimal(value)

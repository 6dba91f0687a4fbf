"""SQL the review commands, queries and sweeps share: loading cases, runs and signatures."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.review.tables import cases, signatures, stage_runs, suspensions


async def load_case(conn: AsyncConnection, case_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(cases).where(cases.c.id == case_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def load_run(conn: AsyncConnection, run_id: uuid.UUID | None, *, lock: bool = False) -> Any:
    if run_id is None:
        return None
    query = sa.select(stage_runs).where(stage_runs.c.id == run_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def run_signatures(conn: AsyncConnection, run_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await conn.execute(
                sa.select(signatures)
                .where(signatures.c.run_id == run_id)
                .order_by(signatures.c.seq)
            )
        ).all()
    )


async def signature_row(conn: AsyncConnection, signature_id: uuid.UUID) -> Any:
    return (await conn.execute(sa.select(signatures).where(signatures.c.id == signature_id))).one()


async def suspension_row(conn: AsyncConnection, suspension_id: uuid.UUID) -> Any:
    return (
        await conn.execute(sa.select(suspensions).where(suspensions.c.id == suspension_id))
    ).one()


def takes_notice(notice_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """Cases a qualification notice applies to: waiting for one, already on this one, or on
    one that was closed early (which does not count, so a new notice is needed)."""
    return sa.or_(
        cases.c.status == "awaiting_publicity",
        sa.and_(
            cases.c.status == "in_publicity",
            sa.or_(cases.c.notice_id == notice_id, cases.c.publicity_closed_early.is_(True)),
        ),
    )

"""Idempotent consumption: remember handled event ids in the handler's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.clock import now
from shared.tables import inbox


async def claim(conn: AsyncConnection, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event as handled; False means it was handled before (a redelivery).

    Runs inside the handler's transaction: if the handler fails, the claim rolls back with it.
    A concurrent duplicate blocks on the primary key until the first transaction ends, then
    sees the conflict, so two copies can never both apply.
    """
    return event_id in await claim_many(conn, [(event_id, event_type)])


async def claim_many(conn: AsyncConnection, events: list[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
    """Claim several events with one statement; returns the ids that were not handled before."""
    if not events:
        return set()
    stamp = now()
    stmt = (
        insert(inbox)
        .values([{"event_id": i, "type": t, "handled_at": stamp} for i, t in events])
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.event_id)
    )
    return set((await conn.scalars(stmt)).all())

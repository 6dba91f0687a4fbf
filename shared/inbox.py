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
    stmt = (
        insert(inbox)
        .values(event_id=event_id, type=event_type, handled_at=now())
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.event_id)
    )
    return (await conn.execute(stmt)).first() is not None

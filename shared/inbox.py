"""Idempotent consumption: remember handled event ids in the handler's transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.clock import now
from shared.tables import inbox, outbox


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


async def purge_retained(conn: AsyncConnection, older_than: timedelta) -> tuple[int, int]:
    """Delete published outbox rows and handled inbox ids older than ``older_than``: what a
    redelivery could still need is days old at most, and the rows carry event bodies with
    personal data that must not be kept for ever. Answers (outbox rows, inbox ids) deleted."""
    cutoff = now() - older_than
    sent = await conn.execute(
        sa.delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < cutoff)
    )
    handled = await conn.execute(sa.delete(inbox).where(inbox.c.handled_at < cutoff))
    return sent.rowcount or 0, handled.rowcount or 0

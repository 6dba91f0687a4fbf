"""Idempotent consumption: remember handled event ids in the handler's transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.clock import now
from shared.db import fetch
from shared.tables import inbox, outbox


async def claim(conn: AsyncConnection, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event as handled; False means it was handled before (a redelivery).

    Runs inside the handler's transaction: if the handler fails, the claim rolls back with it.
    A concurrent duplicate blocks on the primary key until the first transaction ends, then
    sees the conflict, so two copies can never both apply.
    """
    return event_id in await claim_many(conn, [(event_id, event_type)])


# One statement of fixed text whatever the batch size (arrays, not a VALUES list that grows),
# so it is prepared once per connection. An id twice in one batch is inserted once: the second
# row conflicts with the first and is skipped.
_CLAIM = """
INSERT INTO inbox (event_id, type, handled_at)
SELECT claimed.event_id, claimed.type, $3::timestamptz
FROM unnest($1::uuid[], $2::text[]) AS claimed(event_id, type)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""


async def claim_many(conn: AsyncConnection, events: list[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
    """Claim several events with one statement; returns the ids that were not handled before."""
    if not events:
        return set()
    ids, types = zip(*events, strict=True)
    rows = await fetch(conn, _CLAIM, list(ids), list(types), now())
    return {row[0] for row in rows}


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

"""Read side of the alerting service: a ticket as the API shows it."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from services.alerting.schemas import TicketEventOut, TicketOut
from services.alerting.tables import ticket_alerts, ticket_events, tickets
from shared.clock import now


async def ticket_out(conn: Any, row: Any, *, full: bool) -> TicketOut:
    at = now()
    out = TicketOut(
        **{k: getattr(row, k) for k in TicketOut.model_fields if hasattr(row, k)},
        overdue=row.closed_at is None and row.due_at is not None and row.due_at < at,
    )
    if full:
        out.alert_ids = list(
            (
                await conn.execute(
                    sa.select(ticket_alerts.c.alert_id).where(
                        ticket_alerts.c.ticket_id == row.ticket_id
                    )
                )
            ).scalars()
        )
        events = (
            await conn.execute(
                sa.select(*ticket_events.c)
                .where(ticket_events.c.ticket_id == row.ticket_id)
                .order_by(ticket_events.c.id)
            )
        ).all()
        out.events = [
            TicketEventOut(**{k: getattr(e, k) for k in TicketEventOut.model_fields})
            for e in events
        ]
    return out


async def ticket_detail(conn: Any, ticket_id: uuid.UUID) -> TicketOut:
    """The ticket as it now stands, with its alerts and history (the answer of every operation)."""
    row = (await conn.execute(sa.select(*tickets.c).where(tickets.c.ticket_id == ticket_id))).one()
    return await ticket_out(conn, row, full=True)

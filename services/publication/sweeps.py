"""Periodic jobs of the publication service, scheduled in ``bootstrap`` with ``sweep_job``."""

from __future__ import annotations

import sqlalchemy as sa

from services.publication import commands
from services.publication.context import PublicationContext
from services.publication.tables import notices
from shared.clock import now
from shared.db import UnitOfWork


async def notice_sweep(ctx: PublicationContext, uow: UnitOfWork) -> None:
    """Open scheduled notices whose time came, close open ones whose period ended, and publish
    the allocation results of ended selection days."""
    at = now()
    due_open = (
        await uow.conn.execute(
            sa.select(notices)
            .where(notices.c.status == "scheduled", notices.c.opens_at <= at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for notice in due_open:
        await commands.open_notice(ctx, uow, notice, at)
    due_close = (
        await uow.conn.execute(
            sa.select(notices)
            .where(notices.c.status == "open", notices.c.closes_at <= at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for notice in due_close:
        # Closed when it actually left the list (this tick), never before its planned end.
        await commands.close_notice(ctx, uow, notice, at)
    # Allocation results of every selection day that has ended, one notice per round and day.
    await commands.publish_allocation_results(ctx, uow, at)


async def province_push(ctx: PublicationContext, uow: UnitOfWork) -> None:
    """Send the due heads of the provincial push streams (``adapters.province.Pusher``)."""
    await ctx.pusher.sweep(uow)

"""Periodic jobs of verification: overdue departments and completion at the last deadline."""

from __future__ import annotations

from services.verification import commands
from services.verification.context import VerificationContext
from shared.db import UnitOfWork


async def deadlines(ctx: VerificationContext, uow: UnitOfWork) -> None:
    """Light the overdue departments and, with ``on_deadline="complete"``, finish the cases
    whose last deadline has passed (the silent departments listed as missing)."""
    batch = ctx.settings.sweep_batch_size
    await commands.announce_overdue(uow, batch=batch)
    if ctx.settings.on_deadline == "complete":
        await commands.complete_past_deadline(uow, ctx.city, batch=batch)

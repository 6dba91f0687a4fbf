"""Event entrypoints of the credit service: pledges from intake, candidates from verification.

Both reactions are idempotent by effect (ON CONFLICT DO NOTHING on natural keys), on top of the
inbox's deduplication of redelivered event ids; the logic is in :mod:`services.credit.commands`.
"""

from __future__ import annotations

from services.credit import commands
from services.credit.context import CreditContext
from shared.db import UnitOfWork
from shared.events.catalogue import ApplicationSubmitted, VerificationCompleted
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(ApplicationSubmitted)
async def on_application_submitted(
    ctx: CreditContext, uow: UnitOfWork, submitted: ApplicationSubmitted, envelope: Envelope
) -> None:
    await commands.register_pledge(ctx, uow, submitted)


@handles(VerificationCompleted)
async def on_verification_completed(
    ctx: CreditContext, uow: UnitOfWork, completed: VerificationCompleted, envelope: Envelope
) -> None:
    """Discrepancies become candidates for an officer to confirm or dismiss, never a record."""
    await commands.open_candidates(ctx, uow, completed)


HANDLERS = handler_map(on_application_submitted, on_verification_completed)

"""Event handlers: pledges from intake, dishonesty candidates from verification.

Both are idempotent by effect (ON CONFLICT DO NOTHING on natural keys), on top of the inbox's
deduplication of redelivered event ids.
"""

from __future__ import annotations

from services.credit import registry
from shared.db import UnitOfWork
from shared.events.catalogue import ApplicationSubmitted, VerificationCompleted
from shared.events.envelope import Envelope


async def on_application_submitted(uow: UnitOfWork, envelope: Envelope) -> None:
    event = ApplicationSubmitted.model_validate(envelope.data)
    await registry.register_pledge(uow, event.model_dump())


async def on_verification_completed(uow: UnitOfWork, envelope: Envelope) -> None:
    """Discrepancies become candidates for an officer to confirm or dismiss, never a record."""
    event = VerificationCompleted.model_validate(envelope.data)
    if not event.discrepancies:
        return
    await registry.open_candidates(
        uow,
        case_id=event.case_id,
        application_id=event.application_id,
        discrepancies=[d.model_dump() for d in event.discrepancies],
    )

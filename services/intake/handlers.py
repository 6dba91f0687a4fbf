"""Event handlers of the intake service.

* ``credit.ban_imposed`` / ``credit.ban_lifted`` keep the local ban projection that submission
  checks, so that applying never waits on a synchronous call to credit.
* ``application.rejected`` from review ends a live application: its members may apply again.

Each handler is idempotent by effect (upserts, conditional updates); the inbox already drops
redeliveries of the same event id.
"""

from __future__ import annotations

import uuid

import structlog

from services.intake import domain, store
from services.intake.domain import Status
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import ApplicationRejected, CreditBanImposed, CreditBanLifted
from shared.events.envelope import Envelope

log = structlog.get_logger(__name__)


async def on_ban_imposed(uow: UnitOfWork, envelope: Envelope) -> None:
    ban = CreditBanImposed.model_validate(envelope.data)
    if ban.subject_kind != "family":
        return  # employers and agencies do not apply for housing
    await store.upsert_ban(
        uow.conn,
        {
            "record_id": ban.record_id,
            "id_hash": ban.id_hash,
            "starts_on": ban.starts_on,
            "ends_on": ban.ends_on,
            "updated_at": now(),
        },
    )


async def on_ban_lifted(uow: UnitOfWork, envelope: Envelope) -> None:
    lift = CreditBanLifted.model_validate(envelope.data)
    # Also stored when the ban itself has not arrived yet, so that a late ban is born lifted.
    await store.upsert_ban(
        uow.conn,
        {
            "record_id": lift.record_id,
            "id_hash": lift.id_hash,
            "lifted_on": lift.lifted_on,
            "updated_at": now(),
        },
    )


async def on_application_rejected(uow: UnitOfWork, envelope: Envelope) -> None:
    event = ApplicationRejected.model_validate(envelope.data)
    if event.case_id is None:
        return  # our own refusal (不予受理), already applied when it was published
    row = await store.load_application(uow.conn, event.application_id, for_update=True)
    if row is None or not domain.is_active(row.status):
        return
    await store.close_application(
        uow.conn,
        uuid.UUID(str(event.application_id)),
        status=Status.REJECTED,
        by="review",
        at=event.rejected_at,
        reason="；".join(event.reasons),
    )
    log.info("application_closed_by_review", application_id=str(event.application_id))


HANDLERS = {
    "credit.ban_imposed": on_ban_imposed,
    "credit.ban_lifted": on_ban_lifted,
    "application.rejected": on_application_rejected,
}

"""Event entrypoints of review: a case per accepted application, the verification result it
waits for, and the publicity and objections that decide qualification.

Each handler runs in the consumer's unit of work after the inbox claimed the event id; each is
also idempotent by effect (a second ``application.accepted`` for the same application opens no
second case, a repeated ``objection.concluded`` changes nothing). The queue's bindings are
derived from ``HANDLERS``.
"""

from __future__ import annotations

from services.review import commands
from services.review.context import ReviewContext
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationAccepted,
    ApplicationWithdrawn,
    CreditBanImposed,
    CreditBanLifted,
    ObjectionConcluded,
    ObjectionFiled,
    PublicityClosed,
    PublicityOpened,
    VerificationCompleted,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(ApplicationAccepted)
async def on_application_accepted(
    ctx: ReviewContext, uow: UnitOfWork, accepted: ApplicationAccepted, envelope: Envelope
) -> None:
    if accepted.imported:
        return  # a history: its signatures arrive by POST /imports/signatures, no case opens
    await commands.open_case(ctx, uow, accepted)


@handles(ApplicationWithdrawn)
async def on_application_withdrawn(
    ctx: ReviewContext, uow: UnitOfWork, withdrawn: ApplicationWithdrawn, envelope: Envelope
) -> None:
    await commands.withdraw(uow, withdrawn)


@handles(VerificationCompleted)
async def on_verification_completed(
    ctx: ReviewContext, uow: UnitOfWork, completed: VerificationCompleted, envelope: Envelope
) -> None:
    await commands.record_verification(uow, completed)


@handles(PublicityOpened)
async def on_publicity_opened(
    ctx: ReviewContext, uow: UnitOfWork, opened: PublicityOpened, envelope: Envelope
) -> None:
    await commands.publicity_opened(uow, opened)


@handles(PublicityClosed)
async def on_publicity_closed(
    ctx: ReviewContext, uow: UnitOfWork, closed: PublicityClosed, envelope: Envelope
) -> None:
    await commands.publicity_closed(ctx, uow, closed)


@handles(ObjectionFiled)
async def on_objection_filed(
    ctx: ReviewContext, uow: UnitOfWork, filed: ObjectionFiled, envelope: Envelope
) -> None:
    await commands.objection_filed(uow, filed)


@handles(ObjectionConcluded)
async def on_objection_concluded(
    ctx: ReviewContext, uow: UnitOfWork, concluded: ObjectionConcluded, envelope: Envelope
) -> None:
    await commands.objection_concluded(ctx, uow, concluded)


@handles(CreditBanImposed)
async def on_ban_imposed(
    ctx: ReviewContext, uow: UnitOfWork, ban: CreditBanImposed, envelope: Envelope
) -> None:
    await commands.ban_imposed(ctx, uow, ban)


@handles(CreditBanLifted)
async def on_ban_lifted(
    ctx: ReviewContext, uow: UnitOfWork, lifted: CreditBanLifted, envelope: Envelope
) -> None:
    await commands.ban_lifted(uow, lifted)


HANDLERS = handler_map(
    on_application_accepted,
    on_application_withdrawn,
    on_verification_completed,
    on_publicity_opened,
    on_publicity_closed,
    on_objection_filed,
    on_objection_concluded,
    on_ban_imposed,
    on_ban_lifted,
)

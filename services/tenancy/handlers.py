"""Event entrypoints: households from intake and verification, contracts and subsidy choices
from allocation, re-review verdicts from verification."""

from __future__ import annotations

from services.tenancy import commands
from services.tenancy.context import TenancyContext
from shared.db import UnitOfWork
from shared.events.catalogue import (
    AllocationContractSigned,
    AllocationSubsidyChosen,
    ApplicationSubmitted,
    VerificationCompleted,
    VerificationRereviewCompleted,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(ApplicationSubmitted)
async def on_application_submitted(
    ctx: TenancyContext, uow: UnitOfWork, event: ApplicationSubmitted, envelope: Envelope
) -> None:
    """The applicant's hash and masked name and ID: whom a credit referral names later."""
    await commands.register_household(uow, event)


@handles(VerificationCompleted)
async def on_verification_completed(
    ctx: TenancyContext, uow: UnitOfWork, event: VerificationCompleted, envelope: Envelope
) -> None:
    """The latest verified assistance status, from which a new lease takes its rent band."""
    await commands.record_verified_income(uow, event)


@handles(AllocationContractSigned)
async def on_contract_signed(
    ctx: TenancyContext, uow: UnitOfWork, event: AllocationContractSigned, envelope: Envelope
) -> None:
    await commands.open_lease(ctx, uow, event)


@handles(AllocationSubsidyChosen)
async def on_subsidy_chosen(
    ctx: TenancyContext, uow: UnitOfWork, event: AllocationSubsidyChosen, envelope: Envelope
) -> None:
    await commands.open_subsidy(ctx, uow, event)


@handles(VerificationRereviewCompleted)
async def on_rereview_completed(
    ctx: TenancyContext, uow: UnitOfWork, event: VerificationRereviewCompleted, envelope: Envelope
) -> None:
    """The annual re-review's verdict: band, graded exit, officer's decision or violation."""
    await commands.apply_rereview(ctx, uow, event)


HANDLERS = handler_map(
    on_application_submitted,
    on_verification_completed,
    on_contract_signed,
    on_subsidy_chosen,
    on_rereview_completed,
)

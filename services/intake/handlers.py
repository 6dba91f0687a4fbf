"""Event entrypoints of the intake service: typed payload in, command out.

* ``credit.ban_imposed`` / ``credit.ban_lifted`` keep the local ban projection that submission
  checks, so that applying never waits on a synchronous call to credit.
* ``application.rejected`` from review ends a live application: its members may apply again,
  and the applicant is told why.
* The applicant is told (及时告知) of the steps other services take, because intake holds the
  contact: verification's failure (``verification.completed`` ineligible, with its reasons),
  qualification (``application.qualified``) and allocation's waiting, lottery and contract
  events about the household.

The queue's bindings derive from ``HANDLERS`` (``shared.handlers.derive_bindings``).
"""

from __future__ import annotations

from services.intake import commands
from services.intake.context import IntakeContext
from services.intake.messages import SUSPENSION_REASONS
from shared.db import UnitOfWork
from shared.events.catalogue import (
    AllocationConfirmationRequested,
    AllocationContractIssued,
    AllocationContractOverdue,
    AllocationEntrySuspended,
    AllocationSubsidyChosen,
    AllocationUnitAllocated,
    AllocationWaitingEntered,
    ApplicationQualified,
    ApplicationRejected,
    CreditBanImposed,
    CreditBanLifted,
    VerificationCompleted,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(CreditBanImposed)
async def on_ban_imposed(
    ctx: IntakeContext, uow: UnitOfWork, ban: CreditBanImposed, envelope: Envelope
) -> None:
    await commands.project_ban(ctx, uow, ban)


@handles(CreditBanLifted)
async def on_ban_lifted(
    ctx: IntakeContext, uow: UnitOfWork, lift: CreditBanLifted, envelope: Envelope
) -> None:
    await commands.project_lift(ctx, uow, lift)


@handles(ApplicationRejected)
async def on_application_rejected(
    ctx: IntakeContext, uow: UnitOfWork, rejected: ApplicationRejected, envelope: Envelope
) -> None:
    await commands.close_rejected(ctx, uow, rejected)


@handles(VerificationCompleted)
async def on_verification_completed(
    ctx: IntakeContext, uow: UnitOfWork, event: VerificationCompleted, envelope: Envelope
) -> None:
    await commands.tell_verification_failed(ctx, uow, event)


@handles(ApplicationQualified)
async def on_application_qualified(
    ctx: IntakeContext, uow: UnitOfWork, event: ApplicationQualified, envelope: Envelope
) -> None:
    await commands.tell_qualified(ctx, uow, event)


@handles(AllocationWaitingEntered)
async def on_waiting_entered(
    ctx: IntakeContext, uow: UnitOfWork, event: AllocationWaitingEntered, envelope: Envelope
) -> None:
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "waiting_entered",
        str(event.entry_id),
        priority_group=event.priority_group,
    )


@handles(AllocationEntrySuspended)
async def on_entry_suspended(
    ctx: IntakeContext, uow: UnitOfWork, event: AllocationEntrySuspended, envelope: Envelope
) -> None:
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "entry_suspended",
        str(envelope.id),
        reason=SUSPENSION_REASONS[event.reason],
        until=f"，{event.until:%Y年%m月%d日}起恢复轮候" if event.until else "",
    )


# The lottery's result per household: ``allocation.round_drawn`` carries no household or rank,
# so the household hears its rank when it chooses (unit or subsidy).
@handles(AllocationUnitAllocated)
async def on_unit_allocated(
    ctx: IntakeContext, uow: UnitOfWork, event: AllocationUnitAllocated, envelope: Envelope
) -> None:
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "unit_allocated",
        str(event.allocation_id),
        rank=event.rank,
        unit_code=event.unit_code,
    )


@handles(AllocationSubsidyChosen)
async def on_subsidy_chosen(
    ctx: IntakeContext, uow: UnitOfWork, event: AllocationSubsidyChosen, envelope: Envelope
) -> None:
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "subsidy_chosen",
        f"{event.round_id}:{event.household_reference}",
        monthly_amount=event.monthly_amount,
    )


@handles(AllocationContractIssued)
async def on_contract_issued(
    ctx: IntakeContext, uow: UnitOfWork, event: AllocationContractIssued, envelope: Envelope
) -> None:
    # Told before the deadline, not only once it has passed.
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "contract_issued",
        str(event.contract_id),
        sign_by=f"{event.sign_by:%Y年%m月%d日}",
    )


@handles(AllocationContractOverdue)
async def on_contract_overdue(
    ctx: IntakeContext, uow: UnitOfWork, event: AllocationContractOverdue, envelope: Envelope
) -> None:
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "contract_overdue",
        str(event.contract_id),
        sign_by=f"{event.sign_by:%Y年%m月%d日}",
    )


@handles(AllocationConfirmationRequested)
async def on_confirmation_requested(
    ctx: IntakeContext,
    uow: UnitOfWork,
    event: AllocationConfirmationRequested,
    envelope: Envelope,
) -> None:
    await commands.tell_household(
        ctx,
        uow,
        event.household_reference,
        "confirmation_requested",
        f"{event.entry_id}:{event.confirm_by}",
        confirm_by=f"{event.confirm_by:%Y年%m月%d日}",
    )


HANDLERS = handler_map(
    on_ban_imposed,
    on_ban_lifted,
    on_application_rejected,
    on_verification_completed,
    on_application_qualified,
    on_waiting_entered,
    on_entry_suspended,
    on_unit_allocated,
    on_subsidy_chosen,
    on_contract_issued,
    on_contract_overdue,
    on_confirmation_requested,
)

"""Event entrypoints of the publication service: each projects its event into the public read
models (progress, agency blacklist, the waiting list and lottery rounds, the housing stock)
and logs it for the province when it is a key process event.

This service's own publicity.* and objection.* events are not heard: they are logged for the
province in the transaction that emits them (``commands``).
"""

from __future__ import annotations

from services.publication import commands
from services.publication.context import PublicationContext
from shared.db import UnitOfWork
from shared.events.catalogue import (
    AlertCleared,
    AlertRaised,
    AllocationCommitmentPublished,
    AllocationEntrySuspended,
    AllocationPoolFrozen,
    AllocationRoundDrawn,
    AllocationSubsidyChosen,
    AllocationUnitAllocated,
    AllocationUnitsChanged,
    AllocationWaitingEntered,
    ApplicationAccepted,
    ApplicationQualified,
    ApplicationRefused,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationSupplementRequested,
    ApplicationWithdrawn,
    AuditCheckpointed,
    CreditAgencyBlacklisted,
    CreditBanLifted,
    CreditCaseExposed,
    CreditNoticeStep,
    ReviewDecided,
    ReviewOpinionSigned,
    ReviewStageCompleted,
    ReviewStageOverdue,
    ReviewStageResumed,
    ReviewStageStarted,
    ReviewStageSuspended,
    TicketFeedbackReported,
    VerificationCompleted,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(ApplicationSubmitted)
async def on_submitted(
    ctx: PublicationContext, uow: UnitOfWork, event: ApplicationSubmitted, envelope: Envelope
) -> None:
    await commands.project_submitted(uow, event, envelope)
    await commands.log_push(ctx, uow, envelope)


@handles(ApplicationAccepted)
async def on_accepted(
    ctx: PublicationContext, uow: UnitOfWork, event: ApplicationAccepted, envelope: Envelope
) -> None:
    await commands.project_accepted(uow, event, envelope)
    await commands.log_push(ctx, uow, envelope)


@handles(ApplicationSupplementRequested)
async def on_supplement_requested(
    ctx: PublicationContext,
    uow: UnitOfWork,
    event: ApplicationSupplementRequested,
    envelope: Envelope,
) -> None:
    await commands.project_stage(
        uow,
        event,
        envelope,
        "supplement",
        # Names only: an item's note may describe the family's documents.
        supplement_items=[item.name for item in event.items],
        supplement_deadline=event.deadline,
    )
    await commands.log_push(ctx, uow, envelope)


@handles(ApplicationWithdrawn)
async def on_withdrawn(
    ctx: PublicationContext, uow: UnitOfWork, event: ApplicationWithdrawn, envelope: Envelope
) -> None:
    await commands.project_stage(uow, event, envelope, "withdrawn")
    await commands.log_push(ctx, uow, envelope)


@handles(VerificationCompleted)
async def on_verification_completed(
    ctx: PublicationContext, uow: UnitOfWork, event: VerificationCompleted, envelope: Envelope
) -> None:
    await commands.project_stage(uow, event, envelope, "verified")
    await commands.log_push(ctx, uow, envelope)


@handles(ReviewStageStarted)
async def on_stage_started(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewStageStarted, envelope: Envelope
) -> None:
    await commands.project_stage(uow, event, envelope, "review", level=True, due_at=event.due_at)
    await commands.log_push(ctx, uow, envelope)


@handles(ReviewStageSuspended)
async def on_stage_suspended(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewStageSuspended, envelope: Envelope
) -> None:
    await commands.project_stage(uow, event, envelope, "suspended", level=True)
    await commands.log_push(ctx, uow, envelope)


@handles(ReviewStageResumed)
async def on_stage_resumed(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewStageResumed, envelope: Envelope
) -> None:
    await commands.project_stage(uow, event, envelope, "review", level=True, due_at=event.due_at)
    await commands.log_push(ctx, uow, envelope)


@handles(ReviewStageCompleted)
async def on_stage_completed(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewStageCompleted, envelope: Envelope
) -> None:
    await commands.log_push(ctx, uow, envelope)


@handles(ReviewStageOverdue)
async def on_stage_overdue(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewStageOverdue, envelope: Envelope
) -> None:
    await commands.log_push(ctx, uow, envelope)


@handles(ReviewOpinionSigned)
async def on_opinion_signed(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewOpinionSigned, envelope: Envelope
) -> None:
    await commands.record_signer(uow, event)


@handles(ReviewDecided)
async def on_decided(
    ctx: PublicationContext, uow: UnitOfWork, event: ReviewDecided, envelope: Envelope
) -> None:
    await commands.project_stage(
        uow,
        event,
        envelope,
        "qualified" if event.outcome == "qualified" else "rejected",
        decided_at=event.decided_at,
        outcome=event.outcome,
    )
    await commands.log_push(ctx, uow, envelope)


@handles(ApplicationQualified)
async def on_qualified(
    ctx: PublicationContext, uow: UnitOfWork, event: ApplicationQualified, envelope: Envelope
) -> None:
    await commands.project_qualified(uow, event, envelope)
    await commands.log_push(ctx, uow, envelope)


@handles(ApplicationRejected)
async def on_rejected(
    ctx: PublicationContext, uow: UnitOfWork, event: ApplicationRejected, envelope: Envelope
) -> None:
    await commands.project_stage(
        uow, event, envelope, "rejected", outcome="rejected", decided_at=event.rejected_at
    )
    await commands.log_push(ctx, uow, envelope)


@handles(ApplicationRefused)
async def on_refused(
    ctx: PublicationContext, uow: UnitOfWork, event: ApplicationRefused, envelope: Envelope
) -> None:
    # 不予受理 ends the application like a rejection, at the intake stage.
    rejection = event.as_rejection()
    await commands.project_stage(
        uow, rejection, envelope, "rejected", outcome="rejected", decided_at=event.refused_at
    )
    await commands.log_push(ctx, uow, envelope)


@handles(CreditAgencyBlacklisted)
async def on_agency_blacklisted(
    ctx: PublicationContext, uow: UnitOfWork, event: CreditAgencyBlacklisted, envelope: Envelope
) -> None:
    await commands.project_agency_blacklisted(uow, event, envelope)
    await commands.log_push(ctx, uow, envelope)


@handles(CreditBanLifted)
async def on_ban_lifted(
    ctx: PublicationContext, uow: UnitOfWork, event: CreditBanLifted, envelope: Envelope
) -> None:
    await commands.project_ban_lifted(uow, event, envelope)
    await commands.log_push(ctx, uow, envelope)


@handles(CreditNoticeStep)
async def on_credit_notice_step(
    ctx: PublicationContext, uow: UnitOfWork, event: CreditNoticeStep, envelope: Envelope
) -> None:
    # Only the announcement replacing an undeliverable letter is public; other steps are not.
    await commands.project_credit_announcement(uow, event)


@handles(CreditCaseExposed)
async def on_case_exposed(
    ctx: PublicationContext, uow: UnitOfWork, event: CreditCaseExposed, envelope: Envelope
) -> None:
    await commands.project_case_exposed(uow, event)


# Only red lights go to the province (domain.is_pushed): yellow ones are not even delivered.
@handles(AlertRaised, routing_keys=("alert.raised.red",))
async def on_alert_raised(
    ctx: PublicationContext, uow: UnitOfWork, event: AlertRaised, envelope: Envelope
) -> None:
    await commands.log_push(ctx, uow, envelope)


@handles(AlertCleared, routing_keys=("alert.cleared.red",))
async def on_alert_cleared(
    ctx: PublicationContext, uow: UnitOfWork, event: AlertCleared, envelope: Envelope
) -> None:
    await commands.log_push(ctx, uow, envelope)


@handles(TicketFeedbackReported)
async def on_ticket_feedback_reported(
    ctx: PublicationContext, uow: UnitOfWork, event: TicketFeedbackReported, envelope: Envelope
) -> None:
    # The city office's red-ticket feedback (art. 10(2)) goes to the province on the same
    # channel as the red lights it answers.
    await commands.log_push(ctx, uow, envelope)


@handles(AuditCheckpointed)
async def on_audit_checkpointed(
    ctx: PublicationContext, uow: UnitOfWork, event: AuditCheckpointed, envelope: Envelope
) -> None:
    await commands.keep_checkpoint(ctx, uow, event, envelope)


@handles(AllocationWaitingEntered)
async def on_waiting_entered(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationWaitingEntered, envelope: Envelope
) -> None:
    await commands.project_waiting_entered(uow, event, envelope)


@handles(AllocationEntrySuspended)
async def on_entry_suspended(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationEntrySuspended, envelope: Envelope
) -> None:
    await commands.project_entry_suspended(uow, event, envelope)


@handles(AllocationSubsidyChosen)
async def on_subsidy_chosen(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationSubsidyChosen, envelope: Envelope
) -> None:
    await commands.project_subsidy_chosen(uow, event, envelope)


@handles(AllocationPoolFrozen)
async def on_pool_frozen(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationPoolFrozen, envelope: Envelope
) -> None:
    await commands.shortlist_from_pool(ctx, uow, event, envelope)


@handles(AllocationCommitmentPublished)
async def on_commitment_published(
    ctx: PublicationContext,
    uow: UnitOfWork,
    event: AllocationCommitmentPublished,
    envelope: Envelope,
) -> None:
    await commands.keep_commitment(ctx, uow, event, envelope)


@handles(AllocationRoundDrawn)
async def on_round_drawn(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationRoundDrawn, envelope: Envelope
) -> None:
    await commands.keep_draw(ctx, uow, event, envelope)


@handles(AllocationUnitAllocated)
async def on_unit_allocated(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationUnitAllocated, envelope: Envelope
) -> None:
    await commands.register_result(ctx, uow, event, envelope)


@handles(AllocationUnitsChanged)
async def on_units_changed(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationUnitsChanged, envelope: Envelope
) -> None:
    await commands.project_units(uow, event, envelope)


HANDLERS = handler_map(
    on_submitted,
    on_accepted,
    on_supplement_requested,
    on_withdrawn,
    on_verification_completed,
    on_stage_started,
    on_stage_suspended,
    on_stage_resumed,
    on_stage_completed,
    on_stage_overdue,
    on_opinion_signed,
    on_decided,
    on_qualified,
    on_rejected,
    on_refused,
    on_agency_blacklisted,
    on_ban_lifted,
    on_credit_notice_step,
    on_case_exposed,
    on_alert_raised,
    on_alert_cleared,
    on_ticket_feedback_reported,
    on_waiting_entered,
    on_entry_suspended,
    on_subsidy_chosen,
    on_pool_frozen,
    on_commitment_published,
    on_round_drawn,
    on_unit_allocated,
    on_units_changed,
    on_audit_checkpointed,
)

"""Event entrypoints of the alerting service: each validates its payload (``shared.handlers``),
serialises events about one application, and calls its reaction in ``commands.py``.

A malformed event fails and goes the retry / dead-letter way instead of half-applying. The
bindings are derived from ``HANDLERS``: alerting receives exactly the types it handles.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from services.alerting import commands, tenancy_figures, tenancy_reminders
from services.alerting.context import AlertingContext
from shared import db
from shared.db import UnitOfWork
from shared.events import catalogue as ev
from shared.events.base import EventPayload, payload_model
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles

P = TypeVar("P", bound=EventPayload)
Reaction = Callable[[AlertingContext, UnitOfWork, P, Envelope], Awaitable[None]]


def _serialised(fn: Reaction[P]) -> Reaction[P]:
    @functools.wraps(fn)
    async def entry(ctx: AlertingContext, uow: UnitOfWork, e: P, envelope: Envelope) -> None:
        if payload_model(envelope.type, envelope.version) is None:
            # A version this code does not know: fail loudly, retry later.
            raise ValueError(f"no payload model for {envelope.type} v{envelope.version}")
        # The consumer handles several messages at once. Events about one application (two
        # signatures of a stage, a stage's start and end) must see each other's effects, or
        # an order breach between two concurrent transactions would go unnoticed: serialise
        # them on a transaction-scoped advisory lock named after the application.
        subject: Any = getattr(e, "application_id", None) or getattr(e, "notice_id", None)
        if subject is not None:
            await db.lock_named(uow.conn, f"alerting:{subject}")
        await fn(ctx, uow, e, envelope)

    return entry


@handles(ev.ApplicationSubmitted)
@_serialised
async def on_application_submitted(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSubmitted, envelope: Envelope
) -> None:
    await commands.application_submitted(ctx, uow, e, envelope)


@handles(ev.ApplicationAccepted)
@_serialised
async def on_application_accepted(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationAccepted, envelope: Envelope
) -> None:
    await commands.application_accepted(ctx, uow, e, envelope)


@handles(ev.ApplicationMaterialsUploaded)
@_serialised
async def on_application_materials_uploaded(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationMaterialsUploaded, envelope: Envelope
) -> None:
    await commands.application_materials_uploaded(ctx, uow, e, envelope)


@handles(ev.ApplicationSupplementRequested)
@_serialised
async def on_application_supplement_requested(
    ctx: AlertingContext,
    uow: UnitOfWork,
    e: ev.ApplicationSupplementRequested,
    envelope: Envelope,
) -> None:
    await commands.supplement_requested(ctx, uow, e, envelope)


@handles(ev.ApplicationSupplementReceived)
@_serialised
async def on_application_supplement_received(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSupplementReceived, envelope: Envelope
) -> None:
    await commands.supplement_received(ctx, uow, e, envelope)


@handles(ev.ApplicationSupplementOverdue)
@_serialised
async def on_application_supplement_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSupplementOverdue, envelope: Envelope
) -> None:
    await commands.supplement_overdue(ctx, uow, e, envelope)


@handles(ev.ApplicationWithdrawn)
@_serialised
async def on_application_withdrawn(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationWithdrawn, envelope: Envelope
) -> None:
    await commands.application_withdrawn(ctx, uow, e, envelope)


@handles(ev.ApplicationQualified)
@_serialised
async def on_application_qualified(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationQualified, envelope: Envelope
) -> None:
    await commands.application_qualified(ctx, uow, e, envelope)


@handles(ev.ApplicationRejected)
@_serialised
async def on_application_rejected(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationRejected, envelope: Envelope
) -> None:
    await commands.application_rejected(ctx, uow, e, envelope)


@handles(ev.ApplicationRefused)
@_serialised
async def on_application_refused(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationRefused, envelope: Envelope
) -> None:
    # 不予受理 closes the application's timeline as a rejection does.
    await commands.application_rejected(ctx, uow, e.as_rejection(), envelope)


@handles(ev.VerificationAnswerEmpty)
@_serialised
async def on_verification_answer_empty(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationAnswerEmpty, envelope: Envelope
) -> None:
    await commands.verification_answer_empty(ctx, uow, e, envelope)


@handles(ev.VerificationStarted)
@_serialised
async def on_verification_started(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationStarted, envelope: Envelope
) -> None:
    await commands.verification_started(ctx, uow, e, envelope)


@handles(ev.VerificationAnswerLate)
@_serialised
async def on_verification_answer_late(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationAnswerLate, envelope: Envelope
) -> None:
    await commands.verification_answer_late(ctx, uow, e, envelope)


@handles(ev.VerificationDepartmentOverdue)
@_serialised
async def on_verification_department_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationDepartmentOverdue, envelope: Envelope
) -> None:
    await commands.verification_department_overdue(ctx, uow, e, envelope)


@handles(ev.VerificationCompleted)
@_serialised
async def on_verification_completed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationCompleted, envelope: Envelope
) -> None:
    await commands.verification_completed(ctx, uow, e, envelope)


@handles(ev.VerificationParametersChanged)
@_serialised
async def on_verification_parameters_changed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationParametersChanged, envelope: Envelope
) -> None:
    await commands.verification_parameters_changed(ctx, uow, e, envelope)


@handles(ev.ReviewCaseOpened)
@_serialised
async def on_review_case_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewCaseOpened, envelope: Envelope
) -> None:
    await commands.review_case_opened(ctx, uow, e, envelope)


@handles(ev.ReviewStageStarted)
@_serialised
async def on_review_stage_started(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageStarted, envelope: Envelope
) -> None:
    await commands.review_stage_started(ctx, uow, e, envelope)


@handles(ev.ReviewStageCompleted)
@_serialised
async def on_review_stage_completed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageCompleted, envelope: Envelope
) -> None:
    await commands.review_stage_completed(ctx, uow, e, envelope)


@handles(ev.ReviewStageSuspended)
@_serialised
async def on_review_stage_suspended(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageSuspended, envelope: Envelope
) -> None:
    await commands.review_stage_suspended(ctx, uow, e, envelope)


@handles(ev.ReviewStageResumed)
@_serialised
async def on_review_stage_resumed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageResumed, envelope: Envelope
) -> None:
    await commands.review_stage_resumed(ctx, uow, e, envelope)


@handles(ev.ReviewSuspensionRefused)
@_serialised
async def on_review_suspension_refused(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewSuspensionRefused, envelope: Envelope
) -> None:
    await commands.review_suspension_refused(ctx, uow, e, envelope)


@handles(ev.ReviewStageOverdue)
@_serialised
async def on_review_stage_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageOverdue, envelope: Envelope
) -> None:
    await commands.review_stage_overdue(ctx, uow, e, envelope)


@handles(ev.ReviewOpinionSigned)
@_serialised
async def on_review_opinion_signed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewOpinionSigned, envelope: Envelope
) -> None:
    await commands.review_opinion_signed(ctx, uow, e, envelope)


@handles(ev.PublicityOpened)
@_serialised
async def on_publicity_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.PublicityOpened, envelope: Envelope
) -> None:
    await commands.publicity_opened(ctx, uow, e, envelope)


@handles(ev.PublicityClosed)
@_serialised
async def on_publicity_closed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.PublicityClosed, envelope: Envelope
) -> None:
    await commands.publicity_closed(ctx, uow, e, envelope)


@handles(ev.ObjectionFiled)
@_serialised
async def on_objection_filed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ObjectionFiled, envelope: Envelope
) -> None:
    await commands.objection_filed(ctx, uow, e, envelope)


@handles(ev.ObjectionConcluded)
@_serialised
async def on_objection_concluded(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ObjectionConcluded, envelope: Envelope
) -> None:
    await commands.objection_concluded(ctx, uow, e, envelope)


@handles(ev.AllocationUnitAllocated)
@_serialised
async def on_allocation_unit_allocated(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationUnitAllocated, envelope: Envelope
) -> None:
    await commands.unit_allocated(ctx, uow, e, envelope)


@handles(ev.AllocationOrderOverridden)
@_serialised
async def on_allocation_order_overridden(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationOrderOverridden, envelope: Envelope
) -> None:
    await commands.order_overridden(ctx, uow, e, envelope)


@handles(ev.AllocationContractIssued)
@_serialised
async def on_allocation_contract_issued(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationContractIssued, envelope: Envelope
) -> None:
    await commands.contract_issued(ctx, uow, e, envelope)


@handles(ev.AllocationContractSigned)
@_serialised
async def on_allocation_contract_signed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationContractSigned, envelope: Envelope
) -> None:
    await commands.contract_signed(ctx, uow, e, envelope)


@handles(ev.AllocationContractOverdue)
@_serialised
async def on_allocation_contract_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationContractOverdue, envelope: Envelope
) -> None:
    await commands.contract_overdue(ctx, uow, e, envelope)


@handles(ev.AllocationConfirmationRequested)
@_serialised
async def on_allocation_confirmation_requested(
    ctx: AlertingContext,
    uow: UnitOfWork,
    e: ev.AllocationConfirmationRequested,
    envelope: Envelope,
) -> None:
    await commands.confirmation_requested(ctx, uow, e, envelope)


@handles(ev.AllocationNeedConfirmed)
@_serialised
async def on_allocation_need_confirmed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationNeedConfirmed, envelope: Envelope
) -> None:
    await commands.need_confirmed(ctx, uow, e, envelope)


@handles(ev.TenancyRereviewDue)
async def on_tenancy_rereview_due(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyRereviewDue, envelope: Envelope
) -> None:
    """N5: a re-review deadline is near."""
    await tenancy_reminders.rereview_due(ctx, uow, e)


@handles(ev.TenancyVisitDue)
async def on_tenancy_visit_due(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyVisitDue, envelope: Envelope
) -> None:
    """N6: a home visit falls due; the cockpit counts it as planned."""
    await tenancy_reminders.visit_due(ctx, uow, e)
    await tenancy_figures.visit_due(uow, e)


@handles(ev.TenancyViolationOpened)
async def on_tenancy_violation_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyViolationOpened, envelope: Envelope
) -> None:
    """N7: a rectification order and its deadline; the cockpit counts it open."""
    await tenancy_reminders.violation_opened(ctx, uow, e)
    await tenancy_figures.violation_opened(uow, e, envelope)


# -- tenancy's figures (准入、使用、退出) -------------------------------------------------------


@handles(ev.TenancyLeaseOpened)
async def on_tenancy_lease_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyLeaseOpened, envelope: Envelope
) -> None:
    await tenancy_figures.lease_opened(uow, e)


@handles(ev.TenancyUnitVacated)
async def on_tenancy_unit_vacated(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyUnitVacated, envelope: Envelope
) -> None:
    await tenancy_figures.unit_vacated(uow, e)


@handles(ev.TenancyArrearsStep)
async def on_tenancy_arrears_step(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyArrearsStep, envelope: Envelope
) -> None:
    await tenancy_figures.arrears_step(uow, e)


@handles(ev.TenancyVisitRecorded)
async def on_tenancy_visit_recorded(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyVisitRecorded, envelope: Envelope
) -> None:
    await tenancy_figures.visit_recorded(uow, e)


@handles(ev.TenancyViolationClosed)
async def on_tenancy_violation_closed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyViolationClosed, envelope: Envelope
) -> None:
    await tenancy_figures.violation_closed(uow, e)


@handles(ev.TenancyRereviewConcluded)
async def on_tenancy_rereview_concluded(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyRereviewConcluded, envelope: Envelope
) -> None:
    await tenancy_figures.rereview_concluded(uow, e)


HANDLERS = handler_map(
    on_application_submitted,
    on_application_accepted,
    on_application_materials_uploaded,
    on_application_withdrawn,
    on_application_supplement_requested,
    on_application_supplement_received,
    on_application_supplement_overdue,
    on_application_qualified,
    on_application_rejected,
    on_application_refused,
    on_verification_started,
    on_verification_answer_empty,
    on_verification_answer_late,
    on_verification_department_overdue,
    on_verification_completed,
    on_verification_parameters_changed,
    on_review_case_opened,
    on_review_stage_started,
    on_review_stage_completed,
    on_review_stage_suspended,
    on_review_stage_resumed,
    on_review_stage_overdue,
    on_review_suspension_refused,
    on_review_opinion_signed,
    on_publicity_opened,
    on_publicity_closed,
    on_objection_filed,
    on_objection_concluded,
    on_allocation_unit_allocated,
    on_allocation_order_overridden,
    on_allocation_contract_issued,
    on_allocation_contract_signed,
    on_allocation_contract_overdue,
    on_allocation_confirmation_requested,
    on_allocation_need_confirmed,
    on_tenancy_rereview_due,
    on_tenancy_visit_due,
    on_tenancy_violation_opened,
    on_tenancy_lease_opened,
    on_tenancy_unit_vacated,
    on_tenancy_arrears_step,
    on_tenancy_visit_recorded,
    on_tenancy_violation_closed,
    on_tenancy_rereview_concluded,
)

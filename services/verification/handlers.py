"""Event handlers: ``application.accepted`` starts a case, ``tenancy.rereview_requested`` a
re-review case of a tenant household, ``department.answered`` (from a department system on
``housing.verification``, routing key ``response.<department>``) stores an answer.

Both run inside the consumer's unit of work (answers set-based via ``handles_batch``: a crowd
of them is applied with a few set-based statements by ``apply_answers``), after the inbox
claimed the event id. An answer that cannot be applied (unknown request, findings about people
not asked about, a payload that does not validate) raises: the consumer retries it, then
dead-letters it with the error in the ``x-error`` header, so it is neither lost nor stuck and an
operator sees why. Bindings are derived from ``HANDLERS`` (``response.*`` on the verification
exchange for the answers).
"""

from __future__ import annotations

from services.verification.commands import (
    IncomingAnswer,
    apply_answers,
    start_case,
    start_rereview,
)
from services.verification.context import VerificationContext
from shared.amqp.consumer import Delivery
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationAccepted,
    DepartmentAnswered,
    TenancyRereviewRequested,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles, handles_batch


class DepartmentMismatch(ValueError):
    """A department answered in another department's name."""


@handles(ApplicationAccepted)
async def on_application_accepted(
    ctx: VerificationContext, uow: UnitOfWork, accepted: ApplicationAccepted, envelope: Envelope
) -> None:
    await start_case(uow, accepted, ctx.city, serial=ctx.serial)


@handles(TenancyRereviewRequested)
async def on_rereview_requested(
    ctx: VerificationContext,
    uow: UnitOfWork,
    requested: TenancyRereviewRequested,
    envelope: Envelope,
) -> None:
    await start_rereview(uow, requested, ctx.city, serial=ctx.serial)


@handles_batch(DepartmentAnswered)
async def on_department_answered(
    ctx: VerificationContext,
    uow: UnitOfWork,
    items: list[tuple[DepartmentAnswered, Envelope, Delivery | None]],
) -> None:
    answers = []
    for answer, _envelope, delivery in items:
        expected = f"response.{answer.department}"
        if delivery is not None and delivery.routing_key != expected:
            # Broker permissions let each department write only its own response key, so
            # the key, not the payload, says who answered: an answer for another
            # department is refused (and dead-lettered with this error for an operator).
            raise DepartmentMismatch(
                f"answer for {answer.department!r} arrived on {delivery.routing_key!r}"
            )
        answers.append(
            IncomingAnswer(
                department=answer.department,
                request_id=answer.request_id,
                no_record=answer.no_record,
                findings=answer.findings,
                reported_answered_at=answer.answered_at,
                answered_by=answer.answered_by,
                channel="amqp",
            )
        )
    await apply_answers(uow, city=ctx.city, answers=answers, serial=ctx.serial)


HANDLERS = handler_map(on_application_accepted, on_rereview_requested, on_department_answered)

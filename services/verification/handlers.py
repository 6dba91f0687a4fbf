"""Event handlers: ``application.accepted`` starts a case, ``department.answered`` (from a
department system on ``housing.verification``, routing key ``response.<department>``) stores
an answer.

Both run inside the consumer's unit of work (answers as a :class:`BatchHandler`: a crowd of
them is applied with a few set-based statements), after the inbox claimed the event id. An answer
that cannot be applied (unknown request, findings about people not asked about, a payload that
does not validate) raises: the consumer retries it, then dead-letters it with the error in the
``x-error`` header, so it is neither lost nor stuck and an operator sees why.
"""

from __future__ import annotations

from services.verification.cases import IncomingAnswer, apply_answers, start_case
from services.verification.config import VerificationOptions
from shared.amqp.consumer import BatchHandler, Delivery, Handler
from shared.city import CityConfig
from shared.db import UnitOfWork
from shared.events.catalogue import ApplicationAccepted, DepartmentAnswered
from shared.events.envelope import Envelope


class DepartmentMismatch(ValueError):
    """A department answered in another department's name."""


def on_application_accepted(city: CityConfig, options: VerificationOptions) -> Handler:
    serial = options.dispatch == "serial"

    async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
        accepted = ApplicationAccepted.model_validate(envelope.data)
        await start_case(uow, accepted, city, serial=serial)

    return handle


def on_department_answered(city: CityConfig, options: VerificationOptions) -> BatchHandler:
    serial = options.dispatch == "serial"

    async def handle_many(uow: UnitOfWork, items: list[tuple[Envelope, Delivery | None]]) -> None:
        answers = []
        for envelope, delivery in items:
            answer = DepartmentAnswered.model_validate(envelope.data)
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
        await apply_answers(uow, city=city, answers=answers, serial=serial)

    return BatchHandler(handle_many)

"""Event handlers: ``application.accepted`` starts a case, ``tenancy.rereview_requested`` a
re-review case of a tenant household, ``department.answered`` (from a department system on
``housing.verification``, routing key ``response.<department>``) stores an answer, and
``department.answered_batch`` (the same key) the answers of one consumed request batch.

Both run inside the consumer's unit of work (answers set-based via ``handles_batch``: a crowd
of them is applied with a few set-based statements by ``apply_answers``), after the inbox
claimed the event id. An answer that cannot be applied (unknown request, findings about people
not asked about, a payload that does not validate) raises: the consumer retries it, then
dead-letters it with the error in the ``x-error`` header, so it is neither lost nor stuck and an
operator sees why. An item of an answer batch is read and applied on its own: one that cannot
be applied is split off the batch (``split_off``) and goes that same way as a single
``department.answered`` of its own, while the other items are applied. Bindings are derived
from ``HANDLERS`` (``response.*`` on the verification exchange for the answers).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.verification.commands import (
    IncomingAnswer,
    apply_answers,
    lock_cases_of_requests,
    start_case,
    start_rereview,
)
from services.verification.context import VerificationContext
from shared.amqp.consumer import Delivery, split_off
from shared.db import UnitOfWork
from shared.events.catalogue import (
    BATCH_MAX_ITEMS,
    ApplicationAccepted,
    DepartmentAnswerBatch,
    DepartmentAnswered,
    DepartmentCode,
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
    await start_case(uow, accepted, ctx.city, serial=ctx.serial, batched=ctx.batched)


@handles(TenancyRereviewRequested)
async def on_rereview_requested(
    ctx: VerificationContext,
    uow: UnitOfWork,
    requested: TenancyRereviewRequested,
    envelope: Envelope,
) -> None:
    await start_rereview(uow, requested, ctx.city, serial=ctx.serial, batched=ctx.batched)


def _named_requests(envelopes: list[Envelope]) -> set[uuid.UUID]:
    """The request ids the answers name, read without validating them (each answer is
    validated when it is applied): what cannot be read here locks nothing."""
    named: set[uuid.UUID] = set()
    for envelope in envelopes:
        data = envelope.data
        items = data.get("items") if envelope.type == DepartmentAnswerBatch.event_type else [data]
        if not isinstance(items, list):
            continue
        for item in items[:BATCH_MAX_ITEMS]:
            request_id = item.get("request_id") if isinstance(item, dict) else None
            if isinstance(request_id, str):
                try:
                    named.add(uuid.UUID(request_id))
                except ValueError:
                    continue
    return named


async def lock_answered_cases(
    ctx: VerificationContext, uow: UnitOfWork, envelopes: list[Envelope]
) -> None:
    """First in a consumer transaction with answers: the cases of all of them, locked at once."""
    await lock_cases_of_requests(uow, _named_requests(envelopes))


@handles_batch(DepartmentAnswered, prepare=lock_answered_cases)
async def on_department_answered(
    ctx: VerificationContext,
    uow: UnitOfWork,
    items: list[tuple[DepartmentAnswered, Envelope, Delivery | None]],
) -> None:
    answers = []
    for answer, _envelope, delivery in items:
        _check_route(answer.department, delivery)
        answers.append(_incoming(answer))
    await apply_answers(uow, city=ctx.city, answers=answers, serial=ctx.serial)


def _check_route(department: str, delivery: Delivery | None) -> None:
    expected = f"response.{department}"
    if delivery is not None and delivery.routing_key != expected:
        # Broker permissions let each department write only its own response key, so
        # the key, not the payload, says who answered: an answer for another
        # department is refused (and dead-lettered with this error for an operator).
        raise DepartmentMismatch(f"answer for {department!r} arrived on {delivery.routing_key!r}")


def _incoming(answer: DepartmentAnswered, *, batched: bool = False) -> IncomingAnswer:
    return IncomingAnswer(
        department=answer.department,
        request_id=answer.request_id,
        no_record=answer.no_record,
        findings=answer.findings,
        reported_answered_at=answer.answered_at,
        answered_by=answer.answered_by,
        channel="amqp",
        batched=batched,
    )


class _AnswerBatchShell(BaseModel):
    """An answer batch with its items unread: a batch that is not even this is refused whole,
    as a malformed single answer is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: DepartmentCode
    items: list[Any] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)


@dataclass(frozen=True)
class ReceivedAnswerBatch:
    """A department's answer batch as read: each item with its answer, or why it is none."""

    department: str
    items: list[tuple[Any, DepartmentAnswered | ValidationError]]


def read_answer_batch(data: dict[str, Any]) -> ReceivedAnswerBatch:
    shell = _AnswerBatchShell.model_validate(data)
    items: list[tuple[Any, DepartmentAnswered | ValidationError]] = []
    for raw in shell.items:
        try:
            items.append((raw, DepartmentAnswered.model_validate(raw)))
        except ValidationError as error:
            items.append((raw, error))
    return ReceivedAnswerBatch(shell.department, items)


# The id of an item split off an answer batch: the same for every copy of the batch.
SPLIT_ITEM_NAMESPACE = uuid.UUID("b4f1e9c2-6a3d-5e87-9c10-2f8a7d6b5e43")


def _item_envelope(carrier: Envelope, index: int, raw: Any) -> Envelope:
    """Item ``index`` of ``carrier`` as the single ``department.answered`` it stands for."""
    return carrier.model_copy(
        update={
            "id": uuid.uuid5(SPLIT_ITEM_NAMESPACE, f"{carrier.id}:{index}"),
            "type": DepartmentAnswered.event_type,
            "version": DepartmentAnswered.event_version,
            "causation_id": str(carrier.id),
            "data": raw if isinstance(raw, dict) else {"item": raw},
        }
    )


@handles_batch(DepartmentAnswerBatch, parse=read_answer_batch, prepare=lock_answered_cases)
async def on_department_answer_batch(
    ctx: VerificationContext,
    uow: UnitOfWork,
    items: list[tuple[ReceivedAnswerBatch, Envelope, Delivery | None]],
) -> None:
    """Every item on its own: a malformed one, one for another department, one the answer
    rules refuse (unknown request, strangers, findings the department may not report) is split
    off as a single answer (retried, then parked with its error); a duplicate is a no-op."""
    answers: list[IncomingAnswer] = []
    origin: dict[int, tuple[Envelope, Envelope]] = {}
    for batch, envelope, delivery in items:
        _check_route(batch.department, delivery)
        for index, (raw, answer) in enumerate(batch.items):
            item = _item_envelope(envelope, index, raw)
            if isinstance(answer, ValidationError):
                split_off(envelope, item, answer)
            elif answer.department != batch.department:
                split_off(envelope, item, DepartmentMismatch(f"item for {answer.department!r}"))
            else:
                incoming = _incoming(answer, batched=True)
                origin[id(incoming)] = (envelope, item)
                answers.append(incoming)
    if not answers:
        return
    await apply_answers(
        uow,
        city=ctx.city,
        answers=answers,
        serial=ctx.serial,
        on_rejected=lambda a, error: split_off(*origin[id(a)], error),
    )


HANDLERS = handler_map(
    on_application_accepted,
    on_rereview_requested,
    on_department_answered,
    on_department_answer_batch,
)

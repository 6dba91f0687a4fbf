"""Verification's use cases (联审联查): fan-out, answers, deadlines and completion, and the
admission-parameter proposals with four-eyes approval.

The use cases of the service, each running inside the caller's unit of work so that a state
change and the events it causes commit together:

* :func:`start_case` — on ``application.accepted``: one case, one request per department, all
  in one transaction (one multi-row INSERT), and every ``verification.requested`` in the same
  outbox flush, so the relay publishes them together and the departments work in parallel
  (推送相关、同步核查): verification takes as long as the slowest department, not the sum.
* :func:`apply_answers` — department answers, from AMQP (a crowd at a time) or HTTP (one).
* :func:`announce_overdue`, :func:`complete_past_deadline` — overdue departments and, by
  configuration, completion at the last deadline (限时办结); ``sweeps.deadlines`` runs them.
* :func:`start_rereview` — on ``tenancy.rereview_requested``: the same fan-out for a tenant
  household's annual re-review (年度复核), ``purpose`` re_review, about the household of the
  admission case.
* :func:`complete_case` — aggregation, the check against the admission parameters in force on
  the acceptance date, ``verification.completed``; for a re-review case
  :func:`complete_rereview`, the continuation thresholds and ``verification.rereview_completed``.
"""

from __future__ import annotations

import contextlib
import uuid
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.verification import store
from services.verification.context import VerificationContext
from services.verification.domain import (
    Answer,
    Declared,
    evaluate,
    evaluate_continuation,
    is_empty_answer,
    known_members,
    misplaced_findings,
    parameter_changes,
    priority_findings,
    subjects_for,
    subjects_from_members,
    unknown_member_refs,
)
from services.verification.problems import AnswerRejected, UnknownRequest
from services.verification.queries import parameter_view
from services.verification.schemas import AnswerIn, AnswerReceipt, ParameterSetView, ProposalIn
from services.verification.tables import department_requests, verification_cases
from shared import correlation, db
from shared.audit import record
from shared.auth import Principal
from shared.city import CityConfig, Department
from shared.clock import SHANGHAI, now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import (
    BATCH_MAX_ITEMS,
    ApplicationAccepted,
    Subject,
    TenancyRereviewRequested,
    VerificationAnswerEmpty,
    VerificationAnswerLate,
    VerificationCompleted,
    VerificationDepartmentOverdue,
    VerificationParametersChanged,
    VerificationRequestBatch,
    VerificationRequested,
    VerificationRereviewCompleted,
    VerificationStarted,
)
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem
from shared.workdays import default_calendar

log = structlog.get_logger(__name__)


# -- fan-out ----------------------------------------------------------------------------------


async def start_case(
    uow: UnitOfWork,
    accepted: ApplicationAccepted,
    city: CityConfig,
    *,
    serial: bool = False,
    batched: Collection[str] = (),
) -> bool:
    """Open the case and ask every department of the category at once (the departments in
    ``batched`` in one batch per transaction, see :func:`_send_requests`).

    With ``serial`` (the benchmark's baseline, ``VerificationSettings.dispatch``) every request
    is stored but only the first department is asked; :func:`apply_answers` asks the next.
    Returns False when the application already has a case (a re-published acceptance): the
    inbox dedups redeliveries of one event, the unique application_id dedups the effect.
    """
    departments = city.verifying_departments(accepted.category)
    return await _open_case(
        uow,
        {
            "application_id": accepted.application_id,
            "tracking_no": accepted.tracking_no,
            "city": accepted.city,
            "district": accepted.district,
            "street": accepted.street,
            "category": accepted.category,
            "accepted_at": accepted.accepted_at,
            "declared": Declared.of(accepted.household).to_json(),
            "purpose": "admission",
        },
        [(d, subjects_for(accepted.household, d.code, d.fields)) for d in departments],
        serial=serial,
        batched=batched,
    )


async def start_rereview(
    uow: UnitOfWork,
    requested: TenancyRereviewRequested,
    city: CityConfig,
    *,
    serial: bool = False,
    batched: Collection[str] = (),
) -> bool:
    """Open the re-review case (年度复核) of a tenant household and ask every department again.

    The household is the one verification asked about when it verified the application: the
    admission case's declared members and the subjects its requests carried (verification
    keeps no other copy). Without an admission case there is no household to check: the
    answer is a ``verification.rereview_completed`` saying so, not a silence tenancy would
    wait on. Returns False when nothing was opened (no household, or this campaign's case of
    the application exists already: a re-published request changes nothing).
    """
    conn = uow.conn
    c, r = verification_cases, department_requests
    original = (
        await conn.execute(
            sa.select(c).where(
                c.c.application_id == requested.application_id, c.c.purpose == "admission"
            )
        )
    ).first()
    if original is None:
        log.info("rereview_without_household", application_id=str(requested.application_id))
        uow.emit(
            VerificationRereviewCompleted(
                lease_id=requested.lease_id,
                application_id=requested.application_id,
                campaign=requested.campaign,
                case_id=None,
                household_found=False,
                completed_at=now(),
            ),
            subject=str(requested.application_id),
        )
        return False
    sent = (
        await conn.execute(sa.select(r.c.subjects).where(r.c.case_id == original.case_id))
    ).scalars()
    declared = Declared.from_json(original.declared)
    members = known_members(sent, declared)
    departments = city.verifying_departments(original.category)
    return await _open_case(
        uow,
        {
            "application_id": original.application_id,
            "tracking_no": original.tracking_no,
            "city": original.city,
            "district": original.district,
            "street": original.street,
            "category": original.category,
            "accepted_at": original.accepted_at,
            "declared": original.declared,
            "purpose": "re_review",
            "lease_id": requested.lease_id,
            "campaign": requested.campaign,
        },
        [(d, subjects_from_members(members, d.code, d.fields)) for d in departments],
        serial=serial,
        batched=batched,
    )


async def _open_case(
    uow: UnitOfWork,
    case: dict[str, Any],
    asked: Sequence[tuple[Department, list[Subject]]],
    *,
    serial: bool,
    batched: Collection[str] = (),
) -> bool:
    """Insert the case and one request per department in one transaction, with every
    ``verification.requested`` in the same outbox flush (serial: only the first)."""
    started = now()
    calendar = default_calendar()
    case_id = uuid.uuid4()
    purpose = case["purpose"]
    plans = [
        (dept, subjects, calendar.add_workdays(started, dept.answer_deadline_working_days))
        for dept, subjects in asked
    ]
    due_on = max(deadline.date for _, _, deadline in plans)
    c = verification_cases
    # The partial unique index's predicate as a literal: bound as a parameter it stops
    # matching once the driver's prepared statement turns generic (after five executions).
    conflict = (
        {"index_elements": [c.c.application_id], "index_where": sa.text("purpose = 'admission'")}
        if purpose == "admission"
        else {
            "index_elements": [c.c.application_id, c.c.campaign],
            "index_where": sa.text("purpose = 're_review'"),
        }
    )
    inserted = (
        await uow.conn.execute(
            pg_insert(c)
            .values(case_id=case_id, started_at=started, due_on=due_on, status="open", **case)
            .on_conflict_do_nothing(**conflict)
            .returning(c.c.case_id)
        )
    ).first()
    if inserted is None:
        log.info(
            "verification_case_exists",
            application_id=str(case["application_id"]),
            purpose=purpose,
        )
        return False

    application_id = case["application_id"]
    rows: list[dict[str, Any]] = []
    events: list[VerificationRequested] = []
    for dept, subjects, deadline in plans:
        request_id = uuid.uuid4()
        event = VerificationRequested(
            request_id=request_id,
            case_id=case_id,
            application_id=application_id,
            city=case["city"],
            department=dept.code,
            requested_at=started,
            deadline=deadline.date,
            time_limit_working_days=dept.answer_deadline_working_days,
            subjects=subjects,
            purpose=purpose,
        )
        events.append(event)
        rows.append(
            {
                "request_id": request_id,
                "case_id": case_id,
                "application_id": application_id,
                "department": dept.code,
                "requested_at": started,
                "deadline": deadline.date,
                "time_limit_working_days": dept.answer_deadline_working_days,
                "deadline_fallback": deadline.used_fallback,
                "subjects": [s.model_dump(mode="json") for s in event.subjects],
                "status": "pending",
            }
        )
    # One INSERT for all requests; their events land in the same outbox INSERT at commit.
    await uow.conn.execute(department_requests.insert(), rows)
    subject = str(application_id)
    uow.emit(
        VerificationStarted(
            case_id=case_id,
            application_id=application_id,
            departments=[d.code for d, _ in asked],
            started_at=started,
            due_on=due_on,
            purpose=purpose,
        ),
        subject=subject,
    )
    # Serial dispatch (the benchmark's baseline) asks one department at a time, as singles.
    _send_requests(uow, events[:1] if serial else events, batched=() if serial else batched)
    return True


# A department batch's envelope id: uuid5 over its sorted request ids, so a copy of the batch
# (the same items) has the same id. Changing it would make a re-sent batch a new event.
REQUEST_BATCH_NAMESPACE = uuid.UUID("3c0f7a52-8e1d-5b94-a6c2-9d4e1f0b7a38")


def request_batch_event_id(request_ids: Sequence[uuid.UUID]) -> uuid.UUID:
    return uuid.uuid5(REQUEST_BATCH_NAMESPACE, ",".join(sorted(str(r) for r in request_ids)))


def _send_requests(
    uow: UnitOfWork, events: Sequence[VerificationRequested], *, batched: Collection[str]
) -> None:
    """Publish department requests: one ``verification.requested`` each, except to the
    departments in ``batched``, whose requests of the whole transaction (every case a consumer
    micro-batch opened) go out at commit as one ``verification.requested_batch`` per
    department on the same key ``request.<department>``."""
    for event in events:
        if event.department in batched:
            uow.collect(VerificationRequestBatch.event_type, _emit_request_batches).append(event)
        else:
            uow.emit(event, subject=str(event.application_id))


def _emit_request_batches(uow: UnitOfWork, events: list[VerificationRequested]) -> None:
    by_department: dict[str, list[VerificationRequested]] = {}
    for event in events:
        by_department.setdefault(event.department, []).append(event)
    for department, items in by_department.items():
        for start in range(0, len(items), BATCH_MAX_ITEMS):
            chunk = items[start : start + BATCH_MAX_ITEMS]
            # Subject and correlation of the first item's application: a batch has no single
            # one, and the department only echoes them.
            first = str(chunk[0].application_id)
            uow.emit(
                VerificationRequestBatch(department=department, items=chunk),
                subject=first,
                correlation_id=first,
                event_id=request_batch_event_id([item.request_id for item in chunk]),
            )


# -- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerOutcome:
    request_id: uuid.UUID
    case_id: uuid.UUID
    department: str
    duplicate: bool
    empty: bool
    late: bool
    case_completed: bool


@dataclass(frozen=True)
class IncomingAnswer:
    """One department's answer to one request, as received (AMQP or HTTP)."""

    department: str
    request_id: uuid.UUID
    no_record: bool
    findings: Sequence[Any]
    reported_answered_at: datetime | None
    answered_by: str | None
    channel: str
    # An item of a department's answer batch: the events it causes carry its application's
    # id as correlation id (the batch's own spans several applications).
    batched: bool = False


Rejection = Callable[[IncomingAnswer, Exception], None]


async def apply_answer(
    uow: UnitOfWork,
    *,
    city: CityConfig,
    department: str,
    request_id: uuid.UUID,
    no_record: bool,
    findings: Sequence[Any],
    reported_answered_at: datetime | None,
    answered_by: str | None,
    channel: str,
    serial: bool = False,
) -> AnswerOutcome:
    """Store one department's answer (see :func:`apply_answers`)."""
    answer = IncomingAnswer(
        department, request_id, no_record, findings, reported_answered_at, answered_by, channel
    )
    return (await apply_answers(uow, city=city, answers=[answer], serial=serial))[0]


async def apply_answers(
    uow: UnitOfWork,
    *,
    city: CityConfig,
    answers: Sequence[IncomingAnswer],
    serial: bool = False,
    on_rejected: Rejection | None = None,
) -> list[AnswerOutcome]:
    """Store department answers and complete each case whose last answer is among them.

    Set-based, because answers arrive in crowds (eight per application): one SELECT of the
    requests, one lock statement for their cases, one UPDATE for all answers, one count of
    what is still pending. Idempotent: a second answer to an answered request changes nothing
    (the first answer stands) and is reported as a duplicate. Late answers are stored and
    announced; an empty answer (no findings, no "no record") is stored and announced (R6).
    An answer to an unknown request, or about people not asked about, raises: nothing of the
    call is applied. With ``on_rejected`` (the items of answer batches, each applied on its
    own), such an answer is handed to it with the error instead, and the others are applied.
    """

    def reject(a: IncomingAnswer, error: Exception) -> None:
        if on_rejected is None:
            raise error
        on_rejected(a, error)

    conn = uow.conn
    r = department_requests
    wanted = list({a.request_id for a in answers})
    known = {
        row.request_id: row
        for row in await conn.execute(
            sa.select(r.c.request_id, r.c.case_id, r.c.department).where(r.c.request_id.in_(wanted))
        )
    }
    found_answers = []
    for a in answers:
        found = known.get(a.request_id)
        if found is None or found.department != a.department:
            # Another department's request is "not found" too: do not confirm that it exists.
            reject(
                a,
                UnknownRequest(
                    detail=f"部门 {a.department} 没有编号为 {a.request_id} 的协查请求。",
                    field="request_id",
                ),
            )
            continue
        found_answers.append(a)
    answers = found_answers
    # Lock the cases first, then read the requests: answers to one case serialise on its
    # lock, so exactly one transaction sees "all answered" and completes the case.
    cases = await _lock_cases(uow, sorted({row.case_id for row in known.values()}))
    requests = {
        row.request_id: row
        for row in await conn.execute(sa.select(r).where(r.c.request_id.in_(wanted)))
    }

    received = now()
    today = received.astimezone(SHANGHAI).date()
    outcomes: list[AnswerOutcome] = []
    updates: list[dict[str, Any]] = []
    answered_now: set[uuid.UUID] = set()
    for a in answers:
        request = requests[a.request_id]
        case = cases[request.case_id]
        if request.status == "answered" or a.request_id in answered_now:
            first = request if request.status == "answered" else None
            outcomes.append(
                AnswerOutcome(
                    a.request_id,
                    case.case_id,
                    a.department,
                    True,
                    bool(first.empty) if first else False,
                    bool(first.late) if first else False,
                    False,
                )
            )
            continue
        strangers = unknown_member_refs(a.findings, (s["member_ref"] for s in request.subjects))
        if strangers:
            error = AnswerRejected(
                detail=f"反馈中有 {len(strangers)} 条结果的 member_ref 不属于本请求的核查对象。",
                field="findings",
            )
            reject(a, error)
            continue
        misplaced = misplaced_findings(a.department, a.findings)
        if misplaced:
            error = AnswerRejected(
                detail=(
                    f"部门 {a.department} 不得反馈以下类型的结果：{'、'.join(sorted(misplaced))}。"
                ),
                field="findings",
            )
            reject(a, error)
            continue
        empty = is_empty_answer(a.no_record, a.findings)
        late = today > request.deadline
        answered_now.add(a.request_id)
        updates.append(
            {
                "rid": a.request_id,
                "answered_at": received,
                "reported_answered_at": a.reported_answered_at,
                "answered_by": a.answered_by,
                "channel": a.channel,
                "no_record": a.no_record,
                "empty": empty,
                "late": late,
                "findings": [f.model_dump(mode="json") for f in a.findings],
            }
        )
        subject = str(case.application_id)
        common = {
            "case_id": case.case_id,
            "application_id": case.application_id,
            "request_id": a.request_id,
            "department": a.department,
        }
        cid = subject if a.batched else None
        if empty:
            uow.emit(
                VerificationAnswerEmpty(**common, answered_at=received),
                subject=subject,
                correlation_id=cid,
            )
        if late:
            uow.emit(
                VerificationAnswerLate(
                    **common,
                    deadline=request.deadline,
                    answered_at=received,
                    working_days_late=min(
                        default_calendar().workdays_between(request.deadline, today), 1000
                    ),
                ),
                subject=subject,
                correlation_id=cid,
            )
        outcomes.append(
            AnswerOutcome(a.request_id, case.case_id, a.department, False, empty, late, False)
        )
    if not updates:
        return outcomes
    await conn.execute(
        r.update()
        .where(r.c.request_id == sa.bindparam("rid"))
        .values(
            status="answered",
            answered_at=sa.bindparam("answered_at"),
            reported_answered_at=sa.bindparam("reported_answered_at"),
            answered_by=sa.bindparam("answered_by"),
            channel=sa.bindparam("channel"),
            no_record=sa.bindparam("no_record"),
            empty=sa.bindparam("empty"),
            late=sa.bindparam("late"),
            findings=sa.bindparam("findings", type_=r.c.findings.type),
        ),
        updates,
    )
    touched = {requests[rid].case_id for rid in answered_now}
    open_cases = [cid for cid in sorted(touched) if cases[cid].status == "open"]
    pending = (
        dict(
            (
                await conn.execute(
                    sa.select(r.c.case_id, sa.func.count())
                    .where(r.c.case_id.in_(open_cases), r.c.status == "pending")
                    .group_by(r.c.case_id)
                )
            ).all()
        )
        if open_cases
        else {}
    )
    completed: set[uuid.UUID] = set()
    batched_cases = {requests[a.request_id].case_id for a in answers if a.batched}
    for cid in open_cases:
        case = cases[cid]
        with (
            correlation.scope(str(case.application_id))
            if cid in batched_cases
            else contextlib.nullcontext()
        ):
            if not pending.get(cid):
                await complete_case(uow, case, city)
                completed.add(cid)
            elif serial:
                await _ask_next_department(uow, case, city)
    # The answer that completed a case is the last one of it applied here.
    last_of_case = {
        requests[o.request_id].case_id: i for i, o in enumerate(outcomes) if not o.duplicate
    }
    for cid, i in last_of_case.items():
        if cid in completed:
            o = outcomes[i]
            outcomes[i] = AnswerOutcome(
                o.request_id, o.case_id, o.department, False, o.empty, o.late, True
            )
    return outcomes


async def _ask_next_department(uow: UnitOfWork, case: sa.Row, city: CityConfig) -> None:
    """Serial dispatch: ask the first still-pending department, in the city's order."""
    r = department_requests
    rows = (
        await uow.conn.execute(
            sa.select(r).where(r.c.case_id == case.case_id, r.c.status == "pending")
        )
    ).all()
    order = {d.code: i for i, d in enumerate(city.verifying_departments(case.category))}
    row = min(rows, key=lambda row: order.get(row.department, len(order)))
    uow.emit(
        VerificationRequested(
            request_id=row.request_id,
            case_id=case.case_id,
            application_id=case.application_id,
            city=case.city,
            department=row.department,
            requested_at=now(),
            deadline=row.deadline,
            time_limit_working_days=row.time_limit_working_days,
            subjects=row.subjects,
            purpose=case.purpose,
        ),
        subject=str(case.application_id),
    )


# Case locks each open unit of work holds (see _lock_cases).
_CASE_LOCKS: weakref.WeakKeyDictionary[UnitOfWork, set[uuid.UUID]] = weakref.WeakKeyDictionary()


async def _lock_cases(uow: UnitOfWork, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    """Row-lock the cases for this transaction, never in a way that can deadlock.

    Within one call the locks are taken in case-id order, so two transactions answering the
    same cases wait for each other instead of deadlocking. The consumer locks every case its
    micro-batch's answers name first, in one call (``lock_cases_of_requests``), so the calls
    that apply each run of answers find their cases held. Should a transaction that holds case
    locks still need others, it takes them with NOWAIT: if another transaction holds one, the
    error rolls the batch back and the consumer handles its events one by one, each waiting
    normally.
    """
    held = _CASE_LOCKS.setdefault(uow, set())
    stmt = (
        sa.select(verification_cases)
        .where(verification_cases.c.case_id.in_(case_ids))
        .order_by(verification_cases.c.case_id)
        .with_for_update(nowait=bool(held) and not held.issuperset(case_ids))
    )
    rows = {row.case_id: row for row in await uow.conn.execute(stmt)}
    held.update(case_ids)
    return rows


# One statement for every case the answers of a micro-batch name, locked in case-id order (the
# row locks are taken above the sort, in its order).
_LOCK_CASES_OF_REQUESTS = """
SELECT case_id FROM verification_cases
WHERE case_id IN (SELECT case_id FROM department_requests WHERE request_id = ANY($1::uuid[]))
ORDER BY case_id
FOR UPDATE
"""


async def lock_cases_of_requests(uow: UnitOfWork, request_ids: Collection[uuid.UUID]) -> None:
    """Lock, before any answer of the micro-batch is applied, every case its answers name.

    A micro-batch can hold several runs of answers (single answers, batches, and other events
    between them), each applied by its own ``apply_answers`` call; locking case by run would
    make a later run lock more cases while holding others, which can deadlock with another
    worker's transaction. Unknown request ids lock nothing: their answers are refused later.
    """
    if not request_ids:
        return
    rows = await db.fetch(uow.conn, _LOCK_CASES_OF_REQUESTS, list(request_ids))
    _CASE_LOCKS.setdefault(uow, set()).update(row["case_id"] for row in rows)


# -- completion -------------------------------------------------------------------------------


async def _parameters_for(
    conn: AsyncConnection, case: sa.Row, city: CityConfig, *, on: date | None = None
) -> store.ParameterSet:
    """The admission parameters in force on ``on``, by default the acceptance date."""
    on = on or case.accepted_at.astimezone(SHANGHAI).date()
    found = await store.in_force(conn, case.city, case.category, on)
    if found is None:
        # The start-up seeding has not run yet (first event on a fresh database).
        await store.seed_from_city(conn, city)
        found = await store.in_force(conn, case.city, case.category, on)
    if found is None or found.version is None:
        raise LookupError(f"no admission parameters for {case.city}/{case.category}")
    return found


async def _answers_of(conn: AsyncConnection, case: sa.Row) -> tuple[dict[str, Answer], list[str]]:
    """The stored answers of a case by department, and every department that was asked."""
    r = department_requests
    requests = (
        await conn.execute(
            sa.select(r.c.department, r.c.status, r.c.no_record, r.c.findings)
            .where(r.c.case_id == case.case_id)
            .order_by(r.c.department)
        )
    ).all()
    answers = {
        row.department: Answer.from_json(row.department, bool(row.no_record), row.findings or [])
        for row in requests
        if row.status == "answered"
    }
    return answers, [row.department for row in requests]


async def complete_case(
    uow: UnitOfWork, case: sa.Row, city: CityConfig
) -> VerificationCompleted | VerificationRereviewCompleted:
    """Aggregate the answers, check them and publish ``verification.completed`` (a re-review
    case: ``verification.rereview_completed``, see :func:`complete_rereview`). The caller
    holds the case row lock and has checked that the case is open."""
    if case.purpose == "re_review":
        return await complete_rereview(uow, case, city)
    conn = uow.conn
    answers, requested = await _answers_of(conn, case)
    param_set = await _parameters_for(conn, case, city)
    outcome = evaluate(
        Declared.from_json(case.declared),
        answers,
        param_set.parameters,
        version=param_set.version or 1,
        requested=requested,
        department_names={d.code: d.name for d in city.departments},
        city_code=case.city,
    )
    completed_at = now()
    payload = VerificationCompleted(
        case_id=case.case_id,
        application_id=case.application_id,
        category=case.category,
        completed_at=completed_at,
        recommendation=outcome.recommendation,
        reasons=outcome.reasons,
        profile=outcome.profile,
        discrepancies=outcome.discrepancies,
        missing_departments=[d for d in requested if d not in answers],
        parameters_version=param_set.version or 1,
        priority_findings=priority_findings(answers, completed_at.astimezone(SHANGHAI).date()),
    )
    await conn.execute(
        verification_cases.update()
        .where(verification_cases.c.case_id == case.case_id)
        .values(
            status="completed",
            completed_at=completed_at,
            recommendation=outcome.recommendation,
            result=payload.model_dump(mode="json"),
        )
    )
    uow.emit(payload, subject=str(case.application_id))
    return payload


async def complete_rereview(
    uow: UnitOfWork, case: sa.Row, city: CityConfig
) -> VerificationRereviewCompleted:
    """Check a re-review case against the category's continuation thresholds (续租条件) and
    publish ``verification.rereview_completed`` — never ``verification.completed``, which
    would make review decide the application again.

    The band's income boundary is the admission limit in force today (the approved version
    of the admission parameters), so an approved change of the admission standard moves the
    bands of the next campaign too.
    """
    conn = uow.conn
    answers, requested = await _answers_of(conn, case)
    admission = await _parameters_for(conn, case, city, on=today_shanghai())
    outcome = evaluate_continuation(
        Declared.from_json(case.declared),
        answers,
        city.category(case.category).continuation_parameters(),
        admission_income_limit=admission.parameters.max_monthly_income_per_capita,
    )
    completed_at = now()
    payload = VerificationRereviewCompleted(
        lease_id=case.lease_id,
        application_id=case.application_id,
        campaign=case.campaign,
        case_id=case.case_id,
        household_found=True,
        completed_at=completed_at,
        checks=outcome.checks,
        income_band=outcome.income_band,
        meets_continuation=outcome.meets_continuation,
        missing_departments=[d for d in requested if d not in answers],
    )
    await conn.execute(
        verification_cases.update()
        .where(verification_cases.c.case_id == case.case_id)
        .values(
            status="completed", completed_at=completed_at, result=payload.model_dump(mode="json")
        )
    )
    uow.emit(payload, subject=str(case.application_id))
    return payload


# -- deadlines --------------------------------------------------------------------------------


async def announce_overdue(uow: UnitOfWork, *, batch: int) -> int:
    """Mark pending requests past their deadline and announce each once (逾期未反馈)."""
    r = department_requests
    today = today_shanghai()
    detected = now()
    due = (
        sa.select(r.c.request_id)
        .where(r.c.status == "pending", r.c.overdue_at.is_(None), r.c.deadline < today)
        .order_by(r.c.deadline)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = (
        await uow.conn.execute(
            r.update()
            .where(r.c.request_id.in_(due))
            .values(overdue_at=detected)
            .returning(
                r.c.request_id, r.c.case_id, r.c.application_id, r.c.department, r.c.deadline
            )
        )
    ).all()
    for row in rows:
        uow.emit(
            VerificationDepartmentOverdue(
                case_id=row.case_id,
                application_id=row.application_id,
                request_id=row.request_id,
                department=row.department,
                deadline=row.deadline,
                detected_at=detected,
            ),
            subject=str(row.application_id),
        )
    return len(rows)


async def complete_past_deadline(uow: UnitOfWork, city: CityConfig, *, batch: int) -> int:
    """Complete open cases whose last deadline has passed, the silent departments missing."""
    cases = (
        await uow.conn.execute(
            sa.select(verification_cases)
            .where(
                verification_cases.c.status == "open",
                verification_cases.c.due_on < today_shanghai(),
            )
            .order_by(verification_cases.c.due_on)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for case in cases:
        await complete_case(uow, case, city)
    return len(cases)


# -- the department HTTP alternative ------------------------------------------------------------


async def answer(
    ctx: VerificationContext,
    uow: UnitOfWork,
    principal: Principal,
    department: str,
    request_id: uuid.UUID,
    body: AnswerIn,
) -> AnswerReceipt:
    """A department system's answer over HTTP (the same rules as ``response.<department>``)."""
    outcome = await apply_answer(
        uow,
        city=ctx.city,
        department=department,
        request_id=request_id,
        no_record=body.no_record,
        findings=body.findings,
        reported_answered_at=body.answered_at,
        answered_by=body.answered_by or principal.sub,
        channel="http",
        serial=ctx.serial,
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="department.answer",
        subject_type="department_request",
        subject_id=request_id,
        details={
            "department": department,
            "duplicate": outcome.duplicate,
            "findings": len(body.findings),
            "no_record": body.no_record,
        },
    )
    return AnswerReceipt(
        request_id=outcome.request_id,
        case_id=outcome.case_id,
        department=outcome.department,
        duplicate=outcome.duplicate,
        empty=outcome.empty,
        late=outcome.late,
        case_completed=outcome.case_completed,
    )


# -- admission parameters ---------------------------------------------------------------------


def check_proposal(ctx: VerificationContext, body: ProposalIn) -> None:
    """The checks on a proposal that need no database (made before the idempotency replay)."""
    if body.category not in {c.code for c in ctx.city.categories}:
        raise ValidationProblem(detail=f"本市没有申请类别 {body.category}。", field="category")
    if body.effective_from < today_shanghai():
        raise ValidationProblem(
            detail="生效日期不能早于今天：已受理的申请按受理当日有效的准入参数核查。",
            field="effective_from",
        )


async def propose_parameters(
    ctx: VerificationContext, uow: UnitOfWork, principal: Principal, body: ProposalIn
) -> ParameterSetView:
    proposal = await store.propose(
        uow.conn,
        city=ctx.city.city.code,
        category=body.category,
        parameters=body.parameters,
        effective_from=body.effective_from,
        reason=body.reason,
        proposed_by=principal.sub,
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="admission_parameters.propose",
        subject_type="admission_parameter_set",
        subject_id=proposal.id,
        details={"category": body.category, "effective_from": str(body.effective_from)},
    )
    return parameter_view(proposal)


async def decide_parameters(
    ctx: VerificationContext,
    uow: UnitOfWork,
    principal: Principal,
    set_id: uuid.UUID,
    *,
    approve: bool,
) -> ParameterSetView:
    """Approve or reject a proposal: never by its proposer (四眼原则)."""
    proposal = await store.get(uow.conn, set_id, lock=True)
    if proposal is None:
        raise NotFound(detail="没有该准入参数变更申请。", field="id")
    if proposal.status != "proposed":
        raise Conflict(detail=f"该变更申请已处理（{proposal.status}），不能再次审批。")
    if proposal.proposed_by == principal.sub:
        raise Forbidden(detail="不能审批本人提出的准入参数变更，须由另一名有审批权限的人员审批。")
    if approve and proposal.effective_from < today_shanghai():
        raise Conflict(
            detail="该变更申请的生效日期已过，批准将追溯改变已受理申请的核查依据；请重新提出。",
            field="effective_from",
        )
    if approve:
        before = await store.in_force(
            uow.conn, proposal.city, proposal.category, proposal.effective_from
        )
        decided = await store.approve(uow.conn, proposal, approved_by=principal.sub)
        changes = parameter_changes(
            before.parameters if before is not None else None, decided.parameters
        )
        if changes:
            uow.emit(
                VerificationParametersChanged(
                    parameter_set_id=decided.id,
                    city=decided.city,
                    category=decided.category,
                    version=decided.version or 1,
                    changes=changes,
                    proposed_by=decided.proposed_by,
                    proposed_at=decided.proposed_at,
                    approved=True,
                    approved_by=decided.decided_by,
                    approved_at=decided.decided_at,
                    effective_from=decided.effective_from,
                ),
                subject=str(decided.id),
            )
    else:
        decided = await store.reject(uow.conn, proposal, rejected_by=principal.sub)
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="admission_parameters.approve" if approve else "admission_parameters.reject",
        subject_type="admission_parameter_set",
        subject_id=decided.id,
        details={"category": decided.category, "version": decided.version},
    )
    return parameter_view(decided)

"""What the alerting service does: one function per staff operation (POST) and per event
reaction.

Event reactions keep the per-case timeline read models (applications, stages, signatures,
notices, objections) and evaluate the event rules (raise and clear alerts); each runs in the
consumer's unit of work (the inbox row, the read-model change, the alerts and their events
commit together), called by ``handlers.py``.

Staff operations on supervision tickets (督办单), called by ``api.py``: opening a yellow one on
request, handling, the written reporting chain of a red one, manual escalation and the
supervisor's confirmation that the light is out. Red tickets open by themselves
(``evaluation.open_red_tickets``); the clock sweep escalates a missed deadline
(``sweeps.escalate_missed_deadlines``). Every staff operation checks the caller's unit,
changes the ticket, appends to its history, emits the event and writes the audit entry in the
caller's unit of work.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from services.alerting import domain, queries
from services.alerting.context import AlertingContext
from services.alerting.evaluation import (
    AlertDraft,
    clear_alerts,
    escalation_for,
    of_condition,
    raise_alerts,
    step_escalated_to,
)
from services.alerting.rules import rule
from services.alerting.schemas import (
    ConfirmIn,
    EscalateIn,
    HandleIn,
    ReportIn,
    TicketOut,
    YellowTicketIn,
)
from services.alerting.tables import (
    alerts,
    allocation_results,
    applications,
    contracts,
    department_requests,
    notices,
    objections,
    signatures,
    stages,
    ticket_alerts,
    ticket_events,
    tickets,
    verification_completions,
    waiting_confirmations,
)
from shared import audit, db
from shared.auth import CASEWORK_ROLES, SUPERVISOR, Principal, ensure_can_act, unit_level
from shared.city import NotConfiguredError
from shared.clock import SHANGHAI, now
from shared.db import UnitOfWork
from shared.events import catalogue as ev
from shared.events.catalogue import TicketClosed, TicketEscalated, TicketOpened
from shared.events.envelope import Envelope
from shared.pii import scrub
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem
from shared.workdays import WorkdayCalendar

MIN_PUBLICITY = timedelta(days=7)


async def _raise(
    ctx: AlertingContext, uow: UnitOfWork, envelope: Envelope, *drafts: AlertDraft
) -> None:
    await raise_alerts(
        uow, drafts, source=envelope.type, source_event_id=envelope.id, calendar=ctx.rules.calendar
    )


async def _clear(
    envelope: Envelope,
    uow: UnitOfWork,
    condition: sa.ColumnElement[bool],
    *,
    reason: str,
    actor: str | None = None,
) -> None:
    await clear_alerts(uow, condition, reason=reason, source=envelope.type, actor=actor)


async def _application_unit(
    ctx: AlertingContext, uow: UnitOfWork, application_id: uuid.UUID
) -> str:
    """The street responsible for an application; the city when it is not known yet."""
    street = await uow.conn.scalar(
        sa.select(applications.c.street).where(applications.c.application_id == application_id)
    )
    return street or ctx.rules.city


# -- intake -------------------------------------------------------------------------------


async def application_submitted(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSubmitted, envelope: Envelope
) -> None:
    await _upsert_application(
        uow,
        e.application_id,
        tracking_no=e.tracking_no,
        city=e.city,
        district=e.district,
        street=e.street,
        category=e.category,
        status="submitted",
    )
    if not e.imported:
        # An imported history ran on the old system's clocks: its acceptance and total
        # limits are not the platform's to judge (R1-R5, Y1 still check its facts).
        await start_application_clocks(ctx, uow, e)


async def application_accepted(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationAccepted, envelope: Envelope
) -> None:
    await _upsert_application(
        uow,
        e.application_id,
        tracking_no=e.tracking_no,
        city=e.city,
        district=e.district,
        street=e.street,
        category=e.category,
        accepted_at=e.accepted_at,
        batch=domain.acceptance_batch(e.accepted_at),
        materials_due_at=ctx.rules.calendar.add_workdays(
            e.accepted_at, ctx.rules.materials_grace_working_days
        ).at,
        status="accepted",
    )
    drafts = []
    if not e.materials_complete:
        # Free text written by a clerk: scrubbed in case it quotes an ID or a mobile.
        reason = e.incomplete_reason
        details = {"incomplete_reason": scrub(reason)} if reason else {}
        drafts.append(AlertDraft("Y1", e.street, e.application_id, details=details))
    if e.receipt_no is None:
        drafts.append(AlertDraft("R1", e.street, e.application_id))
    await _raise(ctx, uow, envelope, *drafts)
    await complete_acceptance_stage(ctx, uow, e, envelope)


async def application_materials_uploaded(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationMaterialsUploaded, envelope: Envelope
) -> None:
    scope = f"material:{e.material_type}"
    if e.size_bytes == 0:
        unit = await _application_unit(ctx, uow, e.application_id)
        details = {"material_type": e.material_type, "material_id": str(e.material_id)}
        await _raise(
            ctx,
            uow,
            envelope,
            AlertDraft("R2", unit, e.application_id, scope=scope, details=details),
        )
        return
    await _upsert_application(uow, e.application_id, materials_delta=1)
    reason = "已上传申请材料"
    # Y2 (nothing uploaded) ends with any material; Y1 (materials incomplete) only when the
    # upload leaves no required material missing (null: a producer that does not say).
    cleared = ["Y2"] if e.missing_materials else ["Y1", "Y2"]
    await _clear(
        envelope,
        uow,
        of_condition(cleared, application_id=e.application_id),
        reason=reason,
        actor=e.uploaded_by,
    )
    await _clear(
        envelope,
        uow,
        of_condition("R2", application_id=e.application_id, scope=scope),
        reason=reason,
        actor=e.uploaded_by,
    )


async def application_withdrawn(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationWithdrawn, envelope: Envelope
) -> None:
    await _upsert_application(uow, e.application_id, status="withdrawn")
    await uow.conn.execute(
        stages.update()
        .where(stages.c.application_id == e.application_id, stages.c.status != "completed")
        .values(status="withdrawn")
    )
    # Clock conditions end with the application; past facts (R1, R3...) stay until
    # confirmed on their ticket.
    await _clear(
        envelope,
        uow,
        sa.and_(
            alerts.c.application_id == e.application_id,
            alerts.c.rule_id.in_(["Y2", "Y3", "R8", "F3"]),
        ),
        reason="申请已撤回",
        actor=e.withdrawn_by,
    )
    await end_application_clocks(envelope, uow, e.application_id, reason="申请已撤回")


async def application_qualified(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationQualified, envelope: Envelope
) -> None:
    await _upsert_application(
        uow,
        e.application_id,
        tracking_no=e.tracking_no,
        city=e.city,
        district=e.district,
        street=e.street,
        category=e.category,
        case_id=e.case_id,
        status="qualified",
        qualified_at=e.qualified_at,
        publish_due_at=ctx.rules.calendar.add_workdays(
            e.qualified_at, ctx.rules.publish_within_working_days
        ).at,
    )
    await total_limit_met(ctx, uow, e, envelope)


async def application_rejected(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationRejected, envelope: Envelope
) -> None:
    await _upsert_application(
        uow, e.application_id, case_id=e.case_id, status="rejected", rejected_at=e.rejected_at
    )
    if e.case_id is None:  # refused before acceptance (不予受理): the acceptance stage ends
        await close_acceptance_stage(uow, e.application_id)
    await end_application_clocks(envelope, uow, e.application_id, reason="申请已终止")


# -- the acceptance stage and the overall limit -------------------------------------------------
#
# 申请受理 is timed like a review stage (Xiamen art. 8(3), 9(8)): submission starts its clock in
# the ``stages`` read model, so the clock sweep's Y3 and R8 cover it unchanged. It has no review
# case, so its row is keyed by the application id in ``case_id`` and the stage ``acceptance``.

ACCEPTANCE_STAGE = "acceptance"


def _acceptance_key(application_id: uuid.UUID) -> dict[str, Any]:
    return {"application_id": application_id, "case_id": application_id, "stage": ACCEPTANCE_STAGE}


async def start_application_clocks(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSubmitted
) -> None:
    """Submission starts the acceptance stage's clock and the overall limit's (R8T)."""
    cal = ctx.rules.calendar
    due = cal.add_workdays(e.submitted_at, ctx.rules.acceptance_working_days)
    app = (
        await uow.conn.execute(
            sa.select(applications.c.status, applications.c.accepted_at).where(
                applications.c.application_id == e.application_id
            )
        )
    ).one()
    values = {
        "application_id": e.application_id,
        "level": "street",
        "unit": e.street,
        "started_at": e.submitted_at,
        "due_at": due.at,
        # The same moment review publishes as yellow_at for its stages.
        "warn_at": domain.warning_time(due.at, cal),
        "time_limit_working_days": ctx.rules.acceptance_working_days,
        "calendar_fallback": due.used_fallback,
    }
    # An acceptance (or an ending) heard before the submission (events overtake each other):
    # the stage is recorded as it ended, never opened.
    ended = {}
    if app.accepted_at is not None:
        ended = {
            "status": "completed",
            "completed_at": app.accepted_at,
            "overdue": app.accepted_at > due.at,
            "working_days_used": cal.workdays_between(e.submitted_at, app.accepted_at),
        }
    elif app.status in ("withdrawn", "rejected"):
        ended = {"status": "withdrawn"}
    await uow.conn.execute(
        insert(stages)
        .values(
            case_id=e.application_id,
            stage=ACCEPTANCE_STAGE,
            **{"status": "open", "overdue": False, **values, **ended},
        )
        .on_conflict_do_nothing()
    )
    if ctx.rules.total_working_days is not None:
        total_due = cal.add_workdays(e.submitted_at, ctx.rules.total_working_days).at
        await uow.conn.execute(
            applications.update()
            .where(applications.c.application_id == e.application_id)
            .values(submitted_at=e.submitted_at, total_due_at=total_due)
        )


async def complete_acceptance_stage(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationAccepted, envelope: Envelope
) -> None:
    """Acceptance ends the acceptance stage; accepted after its deadline is R8 even when no
    sweep saw it open (the light goes out at once, the ticket stays)."""
    row = (
        await uow.conn.execute(
            stages.update()
            .where(
                stages.c.case_id == e.application_id,
                stages.c.stage == ACCEPTANCE_STAGE,
                stages.c.status.in_(["open", "suspended"]),
            )
            .values(
                status="completed",
                completed_at=e.accepted_at,
                suspended_at=None,
                overdue=stages.c.overdue | (stages.c.due_at < e.accepted_at),
            )
            .returning(stages.c.started_at, stages.c.due_at, stages.c.overdue)
        )
    ).first()
    if row is None:  # submission not heard yet (it records the ending) or already completed
        return
    key = _acceptance_key(e.application_id)
    # Recorded whatever the order the events came in: a submission heard after its acceptance
    # records the same row (start_application_clocks), so both orders end in one state.
    await uow.conn.execute(
        stages.update()
        .where(stages.c.case_id == e.application_id, stages.c.stage == ACCEPTANCE_STAGE)
        .values(
            working_days_used=ctx.rules.calendar.workdays_between(row.started_at, e.accepted_at)
        )
    )
    if row.overdue:
        seen = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(alerts).where(of_condition("R8", **key))
        )
        if not seen:
            details = {"due_at": row.due_at.isoformat()}
            await _raise(ctx, uow, envelope, AlertDraft("R8", e.street, **key, details=details))
    await _clear(envelope, uow, of_condition(["Y3", "R8"], **key), reason="申请已受理")


async def close_acceptance_stage(uow: UnitOfWork, application_id: uuid.UUID) -> None:
    await uow.conn.execute(
        stages.update()
        .where(
            stages.c.case_id == application_id,
            stages.c.stage == ACCEPTANCE_STAGE,
            stages.c.status != "completed",
        )
        .values(status="withdrawn")
    )


async def supplement_requested(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSupplementRequested, envelope: Envelope
) -> None:
    """A supplement notice before acceptance stops the acceptance clock: the family's time is
    not the window's (after acceptance the stage is over and nothing changes)."""
    stopped = await uow.conn.scalar(
        stages.update()
        .where(
            stages.c.case_id == e.application_id,
            stages.c.stage == ACCEPTANCE_STAGE,
            stages.c.status == "open",
        )
        .values(status="suspended", suspended_at=e.requested_at)
        .returning(stages.c.case_id)
    )
    if stopped is not None:
        await _clear(
            envelope,
            uow,
            of_condition("Y3", **_acceptance_key(e.application_id)),
            reason="补件通知已发出，受理时限暂停计算",
            actor=e.requested_by,
        )


async def supplement_ended(
    ctx: AlertingContext, uow: UnitOfWork, application_id: uuid.UUID, at: datetime
) -> None:
    """The supplement is in (or its deadline passed): the acceptance clock runs again, its
    deadline moved by the working days it stood still; the overall limit moves alike."""
    row = (
        await uow.conn.execute(
            sa.select(stages.c.due_at, stages.c.suspended_at)
            .where(
                stages.c.case_id == application_id,
                stages.c.stage == ACCEPTANCE_STAGE,
                stages.c.status == "suspended",
            )
            .with_for_update()
        )
    ).first()
    if row is None or row.suspended_at is None:
        return
    cal = ctx.rules.calendar
    # Working days in (suspension day, resumption day], as review counts its suspensions.
    days = cal.workdays_between(row.suspended_at, at)
    values: dict[str, Any] = {"status": "open", "suspended_at": None}
    if days:
        due = cal.add_workdays(row.due_at, days).at
        values.update(due_at=due, warn_at=domain.warning_time(due, cal))
    await uow.conn.execute(
        stages.update()
        .where(stages.c.case_id == application_id, stages.c.stage == ACCEPTANCE_STAGE)
        .values(**values)
    )
    await move_total_deadline(ctx, uow, application_id, days)


async def supplement_received(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSupplementReceived, envelope: Envelope
) -> None:
    await supplement_ended(ctx, uow, e.application_id, e.received_at)


async def supplement_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationSupplementOverdue, envelope: Envelope
) -> None:
    # The clock runs again from the end of the notice's last day, however late this is heard.
    await supplement_ended(ctx, uow, e.application_id, domain.end_of_day(e.deadline))


async def move_total_deadline(
    ctx: AlertingContext, uow: UnitOfWork, application_id: uuid.UUID, suspended_days: int
) -> None:
    """Supplement suspensions do not count toward the overall limit: its deadline moves."""
    if not suspended_days or ctx.rules.total_working_days is None:
        return
    row = (
        await uow.conn.execute(
            sa.select(applications.c.submitted_at, applications.c.total_suspended_days)
            .where(applications.c.application_id == application_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return
    total = row.total_suspended_days + suspended_days
    values: dict[str, Any] = {"total_suspended_days": total}
    if row.submitted_at is not None:
        values["total_due_at"] = ctx.rules.calendar.add_workdays(
            row.submitted_at, ctx.rules.total_working_days + total
        ).at
    await uow.conn.execute(
        applications.update()
        .where(applications.c.application_id == application_id)
        .values(**values)
    )


async def total_limit_met(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationQualified, envelope: Envelope
) -> None:
    """Qualification ends the overall clock; qualified past it before any sweep saw it is still
    R8T (a fact for the ticket and the reports), put out at once."""
    due = await uow.conn.scalar(
        sa.select(applications.c.total_due_at).where(
            applications.c.application_id == e.application_id
        )
    )
    condition = of_condition("R8T", application_id=e.application_id)
    if due is not None and e.qualified_at > due:
        seen = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(alerts).where(condition)
        )
        if not seen:
            draft = AlertDraft(
                "R8T", e.city, e.application_id, details={"total_due_at": due.isoformat()}
            )
            await _raise(ctx, uow, envelope, draft)
    await _clear(envelope, uow, condition, reason="资格认定已完成")


async def end_application_clocks(
    envelope: Envelope, uow: UnitOfWork, application_id: uuid.UUID, *, reason: str
) -> None:
    """A withdrawn or ended application: the overall limit and a refused suspension's light
    (conditions about a case that no longer runs) go out."""
    await _clear(
        envelope,
        uow,
        sa.and_(alerts.c.application_id == application_id, alerts.c.rule_id.in_(["R8T", "R8S"])),
        reason=reason,
    )


# -- verification -------------------------------------------------------------------------


async def _supervised_unit(ctx: AlertingContext, uow: UnitOfWork, application_id: uuid.UUID) -> str:
    """Where a light about an application's department answer is raised: the application's
    street, so that the supervisors of the street, its district and the city all see it
    (visibility reads upward by code prefix) and the district can send its 督办通知 (art. 10);
    the district or the city only when the street is not known yet."""
    row = (
        await uow.conn.execute(
            sa.select(applications.c.street, applications.c.district, applications.c.city).where(
                applications.c.application_id == application_id
            )
        )
    ).first()
    if row is None:
        return ctx.rules.city
    return row.street or row.district or row.city or ctx.rules.city


async def _department_request(
    uow: UnitOfWork,
    case_id: uuid.UUID,
    department: str,
    application_id: uuid.UUID,
    **values: Any,
) -> None:
    """Create or update one request of the departments' timeline; flags only ever turn on."""
    stmt = insert(department_requests).values(
        case_id=case_id, department=department, application_id=application_id, **values
    )
    dr = department_requests.c
    update: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("late", "overdue", "empty", "answered"):
            update[key] = dr[key] | stmt.excluded[key]
        elif key == "answered_at":
            update[key] = sa.func.coalesce(dr[key], stmt.excluded[key])
        elif value is not None:
            update[key] = stmt.excluded[key]
    await uow.conn.execute(
        stmt.on_conflict_do_update(index_elements=["case_id", "department"], set_=update)
        if update
        else stmt.on_conflict_do_nothing()
    )


async def verification_started(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationStarted, envelope: Envelope
) -> None:
    deadlines = []
    for department in e.departments:
        try:
            days = ctx.city.department(department).answer_deadline_working_days
            deadlines.append(ctx.rules.calendar.add_workdays(e.started_at, days).date)
        except NotConfiguredError:  # a department the city file no longer lists: the last day
            deadlines.append(e.due_on)
    await db.fetch(
        uow.conn,
        _REQUESTS_STARTED,
        e.case_id,
        e.application_id,
        e.started_at,
        list(e.departments),
        deadlines,
    )
    await _mark_answered_at_completion(uow, e.case_id)


# The start of every request of a case in one statement (eight or so per application); a
# request an answer or a deadline was heard for first gets its start and deadline.
_REQUESTS_STARTED = """
INSERT INTO department_requests (case_id, department, application_id, requested_at, deadline)
SELECT $1, asked.department, $2, $3, asked.deadline
FROM unnest($4::text[], $5::date[]) AS asked(department, deadline)
ON CONFLICT (case_id, department) DO UPDATE SET
    requested_at = EXCLUDED.requested_at, deadline = EXCLUDED.deadline
"""


async def verification_answer_empty(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationAnswerEmpty, envelope: Envelope
) -> None:
    await _department_request(
        uow,
        e.case_id,
        e.department,
        e.application_id,
        request_id=e.request_id,
        answered=True,
        answered_at=e.answered_at,
        empty=True,
    )
    unit = await _supervised_unit(ctx, uow, e.application_id)
    draft = AlertDraft(
        "R6",
        unit,
        e.application_id,
        case_id=None,
        department=e.department,
        scope=f"request:{e.request_id}",
        details={"department": e.department, "request_id": str(e.request_id)},
    )
    await _raise(ctx, uow, envelope, draft)


async def verification_answer_late(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationAnswerLate, envelope: Envelope
) -> None:
    await _department_request(
        uow,
        e.case_id,
        e.department,
        e.application_id,
        request_id=e.request_id,
        deadline=e.deadline,
        answered=True,
        answered_at=e.answered_at,
        late=True,
    )
    await _raise_department_late(
        ctx,
        uow,
        envelope,
        e,
        details={
            "department": e.department,
            "request_id": str(e.request_id),
            "deadline": e.deadline.isoformat(),
            "answered_at": e.answered_at.isoformat(),
            "working_days_late": e.working_days_late,
        },
    )


async def verification_department_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationDepartmentOverdue, envelope: Envelope
) -> None:
    await _department_request(
        uow,
        e.case_id,
        e.department,
        e.application_id,
        request_id=e.request_id,
        deadline=e.deadline,
        overdue=True,
    )
    await _raise_department_late(
        ctx,
        uow,
        envelope,
        e,
        details={
            "department": e.department,
            "request_id": str(e.request_id),
            "deadline": e.deadline.isoformat(),
            "detected_at": e.detected_at.isoformat(),
        },
    )


async def _raise_department_late(
    ctx: AlertingContext,
    uow: UnitOfWork,
    envelope: Envelope,
    e: ev.VerificationAnswerLate | ev.VerificationDepartmentOverdue,
    *,
    details: dict[str, Any],
) -> None:
    """D1: one light per request, whether its deadline passed unanswered (逾期未反馈) or the
    answer came late; an overdue request answered later keeps its one light and ticket."""
    unit = await _supervised_unit(ctx, uow, e.application_id)
    draft = AlertDraft(
        "D1",
        unit,
        e.application_id,
        department=e.department,
        scope=f"request:{e.request_id}",
        details=details,
    )
    await _raise(ctx, uow, envelope, draft)


async def verification_completed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationCompleted, envelope: Envelope
) -> None:
    await uow.conn.execute(
        insert(verification_completions)
        .values(
            case_id=e.case_id,
            completed_at=e.completed_at,
            missing_departments=list(e.missing_departments),
        )
        .on_conflict_do_nothing()
    )
    await _mark_answered_at_completion(uow, e.case_id)


async def _mark_answered_at_completion(uow: UnitOfWork, case_id: uuid.UUID) -> None:
    """Every department of a completed case that is not listed missing has answered (also
    when the start is handled after the completion: both call this)."""
    dr, vc = department_requests.c, verification_completions.c
    await uow.conn.execute(
        department_requests.update()
        .where(
            dr.case_id == case_id,
            vc.case_id == dr.case_id,
            dr.answered.is_(False),
            dr.department != sa.all_(vc.missing_departments),
        )
        .values(answered=True, answered_at=sa.func.coalesce(dr.answered_at, vc.completed_at))
    )


async def verification_parameters_changed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationParametersChanged, envelope: Envelope
) -> None:
    scope = f"category:{e.category}"
    if e.approved:
        await _clear(
            envelope,
            uow,
            of_condition("F2", scope=scope),
            reason=f"第{e.version}版准入参数已经审批生效",
            actor=e.approved_by,
        )
        return
    details = {
        "category": e.category,
        "version": e.version,
        "parameters": [c.name for c in e.changes],
    }
    await _raise(ctx, uow, envelope, AlertDraft("F2", e.city, scope=scope, details=details))


# -- review -------------------------------------------------------------------------------


async def review_case_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewCaseOpened, envelope: Envelope
) -> None:
    await _upsert_application(
        uow,
        e.application_id,
        tracking_no=e.tracking_no,
        city=e.city,
        district=e.district,
        street=e.street,
        category=e.category,
        case_id=e.case_id,
        status="in_review",
    )


def _stage_started() -> sa.Insert:
    """The upsert of a started stage, built once (it runs for every stage of every case)."""
    columns = (
        "case_id",
        "stage",
        "application_id",
        "level",
        "unit",
        "status",
        "started_at",
        "due_at",
        "warn_at",
        "time_limit_working_days",
        "calendar_fallback",
        "completed_at",
        "working_days_used",
        "overdue",
    )
    # Parameter names other than the columns' own, which the VALUES and SET clauses reserve.
    stmt = insert(stages).values(
        {c: sa.bindparam(f"p_{c}", type_=stages.c[c].type) for c in columns}
    )
    # A stage restarted after a return reopens; a start older than the recorded completion
    # (events out of order) only fills in the deadline and leaves the stage completed.
    reopen = sa.or_(
        stages.c.completed_at.is_(None), stages.c.completed_at < stmt.excluded.started_at
    )
    reopened = ("status", "completed_at", "working_days_used", "overdue")
    update = {
        **{c: stmt.excluded[c] for c in columns if c not in ("case_id", "stage", *reopened)},
        **{c: sa.case((reopen, stmt.excluded[c]), else_=stages.c[c]) for c in reopened},
    }
    return stmt.on_conflict_do_update(index_elements=["case_id", "stage"], set_=update)


_STAGE_STARTED = _stage_started()


async def review_stage_started(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageStarted, envelope: Envelope
) -> None:
    values = {
        "application_id": e.application_id,
        "level": e.level,
        "unit": e.unit,
        "status": "open",
        "started_at": e.started_at,
        "due_at": e.due_at,
        # Review publishes the Y3 threshold it computed; only events from before it did
        # (no ``yellow_at``) have it computed here, with the same calendar rule.
        "warn_at": e.yellow_at or domain.warning_time(e.due_at, ctx.rules.calendar),
        "time_limit_working_days": e.time_limit_working_days,
        "calendar_fallback": e.calendar_fallback,
        "completed_at": None,
        "working_days_used": None,
        "overdue": False,
    }
    await uow.conn.execute(
        _STAGE_STARTED,
        {f"p_{k}": v for k, v in {**values, "case_id": e.case_id, "stage": e.stage}.items()},
    )


async def review_stage_completed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageCompleted, envelope: Envelope
) -> None:
    done = {
        "status": "completed",
        "completed_at": e.completed_at,
        "working_days_used": e.working_days_used,
    }
    # Upsert: a completion seen before its start still marks the stage done. The deadline
    # columns get the completion time until the start event fills them in.
    stmt = insert(stages).values(
        case_id=e.case_id,
        stage=e.stage,
        application_id=e.application_id,
        level=e.level,
        unit=e.unit,
        started_at=e.completed_at,
        due_at=e.completed_at,
        warn_at=e.completed_at,
        time_limit_working_days=0,
        overdue=e.overdue,
        **done,
    )
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["case_id", "stage"],
            set_={**done, "overdue": stages.c.overdue | e.overdue},
        )
    )
    key = {"application_id": e.application_id, "case_id": e.case_id, "stage": e.stage}
    if e.overdue:
        # Completed late before any sweep saw it: the breach still gets its light and its
        # red ticket (the reporting chain is owed), and the light goes out at once.
        seen = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(alerts).where(of_condition("R8", **key))
        )
        if not seen:
            await _raise(ctx, uow, envelope, AlertDraft("R8", e.unit, **key))
    await _clear(envelope, uow, of_condition(["Y3", "R8", "R8S"], **key), reason="环节已办结")


async def review_stage_suspended(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageSuspended, envelope: Envelope
) -> None:
    await uow.conn.execute(
        stages.update()
        .where(stages.c.case_id == e.case_id, stages.c.stage == e.stage, stages.c.status == "open")
        .values(status="suspended", handler=e.suspended_by)
    )
    key = {"application_id": e.application_id, "case_id": e.case_id, "stage": e.stage}
    await _clear(
        envelope,
        uow,
        of_condition("Y3", **key),
        reason="补件挂起，办理时限暂停计算",
        actor=e.suspended_by,
    )


async def review_stage_resumed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageResumed, envelope: Envelope
) -> None:
    await uow.conn.execute(
        stages.update()
        .where(
            stages.c.case_id == e.case_id,
            stages.c.stage == e.stage,
            stages.c.status == "suspended",
        )
        .values(
            status="open",
            handler=sa.func.coalesce(e.resumed_by, stages.c.handler),
            due_at=e.due_at,
            # review.stage_resumed carries no yellow_at (yet): the moved deadline's
            # threshold is computed with review's rule (WorkdayCalendar.warning_starts).
            warn_at=domain.warning_time(e.due_at, ctx.rules.calendar),
        )
    )
    await move_total_deadline(ctx, uow, e.application_id, e.suspended_working_days)


async def review_suspension_refused(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewSuspensionRefused, envelope: Envelope
) -> None:
    """R8S: a suspension asked for after the stage's total allowance was used (art. 7); it
    goes out when the stage is completed."""
    await uow.conn.execute(
        stages.update()
        .where(stages.c.case_id == e.case_id, stages.c.stage == e.stage)
        .values(handler=e.requested_by)
    )
    key = {"application_id": e.application_id, "case_id": e.case_id, "stage": e.stage}
    details = {
        "requested_by": e.requested_by,
        "suspended_working_days": e.suspended_working_days,
        "limit_working_days": e.limit_working_days,
        "due_at": e.due_at.isoformat(),
    }
    await _raise(ctx, uow, envelope, AlertDraft("R8S", e.unit, **key, details=details))


async def review_stage_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageOverdue, envelope: Envelope
) -> None:
    await uow.conn.execute(
        stages.update()
        .where(stages.c.case_id == e.case_id, stages.c.stage == e.stage)
        .values(overdue=True)
    )
    key = {"application_id": e.application_id, "case_id": e.case_id, "stage": e.stage}
    await _clear(envelope, uow, of_condition("Y3", **key), reason="已超出时限，转为红灯")
    details = {"due_at": e.due_at.isoformat()}
    await _raise(ctx, uow, envelope, AlertDraft("R8", e.unit, **key, details=details))


async def review_opinion_signed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewOpinionSigned, envelope: Envelope
) -> None:
    await uow.conn.execute(
        insert(signatures)
        .values(
            event_id=envelope.id,
            case_id=e.case_id,
            stage=e.stage,
            role=e.role,
            decision=e.decision,
            signer=e.signer,
            signed_at=e.signed_at,
            opinion_quality=e.opinion_quality,
        )
        .on_conflict_do_nothing()
    )
    rows = (
        await uow.conn.execute(
            sa.select(signatures.c.role, signatures.c.signed_at, signatures.c.decision).where(
                signatures.c.case_id == e.case_id, signatures.c.stage == e.stage
            )
        )
    ).all()
    key = {"application_id": e.application_id, "case_id": e.case_id, "stage": e.stage}
    drafts = []
    if domain.signature_order_broken(
        domain.Signature(r.role, r.signed_at, r.decision) for r in rows
    ):
        drafts.append(AlertDraft(domain.ORDER_RULE_BY_LEVEL[e.level], e.unit, **key))
    role_scope = f"role:{e.role}"
    if e.opinion_quality in ("boilerplate", "empty"):
        details = {"role": e.role, "opinion_quality": e.opinion_quality}
        drafts.append(AlertDraft("F1", e.unit, **key, scope=role_scope, details=details))
    else:
        await _clear(
            envelope,
            uow,
            of_condition("F1", **key, scope=role_scope),
            reason="已重新出具具体审核意见",
            actor=e.signer,
        )
    await _raise(ctx, uow, envelope, *drafts)


# -- publication --------------------------------------------------------------------------


async def publicity_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.PublicityOpened, envelope: Envelope
) -> None:
    values = {
        "kind": e.kind,
        "unit": e.unit,
        "batch": e.batch,
        "opened_at": e.opened_at,
        "closes_at": e.closes_at,
        "planned_days": e.planned_days,
    }
    await uow.conn.execute(
        insert(notices)
        .values(notice_id=e.notice_id, **values)
        .on_conflict_do_update(index_elements=["notice_id"], set_=values)
    )
    if e.kind == "qualification":
        await uow.conn.execute(
            applications.update()
            .where(applications.c.application_id.in_(e.application_ids))
            .values(
                published_at=sa.func.coalesce(applications.c.published_at, e.opened_at),
                publicity_batch=e.batch,
                status=sa.case(
                    # On public notice implies qualified, whatever this read model
                    # heard before (events of other services may arrive late).
                    (applications.c.status.notin_(["withdrawn", "rejected"]), "published"),
                    else_=applications.c.status,
                ),
                updated_at=now(),
            )
        )
        await _clear(
            envelope,
            uow,
            sa.and_(alerts.c.rule_id == "F3", alerts.c.application_id.in_(e.application_ids)),
            reason="资格认定结果已公示",
        )
    if e.kind == "allocation":
        await _allocation_results_published(uow, e, envelope)
    if rule("R7").covers_notice(e.kind) and (
        e.planned_days < 7 or e.closes_at - e.opened_at < MIN_PUBLICITY
    ):
        details = {"notice_id": str(e.notice_id), "planned_days": e.planned_days}
        await _raise(
            ctx,
            uow,
            envelope,
            AlertDraft("R7", e.unit, scope=f"notice:{e.notice_id}", details=details),
        )


async def publicity_closed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.PublicityClosed, envelope: Envelope
) -> None:
    unit = await uow.conn.scalar(
        sa.update(notices)
        .where(notices.c.notice_id == e.notice_id)
        .values(closed_at=e.closed_at, closed_early=e.closed_early)
        .returning(notices.c.unit)
    )
    if unit is None:  # opened before this service listened: keep what the close tells
        unit = ctx.rules.city
        await uow.conn.execute(
            insert(notices)
            .values(
                notice_id=e.notice_id,
                kind=e.kind,
                unit=unit,
                opened_at=e.opened_at,
                closed_at=e.closed_at,
                closed_early=e.closed_early,
            )
            .on_conflict_do_nothing()
        )
    if rule("R7").covers_notice(e.kind) and (
        e.closed_early or e.closed_at - e.opened_at < MIN_PUBLICITY
    ):
        details = {
            "notice_id": str(e.notice_id),
            "closed_early": e.closed_early,
            "hours_published": int((e.closed_at - e.opened_at).total_seconds() // 3600),
        }
        await _raise(
            ctx,
            uow,
            envelope,
            AlertDraft("R7", unit, scope=f"notice:{e.notice_id}", details=details),
        )


async def _allocation_results_published(
    uow: UnitOfWork, e: ev.PublicityOpened, envelope: Envelope
) -> None:
    """A results notice (配租结果公示) lists these results: F4 is out for them. A notice from
    before ``allocation_ids`` existed is matched by its applications."""
    r = allocation_results.c
    which = (
        r.allocation_id.in_(e.allocation_ids)
        if e.allocation_ids
        else r.application_id.in_(e.application_ids)
    )
    published = list(
        await uow.conn.scalars(
            allocation_results.update()
            .where(which)
            .values(published_at=sa.func.coalesce(r.published_at, e.opened_at))
            .returning(r.allocation_id)
        )
    )
    keys = [domain.condition_key(scope=f"allocation:{a}") for a in published]
    if keys:
        await _clear(
            envelope,
            uow,
            sa.and_(alerts.c.rule_id == "F4", alerts.c.condition_key.in_(keys)),
            reason="配租结果已公示",
        )


async def objection_filed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ObjectionFiled, envelope: Envelope
) -> None:
    unit = await uow.conn.scalar(
        sa.select(notices.c.unit).where(notices.c.notice_id == e.notice_id)
    ) or await _application_unit(ctx, uow, e.application_id)
    await uow.conn.execute(
        insert(objections)
        .values(
            objection_id=e.objection_id,
            notice_id=e.notice_id,
            application_id=e.application_id,
            unit=unit,
            filed_at=e.filed_at,
            conclude_due_at=domain.end_of_day(e.conclude_by) if e.conclude_by else None,
        )
        .on_conflict_do_nothing()
    )


async def objection_concluded(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ObjectionConcluded, envelope: Envelope
) -> None:
    await uow.conn.execute(
        objections.update()
        .where(objections.c.objection_id == e.objection_id)
        .values(concluded_at=e.concluded_at)
    )
    await _clear(
        envelope,
        uow,
        of_condition("F5", application_id=e.application_id, scope=f"objection:{e.objection_id}"),
        reason="异议调查结论已公布",
        actor=e.concluded_by,
    )


# -- allocation ---------------------------------------------------------------------------
# Allocation is run by the city's housing office (市住房保障管理中心): its lights and reminders
# belong to the city unit, where the city's supervisors see them.


async def _application_of(uow: UnitOfWork, reference: str) -> uuid.UUID | None:
    return await uow.conn.scalar(
        sa.select(applications.c.application_id).where(applications.c.tracking_no == reference)
    )


async def unit_allocated(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationUnitAllocated, envelope: Envelope
) -> None:
    """F4's clock starts: the result must be on a results notice within the limit."""
    await uow.conn.execute(
        insert(allocation_results)
        .values(
            allocation_id=e.allocation_id,
            round_id=e.round_id,
            household_reference=e.household_reference,
            application_id=await _application_of(uow, e.household_reference),
            allocated_at=e.allocated_at,
            publish_due_at=ctx.rules.calendar.add_workdays(
                e.allocated_at, ctx.rules.allocation_publish_within_working_days
            ).at,
        )
        .on_conflict_do_nothing()
    )


async def order_overridden(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationOrderOverridden, envelope: Envelope
) -> None:
    """Queue-jumping (插队): a red light and, with it, a red ticket for the city."""
    details = {
        "allocation_id": str(e.allocation_id),
        "round_id": str(e.round_id),
        "household_reference": e.household_reference,
        "rank": e.rank,
        "next_in_order": e.next_in_order,
        "leader": e.leader,
        # Free text written by a leader: scrubbed in case it quotes an ID or a mobile.
        "reason": scrub(e.reason),
    }
    draft = AlertDraft(
        "R9",
        ctx.rules.city,
        await _application_of(uow, e.household_reference),
        scope=f"allocation:{e.allocation_id}",
        details=details,
    )
    await _raise(ctx, uow, envelope, draft)


async def contract_issued(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationContractIssued, envelope: Envelope
) -> None:
    values = {
        "sign_by": e.sign_by,
        "remind_at": ctx.rules.calendar.warning_starts(e.sign_by),
        "deadline_at": domain.end_of_day(e.sign_by),
    }
    stmt = insert(contracts).values(
        contract_id=e.contract_id,
        allocation_id=e.allocation_id,
        household_reference=e.household_reference,
        application_id=await _application_of(uow, e.household_reference),
        **values,
    )
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[contracts.c.contract_id],
            set_={k: stmt.excluded[k] for k in values},
        )
    )


async def contract_signed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationContractSigned, envelope: Envelope
) -> None:
    # Kept even when the issue was never heard, so a late issue reminds nobody.
    stmt = insert(contracts).values(
        contract_id=e.contract_id,
        allocation_id=e.allocation_id,
        household_reference=e.household_reference,
        signed_at=e.signed_at,
    )
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[contracts.c.contract_id], set_={"signed_at": e.signed_at}
        )
    )


async def contract_overdue(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationContractOverdue, envelope: Envelope
) -> None:
    """The sign-by day passed without a signature (F6, a past fact confirmed on a ticket)."""
    await uow.conn.execute(
        contracts.update()
        .where(contracts.c.contract_id == e.contract_id)
        .values(overdue_at=sa.func.coalesce(contracts.c.overdue_at, envelope.occurred_at))
    )
    details = {
        "contract_id": str(e.contract_id),
        "allocation_id": str(e.allocation_id),
        "household_reference": e.household_reference,
        "sign_by": e.sign_by.isoformat(),
    }
    draft = AlertDraft(
        "F6",
        ctx.rules.city,
        await _application_of(uow, e.household_reference),
        scope=f"contract:{e.contract_id}",
        details=details,
    )
    await _raise(ctx, uow, envelope, draft)


async def confirmation_requested(
    ctx: AlertingContext,
    uow: UnitOfWork,
    e: ev.AllocationConfirmationRequested,
    envelope: Envelope,
) -> None:
    """N4's clock: a new request (the next year's) starts over, unconfirmed."""
    values = {
        "confirm_by": e.confirm_by,
        "remind_at": ctx.rules.calendar.warning_starts(e.confirm_by),
        "deadline_at": domain.end_of_day(e.confirm_by),
        "confirmed_at": None,
    }
    stmt = insert(waiting_confirmations).values(
        entry_id=e.entry_id,
        application_id=e.application_id,
        household_reference=e.household_reference,
        **values,
    )
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[waiting_confirmations.c.entry_id],
            set_={k: stmt.excluded[k] for k in values},
        )
    )


async def need_confirmed(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.AllocationNeedConfirmed, envelope: Envelope
) -> None:
    await uow.conn.execute(
        waiting_confirmations.update()
        .where(waiting_confirmations.c.entry_id == e.entry_id)
        .values(confirmed_at=e.confirmed_at)
    )


# The order an application's status moves in. Events of different services overtake each other
# on the broker (an acceptance may come after the case it opened), so a late event must never
# move the status back: a withdrawn application read as "accepted" again would get Y2, a
# qualified one read as "in_review" again would never get F3. Withdrawn and rejected end it.
STATUS_ORDER = {
    "submitted": 0,
    "accepted": 1,
    "in_review": 2,
    "qualified": 3,
    "published": 4,
    "withdrawn": 5,
    "rejected": 5,
}


def _status_rank(status: str) -> str:
    """SQL: the rank of the status expression ``status`` (``STATUS_ORDER``; unknown: -1)."""
    whens = " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in STATUS_ORDER.items())
    return f"CASE {status} {whens} ELSE -1 END"


# The fields an event may know about an application; what it does not know is None and keeps
# the stored value (a new row gets NULL or the column default).
_APPLICATION_FIELDS = (
    "tracking_no",
    "city",
    "district",
    "street",
    "category",
    "accepted_at",
    "batch",
    "materials_due_at",
    "case_id",
    "qualified_at",
    "publish_due_at",
    "rejected_at",
)
_S = len(_APPLICATION_FIELDS) + 2  # the status parameter, after the id and the fields

# One fixed statement for every event that touches the read model (several per application):
# on the driver and prepared once, where a statement built per call with its CASEs was
# compiled per set of fields.
_UPSERT_APPLICATION = f"""
INSERT INTO applications (application_id, {", ".join(_APPLICATION_FIELDS)},
                          status, materials_uploaded, updated_at)
VALUES ($1, {", ".join(f"${i + 2}" for i in range(len(_APPLICATION_FIELDS)))},
        coalesce(${_S}::text, 'submitted'), greatest(${_S + 1}::integer, 0), ${_S + 2})
ON CONFLICT (application_id) DO UPDATE SET
    {", ".join(f"{f} = coalesce(EXCLUDED.{f}, applications.{f})" for f in _APPLICATION_FIELDS)},
    status = CASE
        WHEN ${_S}::text IS NOT NULL
         AND {_status_rank("EXCLUDED.status")} > {_status_rank("applications.status")}
        THEN EXCLUDED.status ELSE applications.status END,
    materials_uploaded = applications.materials_uploaded + ${_S + 1}::integer,
    updated_at = EXCLUDED.updated_at
"""


async def _upsert_application(
    uow: UnitOfWork,
    application_id: uuid.UUID,
    *,
    materials_delta: int = 0,
    status: str | None = None,
    **values: Any,
) -> None:
    """Create or update the application's read-model row with the fields an event knows
    (``_APPLICATION_FIELDS``; None: not known); the status only moves forward
    (``STATUS_ORDER``)."""
    unknown = values.keys() - set(_APPLICATION_FIELDS)
    if unknown:
        raise TypeError(f"not a field of the applications read model: {sorted(unknown)}")
    known = [values.get(field) for field in _APPLICATION_FIELDS]
    await db.fetch(
        uow.conn, _UPSERT_APPLICATION, application_id, *known, status, materials_delta, now()
    )


# -- staff operations on tickets --------------------------------------------------------------


async def _audit(
    uow: UnitOfWork,
    principal: Principal,
    action: str,
    ticket_id: uuid.UUID,
    details: dict[str, Any],
) -> None:
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action=action,
        subject_type="ticket",
        subject_id=ticket_id,
        details=details,
    )


async def _history(
    uow: UnitOfWork,
    ticket_id: uuid.UUID,
    action: str,
    step: str,
    at: datetime,
    *,
    actor: str | None,
    due_at: datetime | None = None,
    to_level: str | None = None,
    to_unit: str | None = None,
    note: str | None = None,
) -> None:
    await uow.conn.execute(
        ticket_events.insert().values(
            ticket_id=ticket_id,
            action=action,
            step=step,
            actor=actor,
            automatic=False,
            at=at,
            due_at=due_at,
            to_level=to_level,
            to_unit=to_unit,
            note=note,
        )
    )


async def _load_for_update(uow: UnitOfWork, ticket_id: uuid.UUID) -> Row[Any]:
    row = (
        await uow.conn.execute(
            sa.select(*tickets.c).where(tickets.c.ticket_id == ticket_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("督办单不存在", field="ticket_id")
    return row


async def _open_yellow(
    uow: UnitOfWork, principal: Principal, body: YellowTicketIn, calendar: WorkdayCalendar
) -> uuid.UUID:
    ids = list(dict.fromkeys(body.alert_ids))
    rows = (await uow.conn.execute(sa.select(*alerts.c).where(alerts.c.alert_id.in_(ids)))).all()
    found = {r.alert_id: r for r in rows}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise NotFound(f"预警不存在：{missing[0]}", field="alert_ids")
    for r in rows:
        ensure_can_act(principal, r.unit)
        if r.colour != "yellow":
            raise Conflict("红灯预警已自动生成督办单，无需另行开具", field="alert_ids")
        if r.cleared_at is not None:
            raise Conflict("该预警已消失，无需督办", field="alert_ids")
    units = {r.unit for r in rows}
    if len(units) != 1:
        raise ValidationProblem("同一张督办单的预警应属于同一责任单位", field="alert_ids")
    taken = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(ticket_alerts.join(tickets, tickets.c.ticket_id == ticket_alerts.c.ticket_id))
        .where(ticket_alerts.c.alert_id.in_(ids), tickets.c.closed_at.is_(None))
    )
    if taken:
        raise Conflict("所列预警已在办理中的督办单上", field="alert_ids")
    at = now()
    if body.due_date < at.astimezone(SHANGHAI).date():
        raise ValidationProblem("办理最后期限不能早于今天", field="due_date")
    due = domain.end_of_day(body.due_date)
    unit = units.pop()
    ticket_id = uuid.uuid4()
    number = domain.ticket_no("yellow", at, ticket_id)
    application_ids = {r.application_id for r in rows}
    application_id = application_ids.pop() if len(application_ids) == 1 else None
    first = rows[0]
    await uow.conn.execute(
        tickets.insert().values(
            ticket_id=ticket_id,
            ticket_no=number,
            colour="yellow",
            rule_id=first.rule_id,
            application_id=application_id,
            stage=first.stage if len(rows) == 1 else None,
            unit=unit,
            opened_at=at,
            opened_by=principal.sub,
            step="handling",
            due_at=due,
            responsible_section=body.responsible_section,
            section_head=body.section_head,
            handler=body.handler,
        )
    )
    await uow.conn.execute(
        ticket_alerts.insert(), [{"ticket_id": ticket_id, "alert_id": i} for i in ids]
    )
    await _history(uow, ticket_id, "opened", "handling", at, actor=principal.sub, due_at=due)
    uow.emit(
        TicketOpened(
            ticket_id=ticket_id,
            ticket_no=number,
            colour="yellow",
            rule_id=first.rule_id,
            alert_ids=ids,
            application_id=application_id,
            unit=unit,
            opened_at=at,
            due_at=due,
        ),
        subject=str(application_id or ticket_id),
    )
    await _audit(
        uow,
        principal,
        "ticket.open_yellow",
        ticket_id,
        {"ticket_no": number, "alert_count": len(ids), "unit": unit},
    )
    return ticket_id


def _ensure_unit_staff(principal: Principal) -> None:
    """A department's staff act for their department only: their token's unit (the city)
    gives them no right to act for a street, a district or the city centre."""
    if principal.is_admin or not principal.has_role(SUPERVISOR, *CASEWORK_ROLES):
        raise Forbidden("协查单位人员只能办理发给本单位的督办单")


def _ensure_holds(principal: Principal, t: Row[Any], holder: str) -> None:
    """The caller may act for ``holder`` on this ticket: the department's own staff
    (``department:<code>``) for a department, else staff of that unit or above."""
    if holder == "department":
        if not principal.is_admin and t.department in principal.departments:
            return
        raise Forbidden(f"该督办单须由协查单位（{t.department}）办理和报告")
    _ensure_unit_staff(principal)
    if holder == "street":
        ensure_can_act(principal, t.unit)
    elif holder == "district":
        ensure_can_act(principal, domain.level_unit("district", t.unit) or t.unit)
    else:
        if unit_level(principal.org) not in ("city", "province"):
            # The city centre reports to the city office, the city office to the province.
            raise Forbidden("该环节须由市级单位办理或报告")
        ensure_can_act(principal, domain.city_of(t.unit))


def _missing(body: HandleIn, *fields: tuple[str, str]) -> None:
    for name, message in fields:
        if getattr(body, name) is None:
            raise ValidationProblem(message, field=name)


async def _handle(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: HandleIn,
    calendar: WorkdayCalendar,
) -> None:
    t = await _load_for_update(uow, ticket_id)
    if t.colour == "red":
        _ensure_holds(principal, t, domain.step_holder("handling", t.unit, t.department))
    else:
        _ensure_unit_staff(principal)
        ensure_can_act(principal, t.unit)
    if t.step != "handling":
        raise Conflict("督办单已办结，不能重复办理", field="ticket_id")
    if t.colour == "red":
        # 《红灯预警督办单》 (art. 11(2)2-3): the section head names the handler, who states the
        # cause and the handling opinion.
        _missing(
            body,
            ("cause", "红灯督办单须说明出现预警的原因"),
            ("handling_opinion", "红灯督办单须填写处理意见"),
            ("section_head", "红灯督办单须填写业务科室负责人"),
            ("handler", "红灯督办单须填写业务经办人"),
        )
    _missing(body, ("cause_kind", "须说明预警由人为因素（human）还是系统因素（system）导致"))
    at = now()
    # Red: the written report to the level above is due within 2 working days. Yellow: the
    # supervisor confirms the light went out.
    next_step = (
        domain.next_step("handling", t.unit, t.department) if t.colour == "red" else "confirmation"
    )
    due = domain.step_due(next_step, at, calendar)
    values: dict[str, Any] = {
        "step": next_step,
        "due_at": due,
        "cause": body.cause,
        "handling_opinion": body.handling_opinion,
        "cause_kind": body.cause_kind,
        "handled_at": at,
        "handled_by": principal.sub,
    }
    for name in ("responsible_section", "section_head", "handler"):
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    await uow.conn.execute(tickets.update().where(tickets.c.ticket_id == ticket_id).values(values))
    await _history(uow, ticket_id, "handled", "handling", at, actor=principal.sub, due_at=t.due_at)
    await _audit(
        uow,
        principal,
        "ticket.handle",
        ticket_id,
        {"ticket_no": t.ticket_no, "cause_kind": body.cause_kind},
    )


async def _report(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: ReportIn,
    calendar: WorkdayCalendar,
) -> None:
    """File the written report of the current reporting step and move up the chain."""
    t = await _load_for_update(uow, ticket_id)
    if t.colour != "red" or t.step not in domain.REPORT_TO:
        raise Conflict("当前环节无需书面报告", field="ticket_id")
    _ensure_holds(principal, t, domain.step_holder(t.step, t.unit, t.department))
    at = now()
    to_level = domain.REPORT_TO[t.step]
    next_step = domain.next_step(t.step, t.unit, t.department)
    due = domain.step_due(next_step, at, calendar)
    to_unit = domain.level_unit(to_level, t.unit)
    category = body.category or t.feedback_category or domain.default_category(t.rule_id)
    await uow.conn.execute(
        tickets.update()
        .where(tickets.c.ticket_id == ticket_id)
        .values(step=next_step, due_at=due, feedback_category=category)
    )
    await _history(
        uow,
        ticket_id,
        "reported",
        t.step,
        at,
        actor=principal.sub,
        due_at=t.due_at,
        to_level=to_level,
        to_unit=to_unit,
        note=body.summary,
    )
    subject = str(t.application_id or ticket_id)
    uow.emit(
        TicketEscalated(
            ticket_id=ticket_id,
            from_unit=t.unit,
            to_unit=to_unit,
            to_level=to_level,
            automatic=False,
            escalated_by=principal.sub,
            escalated_at=at,
            due_at=due,
        ),
        subject=subject,
    )
    if to_level == "province":
        # The city office's feedback leaves the city: publication pushes this event to the
        # provincial platform with the other key process events (one push channel, one log).
        uow.emit(
            ev.TicketFeedbackReported(
                ticket_id=ticket_id,
                ticket_no=t.ticket_no,
                rule_id=t.rule_id,
                application_id=t.application_id,
                unit=t.unit,
                department=t.department,
                category=category,
                cause_kind=t.cause_kind,
                cause=_short(t.cause),
                handling_opinion=_short(t.handling_opinion),
                summary_text=_short(body.summary) or "-",
                opened_at=t.opened_at,
                handled_at=t.handled_at,
                reported_by=principal.sub,
                reported_at=at,
            ),
            subject=subject,
        )
    await _audit(
        uow,
        principal,
        "ticket.report",
        ticket_id,
        {
            "ticket_no": t.ticket_no,
            "to_level": to_level,
            "category": category,
            "on_time": t.due_at is None or at <= t.due_at,
        },
    )


def _short(text: str | None) -> str | None:
    """Staff free text for the province: scrubbed (it may quote an ID or a mobile), bounded."""
    if not text:
        return None
    return scrub(text)[:500]


async def _escalate(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: EscalateIn,
    calendar: WorkdayCalendar,
) -> None:
    """A supervisor sends the ticket to the level above the one now holding its step."""
    t = await _load_for_update(uow, ticket_id)
    ensure_can_act(principal, t.unit)
    if t.closed_at is not None:
        raise Conflict("督办单已关闭", field="ticket_id")
    escalated_to = await uow.conn.scalar(sa.select(step_escalated_to(t.ticket_id, t.step)))
    target = escalation_for(t, escalated_to)
    if target is None:
        raise Conflict("督办单已升级至省级，无法再升级", field="ticket_id")
    to_level, to_unit = target
    at = now()
    due = calendar.add_workdays(at, 1).at
    await uow.conn.execute(
        tickets.update()
        .where(tickets.c.ticket_id == ticket_id)
        .values(escalation_level=t.escalation_level + 1, escalated_to=to_level, due_at=due)
    )
    await _history(
        uow,
        ticket_id,
        "escalated",
        t.step,
        at,
        actor=principal.sub,
        due_at=t.due_at,
        to_level=to_level,
        to_unit=to_unit,
        note=body.reason,
    )
    uow.emit(
        TicketEscalated(
            ticket_id=ticket_id,
            from_unit=t.unit,
            to_unit=to_unit,
            to_level=to_level,
            automatic=False,
            escalated_by=principal.sub,
            escalated_at=at,
            due_at=due,
        ),
        subject=str(t.application_id or ticket_id),
    )
    await _audit(uow, principal, "ticket.escalate", ticket_id, {"to_level": to_level})


async def _confirm(
    uow: UnitOfWork, principal: Principal, ticket_id: uuid.UUID, body: ConfirmIn
) -> None:
    """The supervisor confirms the light went out (预警消失确认) and the ticket closes.

    Lights that are past facts (R1, R3-R7...) go out with this confirmation; lights that go
    out by themselves (Y3, R8...) must already be out, or the confirmation is refused.
    """
    t = await _load_for_update(uow, ticket_id)
    if t.colour == "red":
        # Red lights are confirmed and filed by the city centre (Xiamen art. 11(2)6).
        ensure_can_act(principal, t.unit[:4] + "00")
    else:
        ensure_can_act(principal, t.unit)
    if t.step != "confirmation":
        raise Conflict("督办单尚未完成办理或报告，不能确认预警消失", field="ticket_id")
    if t.colour == "red":
        # Separation of duties: whoever handled the ticket or filed one of its reports
        # cannot also vouch that the light is out.
        reporters = set(
            (
                await uow.conn.scalars(
                    sa.select(ticket_events.c.actor).where(
                        ticket_events.c.ticket_id == ticket_id,
                        ticket_events.c.action == "reported",
                    )
                )
            ).all()
        )
        if principal.sub == t.handled_by or principal.sub in reporters:
            raise Forbidden("办理或报告过本红灯督办单的人员不能确认其预警消失")
    linked = (
        await uow.conn.execute(
            sa.select(alerts.c.alert_id, alerts.c.rule_id, alerts.c.cleared_at)
            .join(ticket_alerts, ticket_alerts.c.alert_id == alerts.c.alert_id)
            .where(ticket_alerts.c.ticket_id == ticket_id)
        )
    ).all()
    still_lit = [
        a.rule_id
        for a in linked
        if a.cleared_at is None and rule(a.rule_id).clears_by == "condition"
    ]
    if still_lit:
        raise Conflict(f"预警{still_lit[0]}的条件仍然存在，尚不能确认消失", field="ticket_id")
    at = now()
    confirmable = [a.alert_id for a in linked if a.cleared_at is None]
    if confirmable:
        await clear_alerts(
            uow,
            alerts.c.alert_id.in_(confirmable),
            reason=body.note or "督察人员确认预警消失",
            cleared_by=principal.sub,
            source="ticket",
        )
    await uow.conn.execute(
        tickets.update()
        .where(tickets.c.ticket_id == ticket_id)
        .values(
            step="closed",
            due_at=None,
            confirmed_by=principal.sub,
            confirmed_at=at,
            closed_at=at,
            # Filed under its red-light category (分类归档); the confirmer may correct it.
            feedback_category=body.category
            or t.feedback_category
            or domain.default_category(t.rule_id),
        )
    )
    await _history(
        uow, ticket_id, "confirmed", "confirmation", at, actor=principal.sub, note=body.note
    )
    uow.emit(
        TicketClosed(
            ticket_id=ticket_id,
            outcome="resolved",
            closed_by=principal.sub,
            confirmed_by=principal.sub,
            closed_at=at,
        ),
        subject=str(t.application_id or ticket_id),
    )
    await _audit(uow, principal, "ticket.confirm", ticket_id, {"ticket_no": t.ticket_no})


async def open_ticket(
    ctx: AlertingContext, uow: UnitOfWork, principal: Principal, body: YellowTicketIn
) -> TicketOut:
    """POST /tickets: a supervisor opens a yellow ticket over yellow alerts."""
    ticket_id = await _open_yellow(uow, principal, body, ctx.calendar)
    return await queries.ticket_detail(uow.conn, ticket_id)


async def handle_ticket(
    ctx: AlertingContext,
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: HandleIn,
) -> TicketOut:
    """POST /tickets/{id}/handle."""
    await _handle(uow, principal, ticket_id, body, ctx.calendar)
    return await queries.ticket_detail(uow.conn, ticket_id)


async def report_ticket(
    ctx: AlertingContext,
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: ReportIn,
) -> TicketOut:
    """POST /tickets/{id}/report."""
    await _report(uow, principal, ticket_id, body, ctx.calendar)
    return await queries.ticket_detail(uow.conn, ticket_id)


async def escalate_ticket(
    ctx: AlertingContext,
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: EscalateIn,
) -> TicketOut:
    """POST /tickets/{id}/escalate."""
    await _escalate(uow, principal, ticket_id, body, ctx.calendar)
    return await queries.ticket_detail(uow.conn, ticket_id)


async def confirm_ticket(
    ctx: AlertingContext,
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: ConfirmIn,
) -> TicketOut:
    """POST /tickets/{id}/confirm."""
    await _confirm(uow, principal, ticket_id, body)
    return await queries.ticket_detail(uow.conn, ticket_id)

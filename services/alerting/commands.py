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
from services.alerting.evaluation import AlertDraft, clear_alerts, of_condition, raise_alerts
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
    applications,
    notices,
    objections,
    signatures,
    stages,
    ticket_alerts,
    ticket_events,
    tickets,
)
from shared import audit
from shared.auth import Principal, ensure_can_act, unit_level
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
    await _clear(
        envelope,
        uow,
        of_condition(["Y1", "Y2"], application_id=e.application_id),
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


async def application_rejected(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ApplicationRejected, envelope: Envelope
) -> None:
    await _upsert_application(uow, e.application_id, case_id=e.case_id, status="rejected")


# -- verification -------------------------------------------------------------------------


async def verification_answer_empty(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.VerificationAnswerEmpty, envelope: Envelope
) -> None:
    # Departments answer to the city centre (市住房保障管理中心), which supervises them.
    city = await uow.conn.scalar(
        sa.select(applications.c.city).where(applications.c.application_id == e.application_id)
    )
    draft = AlertDraft(
        "R6",
        city or ctx.rules.city,
        e.application_id,
        case_id=None,
        department=e.department,
        scope=f"request:{e.request_id}",
        details={"department": e.department, "request_id": str(e.request_id)},
    )
    await _raise(ctx, uow, envelope, draft)


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
    stmt = insert(stages).values(case_id=e.case_id, stage=e.stage, **values)
    # A stage restarted after a return reopens; a start older than the recorded completion
    # (events out of order) only fills in the deadline and leaves the stage completed.
    reopen = sa.or_(
        stages.c.completed_at.is_(None), stages.c.completed_at < stmt.excluded.started_at
    )
    update = {
        **values,
        **{
            col: sa.case((reopen, stmt.excluded[col]), else_=stages.c[col])
            for col in ("status", "completed_at", "working_days_used", "overdue")
        },
    }
    await uow.conn.execute(
        stmt.on_conflict_do_update(index_elements=["case_id", "stage"], set_=update)
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
    await _clear(envelope, uow, of_condition(["Y3", "R8"], **key), reason="环节已办结")


async def review_stage_suspended(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.ReviewStageSuspended, envelope: Envelope
) -> None:
    await uow.conn.execute(
        stages.update()
        .where(stages.c.case_id == e.case_id, stages.c.stage == e.stage, stages.c.status == "open")
        .values(status="suspended")
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
            due_at=e.due_at,
            # review.stage_resumed carries no yellow_at (yet): the moved deadline's
            # threshold is computed with review's rule (WorkdayCalendar.warning_starts).
            warn_at=domain.warning_time(e.due_at, ctx.rules.calendar),
        )
    )


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
    if e.planned_days < 7 or e.closes_at - e.opened_at < MIN_PUBLICITY:
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
    if e.closed_early or e.closed_at - e.opened_at < MIN_PUBLICITY:
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


def _status_rank(status: Any) -> sa.ColumnElement[int]:
    return sa.case(STATUS_ORDER, value=status, else_=-1)


async def _upsert_application(
    uow: UnitOfWork,
    application_id: uuid.UUID,
    *,
    materials_delta: int = 0,
    **values: Any,
) -> None:
    """Create or update the application's read-model row with the fields an event knows; the
    status only moves forward (``STATUS_ORDER``)."""
    at = now()
    insert_values = {
        "status": "submitted",
        **values,
        "materials_uploaded": max(materials_delta, 0),
        "updated_at": at,
    }
    stmt = insert(applications).values(application_id=application_id, **insert_values)
    update_values: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    update_values["updated_at"] = at
    if "status" in update_values:
        forward = _status_rank(stmt.excluded.status) > _status_rank(applications.c.status)
        update_values["status"] = sa.case(
            (forward, stmt.excluded.status), else_=applications.c.status
        )
    if materials_delta:
        update_values["materials_uploaded"] = applications.c.materials_uploaded + materials_delta
    await uow.conn.execute(
        stmt.on_conflict_do_update(index_elements=["application_id"], set_=update_values)
    )


# -- staff operations on tickets --------------------------------------------------------------

# Who files the report of each step (the level that must act).
_REPORT_TO: dict[str, str] = {
    "report_city_centre": "city_centre",
    "report_city_office": "city_office",
    "report_province": "province",
}


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


async def _handle(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: HandleIn,
    calendar: WorkdayCalendar,
) -> None:
    t = await _load_for_update(uow, ticket_id)
    ensure_can_act(principal, t.unit)
    if t.step != "handling":
        raise Conflict("督办单已办结，不能重复办理", field="ticket_id")
    if t.colour == "red":
        if body.cause is None:
            raise ValidationProblem("红灯督办单须说明出现预警的原因", field="cause")
        if body.handling_opinion is None:
            raise ValidationProblem("红灯督办单须填写处理意见", field="handling_opinion")
    at = now()
    # Red: the written report to the city centre is due within 2 working days. Yellow: the
    # supervisor confirms the light went out.
    next_step = "report_city_centre" if t.colour == "red" else "confirmation"
    due = domain.step_due(next_step, at, calendar)
    await uow.conn.execute(
        tickets.update()
        .where(tickets.c.ticket_id == ticket_id)
        .values(
            step=next_step,
            due_at=due,
            cause=body.cause,
            handling_opinion=body.handling_opinion,
            handled_at=at,
            handled_by=principal.sub,
        )
    )
    await _history(uow, ticket_id, "handled", "handling", at, actor=principal.sub, due_at=t.due_at)
    await _audit(uow, principal, "ticket.handle", ticket_id, {"ticket_no": t.ticket_no})


async def _report(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: ReportIn,
    calendar: WorkdayCalendar,
) -> None:
    """File the written report of the current reporting step and move up the chain."""
    t = await _load_for_update(uow, ticket_id)
    if t.step not in _REPORT_TO:
        raise Conflict("当前环节无需书面报告", field="ticket_id")
    if t.step == "report_city_centre":
        ensure_can_act(principal, t.unit)
    elif not principal.is_admin and unit_level(principal.org) not in ("city", "province"):
        # The city centre reports to the city office, the city office to the province.
        raise Forbidden("该环节须由市级单位报告")
    else:
        ensure_can_act(principal, t.unit[:4] + "00")
    at = now()
    to_level = _REPORT_TO[t.step]
    next_step = domain.NEXT_STEP[t.step]
    due = domain.step_due(next_step, at, calendar)
    to_unit = None if to_level == "province" else t.unit[:4] + "00"
    await uow.conn.execute(
        tickets.update().where(tickets.c.ticket_id == ticket_id).values(step=next_step, due_at=due)
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
    uow.emit(
        TicketEscalated(
            ticket_id=ticket_id,
            from_unit=t.unit,
            to_unit=to_unit,
            to_level=to_level,  # type: ignore[arg-type]
            automatic=False,
            escalated_by=principal.sub,
            escalated_at=at,
            due_at=due,
        ),
        subject=str(t.application_id or ticket_id),
    )
    await _audit(
        uow,
        principal,
        "ticket.report",
        ticket_id,
        {
            "ticket_no": t.ticket_no,
            "to_level": to_level,
            "on_time": t.due_at is None or at <= t.due_at,
        },
    )


async def _escalate(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: EscalateIn,
    calendar: WorkdayCalendar,
) -> None:
    """A supervisor sends the ticket one level up the chain by hand."""
    t = await _load_for_update(uow, ticket_id)
    ensure_can_act(principal, t.unit)
    if t.closed_at is not None:
        raise Conflict("督办单已关闭", field="ticket_id")
    ladder = domain.escalation_ladder(t.unit)
    if t.escalation_level >= len(ladder):
        raise Conflict("督办单已升级至省级，无法再升级", field="ticket_id")
    to_level, to_unit = ladder[t.escalation_level]
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
            step="closed", due_at=None, confirmed_by=principal.sub, confirmed_at=at, closed_at=at
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

"""Supervision tickets (督办单): opening a yellow one on request, handling, the written reporting
chain of a red one, manual escalation and the supervisor's confirmation that the light is out.

Red tickets open by themselves (``evaluation.open_red_tickets``); the clock sweep escalates a
missed deadline (``sweeps.escalate_missed_deadlines``). Every function here is one staff
operation: it checks the caller's unit, changes the ticket, appends to its history, emits the
event and writes the audit entry in the caller's unit of work.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from services.alerting import domain
from services.alerting.evaluation import clear_alerts
from services.alerting.rules import rule
from services.alerting.schemas import ConfirmIn, EscalateIn, HandleIn, ReportIn, YellowTicketIn
from services.alerting.tables import alerts, ticket_alerts, ticket_events, tickets
from shared import audit
from shared.auth import Principal, ensure_can_act, unit_level
from shared.clock import SHANGHAI, now
from shared.db import UnitOfWork
from shared.events.catalogue import TicketClosed, TicketEscalated, TicketOpened
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem
from shared.workdays import WorkdayCalendar

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
        actor=principal.sub,
        action=action,
        subject_type="ticket",
        subject_id=ticket_id,
        details=details,
        actor_roles=sorted(principal.roles),
        actor_org=principal.org,
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


async def load_for_update(uow: UnitOfWork, ticket_id: uuid.UUID) -> Row[Any]:
    row = (
        await uow.conn.execute(
            sa.select(*tickets.c).where(tickets.c.ticket_id == ticket_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("督办单不存在", field="ticket_id")
    return row


async def open_yellow(
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


async def handle(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: HandleIn,
    calendar: WorkdayCalendar,
) -> None:
    t = await load_for_update(uow, ticket_id)
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


async def report(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: ReportIn,
    calendar: WorkdayCalendar,
) -> None:
    """File the written report of the current reporting step and move up the chain."""
    t = await load_for_update(uow, ticket_id)
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


async def escalate(
    uow: UnitOfWork,
    principal: Principal,
    ticket_id: uuid.UUID,
    body: EscalateIn,
    calendar: WorkdayCalendar,
) -> None:
    """A supervisor sends the ticket one level up the chain by hand."""
    t = await load_for_update(uow, ticket_id)
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


async def confirm(
    uow: UnitOfWork, principal: Principal, ticket_id: uuid.UUID, body: ConfirmIn
) -> None:
    """The supervisor confirms the light went out (预警消失确认) and the ticket closes.

    Lights that are past facts (R1, R3-R7...) go out with this confirmation; lights that go
    out by themselves (Y3, R8...) must already be out, or the confirmation is refused.
    """
    t = await load_for_update(uow, ticket_id)
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

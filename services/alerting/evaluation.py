"""Raising and clearing lights, and what follows a red one (ticket, notification).

Every function runs inside the caller's unit of work: the alert rows, the tickets they open,
the notifications they queue and the ``alert.*`` / ``ticket.*`` events are one transaction.
Raising is ``INSERT ... ON CONFLICT DO NOTHING`` on the open-condition unique index, so the same
condition reported twice (two events, or an event and the sweep) leaves one alert.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from services.alerting import domain
from services.alerting.rules import colour_of, rule
from services.alerting.tables import alerts, notifications, ticket_alerts, ticket_events, tickets
from shared.auth import DEPARTMENT_ROLE_PREFIX
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import AlertCleared, AlertRaised, TicketOpened
from shared.workdays import WorkdayCalendar


@dataclass(frozen=True)
class AlertDraft:
    rule_id: str
    unit: str
    application_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    stage: str | None = None
    department: str | None = None
    scope: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return domain.condition_key(
            application_id=self.application_id,
            case_id=self.case_id,
            stage=self.stage,
            scope=self.scope,
        )


async def raise_alerts(
    uow: UnitOfWork,
    drafts: Sequence[AlertDraft],
    *,
    source: str,
    calendar: WorkdayCalendar,
    source_event_id: uuid.UUID | None = None,
) -> list[Row[Any]]:
    """Insert the alerts whose condition has no open alert yet; returns the new ones."""
    if not drafts:
        return []
    at = now()
    values = [
        {
            "alert_id": uuid.uuid4(),
            "rule_id": d.rule_id,
            "colour": colour_of(d.rule_id),
            "condition_key": d.key(),
            "application_id": d.application_id,
            "case_id": d.case_id,
            "stage": d.stage,
            "department": d.department,
            "unit": d.unit,
            "raised_at": at,
            "source": source,
            "source_event_id": source_event_id,
            "details": d.details,
        }
        for d in drafts
    ]
    stmt = (
        insert(alerts)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=[alerts.c.rule_id, alerts.c.condition_key],
            index_where=alerts.c.cleared_at.is_(None),
        )
        .returning(*alerts.c)
    )
    raised = list((await uow.conn.execute(stmt)).all())
    await after_raised(uow, raised, calendar=calendar)
    return raised


async def after_raised(
    uow: UnitOfWork, raised: Sequence[Row[Any]], *, calendar: WorkdayCalendar
) -> None:
    """Events for new alerts; a ticket and a notification for every red one."""
    for a in raised:
        uow.emit(
            AlertRaised(
                alert_id=a.alert_id,
                rule_id=a.rule_id,
                colour=a.colour,
                application_id=a.application_id,
                case_id=a.case_id,
                stage=a.stage,
                department=a.department,
                unit=a.unit,
                raised_at=a.raised_at,
            ),
            subject=str(a.application_id or a.alert_id),
        )
    reds = [a for a in raised if a.colour == "red"]
    if reds:
        await open_red_tickets(uow, reds, calendar=calendar)


async def open_red_tickets(
    uow: UnitOfWork, reds: Sequence[Row[Any]], *, calendar: WorkdayCalendar
) -> None:
    """Red light -> red ticket (红灯预警督办单) at once, to be handled the same day."""
    at = now()
    due = domain.step_due("handling", at, calendar)
    ticket_rows, links, history, messages = [], [], [], []
    for a in reds:
        ticket_id = uuid.uuid4()
        number = domain.ticket_no("red", at, ticket_id)
        ticket_rows.append(
            {
                "ticket_id": ticket_id,
                "ticket_no": number,
                "colour": "red",
                "rule_id": a.rule_id,
                "application_id": a.application_id,
                "stage": a.stage,
                "unit": a.unit,
                # A light about a department's answer is the department's to handle (协查单位).
                "department": a.department,
                "feedback_category": domain.default_category(a.rule_id),
                "opened_at": at,
                "opened_by": None,
                "step": "handling",
                "due_at": due,
            }
        )
        links.append({"ticket_id": ticket_id, "alert_id": a.alert_id})
        history.append(
            {
                "ticket_id": ticket_id,
                "action": "opened",
                "step": "handling",
                "actor": None,
                "automatic": True,
                "at": at,
                "due_at": due,
                "to_level": None,
                "to_unit": a.unit,
                "note": None,
            }
        )
        messages.append(
            {
                "kind": "red_light",
                "rule_id": a.rule_id,
                "dedupe_key": f"red_light:{a.alert_id}",
                "unit": a.unit,
                "message": (
                    f"【红灯预警】{a.rule_id} {rule(a.rule_id).title}。"
                    f"督办单{number}，请当日办结并按规定逐级书面报告。"
                ),
                "alert_id": a.alert_id,
                "ticket_id": ticket_id,
            }
        )
        if a.department:
            messages.append(
                {
                    "kind": "red_light",
                    "rule_id": a.rule_id,
                    "dedupe_key": f"red_light:{a.alert_id}:department",
                    "recipient": f"{DEPARTMENT_ROLE_PREFIX}{a.department}@{domain.city_of(a.unit)}",
                    "unit": a.unit,
                    "message": (
                        f"【红灯督办】{a.rule_id} {rule(a.rule_id).title}。"
                        f"督办单{number}，请贵单位当日办结，并在2个工作日内书面报告上级单位。"
                    ),
                    # One notification per alert is the unit supervisor's; the department's
                    # copy is linked by its ticket.
                    "alert_id": None,
                    "ticket_id": ticket_id,
                }
            )
        uow.emit(
            TicketOpened(
                ticket_id=ticket_id,
                ticket_no=number,
                colour="red",
                rule_id=a.rule_id,
                alert_ids=[a.alert_id],
                application_id=a.application_id,
                unit=a.unit,
                opened_at=at,
                due_at=due or at,
            ),
            subject=str(a.application_id or ticket_id),
        )
    await uow.conn.execute(tickets.insert(), ticket_rows)
    await uow.conn.execute(ticket_alerts.insert(), links)
    await uow.conn.execute(ticket_events.insert(), history)
    await queue_notifications(uow, messages)


async def queue_notifications(uow: UnitOfWork, messages: Sequence[dict[str, Any]]) -> None:
    """Store notifications as pending; the dispatcher sends them outside this transaction.
    The recipient is a role in a unit: phone numbers live in the SMS gateway, not here."""
    if not messages:
        return
    at = now()
    rows = [
        {
            "notification_id": uuid.uuid4(),
            "recipient": f"supervisor@{m['unit']}",
            "created_at": at,
            "status": "pending",
            "rule_id": None,
            "alert_id": None,
            "ticket_id": None,
            **m,
        }
        for m in messages
    ]
    # executemany form: SQLAlchemy batches the rows itself ("insertmanyvalues"), far cheaper
    # than compiling one giant VALUES list when a sweep queues thousands at once.
    stmt = insert(notifications).on_conflict_do_nothing(index_elements=["dedupe_key"])
    await uow.conn.execute(stmt, rows)


async def clear_alerts(
    uow: UnitOfWork,
    condition: sa.ColumnElement[bool],
    *,
    reason: str,
    cleared_by: str | None = None,
    source: str = "clock",
    actor: str | None = None,
) -> list[Row[Any]]:
    """Put out every open alert matching ``condition``; ``cleared_by`` null means its condition
    ended by itself, otherwise it names the supervisor who confirmed it."""
    stmt = (
        alerts.update()
        .where(alerts.c.cleared_at.is_(None), condition)
        .values(
            cleared_at=now(),
            cleared_by=cleared_by,
            clear_reason=reason,
            clear_source=source,
            cleared_actor=actor or cleared_by,
        )
        .returning(*alerts.c)
    )
    cleared = list((await uow.conn.execute(stmt)).all())
    for a in cleared:
        uow.emit(
            AlertCleared(
                alert_id=a.alert_id,
                rule_id=a.rule_id,
                colour=a.colour,
                application_id=a.application_id,
                case_id=a.case_id,
                stage=a.stage,
                unit=a.unit,
                raised_at=a.raised_at,
                cleared_at=a.cleared_at,
                cleared_by=a.cleared_by,
            ),
            subject=str(a.application_id or a.alert_id),
        )
    return cleared


def of_condition(
    rule_id: str | Sequence[str],
    *,
    application_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    stage: str | None = None,
    scope: str | None = None,
) -> sa.ColumnElement[bool]:
    """Alerts of ``rule_id`` with exactly this condition key."""
    rules = [rule_id] if isinstance(rule_id, str) else list(rule_id)
    key = domain.condition_key(
        application_id=application_id, case_id=case_id, stage=stage, scope=scope
    )
    return sa.and_(alerts.c.rule_id.in_(rules), alerts.c.condition_key == key)


# -- who holds a ticket's step, and who is above them --------------------------------------------


def step_escalated_to(ticket_id: Any, step: Any) -> sa.ScalarSelect[Any]:
    """The level the ticket's current step was last escalated to, if it was (SQL, correlated)."""
    te = ticket_events.c
    return (
        sa.select(te.to_level)
        .where(te.ticket_id == ticket_id, te.step == step, te.action == "escalated")
        .order_by(te.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def missed_by(t: Row[Any], escalated_to: str | None) -> str:
    """Who missed the current step: its holder on the reporting path, or the level it was
    already escalated to in this step (that level had its working day and let it pass too)."""
    if t.colour != "red" or t.step not in domain.STEP_WORKING_DAYS:
        holder = domain.responsible_level(t.unit, t.department)
    else:
        holder = domain.step_holder(t.step, t.unit, t.department)
    return domain.higher(holder, escalated_to) if escalated_to else holder


def escalation_for(
    t: Row[Any], escalated_to: str | None
) -> tuple[domain.EscalationLevel, str | None] | None:
    """Where a missed step goes: the level directly above the one that missed it."""
    return domain.escalation_target(missed_by(t, escalated_to), t.unit)

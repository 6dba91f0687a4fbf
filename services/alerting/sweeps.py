"""The clock sweep: rules that fire because time passed, from this service's own tables.

Each rule is one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` over a partial
index (open stages by deadline, unpublished results by due time), so a tick costs the rows that
newly breach, not the size of the tables; only those new alerts pass through Python (to emit
their events and open their tickets). The sweep is idempotent: a second tick at the same
instant raises nothing. The missed-deadline escalation of tickets runs in the same tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from services.alerting import domain
from services.alerting.adapters.notifier import dispatch_pending
from services.alerting.context import AlertingContext, RuleConfig
from services.alerting.evaluation import after_raised, clear_alerts, queue_notifications
from services.alerting.rules import rule
from services.alerting.tables import (
    alerts,
    applications,
    notifications,
    objections,
    stages,
    ticket_events,
    tickets,
)
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import TicketEscalated

_ALERT_COLUMNS = (
    "alert_id",
    "rule_id",
    "colour",
    "condition_key",
    "application_id",
    "case_id",
    "stage",
    "department",
    "unit",
    "raised_at",
    "source",
    "details",
)


def _key_sql(
    application_id: Any = None, case_id: Any = None, stage: Any = None, scope: Any = None
) -> sa.ColumnElement[str]:
    """domain.condition_key, computed by PostgreSQL for a whole SELECT (same format)."""

    def part(value: Any) -> sa.ColumnElement[str]:
        if value is None:
            return sa.literal("-")
        return sa.func.coalesce(sa.cast(value, sa.Text), "-")

    return sa.func.concat(
        "app:",
        part(application_id),
        "|case:",
        part(case_id),
        "|stage:",
        part(stage),
        "|scope:",
        part(scope),
    )


async def _raise_from(
    uow: UnitOfWork, rule_id: str, select: sa.Select[Any], cfg: RuleConfig
) -> list[Row[Any]]:
    stmt = (
        insert(alerts)
        .from_select(list(_ALERT_COLUMNS), select)
        .on_conflict_do_nothing(
            index_elements=[alerts.c.rule_id, alerts.c.condition_key],
            index_where=alerts.c.cleared_at.is_(None),
        )
        .returning(*alerts.c)
    )
    raised = list((await uow.conn.execute(stmt)).all())
    await after_raised(uow, raised, calendar=cfg.calendar)
    return raised


def _alert_select(
    rule_id: str,
    at: datetime,
    *,
    key: sa.ColumnElement[str],
    application_id: Any,
    case_id: Any,
    stage: Any,
    unit: Any,
    details: sa.ColumnElement[Any],
) -> list[Any]:
    return [
        sa.func.gen_random_uuid(),
        sa.literal(rule_id),
        sa.literal(rule(rule_id).colour),
        key,
        application_id,
        case_id,
        stage,
        sa.null(),
        unit,
        sa.literal(at, sa.DateTime(timezone=True)),
        sa.literal("clock"),
        details,
    ]


async def clock(ctx: AlertingContext, uow: UnitOfWork) -> None:
    """The scheduled clock sweep (``clock_sweep`` with the service's rule configuration)."""
    await clock_sweep(uow, ctx.rules)


async def notify(ctx: AlertingContext, uow: UnitOfWork) -> None:
    """The scheduled notification dispatcher: sends pending notifications by the notifier."""
    await dispatch_pending(uow, ctx.notifier)


async def clock_sweep(uow: UnitOfWork, cfg: RuleConfig) -> dict[str, int]:
    """One tick of every clock rule; returns how many alerts each raised (for logs, tests)."""
    at = now()
    counts: dict[str, int] = {}
    s = stages.c

    # R8: an open (not suspended) stage past its deadline.
    overdue = sa.select(
        *_alert_select(
            "R8",
            at,
            key=_key_sql(s.application_id, s.case_id, s.stage),
            application_id=s.application_id,
            case_id=s.case_id,
            stage=s.stage,
            unit=s.unit,
            details=sa.func.jsonb_build_object("due_at", s.due_at),
        )
    ).where(s.status == "open", s.due_at <= at)
    r8 = await _raise_from(uow, "R8", overdue, cfg)
    counts["R8"] = len(r8)
    if r8:
        await uow.conn.execute(
            stages.update()
            .where(s.status == "open", s.due_at <= at, s.overdue.is_(False))
            .values(overdue=True)
        )

    # Y3: one working day before the deadline (warn_at precomputed), opinion not in.
    warn = sa.select(
        *_alert_select(
            "Y3",
            at,
            key=_key_sql(s.application_id, s.case_id, s.stage),
            application_id=s.application_id,
            case_id=s.case_id,
            stage=s.stage,
            unit=s.unit,
            details=sa.func.jsonb_build_object("due_at", s.due_at),
        )
    ).where(s.status == "open", s.warn_at <= at, s.due_at > at)
    y3 = await _raise_from(uow, "Y3", warn, cfg)
    counts["Y3"] = len(y3)
    # N1: the SMS reminder that goes with each new Y3.
    await queue_notifications(
        uow,
        [
            {
                "kind": "stage_deadline",
                "rule_id": "N1",
                "dedupe_key": f"N1:{a.case_id}:{a.stage}:{a.details.get('due_at')}",
                "unit": a.unit,
                "message": (
                    f"【临期提醒】审核环节{a.stage}将于{a.details.get('due_at', '')[:10]}"
                    "到期，请及时提交审核意见。"
                ),
                "alert_id": a.alert_id,
            }
            for a in y3
        ],
    )
    # Y3 whose condition ended (deadline moved by a suspension, or passed: R8 took over).
    still_warning = (
        sa.select(sa.literal(1))
        .where(
            s.case_id == alerts.c.case_id,
            s.stage == alerts.c.stage,
            s.status == "open",
            s.warn_at <= at,
            s.due_at > at,
        )
        .exists()
    )
    await clear_alerts(
        uow, sa.and_(alerts.c.rule_id == "Y3", ~still_warning), reason="临期条件已消失"
    )

    # Y2: accepted, no material uploaded by the end of the grace period.
    a = applications.c
    no_materials = sa.select(
        *_alert_select(
            "Y2",
            at,
            key=_key_sql(a.application_id),
            application_id=a.application_id,
            case_id=sa.null(),
            stage=sa.null(),
            unit=sa.func.coalesce(a.street, a.district, a.city, cfg.city),
            details=sa.func.jsonb_build_object("accepted_at", a.accepted_at),
        )
    ).where(
        a.materials_uploaded == 0,
        a.materials_due_at <= at,
        a.status.notin_(["withdrawn", "rejected"]),
    )
    counts["Y2"] = len(await _raise_from(uow, "Y2", no_materials, cfg))

    # F3: qualified and not published within the limit.
    unpublished = sa.select(
        *_alert_select(
            "F3",
            at,
            key=_key_sql(a.application_id),
            application_id=a.application_id,
            case_id=a.case_id,
            stage=sa.null(),
            unit=sa.func.coalesce(a.city, cfg.city),
            details=sa.func.jsonb_build_object("qualified_at", a.qualified_at),
        )
    ).where(a.published_at.is_(None), a.publish_due_at <= at, a.status == "qualified")
    counts["F3"] = len(await _raise_from(uow, "F3", unpublished, cfg))

    # F5: an objection whose conclusion is overdue.
    o = objections.c
    late_conclusion = sa.select(
        *_alert_select(
            "F5",
            at,
            key=_key_sql(
                o.application_id, None, None, sa.func.concat("objection:", o.objection_id)
            ),
            application_id=o.application_id,
            case_id=sa.null(),
            stage=sa.null(),
            unit=o.unit,
            details=sa.func.jsonb_build_object("conclude_due_at", o.conclude_due_at),
        )
    ).where(o.concluded_at.is_(None), o.conclude_due_at <= at)
    counts["F5"] = len(await _raise_from(uow, "F5", late_conclusion, cfg))

    counts["escalated"] = await escalate_missed_deadlines(uow, cfg, at)
    counts["reminded"] = await remind_ticket_deadlines(uow, at)
    return counts


async def escalate_missed_deadlines(uow: UnitOfWork, cfg: RuleConfig, at: datetime) -> int:
    """A ticket step past its deadline goes one level up the chain by itself (Xiamen art. 11):
    an ``escalated`` entry marked automatic, a ``ticket.escalated`` event, a message to the
    level above, and one more working day for that level before the next rung."""
    t = tickets.c
    rows = (
        await uow.conn.execute(
            sa.select(t.ticket_id, t.unit, t.step, t.due_at, t.escalation_level)
            .where(t.closed_at.is_(None), t.due_at < at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    escalated = 0
    for row in rows:
        ladder = domain.escalation_ladder(row.unit)
        if row.escalation_level >= len(ladder):
            continue  # already at the province: nothing above it in this system
        to_level, to_unit = ladder[row.escalation_level]
        new_due = cfg.calendar.add_workdays(at, 1).at
        inserted = await uow.conn.scalar(
            insert(ticket_events)
            .values(
                ticket_id=row.ticket_id,
                action="escalated",
                step=row.step,
                actor=None,
                automatic=True,
                at=at,
                due_at=row.due_at,
                to_level=to_level,
                to_unit=to_unit,
                note="办理/报告期限已过，自动升级督办",
            )
            .on_conflict_do_nothing()
            .returning(ticket_events.c.id)
        )
        await uow.conn.execute(
            tickets.update()
            .where(t.ticket_id == row.ticket_id)
            .values(
                escalation_level=row.escalation_level + 1, escalated_to=to_level, due_at=new_due
            )
        )
        if inserted is None:
            continue
        escalated += 1
        uow.emit(
            TicketEscalated(
                ticket_id=row.ticket_id,
                from_unit=row.unit,
                to_unit=to_unit,
                to_level=to_level,
                automatic=True,
                escalated_by=None,
                escalated_at=at,
                due_at=new_due,
            ),
            subject=str(row.ticket_id),
        )
        await queue_notifications(
            uow,
            [
                {
                    "kind": "ticket_escalated",
                    "dedupe_key": f"escalated:{row.ticket_id}:{to_level}",
                    "unit": to_unit or cfg.city,
                    "message": (
                        "【督办升级】下级单位督办单逾期未办结或未报告，已自动升级至本级督办。"
                    ),
                    "ticket_id": row.ticket_id,
                }
            ],
        )
    return escalated


async def remind_ticket_deadlines(uow: UnitOfWork, at: datetime) -> int:
    """N2: one reminder per ticket step due within the next 24 hours (one statement; the
    dedupe key names the ticket, its step and that deadline, so a tick repeats nothing)."""
    t = tickets.c
    n = notifications.c
    due_soon = sa.select(
        sa.func.gen_random_uuid(),
        sa.literal("ticket_deadline"),
        sa.literal("N2"),
        sa.func.concat("N2:", t.ticket_id, ":", t.step, ":", sa.func.extract("epoch", t.due_at)),
        sa.func.concat("supervisor@", t.unit),
        t.unit,
        sa.func.concat("【临期提醒】督办单", t.ticket_no, "当前环节即将到期，请按时办结并报告。"),
        t.ticket_id,
        sa.literal(at, sa.DateTime(timezone=True)),
        sa.literal("pending"),
    ).where(t.closed_at.is_(None), t.due_at > at, t.due_at <= at + timedelta(hours=24))
    stmt = (
        insert(notifications)
        .from_select(
            [
                n.notification_id,
                n.kind,
                n.rule_id,
                n.dedupe_key,
                n.recipient,
                n.unit,
                n.message,
                n.ticket_id,
                n.created_at,
                n.status,
            ],
            due_soon,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(n.notification_id)
    )
    return len((await uow.conn.execute(stmt)).all())

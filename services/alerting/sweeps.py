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

from services.alerting import reports
from services.alerting.adapters.notifier import dispatch_pending
from services.alerting.context import AlertingContext, RuleConfig
from services.alerting.evaluation import (
    after_raised,
    clear_alerts,
    escalation_for,
    queue_notifications,
    step_escalated_to,
)
from services.alerting.rules import rule
from services.alerting.tables import (
    alerts,
    allocation_results,
    applications,
    complaints,
    contracts,
    notifications,
    objections,
    signatures,
    stages,
    ticket_events,
    tickets,
    waiting_confirmations,
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


_SIGNING_ORDER = ("handler", "reviewer", "leader")


async def _next_signers(
    uow: UnitOfWork, raised: list[Row[Any]]
) -> dict[tuple[Any, str], tuple[str, str | None]]:
    """For each (case, stage) lit: the role whose signature the stage's current run still
    waits for, and, when that role is the handler and review named the stage's handler (a
    suspension, a manual resumption, a refused suspension), that person's ``sub``. Review
    assigns no case to a person otherwise, so the reminder names the role at the stage's unit
    (``reviewer@350203001``), which the SMS gateway's duty roster resolves like
    ``supervisor@``; signatures of earlier runs (before a return) do not count."""
    keys = {(a.case_id, a.stage) for a in raised if a.case_id is not None}
    if not keys:
        return {}
    sg, s = signatures.c, stages.c
    rows = (
        await uow.conn.execute(
            sa.select(sg.case_id, sg.stage, sg.role)
            .join(stages, sa.and_(s.case_id == sg.case_id, s.stage == sg.stage))
            .where(
                sa.tuple_(sg.case_id, sg.stage).in_(list(keys)),
                sg.signed_at >= s.started_at,
                sg.decision == "approve",
            )
        )
    ).all()
    signed: dict[tuple[Any, str], set[str]] = {}
    for r in rows:
        signed.setdefault((r.case_id, r.stage), set()).add(r.role)
    handlers = {
        (r.case_id, r.stage): r.handler
        for r in await uow.conn.execute(
            sa.select(s.case_id, s.stage, s.handler).where(
                sa.tuple_(s.case_id, s.stage).in_(list(keys)), s.handler.is_not(None)
            )
        )
    }
    result = {}
    for key in keys:
        role = next((r for r in _SIGNING_ORDER if r not in signed.get(key, ())), "leader")
        result[key] = (role, handlers.get(key) if role == "handler" else None)
    return result


async def periodic_reports(ctx: AlertingContext, uow: UnitOfWork) -> None:
    """The report sweep (定期通报): last month's report and each finished batch's, once."""
    await reports.produce(ctx, uow)


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
    # N1: the SMS reminder that goes with each new Y3, to the unit's supervisor and to whoever
    # must sign next on the stage (the handler until the handler signed, then the reviewer,
    # then the leader): the one who must act hears of the deadline, not only the supervisor.
    next_signers = await _next_signers(uow, y3)
    reminders = []
    for a in y3:
        key = f"N1:{a.case_id}:{a.stage}:{a.details.get('due_at')}"
        text = (
            f"【临期提醒】审核环节{a.stage}将于{a.details.get('due_at', '')[:10]}"
            "到期，请及时提交审核意见。"
        )
        common = {"kind": "stage_deadline", "rule_id": "N1", "unit": a.unit, "message": text}
        reminders.append({**common, "dedupe_key": key, "alert_id": a.alert_id})
        role, handler = next_signers.get((a.case_id, a.stage), ("handler", None))
        reminders.append(
            {
                **common,
                "dedupe_key": f"{key}:{role}",
                # The named handler when review named one, else the role's desk at the unit.
                "recipient": f"staff:{handler}" if handler else f"{role}@{a.unit}",
                "alert_id": a.alert_id,
            }
        )
    await queue_notifications(uow, reminders)
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

    counts["R8T"] = await total_limit_sweep(uow, cfg, at)

    # C1: a complaint (投诉举报) past its answer deadline; the answer puts it out.
    cc = complaints.c
    late = sa.select(
        *_alert_select(
            "C1",
            at,
            key=_key_sql(scope=sa.func.concat("complaint:", sa.cast(cc.complaint_id, sa.Text))),
            application_id=sa.null(),
            case_id=sa.null(),
            stage=sa.null(),
            unit=cc.unit,
            details=sa.func.jsonb_build_object(
                "complaint_no", cc.complaint_no, "due_at", cc.due_at
            ),
        )
    ).where(cc.status == "open", cc.due_at <= at)
    counts["C1"] = len(await _raise_from(uow, "C1", late, cfg))

    # F4: an allocation result not on a results notice within the limit.
    r = allocation_results.c
    unpublished_results = sa.select(
        *_alert_select(
            "F4",
            at,
            key=_key_sql(None, None, None, sa.func.concat("allocation:", r.allocation_id)),
            application_id=r.application_id,
            case_id=sa.null(),
            stage=sa.null(),
            unit=sa.literal(cfg.city),
            details=sa.func.jsonb_build_object(
                "allocation_id",
                r.allocation_id,
                "household_reference",
                r.household_reference,
                "allocated_at",
                r.allocated_at,
            ),
        )
    ).where(r.published_at.is_(None), r.publish_due_at <= at)
    counts["F4"] = len(await _raise_from(uow, "F4", unpublished_results, cfg))

    counts["N3"] = await remind_contract_deadlines(uow, cfg, at)
    counts["N4"] = await remind_confirmation_deadlines(uow, cfg, at)
    counts["escalated"] = await escalate_missed_deadlines(uow, cfg, at)
    counts["reminded"] = await remind_ticket_deadlines(uow, at)
    return counts


async def total_limit_sweep(uow: UnitOfWork, cfg: RuleConfig, at: datetime) -> int:
    """R8T: an application still undecided past its overall limit (city configuration
    ``time_limits.total_working_days``; the deadline was moved by supplement suspensions),
    raised at the city, which answers for the whole procedure."""
    a = applications.c
    late = sa.select(
        *_alert_select(
            "R8T",
            at,
            key=_key_sql(a.application_id),
            application_id=a.application_id,
            case_id=a.case_id,
            stage=sa.null(),
            unit=sa.func.coalesce(a.city, cfg.city),
            details=sa.func.jsonb_build_object(
                "submitted_at", a.submitted_at, "total_due_at", a.total_due_at
            ),
        )
    ).where(
        a.total_due_at <= at,
        a.status.notin_(["qualified", "published", "withdrawn", "rejected"]),
    )
    return len(await _raise_from(uow, "R8T", late, cfg))


async def escalate_missed_deadlines(uow: UnitOfWork, cfg: RuleConfig, at: datetime) -> int:
    """A ticket step past its deadline goes to the level directly above the one that missed
    it (Xiamen art. 11): the step's holder on the reporting path, or the level it was already
    escalated to in this step. An ``escalated`` entry marked automatic, a ``ticket.escalated``
    event, a message to that level, and one more working day for it before the next rung."""
    t = tickets.c
    rows = (
        await uow.conn.execute(
            sa.select(
                t.ticket_id,
                t.colour,
                t.unit,
                t.department,
                t.step,
                t.due_at,
                t.escalation_level,
                step_escalated_to(t.ticket_id, t.step).label("step_escalated_to"),
            )
            .where(t.closed_at.is_(None), t.due_at < at)
            .with_for_update(of=tickets, skip_locked=True)
        )
    ).all()
    escalated = 0
    for row in rows:
        target = escalation_for(row, row.step_escalated_to)
        if target is None:
            continue  # already at the province: nothing above it in this system
        to_level, to_unit = target
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
                    "dedupe_key": f"escalated:{row.ticket_id}:{row.step}:{to_level}",
                    "unit": to_unit or cfg.city,
                    "message": (
                        "【督办升级】下级单位督办单逾期未办结或未报告，已自动升级至本级督办。"
                    ),
                    "ticket_id": row.ticket_id,
                }
            ],
        )
    return escalated


def _notification_columns() -> list[Any]:
    n = notifications.c
    return [
        n.notification_id,
        n.kind,
        n.rule_id,
        n.dedupe_key,
        n.recipient,
        n.unit,
        n.message,
        n.created_at,
        n.status,
    ]


async def _remind_from(uow: UnitOfWork, select: sa.Select[Any]) -> int:
    stmt = (
        insert(notifications)
        .from_select(_notification_columns(), select)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(notifications.c.notification_id)
    )
    return len((await uow.conn.execute(stmt)).all())


async def remind_contract_deadlines(uow: UnitOfWork, cfg: RuleConfig, at: datetime) -> int:
    """N3: from the working day before a contract's sign-by day, one reminder to the city's
    housing office per unsigned contract (the dedupe key names the contract and the day)."""
    c = contracts.c
    due_soon = sa.select(
        sa.func.gen_random_uuid(),
        sa.literal("contract_deadline"),
        sa.literal("N3"),
        sa.func.concat("N3:", c.contract_id, ":", c.sign_by),
        sa.literal(f"supervisor@{cfg.city}"),
        sa.literal(cfg.city),
        sa.func.concat(
            "【临期提醒】轮候家庭",
            c.household_reference,
            "的租赁合同签约期限为",
            c.sign_by,
            "，请督促其按期签订。",
        ),
        sa.literal(at, sa.DateTime(timezone=True)),
        sa.literal("pending"),
    ).where(
        c.signed_at.is_(None),
        c.overdue_at.is_(None),
        c.remind_at <= at,
        c.deadline_at > at,
    )
    return await _remind_from(uow, due_soon)


async def remind_confirmation_deadlines(uow: UnitOfWork, cfg: RuleConfig, at: datetime) -> int:
    """N4: from the working day before an annual-confirmation deadline, one reminder per
    deadline day naming how many households have not confirmed yet (a confirmation notice goes
    to a whole category at once; one SMS per household would bury the office)."""
    w = waiting_confirmations.c
    due_soon = (
        sa.select(
            sa.func.gen_random_uuid(),
            sa.literal("confirmation_deadline"),
            sa.literal("N4"),
            sa.func.concat("N4:", w.confirm_by),
            sa.literal(f"supervisor@{cfg.city}"),
            sa.literal(cfg.city),
            sa.func.concat(
                "【临期提醒】",
                sa.func.count(),
                "户轮候家庭的年度轮候确认将于",
                w.confirm_by,
                "到期，尚未确认，请及时提醒。",
            ),
            sa.literal(at, sa.DateTime(timezone=True)),
            sa.literal("pending"),
        )
        .where(w.confirmed_at.is_(None), w.remind_at <= at, w.deadline_at > at)
        .group_by(w.confirm_by)
    )
    return await _remind_from(uow, due_soon)


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
        # The department holds the first two steps of its tickets: the reminder goes to it.
        sa.case(
            (
                sa.and_(t.department.is_not(None), t.step.in_(["handling", "report_district"])),
                sa.func.concat(
                    "department:", t.department, "@", sa.func.substr(t.unit, 1, 4), "00"
                ),
            ),
            else_=sa.func.concat("supervisor@", t.unit),
        ),
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

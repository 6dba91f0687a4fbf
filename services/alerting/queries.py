"""Read side of the alerting service: alerts, tickets, notifications, the cockpit and the batch
reports.

Visibility (architecture.md §4): a caller sees what belongs to their unit and every unit below it
(``shared.auth.within`` on the unit code; division codes nest by prefix); discipline
inspectors and admins see everything. Aggregates are SQL ``GROUP BY``s.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any, Literal

import sqlalchemy as sa
from fastapi.responses import Response

from services.alerting import domain, tenancy_figures
from services.alerting.rules import rule
from services.alerting.schemas import (
    AlertOut,
    NotificationOut,
    TicketEventOut,
    TicketOut,
)
from services.alerting.tables import (
    alerts,
    applications,
    notifications,
    periodic_reports,
    stages,
    ticket_alerts,
    ticket_events,
    tickets,
)
from shared.auth import (
    CASEWORK_ROLES,
    DISCIPLINE_INSPECTOR,
    GLOBAL_READ_ROLES,
    SUPERVISOR,
    Principal,
    ensure_can_read,
    is_unit_code,
    unit_level,
    within,
)
from shared.clock import SHANGHAI, now
from shared.metrics import GaugeSample
from shared.pagination import Page, PageParams
from shared.problems import Forbidden, NotFound, ValidationProblem
from shared.runtime import Runtime


def _visible(principal: Principal, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    if principal.has_role(*GLOBAL_READ_ROLES):
        return sa.true()
    return within(column, principal.org)


# Staff who read tickets by their unit (the department staff read theirs by department).
_UNIT_READERS = (SUPERVISOR, DISCIPLINE_INSPECTOR, *CASEWORK_ROLES)


def _ticket_visible(principal: Principal) -> sa.ColumnElement[bool]:
    """Tickets of the caller's unit and below; for a department's staff (``department:<code>``),
    the tickets addressed to that department (协查单位), wherever their unit is."""
    if principal.has_role(*GLOBAL_READ_ROLES):
        return sa.true()
    t = tickets.c
    visible: list[sa.ColumnElement[bool]] = []
    if principal.has_role(*_UNIT_READERS):
        visible.append(within(t.unit, principal.org))
    if principal.departments:
        visible.append(t.department.in_(sorted(principal.departments)))
    return sa.or_(*visible) if visible else sa.false()


def ensure_can_read_ticket(principal: Principal, row: Any) -> None:
    if row.department and row.department in principal.departments:
        return
    if not principal.has_role(*_UNIT_READERS, *GLOBAL_READ_ROLES):
        raise Forbidden("无权查看该督办单")
    ensure_can_read(principal, row.unit)


def _unit_param(principal: Principal, unit: str | None) -> str | None:
    if unit is None:
        return None
    if not is_unit_code(unit):
        raise ValidationProblem("单位代码应为6位或9位行政区划代码", field="unit")
    ensure_can_read(principal, unit)
    return unit


def _alert_out(row: Any) -> AlertOut:
    return AlertOut(
        alert_id=row.alert_id,
        rule_id=row.rule_id,
        colour=row.colour,
        title=rule(row.rule_id).title,
        application_id=row.application_id,
        tracking_no=getattr(row, "tracking_no", None),
        case_id=row.case_id,
        stage=row.stage,
        department=row.department,
        unit=row.unit,
        raised_at=row.raised_at,
        source=row.source,
        details=row.details or {},
        status="open" if row.cleared_at is None else "cleared",
        cleared_at=row.cleared_at,
        cleared_by=row.cleared_by,
        clear_reason=row.clear_reason,
        clear_source=row.clear_source,
        cleared_actor=row.cleared_actor,
    )


async def list_alerts(
    runtime: Runtime,
    principal: Principal,
    page: PageParams,
    status: Literal["open", "cleared", "all"] = "open",
    colour: Literal["yellow", "red"] | None = None,
    rule_id: str | None = None,
    unit: str | None = None,
    application_id: uuid.UUID | None = None,
) -> Page[AlertOut]:
    unit = _unit_param(principal, unit)
    cond = [_visible(principal, alerts.c.unit)]
    if status == "open":
        cond.append(alerts.c.cleared_at.is_(None))
    elif status == "cleared":
        cond.append(alerts.c.cleared_at.is_not(None))
    if colour:
        cond.append(alerts.c.colour == colour)
    if rule_id:
        cond.append(alerts.c.rule_id == rule_id)
    if unit:
        cond.append(within(alerts.c.unit, unit))
    if application_id:
        cond.append(alerts.c.application_id == application_id)
    where = sa.and_(*cond)
    async with runtime.engine.connect() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(alerts).where(where))
        rows = (
            await conn.execute(
                sa.select(*alerts.c, applications.c.tracking_no)
                .select_from(
                    alerts.outerjoin(
                        applications, applications.c.application_id == alerts.c.application_id
                    )
                )
                .where(where)
                .order_by(alerts.c.raised_at.desc(), alerts.c.alert_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of([_alert_out(r) for r in rows], int(total or 0), page)


async def get_alert(alert_id: uuid.UUID, runtime: Runtime, principal: Principal) -> AlertOut:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(*alerts.c, applications.c.tracking_no)
                .select_from(
                    alerts.outerjoin(
                        applications, applications.c.application_id == alerts.c.application_id
                    )
                )
                .where(alerts.c.alert_id == alert_id)
            )
        ).first()
    if row is None:
        raise NotFound("预警不存在", field="alert_id")
    ensure_can_read(principal, row.unit)
    return _alert_out(row)


async def list_tickets(
    runtime: Runtime,
    principal: Principal,
    page: PageParams,
    status: Literal["open", "closed", "all"] = "open",
    colour: Literal["yellow", "red"] | None = None,
    escalated: bool | None = None,
    unit: str | None = None,
    application_id: uuid.UUID | None = None,
    department: str | None = None,
    category: str | None = None,
    cause_kind: str | None = None,
) -> Page[TicketOut]:
    unit = _unit_param(principal, unit)
    t = tickets.c
    cond = [_ticket_visible(principal)]
    if department:
        cond.append(t.department == department)
    if category:
        cond.append(t.feedback_category == category)
    if cause_kind:
        cond.append(t.cause_kind == cause_kind)
    if status == "open":
        cond.append(t.closed_at.is_(None))
    elif status == "closed":
        cond.append(t.closed_at.is_not(None))
    if colour:
        cond.append(t.colour == colour)
    if escalated is not None:
        cond.append(t.escalation_level > 0 if escalated else t.escalation_level == 0)
    if unit:
        cond.append(within(t.unit, unit))
    if application_id:
        cond.append(t.application_id == application_id)
    where = sa.and_(*cond)
    async with runtime.engine.connect() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(tickets).where(where))
        rows = (
            await conn.execute(
                sa.select(*tickets.c)
                .where(where)
                .order_by(t.opened_at.desc(), t.ticket_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        items = [await ticket_out(conn, r, full=False) for r in rows]
    return Page.of(items, int(total or 0), page)


async def get_ticket(ticket_id: uuid.UUID, runtime: Runtime, principal: Principal) -> TicketOut:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(sa.select(*tickets.c).where(tickets.c.ticket_id == ticket_id))
        ).first()
        if row is None:
            raise NotFound("督办单不存在", field="ticket_id")
        ensure_can_read_ticket(principal, row)
        return await ticket_out(conn, row, full=True)


async def list_notifications(
    runtime: Runtime,
    principal: Principal,
    page: PageParams,
    status: Literal["pending", "sent", "failed"] | None = None,
    kind: str | None = None,
) -> Page[NotificationOut]:
    n = notifications.c
    cond = [_visible(principal, n.unit)]
    if status:
        cond.append(n.status == status)
    if kind:
        cond.append(n.kind == kind)
    where = sa.and_(*cond)
    async with runtime.engine.connect() as conn:
        total = await conn.scalar(
            sa.select(sa.func.count()).select_from(notifications).where(where)
        )
        rows = (
            await conn.execute(
                sa.select(*notifications.c)
                .where(where)
                .order_by(n.created_at.desc(), n.notification_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of(
        [NotificationOut(**{k: getattr(r, k) for k in NotificationOut.model_fields}) for r in rows],
        int(total or 0),
        page,
    )


async def cockpit(
    runtime: Runtime,
    principal: Principal,
    unit: str | None = None,
    application_id: uuid.UUID | None = None,
    stage: str | None = None,
    rule_id: str | None = None,
    colour: Literal["yellow", "red"] | None = None,
    status: Literal["open", "cleared", "all"] = "all",
) -> dict[str, Any]:
    if unit is None:
        unit = principal.org if is_unit_code(principal.org) else runtime.city.city.code
    unit = _unit_param(principal, unit)
    assert unit is not None
    a = alerts.c
    cond = [within(a.unit, unit)]
    if application_id:
        cond.append(a.application_id == application_id)
    if stage:
        cond.append(a.stage == stage)
    if rule_id:
        cond.append(a.rule_id == rule_id)
    if colour:
        cond.append(a.colour == colour)
    if status == "open":
        cond.append(a.cleared_at.is_(None))
    elif status == "cleared":
        cond.append(a.cleared_at.is_not(None))
    where = sa.and_(*cond)
    is_open = a.cleared_at.is_(None)

    def counts(*cols: Any) -> list[Any]:
        return [
            *cols,
            sa.func.count().label("total"),
            sa.func.count().filter(is_open).label("open"),
            sa.func.count().filter(is_open, a.colour == "red").label("red_open"),
            sa.func.count().filter(is_open, a.colour == "yellow").label("yellow_open"),
            sa.func.count().filter(~is_open).label("cleared"),
        ]

    child = sa.func.substr(a.unit, 1, domain.child_unit_length(unit)).label("unit")
    async with runtime.engine.connect() as conn:
        totals = (
            await conn.execute(
                sa.select(
                    a.colour,
                    sa.case((is_open, "open"), else_="cleared").label("status"),
                    sa.func.count().label("count"),
                )
                .where(where)
                .group_by(a.colour, sa.text("status"))
                .order_by(a.colour, sa.text("status"))
            )
        ).all()
        by_unit = (
            await conn.execute(
                sa.select(*counts(child)).where(where).group_by(child).order_by(child)
            )
        ).all()
        by_rule = (
            await conn.execute(
                sa.select(*counts(a.rule_id, a.colour))
                .where(where)
                .group_by(a.rule_id, a.colour)
                .order_by(a.rule_id)
            )
        ).all()
        by_case = (
            await conn.execute(
                sa.select(*counts(a.application_id, applications.c.tracking_no))
                .select_from(
                    alerts.outerjoin(
                        applications, applications.c.application_id == a.application_id
                    )
                )
                .where(where, a.application_id.is_not(None))
                .group_by(a.application_id, applications.c.tracking_no)
                .order_by(
                    sa.func.count().filter(is_open, a.colour == "red").desc(), a.application_id
                )
                .limit(50)
            )
        ).all()
        t = tickets.c
        tick_where = [within(t.unit, unit)]
        if application_id:
            tick_where.append(t.application_id == application_id)
        if rule_id:
            tick_where.append(t.rule_id == rule_id)
        ticket_counts = (
            await conn.execute(
                sa.select(
                    sa.func.count().label("total"),
                    sa.func.count().filter(t.closed_at.is_(None)).label("open"),
                    sa.func.count()
                    .filter(t.closed_at.is_(None), t.due_at < now())
                    .label("overdue"),
                    sa.func.count().filter(t.escalation_level > 0).label("escalated"),
                    sa.func.count().filter(t.closed_at.is_not(None)).label("closed"),
                ).where(*tick_where)
            )
        ).one()
        case: dict[str, Any] | None = None
        if application_id:
            case = await _case_detail(conn, principal, application_id, stage, rule_id)
        # 准入、使用、退出 this year so far. Tenancy's events carry no street: the city's.
        today = now().astimezone(SHANGHAI).date()
        lifecycle = await tenancy_figures.figures(conn, today.replace(month=1, day=1), today)
    units = runtime.city

    def name(code: str) -> str | None:
        u = units.unit(code) if len(code) in (6, 9) else None
        return u.name if u else None

    def row_counts(r: Any) -> dict[str, int]:
        return {
            k: int(getattr(r, k)) for k in ("total", "open", "red_open", "yellow_open", "cleared")
        }

    return {
        "scope": {"unit": unit, "level": unit_level(unit), "name": name(unit)},
        "filters": {
            "application_id": application_id,
            "stage": stage,
            "rule_id": rule_id,
            "colour": colour,
            "status": status,
        },
        "totals": [{"colour": r.colour, "status": r.status, "count": int(r.count)} for r in totals],
        "by_unit": [{"unit": r.unit, "name": name(r.unit), **row_counts(r)} for r in by_unit],
        "by_rule": [
            {
                "rule_id": r.rule_id,
                "colour": r.colour,
                "title": rule(r.rule_id).title,
                **row_counts(r),
            }
            for r in by_rule
        ],
        "by_case": [
            {"application_id": r.application_id, "tracking_no": r.tracking_no, **row_counts(r)}
            for r in by_case
        ],
        "tickets": {
            k: int(getattr(ticket_counts, k))
            for k in ("total", "open", "overdue", "escalated", "closed")
        },
        "case": case,
        "admission_use_exit": {"unit": units.city.code} | lifecycle,
    }


async def _case_detail(
    conn: Any,
    principal: Principal,
    application_id: uuid.UUID,
    stage: str | None,
    rule_id: str | None,
) -> dict[str, Any]:
    app = (
        await conn.execute(
            sa.select(*applications.c).where(applications.c.application_id == application_id)
        )
    ).first()
    if app is not None and app.street:
        ensure_can_read(principal, app.street)
    st = stages.c
    stage_rows = (
        await conn.execute(
            sa.select(*stages.c)
            .where(st.application_id == application_id, *([st.stage == stage] if stage else []))
            .order_by(st.started_at)
        )
    ).all()
    a = alerts.c
    alert_cond = [a.application_id == application_id]
    if stage:
        alert_cond.append(a.stage == stage)
    if rule_id:
        alert_cond.append(a.rule_id == rule_id)
    alert_rows = (
        await conn.execute(sa.select(*alerts.c).where(*alert_cond).order_by(a.raised_at))
    ).all()
    alert_ids = [r.alert_id for r in alert_rows]
    ticket_rows = (
        await conn.execute(
            sa.select(*tickets.c)
            .where(
                tickets.c.ticket_id.in_(
                    sa.select(ticket_alerts.c.ticket_id).where(
                        ticket_alerts.c.alert_id.in_(alert_ids)
                    )
                )
            )
            .order_by(tickets.c.opened_at)
        )
    ).all()
    return {
        "application": None
        if app is None
        else {
            "application_id": app.application_id,
            "tracking_no": app.tracking_no,
            "street": app.street,
            "district": app.district,
            "category": app.category,
            "status": app.status,
            "batch": app.batch,
            "accepted_at": app.accepted_at,
        },
        "stages": [
            {
                "stage": s.stage,
                "level": s.level,
                "unit": s.unit,
                "status": s.status,
                "started_at": s.started_at,
                "due_at": s.due_at,
                "completed_at": s.completed_at,
                "working_days_used": s.working_days_used,
                "overdue": s.overdue,
                "calendar_fallback": s.calendar_fallback,
            }
            for s in stage_rows
        ],
        "alerts": [_alert_out(r).model_dump() for r in alert_rows],
        "tickets": [(await ticket_out(conn, r, full=True)).model_dump() for r in ticket_rows],
    }


BATCH_HELP = "批次：受理月份（YYYY-MM，按北京时间计）或公示批次标签（publicity.opened 的 batch）"


_UNIT_COLUMNS = [
    "unit",
    "name",
    "stages",
    "completed",
    "completed_on_time",
    "completed_late",
    "open",
    "open_overdue",
    "avg_working_days",
]


_RED_COLUMNS = [
    "alert_id",
    "rule_id",
    "title",
    "unit",
    "tracking_no",
    "stage",
    "raised_at",
    "cleared_at",
    "cleared_by",
    "ticket_no",
    "ticket_step",
    "cause",
    "handling_opinion",
    "handled_at",
    "confirmed_by",
    "closed_at",
    "auto_escalations",
]


async def batch_report(
    accept: str,
    runtime: Runtime,
    principal: Principal,
    batch: str,
    format: Literal["json", "csv"] | None = None,
    part: Literal["units", "red_lights"] = "red_lights",
) -> Any:
    ap = applications.c
    in_batch = sa.and_(
        sa.or_(ap.batch == batch, ap.publicity_batch == batch),
        _visible(principal, sa.func.coalesce(ap.street, ap.district, ap.city, "")),
    )
    batch_apps = sa.select(ap.application_id).where(in_batch)
    st = stages.c
    completed = st.status == "completed"
    unit_col = st.unit.label("unit")
    async with runtime.engine.connect() as conn:
        progress = (
            await conn.execute(
                sa.select(ap.status, sa.func.count().label("count"))
                .where(in_batch)
                .group_by(ap.status)
                .order_by(ap.status)
            )
        ).all()
        units = (
            await conn.execute(
                sa.select(
                    unit_col,
                    sa.func.count().label("stages"),
                    sa.func.count().filter(completed).label("completed"),
                    sa.func.count()
                    .filter(completed, st.overdue.is_(False))
                    .label("completed_on_time"),
                    sa.func.count().filter(completed, st.overdue.is_(True)).label("completed_late"),
                    sa.func.count().filter(st.status.in_(["open", "suspended"])).label("open"),
                    sa.func.count()
                    .filter(st.status.in_(["open", "suspended"]), st.due_at < now())
                    .label("open_overdue"),
                    sa.func.round(sa.func.avg(st.working_days_used).filter(completed), 1).label(
                        "avg_working_days"
                    ),
                )
                .where(st.application_id.in_(batch_apps))
                .group_by(st.unit)
                .order_by(st.unit)
            )
        ).all()
        a, t = alerts.c, tickets.c
        auto_escalations = (
            sa.select(sa.func.count())
            .where(
                ticket_events.c.ticket_id == t.ticket_id,
                ticket_events.c.action == "escalated",
                ticket_events.c.automatic.is_(True),
            )
            .scalar_subquery()
        )
        reds = (
            await conn.execute(
                sa.select(
                    a.alert_id,
                    a.rule_id,
                    a.unit,
                    ap.tracking_no,
                    a.stage,
                    a.raised_at,
                    a.cleared_at,
                    a.cleared_by,
                    t.ticket_no,
                    t.step.label("ticket_step"),
                    t.cause,
                    t.handling_opinion,
                    t.handled_at,
                    t.confirmed_by,
                    t.closed_at,
                    auto_escalations.label("auto_escalations"),
                )
                .select_from(
                    alerts.join(applications, ap.application_id == a.application_id)
                    .outerjoin(ticket_alerts, ticket_alerts.c.alert_id == a.alert_id)
                    .outerjoin(tickets, t.ticket_id == ticket_alerts.c.ticket_id)
                )
                .where(a.colour == "red", in_batch)
                .order_by(a.raised_at, a.alert_id)
            )
        ).all()
    city = runtime.city

    def name(code: str) -> str | None:
        u = city.unit(code) if code and len(code) in (6, 9) else None
        return u.name if u else None

    unit_rows = [
        {
            "unit": r.unit,
            "name": name(r.unit),
            "stages": r.stages,
            "completed": r.completed,
            "completed_on_time": r.completed_on_time,
            "completed_late": r.completed_late,
            "open": r.open,
            "open_overdue": r.open_overdue,
            "avg_working_days": float(r.avg_working_days)
            if r.avg_working_days is not None
            else None,
        }
        for r in units
    ]
    red_rows = [
        {**{k: getattr(r, k) for k in _RED_COLUMNS if k != "title"}, "title": rule(r.rule_id).title}
        for r in reds
    ]
    wants_csv = format == "csv" or (format is None and "text/csv" in accept)
    if wants_csv:
        columns, rows = (_UNIT_COLUMNS, unit_rows) if part == "units" else (_RED_COLUMNS, red_rows)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        # BOM: Excel, which most offices open CSVs with, then reads UTF-8 Chinese correctly.
        return Response(
            content="\ufeff" + buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="batch-{batch}-{part}.csv"'},
        )
    return {
        "batch": batch,
        "definition": BATCH_HELP,
        "generated_at": now(),
        "progress": {r.status: int(r.count) for r in progress},
        "applications": sum(int(r.count) for r in progress),
        "units": unit_rows,
        "red_lights": red_rows,
    }


async def ticket_out(conn: Any, row: Any, *, full: bool) -> TicketOut:
    at = now()
    out = TicketOut(
        **{k: getattr(row, k) for k in TicketOut.model_fields if hasattr(row, k)},
        overdue=row.closed_at is None and row.due_at is not None and row.due_at < at,
    )
    if full:
        out.alert_ids = list(
            (
                await conn.execute(
                    sa.select(ticket_alerts.c.alert_id).where(
                        ticket_alerts.c.ticket_id == row.ticket_id
                    )
                )
            ).scalars()
        )
        events = (
            await conn.execute(
                sa.select(*ticket_events.c)
                .where(ticket_events.c.ticket_id == row.ticket_id)
                .order_by(ticket_events.c.id)
            )
        ).all()
        out.events = [
            TicketEventOut(**{k: getattr(e, k) for k in TicketEventOut.model_fields})
            for e in events
        ]
    return out


async def ticket_detail(conn: Any, ticket_id: uuid.UUID) -> TicketOut:
    """The ticket as it now stands, with its alerts and history (the answer of every operation)."""
    row = (await conn.execute(sa.select(*tickets.c).where(tickets.c.ticket_id == ticket_id))).one()
    return await ticket_out(conn, row, full=True)


async def gauges(ctx: Any, conn: Any) -> list[GaugeSample]:
    """Business gauges for /metrics (``shared.metrics``), in one statement of counts over
    partial indexes: open lights by colour, open stages past their deadline, notifications
    still waiting for the SMS gateway and the age of the oldest."""
    at = now()
    row = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.count())
                .where(alerts.c.cleared_at.is_(None), alerts.c.colour == "red")
                .scalar_subquery(),
                sa.select(sa.func.count())
                .where(alerts.c.cleared_at.is_(None), alerts.c.colour == "yellow")
                .scalar_subquery(),
                sa.select(sa.func.count())
                .where(stages.c.status == "open", stages.c.due_at <= at)
                .scalar_subquery(),
                sa.select(sa.func.count())
                .where(notifications.c.status == "pending")
                .scalar_subquery(),
                sa.select(sa.func.min(notifications.c.created_at))
                .where(notifications.c.status == "pending")
                .scalar_subquery(),
            )
        )
    ).one()
    red, yellow, overdue, pending, oldest = row
    age = 0.0 if oldest is None else max(0.0, (at - oldest).total_seconds())
    lights = "Open (not cleared) supervision lights by colour"
    return [
        GaugeSample("alerts_open", lights, red, {"colour": "red"}),
        GaugeSample("alerts_open", lights, yellow, {"colour": "yellow"}),
        GaugeSample("stages_overdue", "Open review stages past their deadline", overdue),
        GaugeSample("notifications_pending", "Notifications not yet sent", pending),
        GaugeSample(
            "notifications_oldest_pending_seconds", "Age of the oldest unsent notification", age
        ),
    ]


# -- periodic reports (定期通报) ------------------------------------------------------------------


async def list_periodic_reports(
    runtime: Runtime, page: PageParams, kind: str | None
) -> Page[dict[str, Any]]:
    """The stored reports, newest period first. A report is the city's 通报, sent to every
    unit: any reader sees all of them (they hold counts, no personal data)."""
    r = periodic_reports.c
    cond = [r.kind == kind] if kind else []
    async with runtime.engine.connect() as conn:
        total = await conn.scalar(
            sa.select(sa.func.count()).select_from(periodic_reports).where(*cond)
        )
        rows = (
            await conn.execute(
                sa.select(r.report_id, r.kind, r.period, r.period_from, r.period_to, r.generated_at)
                .where(*cond)
                .order_by(r.generated_at.desc(), r.report_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [
        {
            "id": row.report_id,
            "kind": row.kind,
            "period": row.period,
            "from": row.period_from,
            "to": row.period_to,
            "generated_at": row.generated_at,
            "json": f"/reports/periodic/{row.report_id}",
            "csv": f"/reports/periodic/{row.report_id}.csv",
            "print": f"/reports/periodic/{row.report_id}/print",
        }
        for row in rows
    ]
    return Page.of(items, int(total or 0), page)


async def periodic_report(runtime: Runtime, report_id: uuid.UUID) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(periodic_reports.c.report_id, periodic_reports.c.content).where(
                    periodic_reports.c.report_id == report_id
                )
            )
        ).first()
    if row is None:
        raise NotFound("通报不存在", field="report_id")
    return {"id": str(row.report_id), **row.content}

"""Read side of the ticket chain and of the departments' supervision: the 《电子监察工作联系函》
and the ticket forms (rendered by ``printing.py``), the filing of red-light feedback by
category, the export of human-caused lights for the efficiency office (效能办) and the
departments' timeliness report.

Visibility as in ``queries.py``: a caller sees the tickets of their unit and below, a
department's staff the tickets addressed to their department; admins and discipline
inspectors everything.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.responses import HTMLResponse, Response

from services.alerting import domain
from services.alerting.printing import Light, render_letter, render_ticket_form
from services.alerting.queries import _ticket_visible, _visible, ensure_can_read_ticket
from services.alerting.rules import rule
from services.alerting.tables import (
    alerts,
    applications,
    department_requests,
    ticket_alerts,
    tickets,
)
from shared.auth import Principal
from shared.city import CityConfig
from shared.clock import SHANGHAI, now
from shared.pii import scrub
from shared.printing import Document, html_response
from shared.problems import Conflict, NotFound, ValidationProblem
from shared.runtime import Runtime
from shared.workdays import WorkdayCalendar, default_calendar

# -- names ---------------------------------------------------------------------------------------

_LEVEL_NAMES = {
    "district": "区住房保障行政管理部门",
    "city_centre": "市住房保障管理中心",
    "city_office": "市住房保障办",
    "province": "省住建厅、省监察厅",
}

_STAGE_BY_RULE = {
    "Y1": "申请受理",
    "Y2": "申请受理",
    "R1": "申请受理",
    "R2": "申请受理",
    "R6": "部门协查",
    "D1": "部门协查",
    "R7": "全市公示",
}

_STAGE_BY_LEVEL = {"street": "街道初审", "district": "区级审核", "city": "市级复核认定"}


def unit_name(city: CityConfig, code: str | None) -> str:
    if not code:
        return "-"
    u = city.unit(code)
    return u.name if u else code


def department_name(city: CityConfig, code: str) -> str:
    try:
        return city.department(code).name
    except LookupError:
        return code


def responsible_name(city: CityConfig, t: Any) -> str:
    """责任单位: the department a ticket is addressed to, else its unit."""
    if t.department:
        return department_name(city, t.department)
    return unit_name(city, t.unit)


def stage_label(t: Any) -> str:
    """预警业务环节 in words: the review stage's level, or the phase the rule watches."""
    if t.stage:
        level = t.stage.split("_", 1)[0]
        return _STAGE_BY_LEVEL.get(level, t.stage)
    return _STAGE_BY_RULE.get(t.rule_id, rule(t.rule_id).title)


def _local(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# -- the 《电子监察工作联系函》 (art. 11(3)2) ------------------------------------------


def letter_sender(t: Any) -> tuple[str, str | None]:
    """Who writes to the lower unit: the level above the one responsible for the light."""
    target = domain.escalation_target(domain.responsible_level(t.unit, t.department), t.unit)
    assert target is not None  # a street, district or department always has a level above
    return target


def feedback_deadline(opened_at: datetime, calendar: WorkdayCalendar) -> datetime:
    """督办反馈最后期限: the lower unit handles on the day of the letter and reports in writing
    within 2 working days (art. 11(3)3)."""
    return calendar.add_workdays(opened_at, domain.STEP_WORKING_DAYS["report_district"] or 2).at


async def _ticket_and_lights(
    runtime: Runtime, principal: Principal, ticket_id: uuid.UUID
) -> tuple[Any, list[Light], str | None]:
    """A ticket the caller may read, its lights (oldest first) and its application's
    tracking number when alerting has heard it."""
    async with runtime.engine.connect() as conn:
        t = (
            await conn.execute(sa.select(*tickets.c).where(tickets.c.ticket_id == ticket_id))
        ).first()
        if t is None:
            raise NotFound("督办单不存在", field="ticket_id")
        ensure_can_read_ticket(principal, t)
        found = (
            await conn.execute(
                sa.select(alerts.c.rule_id, alerts.c.raised_at)
                .join(ticket_alerts, ticket_alerts.c.alert_id == alerts.c.alert_id)
                .where(ticket_alerts.c.ticket_id == ticket_id)
                .order_by(alerts.c.raised_at)
            )
        ).all()
        tracking_no = None
        if t.application_id:
            tracking_no = await conn.scalar(
                sa.select(applications.c.tracking_no).where(
                    applications.c.application_id == t.application_id
                )
            )
    lights = [Light(r.rule_id, rule(r.rule_id).title, r.raised_at) for r in found]
    return t, lights, tracking_no


def _light_kind(t: Any) -> str:
    colour = "红灯预警" if t.colour == "red" else "黄灯预警"
    return f"{colour} {t.rule_id} {rule(t.rule_id).title}"


async def letter_document(runtime: Runtime, principal: Principal, ticket_id: uuid.UUID) -> Document:
    t, lights, tracking_no = await _ticket_and_lights(runtime, principal, ticket_id)
    if t.colour != "red" or domain.responsible_level(t.unit, t.department) == "city_centre":
        raise Conflict(
            "联系函仅用于上级单位督办下级单位（街道、区、协查单位）的红灯预警",
            field="ticket_id",
        )
    city = runtime.city
    sender_level, sender_unit = letter_sender(t)
    sender = _LEVEL_NAMES[sender_level]
    if sender_level == "district" and sender_unit:
        sender = f"{unit_name(city, sender_unit)}住房保障行政管理部门"
    raised_at = lights[0].raised_at if lights else t.opened_at
    deadline = feedback_deadline(t.opened_at, default_calendar())
    rows = [
        ("联系函编号", t.ticket_no),
        ("责任单位", responsible_name(city, t)),
        ("预警业务环节", stage_label(t)),
        ("预警类型", _light_kind(t)),
        ("预警时间", _local(raised_at)),
        ("预警数量", f"{len(lights) or 1} 项"),
        ("申请受理编号", tracking_no or "-"),
        ("督办反馈最后期限", _local(deadline)),
    ]
    return render_letter(
        city=city,
        ticket=t,
        rows=rows,
        responsible=responsible_name(city, t),
        sender=sender,
        # The district's own window; the city levels write from the housing centre's.
        sender_unit=sender_unit if sender_level == "district" else None,
    )


async def letter(runtime: Runtime, principal: Principal, ticket_id: uuid.UUID) -> HTMLResponse:
    return html_response(await letter_document(runtime, principal, ticket_id))


async def ticket_form(runtime: Runtime, principal: Principal, ticket_id: uuid.UUID) -> Document:
    """《红灯预警督办单》 or 《黄灯预警督办单》 of one ticket, with what has been filled in so far;
    the blanks are for the signatures the articles ask for."""
    t, lights, tracking_no = await _ticket_and_lights(runtime, principal, ticket_id)
    city = runtime.city
    rows = [
        ("督办单编号", t.ticket_no),
        ("预警业务环节", stage_label(t)),
        ("预警类型", _light_kind(t)),
        ("预警时间", _local(lights[0].raised_at if lights else t.opened_at)),
        ("预警数量", f"{len(lights) or 1} 项"),
        ("责任单位", responsible_name(city, t)),
        ("申请受理编号", tracking_no or "-"),
        ("办理最后期限", _local(t.due_at) or "-"),
    ]
    if t.colour == "yellow":
        rows += [
            ("责任科室", t.responsible_section or ""),
            ("业务科室负责人", t.section_head or ""),
            ("业务经办人", t.handler or ""),
            ("办结时间", _local(t.handled_at)),
            ("预警消失确认人", t.confirmed_by or ""),
        ]
    else:
        rows += [
            ("出现红灯预警的原因", t.cause or ""),
            ("处理意见", t.handling_opinion or ""),
            ("办结时点", _local(t.handled_at)),
            ("经办人", t.handled_by or ""),
        ]
    return render_ticket_form(
        city=city, ticket=t, rows=rows, lights=lights, organ=responsible_name(city, t)
    )


# -- filing by category and the export to the efficiency office --------------------------------


async def archive(
    runtime: Runtime,
    principal: Principal,
    category: str | None,
    from_: date | None,
    to: date | None,
) -> dict[str, Any]:
    """Closed red tickets filed by red-light category (分类归档), with their feedback."""
    t = tickets.c
    cond = [_ticket_visible(principal), t.colour == "red", t.closed_at.is_not(None)]
    if category:
        cond.append(t.feedback_category == category)
    cond += _period(t.closed_at, from_, to)
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(*tickets.c).where(*cond).order_by(t.feedback_category, t.closed_at)
            )
        ).all()
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r.feedback_category or domain.default_category(r.rule_id)
        group = groups.setdefault(
            key, {"category": key, "title": domain.CATEGORY_TITLES[key], "count": 0, "tickets": []}
        )
        group["count"] += 1
        group["tickets"].append(
            {
                "ticket_id": r.ticket_id,
                "ticket_no": r.ticket_no,
                "rule_id": r.rule_id,
                "unit": r.unit,
                "department": r.department,
                "cause_kind": r.cause_kind,
                "cause": r.cause,
                "handling_opinion": r.handling_opinion,
                "closed_at": r.closed_at,
                "confirmed_by": r.confirmed_by,
            }
        )
    return {"categories": list(groups.values()), "total": len(rows)}


_EXPORT_COLUMNS = [
    "ticket_no",
    "colour",
    "rule_id",
    "title",
    "unit",
    "unit_name",
    "department",
    "tracking_no",
    "stage",
    "opened_at",
    "cause_kind",
    "cause",
    "handling_opinion",
    "responsible_section",
    "section_head",
    "handler",
    "handled_by",
    "handled_at",
    "closed_at",
]


async def export(
    runtime: Runtime,
    principal: Principal,
    cause_kind: str,
    from_: date | None,
    to: date | None,
) -> Response:
    """Tickets whose light had ``cause_kind`` as CSV (art. 15: human-caused lights are
    referred to the efficiency office). Free texts are scrubbed of IDs and mobiles."""
    t = tickets.c
    cond = [
        _ticket_visible(principal),
        t.cause_kind == cause_kind,
        *_period(t.opened_at, from_, to),
    ]
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(*tickets.c, applications.c.tracking_no)
                .select_from(
                    tickets.outerjoin(
                        applications, applications.c.application_id == t.application_id
                    )
                )
                .where(*cond)
                .order_by(t.opened_at, t.ticket_id)
            )
        ).all()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_EXPORT_COLUMNS)
    writer.writeheader()
    for r in rows:
        values = {k: getattr(r, k, None) for k in _EXPORT_COLUMNS}
        values.update(
            title=rule(r.rule_id).title,
            unit_name=unit_name(runtime.city, r.unit),
            opened_at=_local(r.opened_at),
            handled_at=_local(r.handled_at),
            closed_at=_local(r.closed_at),
            cause=scrub(r.cause) if r.cause else "",
            handling_opinion=scrub(r.handling_opinion) if r.handling_opinion else "",
        )
        writer.writerow({k: ("" if v is None else v) for k, v in values.items()})
    # BOM: Excel, which most offices open CSVs with, then reads UTF-8 Chinese correctly.
    return Response(
        content="\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tickets-{cause_kind}.csv"'},
    )


def _period(column: Any, from_: date | None, to: date | None) -> list[sa.ColumnElement[bool]]:
    """``from``..``to`` inclusive, as days in China."""
    if from_ and to and from_ > to:
        raise ValidationProblem("起始日期不能晚于截止日期", field="from")
    cond = []
    if from_:
        cond.append(column >= domain.start_of_day(from_))
    if to:
        cond.append(column < domain.start_of_day(to + timedelta(days=1)))
    return cond


# -- the departments' timeliness (art. 12, 14) ----------------------------------------------------


async def department_report(
    runtime: Runtime, principal: Principal, from_: date | None, to: date | None
) -> dict[str, Any]:
    """Per department, the requests sent in the period: answered in time, late, overdue (the
    deadline passed without an answer), empty answers, still pending; with the open and total
    lights (R6, D1) about them. Within the caller's jurisdiction (the applications' streets)."""
    dr = department_requests.c
    ap = applications.c
    today = now().astimezone(SHANGHAI).date()
    in_scope = sa.exists().where(
        ap.application_id == dr.application_id,
        _visible(principal, sa.func.coalesce(ap.street, ap.district, ap.city, "")),
    )
    cond = [*_period(dr.requested_at, from_, to), in_scope]
    pending = sa.and_(dr.answered.is_(False))
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    dr.department,
                    sa.func.count().label("requests"),
                    sa.func.count()
                    .filter(dr.answered, dr.late.is_(False), dr.overdue.is_(False))
                    .label("answered_in_time"),
                    sa.func.count().filter(dr.late).label("late"),
                    sa.func.count()
                    .filter(sa.or_(dr.overdue, sa.and_(pending, dr.deadline < today)))
                    .label("overdue"),
                    sa.func.count().filter(dr.empty).label("empty"),
                    sa.func.count().filter(pending).label("pending"),
                )
                .where(*cond)
                .group_by(dr.department)
                .order_by(dr.department)
            )
        ).all()
        a = alerts.c
        lights = {
            (r.department, r.rule_id): (int(r.total), int(r.open))
            for r in (
                await conn.execute(
                    sa.select(
                        a.department,
                        a.rule_id,
                        sa.func.count().label("total"),
                        sa.func.count().filter(a.cleared_at.is_(None)).label("open"),
                    )
                    .where(
                        a.department.is_not(None),
                        _visible(principal, a.unit),
                        *_period(a.raised_at, from_, to),
                    )
                    .group_by(a.department, a.rule_id)
                )
            ).all()
        }
    city = runtime.city
    return {
        "from": from_,
        "to": to,
        "generated_at": now(),
        "departments": [
            {
                "department": r.department,
                "name": department_name(city, r.department),
                "requests": int(r.requests),
                "answered_in_time": int(r.answered_in_time),
                "late": int(r.late),
                "overdue": int(r.overdue),
                "empty": int(r.empty),
                "pending": int(r.pending),
                "red_lights": {
                    rid: {"total": total, "open": open_}
                    for (dep, rid), (total, open_) in sorted(lights.items())
                    if dep == r.department
                },
            }
            for r in rows
        ],
    }

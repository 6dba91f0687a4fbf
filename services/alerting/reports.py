"""Periodic reports (定期通报, Xiamen art. 14): produced by the service itself, stored, served.

Two kinds, both composed from this service's own read models and decisions:

* ``monthly``: a calendar month in China (``period`` ``YYYY-MM``). The report sweep stores the
  previous month's report once, at the first tick of a month (idempotent: one row per kind
  and period, ``ON CONFLICT DO NOTHING``).
* ``batch``: a publicity batch (the ``batch`` label of ``publicity.opened``) once every notice
  of that batch has closed, so the batch's qualification round is over when it is counted.
  Alerting knows which applications a batch holds from the notices themselves; a range that
  is neither a month nor a batch is not stored (``GET /reports/departments?from=&to=`` and
  ``GET /reports/batches/{batch}`` answer on demand).

What a report holds: progress (applications received, accepted, qualified, rejected, in
review), each unit's timeliness on review stages, each department's timeliness on verification
requests, and the red lights with their handling, by rule (category). The content is frozen
when produced: later events do not rewrite a report already sent out.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from html import escape
from typing import Any

import sqlalchemy as sa
from fastapi.encoders import jsonable_encoder
from sqlalchemy.dialects.postgresql import insert

from services.alerting import domain, tenancy_figures
from services.alerting.context import AlertingContext
from services.alerting.rules import rule
from services.alerting.tables import (
    alerts,
    applications,
    department_requests,
    notices,
    periodic_reports,
    stages,
    ticket_alerts,
    tickets,
)
from shared.city import CityConfig
from shared.clock import SHANGHAI, now
from shared.db import UnitOfWork

KINDS = ("monthly", "batch")
KIND_NAMES = {"monthly": "月度通报", "batch": "批次通报"}


def previous_month(today: date) -> tuple[str, date, date]:
    """(``YYYY-MM``, first day, last day) of the month before ``today``'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}", last.replace(day=1), last


def _unit_name(city: CityConfig, code: str | None) -> str | None:
    u = city.unit(code) if code else None
    return u.name if u else None


def _department_name(city: CityConfig, code: str) -> str:
    try:
        return city.department(code).name
    except LookupError:
        return code


async def compose(
    conn: Any,
    city: CityConfig,
    *,
    start: date | None = None,
    end: date | None = None,
    batch: str | None = None,
) -> dict[str, Any]:
    """The report of the days ``start``..``end`` (inclusive, China) or of a publicity batch."""
    ap, st, dr, a, t = applications.c, stages.c, department_requests.c, alerts.c, tickets.c
    at = now()
    # 准入、使用、退出 (tenancy's figures) belong to a period; a batch report has none.
    lifecycle: dict[str, Any] | None = None
    if batch is not None:
        in_batch = sa.or_(ap.batch == batch, ap.publicity_batch == batch)
        batch_apps = sa.select(ap.application_id).where(in_batch)
        by_status = {
            r.status: int(r.n)
            for r in await conn.execute(
                sa.select(ap.status, sa.func.count().label("n")).where(in_batch).group_by(ap.status)
            )
        }
        # A batch is reported once its notices closed: an application still "published" has
        # passed its publicity, so it counts with the qualified.
        progress = {
            "applications": sum(by_status.values()),
            "accepted": sum(n for s, n in by_status.items() if s != "submitted"),
            "qualified": by_status.get("qualified", 0) + by_status.get("published", 0),
            "rejected": by_status.get("rejected", 0),
            "withdrawn": by_status.get("withdrawn", 0),
            "in_review": by_status.get("accepted", 0) + by_status.get("in_review", 0),
        }
        stage_cond = [st.application_id.in_(batch_apps)]
        done = st.status == "completed"
        open_overdue = sa.and_(st.status.in_(["open", "suspended"]), st.due_at < at)
        request_cond = [dr.application_id.in_(batch_apps)]
        alert_cond = [a.application_id.in_(batch_apps)]
    else:
        assert start is not None and end is not None
        lo, hi = domain.start_of_day(start), domain.start_of_day(end + timedelta(days=1))

        def within(column: Any) -> sa.ColumnElement[bool]:
            return sa.and_(column >= lo, column < hi)

        row = (
            await conn.execute(
                sa.select(
                    sa.func.count().filter(within(ap.submitted_at)).label("received"),
                    sa.func.count().filter(within(ap.accepted_at)).label("accepted"),
                    sa.func.count().filter(within(ap.qualified_at)).label("qualified"),
                    sa.func.count().filter(within(ap.rejected_at)).label("rejected"),
                    # In review at the end of the period: accepted by then, neither qualified
                    # nor rejected by then, not withdrawn.
                    sa.func.count()
                    .filter(
                        ap.accepted_at < hi,
                        sa.or_(ap.qualified_at.is_(None), ap.qualified_at >= hi),
                        sa.or_(ap.rejected_at.is_(None), ap.rejected_at >= hi),
                        ap.status != "withdrawn",
                    )
                    .label("in_review"),
                )
            )
        ).one()
        progress = {k: int(getattr(row, k)) for k in row._fields}
        # Stages count in the period they were completed in; a stage still open at the end of
        # the period and past its deadline by then counts as overdue.
        stage_cond = [st.started_at < hi]
        done = sa.and_(st.status == "completed", within(st.completed_at))
        open_overdue = sa.and_(
            st.started_at < hi,
            sa.or_(st.completed_at.is_(None), st.completed_at >= hi),
            st.due_at < hi,
        )
        request_cond = [within(dr.requested_at)]
        alert_cond = [within(a.raised_at)]
        lifecycle = await tenancy_figures.figures(conn, start, end)

    units = (
        await conn.execute(
            sa.select(
                st.unit,
                sa.func.count().filter(done).label("completed"),
                sa.func.count().filter(done, st.overdue.is_(False)).label("on_time"),
                sa.func.count().filter(done, st.overdue.is_(True)).label("late"),
                sa.func.count().filter(open_overdue).label("open_overdue"),
                sa.func.round(sa.func.avg(st.working_days_used).filter(done), 1).label("avg"),
            )
            .where(*stage_cond)
            .group_by(st.unit)
            .having(
                sa.or_(sa.func.count().filter(done) > 0, sa.func.count().filter(open_overdue) > 0)
            )
            .order_by(st.unit)
        )
    ).all()
    today = at.astimezone(SHANGHAI).date()
    pending = dr.answered.is_(False)
    departments = (
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
            .where(*request_cond)
            .group_by(dr.department)
            .order_by(dr.department)
        )
    ).all()
    ticket_of = (
        sa.select(t.ticket_id, t.escalation_level, t.handled_at, t.closed_at, t.due_at)
        .join(ticket_alerts, ticket_alerts.c.ticket_id == t.ticket_id)
        .where(ticket_alerts.c.alert_id == a.alert_id)
        .limit(1)
        .lateral("t")
    )
    handled_in_time = sa.and_(
        ticket_of.c.handled_at.is_not(None), ticket_of.c.escalation_level == 0
    )
    overdue = sa.or_(
        ticket_of.c.escalation_level > 0,
        sa.and_(
            ticket_of.c.handled_at.is_(None),
            ticket_of.c.closed_at.is_(None),
            ticket_of.c.due_at < at,
        ),
    )
    reds = (
        await conn.execute(
            sa.select(
                a.rule_id,
                sa.func.count().label("opened"),
                sa.func.count().filter(a.cleared_at.is_not(None)).label("cleared"),
                sa.func.count().filter(ticket_of.c.ticket_id.is_not(None)).label("tickets"),
                sa.func.count().filter(handled_in_time).label("handled_in_time"),
                sa.func.count().filter(overdue).label("overdue"),
                sa.func.count().filter(a.cleared_at.is_(None)).label("open"),
            )
            .select_from(alerts.outerjoin(ticket_of, sa.true()))
            .where(a.colour == "red", *alert_cond)
            .group_by(a.rule_id)
            .order_by(a.rule_id)
        )
    ).all()
    red_rows = [
        {"rule_id": r.rule_id, "title": rule(r.rule_id).title}
        | {k: int(getattr(r, k)) for k in r._fields if k != "rule_id"}
        for r in reds
    ]
    totals = {
        k: sum(r[k] for r in red_rows)
        for k in ("opened", "cleared", "tickets", "handled_in_time", "overdue", "open")
    }
    return jsonable_encoder(
        {
            "city": city.city.code,
            "generated_at": at,
            "progress": progress,
            "units": [
                {
                    "unit": u.unit,
                    "name": _unit_name(city, u.unit),
                    "completed": int(u.completed),
                    "on_time": int(u.on_time),
                    "late": int(u.late),
                    "open_overdue": int(u.open_overdue),
                    "avg_working_days": float(u.avg) if u.avg is not None else None,
                }
                for u in units
            ],
            "departments": [
                {
                    "department": d.department,
                    "name": _department_name(city, d.department),
                    **{k: int(getattr(d, k)) for k in d._fields if k != "department"},
                }
                for d in departments
            ],
            "red_lights": {"by_rule": red_rows, "total": totals},
        }
        | ({"admission_use_exit": lifecycle} if lifecycle is not None else {})
    )


async def _store(
    conn: Any, kind: str, period: str, start: date | None, end: date | None, content: dict
) -> bool:
    head = {"kind": kind, "period": period, "from": start, "to": end}
    stmt = (
        insert(periodic_reports)
        .values(
            report_id=uuid.uuid4(),
            kind=kind,
            period=period,
            period_from=start,
            period_to=end,
            generated_at=now(),
            content=jsonable_encoder(head) | content,
        )
        .on_conflict_do_nothing(constraint="uq_periodic_reports_kind_period")
        .returning(periodic_reports.c.report_id)
    )
    return (await conn.execute(stmt)).first() is not None


async def _exists(conn: Any, kind: str, period: str) -> bool:
    found = await conn.scalar(
        sa.select(sa.literal(1)).where(
            periodic_reports.c.kind == kind, periodic_reports.c.period == period
        )
    )
    return found is not None


async def produce(ctx: AlertingContext, uow: UnitOfWork) -> list[str]:
    """The report sweep: last month's report, and each finished batch's, each stored once.
    Returns what it stored (``monthly:2026-11``, ``batch:2026-Q4-1``) for logs and tests."""
    conn = uow.conn
    stored = []
    period, start, end = previous_month(now().astimezone(SHANGHAI).date())
    if not await _exists(conn, "monthly", period):
        content = await compose(conn, ctx.city, start=start, end=end)
        if await _store(conn, "monthly", period, start, end, content):
            stored.append(f"monthly:{period}")
    n = notices.c
    finished = (
        await conn.execute(
            sa.select(n.batch)
            .where(
                n.batch.is_not(None),
                ~sa.exists().where(
                    periodic_reports.c.kind == "batch", periodic_reports.c.period == n.batch
                ),
            )
            .group_by(n.batch)
            .having(sa.func.bool_and(n.closed_at.is_not(None)))
            .order_by(n.batch)
        )
    ).scalars()
    for batch in list(finished):
        content = await compose(conn, ctx.city, batch=batch)
        if await _store(conn, "batch", batch, None, None, content):
            stored.append(f"batch:{batch}")
    return stored


# -- rendering -----------------------------------------------------------------------------------

CSV_COLUMNS = ["section", "code", "name", "metric", "value"]


def csv_rows(content: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as long rows (section, code, name, metric, value): one table that every
    spreadsheet filters, whatever sections a report has."""
    rows: list[dict[str, Any]] = [
        {"section": "progress", "code": "", "name": "", "metric": k, "value": v}
        for k, v in content["progress"].items()
    ]
    for section, key in (("units", "unit"), ("departments", "department")):
        for item in content[section]:
            for metric, value in item.items():
                if metric not in (key, "name"):
                    rows.append(
                        {
                            "section": section,
                            "code": item[key],
                            "name": item["name"] or "",
                            "metric": metric,
                            "value": "" if value is None else value,
                        }
                    )
    for item in content["red_lights"]["by_rule"]:
        for metric, value in item.items():
            if metric not in ("rule_id", "title"):
                rows.append(
                    {
                        "section": "red_lights",
                        "code": item["rule_id"],
                        "name": item["title"],
                        "metric": metric,
                        "value": value,
                    }
                )
    rows.extend(
        {"section": section, "code": "", "name": "", "metric": metric, "value": value}
        for section, metric, value in _lifecycle_rows(content)
    )
    return rows


def _lifecycle_rows(content: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(section, metric, value) of the 准入/使用/退出 figures; none in a batch report or in a
    report stored before they existed."""
    figures = content.get("admission_use_exit")
    if not figures:
        return []
    use = figures["use"]
    out = [("admission", k, v) for k, v in figures["admission"].items()]
    out += [("use", k, v) for k, v in use.items() if k != "arrears_by_months"]
    out += [
        ("use", f"arrears_{r['months']}_months", r["households"]) for r in use["arrears_by_months"]
    ]
    out += [("exit", f"exits_{k}", v) for k, v in figures["exit"]["exits"].items()]
    out.append(("exit", "exits_total", figures["exit"]["exits_total"]))
    out += [("exit", f"rereview_{k}", v) for k, v in figures["exit"]["rereview_outcomes"].items()]
    return out


_LIFECYCLE_NAMES = {
    "received": "收到申请",
    "qualified": "取得资格",
    "leases_opened": "新签租约（入住）",
    "active_leases": "在租户数",
    "households_in_arrears": "欠租户数",
    "visits_planned": "应巡查户次",
    "visits_done": "已巡查户次",
    "violations_opened": "新发违规",
    "violations_rectified": "整改销号",
    "violations_escalated": "转提前收回",
    "violations_open": "未整改违规",
    "exits_move_out": "退出：主动腾退",
    "exits_recovery": "退出：提前收回",
    "exits_graded_exit": "退出：梯度退出",
    "exits_total": "退出合计",
    "rereview_continued": "复核：继续保障",
    "rereview_band_changed": "复核：调整租金档次",
    "rereview_graded_exit": "复核：梯度退出",
    "rereview_exit_noticed": "复核：通知收回",
    "rereview_officer_decides": "复核：待经办人决定",
    "rereview_not_cooperated": "复核：不配合复核",
}
_LIFECYCLE_SECTIONS = {"admission": "准入", "use": "使用", "exit": "退出"}


def _lifecycle_name(metric: str) -> str:
    if metric.startswith("arrears_") and metric.endswith("_months"):
        return f"欠租{metric.split('_')[1]}个月户数"
    return _LIFECYCLE_NAMES.get(metric, metric)


def to_csv(content: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(csv_rows(content))
    # BOM: Excel, which most offices open CSVs with, then reads UTF-8 Chinese correctly.
    return "\ufeff" + buffer.getvalue()


_PROGRESS_NAMES = {
    "received": "收到申请",
    "applications": "批次申请",
    "accepted": "受理",
    "qualified": "审核通过（取得资格）",
    "rejected": "未通过",
    "withdrawn": "撤回",
    "in_review": "审核中",
}


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
        for r in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">本期无数据</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(content: dict[str, Any], city_name: str) -> str:
    """The printable report (A4), in Chinese."""
    if content["kind"] == "monthly":
        y, m = content["period"].split("-")
        title = f"{city_name}保障性住房网上办理电子监察{y}年{int(m)}月通报"
        scope = f"统计期间：{content['from']} 至 {content['to']}"
    else:
        title = f"{city_name}保障性住房网上办理电子监察批次通报（{content['period']}）"
        scope = f"统计范围：公示批次 {content['period']} 的全部申请"
    p = content["progress"]
    progress = _table(["项目", "件数"], [[_PROGRESS_NAMES.get(k, k), v] for k, v in p.items()])
    units = _table(
        ["单位代码", "单位", "办结环节", "按时办结", "超时办结", "超期未办", "平均用时（工作日）"],
        [
            [
                u["unit"],
                u["name"],
                u["completed"],
                u["on_time"],
                u["late"],
                u["open_overdue"],
                u["avg_working_days"],
            ]
            for u in content["units"]
        ],
    )
    departments = _table(
        [
            "部门代码",
            "协查部门",
            "协查请求",
            "按时反馈",
            "逾期反馈",
            "超时未反馈",
            "空反馈",
            "待反馈",
        ],
        [
            [
                d["department"],
                d["name"],
                d["requests"],
                d["answered_in_time"],
                d["late"],
                d["overdue"],
                d["empty"],
                d["pending"],
            ]
            for d in content["departments"]
        ],
    )
    reds = content["red_lights"]
    red_rows = [
        [
            r["rule_id"],
            r["title"],
            r["opened"],
            r["cleared"],
            r["handled_in_time"],
            r["overdue"],
            r["open"],
        ]
        for r in reds["by_rule"]
    ]
    if red_rows:
        tot = reds["total"]
        red_rows.append(
            [
                "合计",
                "",
                tot["opened"],
                tot["cleared"],
                tot["handled_in_time"],
                tot["overdue"],
                tot["open"],
            ]
        )
    red = _table(["规则", "红灯类别", "亮灯", "已消除", "按时处理", "超时处理", "未消除"], red_rows)
    lifecycle_rows = _lifecycle_rows(content)
    lifecycle = (
        "<h2>五、准入、使用、退出</h2>\n"
        + _table(
            ["环节", "项目", "数量"],
            [[_LIFECYCLE_SECTIONS[s], _lifecycle_name(m), v] for s, m, v in lifecycle_rows],
        )
        if lifecycle_rows
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
@page {{ size: A4; margin: 20mm 18mm; }}
body {{ font-family: "SimSun", "Songti SC", serif; font-size: 11pt; color: #000; }}
h1 {{ font-size: 16pt; text-align: center; margin: 0 0 4mm; }}
h2 {{ font-size: 12pt; margin: 6mm 0 2mm; }}
p.scope {{ text-align: center; margin: 0 0 6mm; }}
table {{ width: 100%; border-collapse: collapse; page-break-inside: auto; }}
tr {{ page-break-inside: avoid; }}
th, td {{ border: 1px solid #000; padding: 1.5mm 2mm; text-align: center; }}
footer {{ margin-top: 8mm; text-align: right; }}
</style></head><body>
<h1>{escape(title)}</h1>
<p class="scope">{escape(scope)}</p>
<h2>一、办理进度</h2>
{progress}
<h2>二、各单位办理时效</h2>
{units}
<h2>三、各协查部门反馈时效</h2>
{departments}
<h2>四、红灯预警及处理情况</h2>
{red}
{lifecycle}
<footer>生成时间：{escape(str(content["generated_at"]))}</footer>
</body></html>
"""

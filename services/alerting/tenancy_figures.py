"""Admission, use and exit figures (准入、使用、退出, Fujian's cockpit) from tenancy's events.

Tenancy owns leases, arrears, visits, violations, re-reviews and exits; alerting keeps the few
facts its cockpit and periodic reports count, each row keyed on the event's own ids so a
redelivered event counts once. Tenancy's events carry no street or district: the figures are
the city's. ``figures`` answers for any period with one statement per figure group.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert

from services.alerting import domain
from services.alerting.tables import (
    applications,
    tenancy_arrears_steps,
    tenancy_exits,
    tenancy_leases,
    tenancy_rereviews,
    tenancy_violations,
    tenancy_visits,
    tenancy_visits_due,
)
from shared.db import UnitOfWork
from shared.events import catalogue as ev
from shared.events.envelope import Envelope

EXIT_KINDS = ("move_out", "recovery", "graded_exit")
REREVIEW_OUTCOMES = (
    "continued",
    "band_changed",
    "graded_exit",
    "exit_noticed",
    "officer_decides",
    "not_cooperated",
)


async def lease_opened(uow: UnitOfWork, e: ev.TenancyLeaseOpened) -> None:
    await uow.conn.execute(
        insert(tenancy_leases)
        .values(
            lease_id=e.lease_id, unit_id=e.unit_id, starts_on=e.starts_on, opened_at=e.opened_at
        )
        .on_conflict_do_nothing()
    )


async def unit_vacated(uow: UnitOfWork, e: ev.TenancyUnitVacated) -> None:
    le, rr = tenancy_leases.c, tenancy_rereviews.c
    # The unit's lease: the latest opened on it by the move-out day and not ended before it
    # (a redelivery finds the lease it ended itself).
    lease_id = await uow.conn.scalar(
        sa.select(le.lease_id)
        .where(
            le.unit_id == e.unit_id,
            le.starts_on <= e.vacated_on,
            sa.or_(le.vacated_on.is_(None), le.vacated_on == e.vacated_on),
        )
        .order_by(le.starts_on.desc())
        .limit(1)
    )
    graded = sa.exists().where(rr.lease_id == lease_id, rr.outcome == "graded_exit")
    how = (
        sa.case((graded, "graded_exit"), else_="recovery")
        if e.recovered
        else sa.literal("move_out")
    )
    exit_row = sa.select(
        sa.literal(e.unit_id, pg.UUID(as_uuid=True)).label("unit_id"),
        sa.literal(e.vacated_on, sa.Date).label("vacated_on"),
        sa.literal(lease_id, pg.UUID(as_uuid=True)).label("lease_id"),
        how.label("how"),
    )
    await uow.conn.execute(
        insert(tenancy_exits)
        .from_select(["unit_id", "vacated_on", "lease_id", "how"], exit_row)
        .on_conflict_do_nothing()
    )
    if lease_id is not None:
        await uow.conn.execute(
            sa.update(tenancy_leases)
            .where(le.lease_id == lease_id, le.vacated_on.is_(None))
            .values(vacated_on=e.vacated_on)
        )


async def arrears_step(uow: UnitOfWork, e: ev.TenancyArrearsStep) -> None:
    await uow.conn.execute(
        insert(tenancy_arrears_steps)
        .values(
            lease_id=e.lease_id, taken_at=e.taken_at, step=e.step, arrears_months=e.arrears_months
        )
        .on_conflict_do_nothing()
    )


async def visit_due(uow: UnitOfWork, e: ev.TenancyVisitDue) -> None:
    await uow.conn.execute(
        insert(tenancy_visits_due)
        .values(lease_id=e.lease_id, due_on=e.due_on)
        .on_conflict_do_nothing()
    )


async def visit_recorded(uow: UnitOfWork, e: ev.TenancyVisitRecorded) -> None:
    await uow.conn.execute(
        insert(tenancy_visits)
        .values(visit_id=e.visit_id, lease_id=e.lease_id, visited_on=e.visited_on)
        .on_conflict_do_nothing()
    )


async def violation_opened(
    uow: UnitOfWork, e: ev.TenancyViolationOpened, envelope: Envelope
) -> None:
    stmt = insert(tenancy_violations).values(
        violation_id=e.violation_id, lease_id=e.lease_id, opened_at=envelope.occurred_at
    )
    # The order has no timestamp of its own: the event's moment is when it opened.
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["violation_id"],
            set_={"opened_at": stmt.excluded.opened_at},
            where=tenancy_violations.c.opened_at.is_(None),
        )
    )


async def violation_closed(uow: UnitOfWork, e: ev.TenancyViolationClosed) -> None:
    stmt = insert(tenancy_violations).values(
        violation_id=e.violation_id, lease_id=e.lease_id, closed_at=e.closed_at, outcome=e.outcome
    )
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["violation_id"],
            set_={"closed_at": stmt.excluded.closed_at, "outcome": stmt.excluded.outcome},
        )
    )


async def rereview_concluded(uow: UnitOfWork, e: ev.TenancyRereviewConcluded) -> None:
    stmt = insert(tenancy_rereviews).values(
        lease_id=e.lease_id, campaign=e.campaign, outcome=e.outcome, concluded_at=e.concluded_at
    )
    # The latest conclusion wins, whatever order the two arrive in.
    await uow.conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["lease_id", "campaign"],
            set_={"outcome": stmt.excluded.outcome, "concluded_at": stmt.excluded.concluded_at},
            where=tenancy_rereviews.c.concluded_at < stmt.excluded.concluded_at,
        )
    )


async def figures(conn: Any, start: date, end: date) -> dict[str, Any]:
    """准入、使用、退出 for the days ``start``..``end`` (inclusive, China): flows counted in the
    period, stocks (active leases, arrears, open violations) at its end."""
    lo, hi = domain.start_of_day(start), domain.start_of_day(end + timedelta(days=1))
    day_after = end + timedelta(days=1)
    ap, le = applications.c, tenancy_leases.c

    def within(column: Any) -> sa.ColumnElement[bool]:
        return sa.and_(column >= lo, column < hi)

    active = sa.and_(
        le.starts_on < day_after, sa.or_(le.vacated_on.is_(None), le.vacated_on >= day_after)
    )
    admission = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.count())
                .where(within(ap.submitted_at))
                .scalar_subquery()
                .label("received"),
                sa.select(sa.func.count())
                .where(within(ap.qualified_at))
                .scalar_subquery()
                .label("qualified"),
                sa.select(sa.func.count())
                .where(le.starts_on >= start, le.starts_on < day_after)
                .scalar_subquery()
                .label("leases_opened"),
                sa.select(sa.func.count()).where(active).scalar_subquery().label("active_leases"),
            )
        )
    ).one()
    ar = tenancy_arrears_steps.c
    latest = (
        sa.select(ar.lease_id, ar.arrears_months)
        .where(ar.taken_at < hi)
        .distinct(ar.lease_id)
        .order_by(ar.lease_id, ar.taken_at.desc())
        .subquery()
    )
    ended = sa.exists().where(
        le.lease_id == latest.c.lease_id, le.vacated_on.is_not(None), le.vacated_on < day_after
    )
    arrears = (
        await conn.execute(
            sa.select(latest.c.arrears_months, sa.func.count().label("households"))
            .where(~ended)
            .group_by(latest.c.arrears_months)
            .order_by(latest.c.arrears_months)
        )
    ).all()
    vd, vr, vi = tenancy_visits_due.c, tenancy_visits.c, tenancy_violations.c
    open_at_end = sa.and_(vi.opened_at < hi, sa.or_(vi.closed_at.is_(None), vi.closed_at >= hi))
    use = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.count())
                .where(vd.due_on >= start, vd.due_on < day_after)
                .scalar_subquery()
                .label("visits_planned"),
                sa.select(sa.func.count())
                .where(vr.visited_on >= start, vr.visited_on < day_after)
                .scalar_subquery()
                .label("visits_done"),
                sa.select(sa.func.count())
                .where(within(vi.opened_at))
                .scalar_subquery()
                .label("violations_opened"),
                sa.select(sa.func.count())
                .where(within(vi.closed_at), vi.outcome == "rectified")
                .scalar_subquery()
                .label("violations_rectified"),
                sa.select(sa.func.count())
                .where(within(vi.closed_at), vi.outcome == "escalated")
                .scalar_subquery()
                .label("violations_escalated"),
                sa.select(sa.func.count())
                .where(open_at_end)
                .scalar_subquery()
                .label("violations_open"),
            )
        )
    ).one()
    ex, rr = tenancy_exits.c, tenancy_rereviews.c
    exits = dict(
        (
            await conn.execute(
                sa.select(ex.how, sa.func.count())
                .where(ex.vacated_on >= start, ex.vacated_on < day_after)
                .group_by(ex.how)
            )
        ).all()
    )
    outcomes = dict(
        (
            await conn.execute(
                sa.select(rr.outcome, sa.func.count())
                .where(within(rr.concluded_at))
                .group_by(rr.outcome)
            )
        ).all()
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "admission": {
            k: int(getattr(admission, k)) for k in ("received", "qualified", "leases_opened")
        },
        "use": {
            "active_leases": int(admission.active_leases),
            "arrears_by_months": [
                {"months": int(r.arrears_months), "households": int(r.households)} for r in arrears
            ],
            "households_in_arrears": sum(int(r.households) for r in arrears),
            **{k: int(getattr(use, k)) for k in use._fields},
        },
        "exit": {
            "exits": {k: int(exits.get(k, 0)) for k in EXIT_KINDS},
            "exits_total": sum(int(v) for v in exits.values()),
            "rereview_outcomes": {k: int(outcomes.get(k, 0)) for k in REREVIEW_OUTCOMES},
        },
    }

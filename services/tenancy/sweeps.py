"""Periodic jobs of tenancy: the month's bills, arrears ageing, visit reminders (N6),
rectification deadlines (N7), the month's subsidy payments, and the re-review's reminders
(N5), deadlines and graded exits; the power company's monthly requests and the vacancy leads
found in its answers.

Each is idempotent: a run repeated the same day changes nothing and emits nothing more.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from services.tenancy import commands, domain
from services.tenancy.context import TenancyContext
from services.tenancy.tables import bills, leases, violations
from shared import audit
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import TenancyRectificationOverdue, TenancyVisitDue


async def billing(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """This month's rent bills (once per lease and month)."""
    await commands.bill_month(ctx, uow, today_shanghai())


async def subsidies(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """This month's subsidy payments (once per account and month)."""
    await commands.schedule_subsidies(ctx, uow, today_shanghai())


async def arrears(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """Age every lease with a bill unpaid past its due day, or still counted in arrears."""
    today = today_shanghai()
    rows = (
        await uow.conn.execute(
            sa.select(leases)
            .where(
                leases.c.status == "active",
                sa.or_(
                    leases.c.arrears_months > 0,
                    sa.exists().where(
                        bills.c.lease_id == leases.c.id,
                        bills.c.paid_at.is_(None),
                        bills.c.due_on < today,
                    ),
                ),
            )
            .order_by(leases.c.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for lease in rows:
        await commands.age_arrears(ctx, uow, lease)


async def visit_reminders(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """N6: a visit falling due within the reminder window is announced once per due date."""
    horizon = today_shanghai() + timedelta(days=ctx.rules.visits.reminder_days)
    rows = (
        await uow.conn.execute(
            sa.update(leases)
            .where(
                leases.c.status == "active",
                leases.c.next_visit_due <= horizon,
                leases.c.visit_reminded_for.is_distinct_from(leases.c.next_visit_due),
            )
            .values(visit_reminded_for=leases.c.next_visit_due)
            .returning(
                leases.c.id, leases.c.household_reference, leases.c.unit_id, leases.c.next_visit_due
            )
        )
    ).all()
    for row in rows:
        uow.emit(
            TenancyVisitDue(
                lease_id=row.id,
                household_reference=row.household_reference,
                unit_id=row.unit_id,
                due_on=row.next_visit_due,
            ),
            subject=str(row.id),
        )


async def rectification_deadlines(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """N7: an order past its deadline without a verified fix becomes overdue (once)."""
    at = now()
    rows = (
        await uow.conn.execute(
            sa.update(violations)
            .where(violations.c.status == "open", violations.c.deadline < today_shanghai())
            .values(status="overdue", overdue_at=at)
            .returning(violations.c.id, violations.c.lease_id, violations.c.deadline)
        )
    ).all()
    for row in rows:
        await audit.record(
            uow.conn,
            **commands.SYSTEM,
            action="violation.overdue",
            subject_type="violation",
            subject_id=row.id,
            details={"deadline": row.deadline.isoformat()},
        )
        uow.emit(
            TenancyRectificationOverdue(
                violation_id=row.id, lease_id=row.lease_id, deadline=row.deadline
            ),
            subject=str(row.lease_id),
        )


async def rereview_reminders(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """N5: a re-review still open close to its deadline is announced once."""
    await commands.rereview_reminders(ctx, uow)


async def rereview_deadlines(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """A re-review without an answer past its deadline: the household did not cooperate."""
    await commands.rereview_deadlines(ctx, uow)


async def graded_exits(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """Graded exits whose market-rent transition is over receive the recovery notice."""
    await commands.graded_exits(ctx, uow)


async def power_requests(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """Ask the power company for last month's use of every let unit (once per unit-month)."""
    last_month = domain.add_months(domain.month_start(today_shanghai()), -1)
    await commands.request_power_readings(ctx, uow, last_month)


async def vacancy_leads(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """Runs of low electricity use become vacancy leads that bring the visit forward (N6)."""
    await commands.vacancy_leads(ctx, uow)

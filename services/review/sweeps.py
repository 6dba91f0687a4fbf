"""The review clock: suspensions that end by themselves, stages past their time limit.

One periodic job (``shared.scheduler.sweep_job``, scheduled in ``bootstrap``) runs
:func:`clock` cluster-wide; it is idempotent: a suspension ends once (its row gets
``resumed_at``), an overdue stage is reported once (its run gets ``overdue_at``).
"""

from __future__ import annotations

import sqlalchemy as sa

from services.review import commands, store
from services.review.context import ReviewContext
from services.review.tables import cases, stage_runs, suspensions
from shared.audit import record
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import ReviewStageOverdue

BATCH = 500
SYSTEM_ACTOR = "system:review-clock"


async def end_expired_suspensions(uow: UnitOfWork, ctx: ReviewContext) -> int:
    """Xiamen art. 7: "超过该环节补件挂起时限（系统将自动终止该功能）"."""
    rows = (
        await uow.conn.execute(
            sa.select(suspensions)
            .where(suspensions.c.resumed_at.is_(None), suspensions.c.resumes_by < now())
            .order_by(suspensions.c.resumes_by)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for suspension in rows:
        run = await store.load_run(uow.conn, suspension.run_id, lock=True)
        case = await store.load_case(uow.conn, suspension.case_id)
        days = await commands.end_suspension(
            uow, ctx, case, run, suspension, automatic=True, resumed_by=None
        )
        await record(
            uow.conn,
            actor=SYSTEM_ACTOR,
            action="review.stage_resumed",
            subject_type="review_case",
            subject_id=case.id,
            details={
                "stage": run.stage,
                "suspension_id": str(suspension.id),
                "automatic": True,
                "suspended_working_days": days,
            },
        )
    return len(rows)


async def report_overdue_stages(uow: UnitOfWork) -> int:
    """R8: a running (not suspended) stage past its deadline, reported once per run."""
    at = now()
    rows = (
        await uow.conn.execute(
            stage_runs.update()
            .where(
                stage_runs.c.status == "active",
                stage_runs.c.overdue_at.is_(None),
                stage_runs.c.due_at < at,
                stage_runs.c.case_id == cases.c.id,
            )
            .values(overdue_at=at)
            .returning(
                stage_runs.c.case_id,
                cases.c.application_id,
                stage_runs.c.stage,
                stage_runs.c.level,
                stage_runs.c.unit,
                stage_runs.c.due_at,
                stage_runs.c.fallback_years,
            )
        )
    ).all()
    for r in rows:
        uow.emit(
            ReviewStageOverdue(
                case_id=r.case_id,
                application_id=r.application_id,
                stage=r.stage,
                level=r.level,
                unit=r.unit,
                due_at=r.due_at,
                detected_at=at,
                calendar_fallback=bool(r.fallback_years),
            ),
            subject=str(r.application_id),
        )
    return len(rows)


async def clock(ctx: ReviewContext, uow: UnitOfWork) -> None:
    # Suspensions first: a stage whose suspension just ended gets its moved deadline
    # before the overdue check looks at it.
    await end_expired_suspensions(uow, ctx)
    await report_overdue_stages(uow)

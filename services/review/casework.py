"""The review service layer: what happens to a case, inside one unit of work.

Event handlers, the HTTP API and the clock sweep all call these functions; each writes the
state change and emits its events in the caller's transaction. Time always comes from
``shared.clock``; working days from ``shared.workdays``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from services.review import domain
from services.review.tables import cases, objections, signatures, stage_runs, suspensions
from services.review.workflow import Stage, Workflow, presets
from shared.city import MIN_PUBLICITY_DAYS, CityConfig
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationQualified,
    ApplicationRejected,
    ReviewDecided,
    ReviewPublicityRequested,
    ReviewStageCompleted,
    ReviewStageResumed,
    ReviewStageStarted,
)
from shared.workdays import WorkdayCalendar, default_calendar

log = structlog.get_logger(__name__)


@dataclass
class ReviewContext:
    """What the review service needs besides the database: the presets, the calendar and the
    city's choice of preset (bound when the runtime starts, see ``service.bind_city``)."""

    workflows: dict[str, Workflow] = field(default_factory=presets)
    calendar: WorkdayCalendar = field(default_factory=default_calendar)
    city: CityConfig | None = None
    _bound: asyncio.Event = field(default_factory=asyncio.Event)

    def bind(self, city: CityConfig) -> None:
        if city.workflow.value not in self.workflows:
            raise ValueError(f"workflow: no preset named {city.workflow.value!r}")
        self.city = city
        self._bound.set()

    async def ready(self) -> CityConfig:
        # Consumers may deliver before the bind job ran; it runs in the same start-up tick.
        await asyncio.wait_for(self._bound.wait(), timeout=30)
        assert self.city is not None
        return self.city

    @property
    def workflow(self) -> Workflow:
        assert self.city is not None, "ReviewContext used before bind()"
        return self.workflows[self.city.workflow.value]

    def workflow_of(self, case: Any) -> Workflow:
        """The preset a case was opened with (a case keeps its layout if the city switches)."""
        return self.workflows[case.workflow]

    @property
    def publicity_min_days(self) -> int:
        return self.city.publicity.min_days if self.city else MIN_PUBLICITY_DAYS


def unit_for(level: str, case: Any) -> str:
    return {"street": case.street, "district": case.district, "city": case.city}[level]


# -- stage runs ---------------------------------------------------------------------------------


async def start_stage(
    uow: UnitOfWork, ctx: ReviewContext, case: Any, workflow: Workflow, stage: Stage
) -> uuid.UUID:
    """Start (or restart) ``stage``: a new run with its own clock; the case points at it."""
    conn = uow.conn
    at = now()
    previous_rounds = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.max(stage_runs.c.round), 0)).where(
            stage_runs.c.case_id == case.id, stage_runs.c.stage == stage.code
        )
    )
    run_id = uuid.uuid4()
    clock = domain.stage_clock(ctx.calendar, at, stage.time_limit_working_days)
    unit = unit_for(stage.level, case)
    first = stage.signatures[0]
    await conn.execute(
        stage_runs.insert().values(
            id=run_id,
            case_id=case.id,
            stage=stage.code,
            position=workflow.index(stage.code),
            round=int(previous_rounds or 0) + 1,
            level=stage.level,
            unit=unit,
            signatures=[r.value for r in stage.signatures],
            requires_verification=stage.requires_verification,
            time_limit=stage.time_limit_working_days,
            suspension_limit=stage.suspension_limit_working_days,
            status="active",
            next_staff_role=stage.staff_role(first),
            next_signature=first.value,
            started_at=at,
            due_date=clock.due.date,
            due_at=clock.due.at,
            yellow_at=clock.yellow_at,
            fallback_years=list(clock.due.fallback_years),
            suspended_days=0,
        )
    )
    await conn.execute(
        cases.update()
        .where(cases.c.id == case.id)
        .values(status="in_review", current_run_id=run_id, updated_at=at)
    )
    uow.emit(
        ReviewStageStarted(
            case_id=case.id,
            application_id=case.application_id,
            stage=stage.code,
            level=stage.level,
            unit=unit,
            started_at=at,
            due_at=clock.due.at,
            time_limit_working_days=stage.time_limit_working_days,
            calendar_fallback=clock.due.used_fallback,
            yellow_at=clock.yellow_at,
            fallback_years=list(clock.due.fallback_years),
            round=int(previous_rounds or 0) + 1,
        ),
        subject=str(case.application_id),
    )
    return run_id


async def load_case(conn: AsyncConnection, case_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(cases).where(cases.c.id == case_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def load_run(conn: AsyncConnection, run_id: uuid.UUID | None, *, lock: bool = False) -> Any:
    if run_id is None:
        return None
    query = sa.select(stage_runs).where(stage_runs.c.id == run_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def run_signatures(conn: AsyncConnection, run_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await conn.execute(
                sa.select(signatures)
                .where(signatures.c.run_id == run_id)
                .order_by(signatures.c.seq)
            )
        ).all()
    )


def effective_signatures(rows: Sequence[Any]) -> list[Any]:
    """The signatures in force: a corrected signature is replaced by its latest correction."""
    corrected = {r.corrects for r in rows if r.corrects is not None}
    return [r for r in rows if r.id not in corrected]


async def complete_stage(
    uow: UnitOfWork,
    ctx: ReviewContext,
    case: Any,
    run: Any,
    decision: str,
    final: Any,
) -> None:
    """The last required signature is in: close the run and move the case on."""
    conn = uow.conn
    at = now()
    workflow = ctx.workflow_of(case)
    position = workflow.index(run.stage)
    next_stage = None
    if decision == "approve" and position + 1 < len(workflow.stages):
        next_stage = workflow.stages[position + 1]
    elif decision == "return":
        next_stage = workflow.stages[position - 1]
    await conn.execute(
        stage_runs.update()
        .where(stage_runs.c.id == run.id)
        .values(
            status="completed",
            completed_at=at,
            outcome=decision,
            next_staff_role=None,
            next_signature=None,
        )
    )
    uow.emit(
        ReviewStageCompleted(
            case_id=case.id,
            application_id=case.application_id,
            stage=run.stage,
            level=run.level,
            unit=run.unit,
            outcome=decision,  # type: ignore[arg-type]
            completed_at=at,
            working_days_used=domain.working_days_used(
                ctx.calendar, run.started_at, at, run.suspended_days
            ),
            overdue=at > run.due_at,
            next_stage=next_stage.code if next_stage else None,
        ),
        subject=str(case.application_id),
    )
    if next_stage is not None:
        await start_stage(uow, ctx, case, workflow, next_stage)
        return
    if decision == "approve":
        await request_publicity(uow, ctx, case, final, at)
        return
    # Rejected: the case ends here with the rejecting opinion as its reason.
    reasons = [final.opinion[:500]]
    await conn.execute(
        cases.update()
        .where(cases.c.id == case.id)
        .values(
            status="rejected",
            outcome="rejected",
            decided_at=at,
            reasons=reasons,
            current_run_id=None,
            updated_at=at,
        )
    )
    uow.emit(
        ReviewDecided(
            case_id=case.id,
            application_id=case.application_id,
            outcome="rejected",
            decided_by=final.signer,
            decided_at=at,
            reasons=reasons,
        ),
        subject=str(case.application_id),
    )
    uow.emit(
        ApplicationRejected(
            application_id=case.application_id,
            case_id=case.id,
            tracking_no=case.tracking_no,
            city=case.city,
            district=case.district,
            street=case.street,
            category=case.category,
            stage=run.stage,
            reasons=reasons,
            rejected_at=at,
        ),
        subject=str(case.application_id),
    )


async def request_publicity(
    uow: UnitOfWork, ctx: ReviewContext, case: Any, final: Any, at: datetime
) -> None:
    """Last stage approved: the city's decision is "qualified, subject to publicity"."""
    await uow.conn.execute(
        cases.update()
        .where(cases.c.id == case.id)
        .values(
            status="awaiting_publicity",
            outcome="qualified",
            decided_at=at,
            reasons=[],
            current_run_id=None,
            notice_id=None,
            publicity_opened_at=None,
            publicity_closes_at=None,
            publicity_closed_at=None,
            publicity_closed_early=None,
            updated_at=at,
        )
    )
    uow.emit(
        ReviewDecided(
            case_id=case.id,
            application_id=case.application_id,
            outcome="qualified",
            decided_by=final.signer,
            decided_at=at,
        ),
        subject=str(case.application_id),
    )
    uow.emit(
        ReviewPublicityRequested(
            case_id=case.id,
            application_id=case.application_id,
            tracking_no=case.tracking_no,
            city=case.city,
            district=case.district,
            street=case.street,
            category=case.category,
            member_count=case.member_count,
            applicant_name_masked=case.applicant_name_masked,
            min_days=ctx.publicity_min_days,
            requested_at=at,
        ),
        subject=str(case.application_id),
    )


# -- suspensions ----------------------------------------------------------------------------------


async def resume(
    uow: UnitOfWork,
    ctx: ReviewContext,
    case: Any,
    run: Any,
    suspension: Any,
    *,
    automatic: bool,
    resumed_by: str | None,
) -> int:
    """End a suspension; the run's deadline moves by the working days it was suspended.

    An automatic end happens at the moment the limit passed (``resumes_by``), whenever the
    sweep notices it, so a late sweep does not give the stage extra time.
    """
    at = suspension.resumes_by if automatic else now()
    days = domain.suspended_working_days(ctx.calendar, suspension.suspended_at, at)
    total = run.suspended_days + days
    clock = domain.stage_clock(ctx.calendar, run.started_at, run.time_limit, total)
    await uow.conn.execute(
        suspensions.update()
        .where(suspensions.c.id == suspension.id)
        .values(resumed_at=at, automatic=automatic, resumed_by=resumed_by, suspended_days=days)
    )
    await uow.conn.execute(
        stage_runs.update()
        .where(stage_runs.c.id == run.id)
        .values(
            status="active",
            suspended_days=total,
            due_date=clock.due.date,
            due_at=clock.due.at,
            yellow_at=clock.yellow_at,
            fallback_years=list(clock.due.fallback_years),
        )
    )
    uow.emit(
        ReviewStageResumed(
            case_id=case.id,
            application_id=case.application_id,
            stage=run.stage,
            level=run.level,
            unit=run.unit,
            suspension_id=suspension.id,
            resumed_at=at,
            automatic=automatic,
            resumed_by=resumed_by,
            suspended_working_days=days,
            due_at=clock.due.at,
        ),
        subject=str(case.application_id),
    )
    return days


# -- publicity and objections ---------------------------------------------------------------------


async def try_qualify(uow: UnitOfWork, case: Any) -> bool:
    """Qualify once the notice closed at its planned end and every objection against it was
    concluded dismissed; otherwise keep waiting."""
    if case.status != "in_publicity" or case.publicity_closed_at is None:
        return False
    if case.publicity_closed_early:
        return False
    pending = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(objections)
        .where(
            objections.c.application_id == case.application_id,
            objections.c.notice_id == case.notice_id,
            sa.or_(objections.c.outcome.is_(None), objections.c.outcome != "dismissed"),
        )
    )
    if pending:
        return False
    at = now()
    await uow.conn.execute(
        cases.update()
        .where(cases.c.id == case.id)
        .values(status="qualified", qualified_at=at, updated_at=at)
    )
    uow.emit(
        ApplicationQualified(
            application_id=case.application_id,
            case_id=case.id,
            tracking_no=case.tracking_no,
            city=case.city,
            district=case.district,
            street=case.street,
            category=case.category,
            member_count=case.member_count,
            applicant_name_masked=case.applicant_name_masked,
            qualified_at=at,
        ),
        subject=str(case.application_id),
    )
    return True

"""Event handlers: a case per accepted application, the verification result it waits for, and
the publicity and objections that decide qualification.

Each handler runs in the consumer's unit of work after the inbox claimed the event id; each is
also idempotent by effect (a second ``application.accepted`` for the same application opens no
second case, a repeated ``objection.concluded`` changes nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from services.review import casework
from services.review.casework import ReviewContext
from services.review.tables import cases, objections, stage_runs, verifications
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationAccepted,
    ApplicationWithdrawn,
    ObjectionConcluded,
    ObjectionFiled,
    PublicityClosed,
    PublicityOpened,
    ReviewCaseOpened,
    StagePlan,
    VerificationCompleted,
)
from shared.events.envelope import Envelope
from shared.pii import mask_name

Handler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


def _masked_applicant(event: ApplicationAccepted) -> str:
    applicant = next(
        (m for m in event.household.members if m.relationship == "applicant"),
        event.household.members[0],
    )
    masked = mask_name(applicant.name)
    return masked if "*" in masked else masked + "*"


def _takes_notice(notice_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """Cases a qualification notice applies to: waiting for one, already on this one, or on
    one that was closed early (which does not count, so a new notice is needed)."""
    return sa.or_(
        cases.c.status == "awaiting_publicity",
        sa.and_(
            cases.c.status == "in_publicity",
            sa.or_(cases.c.notice_id == notice_id, cases.c.publicity_closed_early.is_(True)),
        ),
    )


def build_handlers(ctx: ReviewContext) -> dict[str, Handler]:
    async def on_application_accepted(uow: UnitOfWork, envelope: Envelope) -> None:
        await ctx.ready()
        event = ApplicationAccepted.model_validate(envelope.data)
        workflow = ctx.workflow
        at = now()
        case_id = uuid.uuid4()
        inserted = await uow.conn.scalar(
            insert(cases)
            .values(
                id=case_id,
                application_id=event.application_id,
                tracking_no=event.tracking_no,
                city=event.city,
                district=event.district,
                street=event.street,
                category=event.category,
                # Only the masked name is kept: review never needs the full one.
                applicant_name_masked=_masked_applicant(event),
                member_count=len(event.household.members),
                workflow=workflow.name,
                workflow_version=workflow.version,
                status="in_review",
                opened_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing(index_elements=["application_id"])
            .returning(cases.c.id)
        )
        if inserted is None:
            return  # a case exists already (same application accepted twice)
        uow.emit(
            ReviewCaseOpened(
                case_id=case_id,
                application_id=event.application_id,
                tracking_no=event.tracking_no,
                city=event.city,
                district=event.district,
                street=event.street,
                category=event.category,
                workflow=workflow.name,
                workflow_version=workflow.version,
                stages=[
                    StagePlan(
                        stage=s.code,
                        level=s.level,
                        time_limit_working_days=s.time_limit_working_days,
                    )
                    for s in workflow.stages
                ],
                opened_at=at,
            ),
            subject=str(event.application_id),
        )
        case = await casework.load_case(uow.conn, case_id)
        await casework.start_stage(uow, ctx, case, workflow, workflow.stages[0])

    async def on_verification_completed(uow: UnitOfWork, envelope: Envelope) -> None:
        event = VerificationCompleted.model_validate(envelope.data)
        values = {
            "application_id": event.application_id,
            "verification_case_id": event.case_id,
            "recommendation": event.recommendation,
            "reasons": list(event.reasons),
            "discrepancies": [d.model_dump(mode="json") for d in event.discrepancies],
            "missing_departments": list(event.missing_departments),
            "parameters_version": event.parameters_version,
            "completed_at": event.completed_at,
            "received_at": now(),
        }
        stmt = insert(verifications).values(**values)
        # A re-verification replaces an older result, never the other way round.
        await uow.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["application_id"],
                set_={k: stmt.excluded[k] for k in values if k != "application_id"},
                where=verifications.c.completed_at < stmt.excluded.completed_at,
            )
        )

    async def on_application_withdrawn(uow: UnitOfWork, envelope: Envelope) -> None:
        event = ApplicationWithdrawn.model_validate(envelope.data)
        at = now()
        case_ids = (
            await uow.conn.scalars(
                cases.update()
                .where(
                    cases.c.application_id == event.application_id,
                    cases.c.status.in_(("in_review", "awaiting_publicity", "in_publicity")),
                )
                .values(status="withdrawn", current_run_id=None, updated_at=at)
                .returning(cases.c.id)
            )
        ).all()
        if case_ids:
            await uow.conn.execute(
                stage_runs.update()
                .where(
                    stage_runs.c.case_id.in_(case_ids),
                    stage_runs.c.status.in_(("active", "suspended")),
                )
                .values(
                    status="completed",
                    outcome="withdrawn",
                    completed_at=at,
                    next_staff_role=None,
                    next_signature=None,
                )
            )

    async def on_publicity_opened(uow: UnitOfWork, envelope: Envelope) -> None:
        event = PublicityOpened.model_validate(envelope.data)
        if event.kind != "qualification":
            return
        await uow.conn.execute(
            cases.update()
            .where(
                cases.c.application_id.in_(event.application_ids),
                _takes_notice(event.notice_id),
                # A repeated "opened" must not undo a "closed" that overtook it.
                sa.or_(cases.c.notice_id.is_(None), cases.c.notice_id != event.notice_id),
            )
            .values(
                status="in_publicity",
                notice_id=event.notice_id,
                publicity_opened_at=event.opened_at,
                publicity_closes_at=event.closes_at,
                publicity_closed_at=None,
                publicity_closed_early=None,
                updated_at=now(),
            )
        )

    async def on_publicity_closed(uow: UnitOfWork, envelope: Envelope) -> None:
        event = PublicityClosed.model_validate(envelope.data)
        if event.kind != "qualification":
            return
        # "closed" may overtake "opened" on the broker; it carries everything "opened" would.
        await uow.conn.execute(
            cases.update()
            .where(
                cases.c.application_id.in_(event.application_ids),
                _takes_notice(event.notice_id),
            )
            .values(
                status="in_publicity",
                notice_id=event.notice_id,
                publicity_opened_at=event.opened_at,
                publicity_closed_at=event.closed_at,
                publicity_closed_early=event.closed_early,
                updated_at=now(),
            )
        )
        rows = (
            await uow.conn.execute(
                sa.select(cases)
                .where(
                    cases.c.application_id.in_(event.application_ids),
                    cases.c.notice_id == event.notice_id,
                    cases.c.status == "in_publicity",
                )
                .with_for_update()
            )
        ).all()
        for case in rows:
            await casework.try_qualify(uow, case)

    async def on_objection_filed(uow: UnitOfWork, envelope: Envelope) -> None:
        event = ObjectionFiled.model_validate(envelope.data)
        stmt = insert(objections).values(
            objection_id=event.objection_id,
            application_id=event.application_id,
            notice_id=event.notice_id,
            filed_at=event.filed_at,
        )
        # If the conclusion overtook the filing, keep the conclusion and add the filing time.
        await uow.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["objection_id"], set_={"filed_at": stmt.excluded.filed_at}
            )
        )

    async def on_objection_concluded(uow: UnitOfWork, envelope: Envelope) -> None:
        event = ObjectionConcluded.model_validate(envelope.data)
        values = {
            "objection_id": event.objection_id,
            "application_id": event.application_id,
            "notice_id": event.notice_id,
            "outcome": event.outcome,
            "conclusion": event.conclusion,
            "concluded_at": event.concluded_at,
        }
        stmt = insert(objections).values(**values)
        await uow.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["objection_id"],
                set_={k: stmt.excluded[k] for k in ("outcome", "conclusion", "concluded_at")},
            )
        )
        case = (
            await uow.conn.execute(
                sa.select(cases)
                .where(
                    cases.c.application_id == event.application_id,
                    cases.c.notice_id == event.notice_id,
                    cases.c.status == "in_publicity",
                )
                .with_for_update()
            )
        ).first()
        if case is None:
            return
        if event.outcome == "sustained":
            # A sustained objection sends the case back to the last (city) stage: the city
            # re-examines with the objection's findings and signs again; a new approval asks
            # for a new notice, a rejection ends the case.
            workflow = ctx.workflow_of(case)
            await uow.conn.execute(
                cases.update()
                .where(cases.c.id == case.id)
                .values(outcome=None, decided_at=None, updated_at=now())
            )
            await casework.start_stage(uow, ctx, case, workflow, workflow.stages[-1])
            return
        await casework.try_qualify(uow, case)

    return {
        "application.accepted": on_application_accepted,
        "application.withdrawn": on_application_withdrawn,
        "verification.completed": on_verification_completed,
        "publicity.opened": on_publicity_opened,
        "publicity.closed": on_publicity_closed,
        "objection.filed": on_objection_filed,
        "objection.concluded": on_objection_concluded,
    }

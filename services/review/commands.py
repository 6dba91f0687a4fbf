"""The review use cases: one function per POST and per event reaction, plus the stage
machinery they share (start a stage, complete it, request publicity, end a suspension,
qualify).

Each runs inside the caller's unit of work: it writes the state change, emits its events
(``uow.emit``) and writes its audit entry in that one transaction. Time always comes from
``shared.clock``; working days from the context's calendar.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.dialects.postgresql import insert

from services.review import domain, problems, store
from services.review.context import ReviewContext
from services.review.queries import signature_out, suspension_out
from services.review.schemas import (
    ImportedSignatureIn,
    OpinionIn,
    ResumeIn,
    SignResult,
    SuspendIn,
    SuspensionOut,
)
from services.review.tables import (
    bans,
    cases,
    legacy_signatures,
    objections,
    signatures,
    stage_runs,
    suspensions,
    verifications,
)
from services.review.workflow import Role, Stage, Workflow, staff_role
from shared import db
from shared.audit import record
from shared.auth import Principal, ensure_can_act, unit_level
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationAccepted,
    ApplicationQualified,
    ApplicationRejected,
    ApplicationWithdrawn,
    CreditBanImposed,
    CreditBanLifted,
    ObjectionConcluded,
    ObjectionFiled,
    PriorityGroupDecision,
    PublicityClosed,
    PublicityOpened,
    ReviewCaseOpened,
    ReviewDecided,
    ReviewOpinionSigned,
    ReviewPublicityRequested,
    ReviewStageCompleted,
    ReviewStageResumed,
    ReviewStageStarted,
    ReviewStageSuspended,
    ReviewSuspensionRefused,
    StagePlan,
    VerificationCompleted,
)
from shared.legacy import (
    ImportFieldError,
    ImportReport,
    ImportRowOut,
    legacy_application_id,
    legacy_case_id,
)
from shared.pii import mask_name, scrub
from shared.problems import field_errors

# -- event reactions ------------------------------------------------------------------------------


def _masked_applicant(event: ApplicationAccepted) -> str:
    applicant = next(
        (m for m in event.household.members if m.relationship == "applicant"),
        event.household.members[0],
    )
    masked = mask_name(applicant.name)
    return masked if "*" in masked else masked + "*"


async def open_case(ctx: ReviewContext, uow: UnitOfWork, event: ApplicationAccepted) -> None:
    """An accepted application becomes a case on the city's preset; its first stage starts."""
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
            member_id_hashes=[m.member_id_hash for m in event.household.members],
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
    case = await store.load_case(uow.conn, case_id)
    ban = await _ban_in_force(uow, case.member_id_hashes)
    if ban is not None:
        # Banned between submission and acceptance: the case opens (so the stop is on record)
        # and ends before any stage asks a signature of anybody.
        await _stop_for_ban(uow, ctx, case, ban.ends_on)
        return
    await start_stage(uow, ctx, case, workflow, workflow.stages[0])


# -- credit bans ----------------------------------------------------------------------------------

LIVE_STATUSES = ("in_review", "awaiting_publicity", "in_publicity")
BAN_STOP_REASON = "credit_ban"
BAN_SYSTEM_ACTOR = "system:credit"


def ban_reason(ends_on: Any) -> str:
    return f"申请家庭成员因失信行为被禁止申请（至{ends_on:%Y-%m-%d}），审核终止"


async def _ban_in_force(uow: UnitOfWork, member_id_hashes: Sequence[str]) -> Any:
    if not member_id_hashes:
        return None
    today = today_shanghai()
    return (
        await uow.conn.execute(
            sa.select(bans.c.record_id, bans.c.ends_on)
            .where(
                bans.c.id_hash.in_(list(member_id_hashes)),
                bans.c.lifted_on.is_(None),
                bans.c.starts_on <= today,
                bans.c.ends_on > today,
            )
            .order_by(bans.c.ends_on.desc())
            .limit(1)
        )
    ).first()


async def ban_imposed(ctx: ReviewContext, uow: UnitOfWork, event: CreditBanImposed) -> None:
    """A ban on any member stops every live case of the household (Taizhou: 失信 families may
    not apply during the ban). Bans on organisations concern no case."""
    inserted = await uow.conn.scalar(
        insert(bans)
        .values(
            record_id=event.record_id,
            id_hash=event.id_hash,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
            received_at=now(),
        )
        .on_conflict_do_nothing(index_elements=["record_id"])
        .returning(bans.c.record_id)
    )
    if inserted is None or event.subject_kind != "family":
        return
    today = today_shanghai()
    if not (event.starts_on <= today < event.ends_on):
        return
    live = (
        await uow.conn.execute(
            sa.select(cases)
            .where(
                sa.literal(event.id_hash) == sa.any_(cases.c.member_id_hashes),
                cases.c.status.in_(LIVE_STATUSES),
            )
            .order_by(cases.c.opened_at)
            .with_for_update()
        )
    ).all()
    for case in live:
        await _stop_for_ban(uow, ctx, case, event.ends_on)


async def ban_lifted(uow: UnitOfWork, event: CreditBanLifted) -> None:
    """The ban no longer stops new cases; a case it stopped stays stopped (the family applies
    again once allowed)."""
    await uow.conn.execute(
        bans.update()
        .where(bans.c.record_id == event.record_id, bans.c.lifted_on.is_(None))
        .values(lifted_on=event.lifted_on)
    )


async def _stop_for_ban(uow: UnitOfWork, ctx: ReviewContext, case: Any, ends_on: Any) -> None:
    conn = uow.conn
    at = now()
    reasons = [ban_reason(ends_on)]
    run = await store.load_run(conn, case.current_run_id, lock=True)
    stage = None
    if run is not None and run.status in ("active", "suspended"):
        stage = run.stage
        await conn.execute(
            stage_runs.update()
            .where(stage_runs.c.id == run.id)
            .values(
                status="completed",
                completed_at=at,
                outcome=BAN_STOP_REASON,
                next_staff_role=None,
                next_signature=None,
            )
        )
        # An open suspension ends with the run, so the clock sweep does not resume it.
        await conn.execute(
            suspensions.update()
            .where(suspensions.c.run_id == run.id, suspensions.c.resumed_at.is_(None))
            .values(resumed_at=at, automatic=True, resumed_by=BAN_SYSTEM_ACTOR)
        )
        # Alerting closes the stage's clock (Y3/R8) on this event, as for a rejection.
        uow.emit(
            ReviewStageCompleted(
                case_id=case.id,
                application_id=case.application_id,
                stage=run.stage,
                level=run.level,
                unit=run.unit,
                outcome="reject",
                completed_at=at,
                working_days_used=domain.working_days_used(
                    ctx.calendar, run.started_at, at, run.suspended_days
                ),
                overdue=at > run.due_at,
                next_stage=None,
            ),
            subject=str(case.application_id),
        )
    await conn.execute(
        cases.update()
        .where(cases.c.id == case.id)
        .values(
            status="rejected",
            outcome="rejected",
            stop_reason=BAN_STOP_REASON,
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
            decided_by=BAN_SYSTEM_ACTOR,
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
            stage=stage,
            reasons=reasons,
            reason_code=BAN_STOP_REASON,
            rejected_at=at,
        ),
        subject=str(case.application_id),
    )
    await record(
        conn,
        actor=BAN_SYSTEM_ACTOR,
        action="review.case_stopped",
        subject_type="review_case",
        subject_id=case.id,
        details={"reason": BAN_STOP_REASON, "ban_ends_on": ends_on.isoformat(), "stage": stage},
    )


async def record_verification(uow: UnitOfWork, event: VerificationCompleted) -> None:
    values = {
        "application_id": event.application_id,
        "verification_case_id": event.case_id,
        "recommendation": event.recommendation,
        "reasons": list(event.reasons),
        "discrepancies": [d.model_dump(mode="json") for d in event.discrepancies],
        "missing_departments": list(event.missing_departments),
        "parameters_version": event.parameters_version,
        "priority_findings": [f.model_dump(mode="json") for f in event.priority_findings],
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


async def withdraw(uow: UnitOfWork, event: ApplicationWithdrawn) -> None:
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


async def publicity_opened(uow: UnitOfWork, event: PublicityOpened) -> None:
    if event.kind != "qualification":
        return
    await uow.conn.execute(
        cases.update()
        .where(
            cases.c.application_id.in_(event.application_ids),
            store.takes_notice(event.notice_id),
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


async def publicity_closed(ctx: ReviewContext, uow: UnitOfWork, event: PublicityClosed) -> None:
    if event.kind != "qualification":
        return
    # "closed" may overtake "opened" on the broker; it carries everything "opened" would.
    await uow.conn.execute(
        cases.update()
        .where(
            cases.c.application_id.in_(event.application_ids),
            store.takes_notice(event.notice_id),
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
        await try_qualify(ctx, uow, case)


async def objection_filed(uow: UnitOfWork, event: ObjectionFiled) -> None:
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


async def objection_concluded(
    ctx: ReviewContext, uow: UnitOfWork, event: ObjectionConcluded
) -> None:
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
        await start_stage(uow, ctx, case, workflow, workflow.stages[-1])
        return
    await try_qualify(ctx, uow, case)


# -- HTTP commands --------------------------------------------------------------------------------


async def _active_run(
    ctx: ReviewContext, uow: UnitOfWork, case_id: uuid.UUID, stage: str
) -> tuple[Any, Any, Workflow]:
    case = await store.load_case(uow.conn, case_id, lock=True)
    if case is None:
        raise problems.case_not_found()
    workflow = ctx.workflow_of(case)
    if workflow.stage(stage) is None:
        raise problems.stage_not_in_workflow(stage)
    run = await store.load_run(uow.conn, case.current_run_id, lock=True)
    if case.status != "in_review" or run is None or run.stage != stage:
        raise problems.stage_not_active(case, run)
    return case, run, workflow


def _require_staff_role(principal: Principal, level: str, role: Role) -> None:
    needed = staff_role(level, role)
    if needed not in principal.roles:
        raise problems.role_required(role, needed)


def effective_signatures(rows: Sequence[Any]) -> list[Any]:
    """The signatures in force: a corrected signature is replaced by its latest correction."""
    corrected = {r.corrects for r in rows if r.corrects is not None}
    return [r for r in rows if r.id not in corrected]


def _check_correction(
    body: OpinionIn, principal: Principal, rows: list[Any], effective: list[Any]
) -> None:
    """A correction replaces one's own signature while nobody after it has signed."""
    old = next((r for r in rows if r.id == body.corrects), None)
    if old is None:
        raise problems.correction_not_in_stage()
    if old.signer != principal.sub:
        raise problems.correction_of_another()
    if old not in effective:
        raise problems.correction_superseded()
    if old.role != body.role.value:
        raise problems.correction_role_differs()
    rank = domain.role_rank(body.role)
    if any(domain.role_rank(Role(r.role)) > rank for r in effective):
        raise problems.correction_too_late()


async def sign(
    ctx: ReviewContext,
    uow: UnitOfWork,
    principal: Principal,
    case_id: uuid.UUID,
    stage: str,
    body: OpinionIn,
) -> SignResult:
    """A real-name signature on the stage's opinion, in the statute's order; the last required
    signature decides the stage."""
    case, run, workflow = await _active_run(ctx, uow, case_id, stage)
    ensure_can_act(principal, run.unit)
    _require_staff_role(principal, run.level, body.role)
    # Separation of duties between the tiers: a stage is signed by staff of its own level (a
    # city reviewer who also holds a street role does not sign the street's stage), and one
    # person signs at one level of a case only, so no tier checks its own work.
    if unit_level(principal.org) != run.level:
        raise problems.signer_of_another_level(run.level, principal.org)
    other_levels = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(signatures)
        .where(
            signatures.c.case_id == case.id,
            signatures.c.signer == principal.sub,
            signatures.c.run_id != run.id,
            signatures.c.stage.not_in([s.code for s in workflow.stages if s.level == run.level]),
        )
    )
    if other_levels:
        raise problems.signed_at_another_level()
    if run.status == "suspended":
        raise problems.sign_while_suspended()
    required = [Role(r) for r in run.signatures]
    rows = await store.run_signatures(uow.conn, run.id)
    effective = effective_signatures(rows)
    signed = [domain.SignedRole(Role(r.role), r.signer) for r in effective]
    if body.corrects is not None:
        _check_correction(body, principal, rows, effective)
    else:
        domain.check_may_sign(required, signed, body.role, principal.sub)
    if body.role is Role.HANDLER and run.requires_verification:
        done = await uow.conn.scalar(
            sa.select(verifications.c.recommendation).where(
                verifications.c.application_id == case.application_id
            )
        )
        if done is None:
            raise problems.verification_pending()
    domain.require_specific_opinion(body.opinion, workflow.opinion_rules)
    if body.decision == "return" and run.position == 0:
        raise problems.return_at_first_stage()
    at = now()
    signature_id = uuid.uuid4()
    await uow.conn.execute(
        signatures.insert().values(
            id=signature_id,
            case_id=case.id,
            run_id=run.id,
            stage=run.stage,
            role=body.role.value,
            decision=body.decision,
            opinion=body.opinion,
            signer=principal.sub,
            signer_name=principal.name,
            signer_org=principal.org,
            signed_at=at,
            corrects=body.corrects,
        )
    )
    uow.emit(
        ReviewOpinionSigned(
            case_id=case.id,
            application_id=case.application_id,
            stage=run.stage,
            level=run.level,
            unit=run.unit,
            role=body.role.value,
            decision=body.decision,
            signer=principal.sub,
            signed_at=at,
            opinion_quality="specific",
        ),
        subject=str(case.application_id),
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="review.correction_signed" if body.corrects else "review.opinion_signed",
        subject_type="review_case",
        subject_id=case.id,
        details={
            "stage": run.stage,
            "round": run.round,
            "role": body.role.value,
            "decision": body.decision,
            "signature_id": str(signature_id),
            "corrects": str(body.corrects) if body.corrects else None,
        },
    )
    signed_roles = [s.role for s in signed] + [body.role]
    following = domain.next_role(required, signed_roles)
    if following is None:
        await complete_stage(
            uow,
            ctx,
            case,
            run,
            body.decision,
            await store.signature_row(uow.conn, signature_id),
        )
    else:
        await uow.conn.execute(
            stage_runs.update()
            .where(stage_runs.c.id == run.id)
            .values(
                next_signature=following.value,
                next_staff_role=staff_role(run.level, following),
            )
        )
    after = await store.load_case(uow.conn, case.id)
    run_after = await store.load_run(uow.conn, run.id)
    current = await store.load_run(uow.conn, after.current_run_id)
    return SignResult(
        signature=signature_out(await store.signature_row(uow.conn, signature_id)),
        opinion_quality="specific",
        stage_status=run_after.status,
        next_signature=run_after.next_signature,
        case_status=after.status,
        current_stage=current.stage if current else None,
    )


async def suspend(
    ctx: ReviewContext,
    uow: UnitOfWork,
    principal: Principal,
    case_id: uuid.UUID,
    stage: str,
    body: SuspendIn,
) -> SuspensionOut:
    """Supplement suspension by the stage's handler: the stage's clock stops."""
    case, run, _ = await _active_run(ctx, uow, case_id, stage)
    ensure_can_act(principal, run.unit)
    _require_staff_role(principal, run.level, Role.HANDLER)
    if run.status == "suspended":
        raise problems.already_suspended()
    at = now()
    # The limit is per stage, not per suspension (art. 7): suspend/resume/suspend gets only
    # what the earlier suspensions left, and nothing once they used it all.
    remaining = domain.suspension_remaining(run.suspension_limit, run.suspended_days)
    if remaining == 0:
        raise problems.SuspensionLimitReached(
            run.suspended_days,
            run.suspension_limit,
            ReviewSuspensionRefused(
                case_id=case.id,
                application_id=case.application_id,
                stage=run.stage,
                level=run.level,
                unit=run.unit,
                requested_by=principal.sub,
                requested_at=at,
                suspended_working_days=run.suspended_days,
                limit_working_days=run.suspension_limit,
                due_at=run.due_at,
            ),
        )
    ends = domain.suspension_end(ctx.calendar, at, remaining)
    reason = (body.reason or "补件：" + "、".join(body.missing_items))[:500]
    suspension_id = uuid.uuid4()
    await uow.conn.execute(
        suspensions.insert().values(
            id=suspension_id,
            case_id=case.id,
            run_id=run.id,
            missing_items=list(body.missing_items),
            reason=reason,
            suspended_by=principal.sub,
            suspended_at=at,
            resumes_by=ends.at,
            resumes_on=ends.date,
        )
    )
    await uow.conn.execute(
        stage_runs.update().where(stage_runs.c.id == run.id).values(status="suspended")
    )
    uow.emit(
        ReviewStageSuspended(
            case_id=case.id,
            application_id=case.application_id,
            stage=run.stage,
            level=run.level,
            unit=run.unit,
            suspension_id=suspension_id,
            reason=reason,
            suspended_by=principal.sub,
            suspended_at=at,
            resumes_by=ends.at,
        ),
        subject=str(case.application_id),
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="review.stage_suspended",
        subject_type="review_case",
        subject_id=case.id,
        details={
            "stage": run.stage,
            "suspension_id": str(suspension_id),
            "missing_items": list(body.missing_items),
            "resumes_on": ends.date.isoformat(),
        },
    )
    return suspension_out(await store.suspension_row(uow.conn, suspension_id))


async def record_refused_suspension(
    uow: UnitOfWork, principal: Principal, refused: problems.SuspensionLimitReached
) -> None:
    """Publish and audit a suspension refused at the stage's limit, in a transaction of its
    own: the refused request rolled back, the attempt must still reach supervision."""
    event: ReviewSuspensionRefused = refused.refusal
    uow.emit(event, subject=str(event.application_id))
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="review.suspension_refused",
        subject_type="review_case",
        subject_id=event.case_id,
        details={
            "stage": event.stage,
            "suspended_working_days": event.suspended_working_days,
            "limit_working_days": event.limit_working_days,
        },
    )


async def resume(
    ctx: ReviewContext,
    uow: UnitOfWork,
    principal: Principal,
    case_id: uuid.UUID,
    stage: str,
    body: ResumeIn | None,
) -> SuspensionOut:
    """The supplement is in: the stage's handler ends the suspension, the clock runs again."""
    case, run, _ = await _active_run(ctx, uow, case_id, stage)
    ensure_can_act(principal, run.unit)
    _require_staff_role(principal, run.level, Role.HANDLER)
    open_suspension = (
        await uow.conn.execute(
            sa.select(suspensions)
            .where(suspensions.c.run_id == run.id, suspensions.c.resumed_at.is_(None))
            .with_for_update()
        )
    ).first()
    if run.status != "suspended" or open_suspension is None:
        raise problems.not_suspended()
    days = await end_suspension(
        uow, ctx, case, run, open_suspension, automatic=False, resumed_by=principal.sub
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="review.stage_resumed",
        subject_type="review_case",
        subject_id=case.id,
        details={
            "stage": run.stage,
            "suspension_id": str(open_suspension.id),
            "suspended_working_days": days,
        },
    )
    return suspension_out(await store.suspension_row(uow.conn, open_suspension.id))


# -- stage runs -----------------------------------------------------------------------------------


def unit_for(level: str, case: Any) -> str:
    return {"street": case.street, "district": case.district, "city": case.city}[level]


# A stage run starts for every stage of every case: fixed statements on the driver. The round
# counts the runs of this stage before it (a stage restarts after a return).
_START_RUN = """
INSERT INTO review_stage_runs (id, case_id, stage, position, round, level, unit, signatures,
                        requires_verification, time_limit, suspension_limit, status,
                        next_staff_role, next_signature, started_at, due_date, due_at, yellow_at,
                        fallback_years, suspended_days)
SELECT $1, $2, $3, $4, coalesce(max(round), 0) + 1, $5, $6, $7::text[], $8, $9, $10, 'active',
       $11, $12, $13, $14, $15, $16, $17::integer[], 0
FROM review_stage_runs WHERE case_id = $2 AND stage = $3
RETURNING round
"""
_POINT_CASE_AT_RUN = """
UPDATE review_cases SET status = 'in_review', current_run_id = $2, updated_at = $3 WHERE id = $1
"""


async def start_stage(
    uow: UnitOfWork, ctx: ReviewContext, case: Any, workflow: Workflow, stage: Stage
) -> uuid.UUID:
    """Start (or restart) ``stage``: a new run with its own clock; the case points at it."""
    conn = uow.conn
    at = now()
    run_id = uuid.uuid4()
    clock = domain.stage_clock(ctx.calendar, at, stage.time_limit_working_days)
    unit = unit_for(stage.level, case)
    first = stage.signatures[0]
    [started] = await db.fetch(
        conn,
        _START_RUN,
        run_id,
        case.id,
        stage.code,
        workflow.index(stage.code),
        stage.level,
        unit,
        [r.value for r in stage.signatures],
        stage.requires_verification,
        stage.time_limit_working_days,
        stage.suspension_limit_working_days,
        stage.staff_role(first),
        first.value,
        at,
        clock.due.date,
        clock.due.at,
        clock.yellow_at,
        list(clock.due.fallback_years),
    )
    await db.fetch(conn, _POINT_CASE_AT_RUN, case.id, run_id, at)
    round_ = started["round"]
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
            # Published for alerting, which lights Y3 at this moment instead of recomputing it.
            yellow_at=clock.yellow_at,
            fallback_years=list(clock.due.fallback_years),
            round=round_,
        ),
        subject=str(case.application_id),
    )
    return run_id


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


async def end_suspension(
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


async def try_qualify(ctx: ReviewContext, uow: UnitOfWork, case: Any) -> bool:
    """Qualify once the notice closed at its planned end and every objection against it was
    concluded dismissed; otherwise keep waiting. The priority groups are decided here, from
    the verified findings the case holds, by the city's rules."""
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
    findings = await uow.conn.scalar(
        sa.select(verifications.c.priority_findings).where(
            verifications.c.application_id == case.application_id
        )
    )
    groups = domain.priority_groups(
        ctx.city.priority_groups,
        findings or [],
        {d.code: d.name for d in ctx.city.departments},
    )
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
            priority_groups=[PriorityGroupDecision(**g) for g in groups],
        ),
        subject=str(case.application_id),
    )
    return True


# -- historical import (历史数据导入) ----------------------------------------------------------


async def import_signatures(
    ctx: ReviewContext, uow: UnitOfWork, principal: Principal, rows: Sequence[dict[str, Any]]
) -> ImportReport:
    """Load historical signatures row by row (all-or-nothing per row), each announced as
    ``review.opinion_signed`` with its historical time, so alerting checks the order (R3-R5)
    and the opinion (F1) as it does for signatures made here. Idempotent on
    (case number, stage, role, time): the same row again is ``unchanged``."""
    digest = hashlib.sha256(
        json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    report = [await _import_signature(ctx, uow, principal, n, raw) for n, raw in enumerate(rows, 1)]
    outcomes = ("imported", "unchanged", "rejected")
    counts = {k: sum(1 for r in report if r.outcome == k) for k in outcomes}
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="signatures.imported",
        subject_type="import",
        subject_id=uuid.uuid5(uuid.NAMESPACE_OID, digest),
        details={"file_sha256": digest, "rows": len(rows), **counts},
    )
    return ImportReport(file_sha256=digest, rows=len(rows), report=report, **counts)


async def _import_signature(
    ctx: ReviewContext, uow: UnitOfWork, principal: Principal, n: int, raw: dict[str, Any]
) -> ImportRowOut:
    case_no = raw.get("legacy_case_no")
    # Echoed in the report: masked in case a malformed number carries an ID or a mobile.
    case_no = scrub(case_no) if isinstance(case_no, str) and len(case_no) <= 60 else None

    def rejected(errors: Sequence[dict[str, str]]) -> ImportRowOut:
        return ImportRowOut(
            row=n,
            legacy_case_no=case_no,
            outcome="rejected",
            errors=[ImportFieldError(**e) for e in errors],
        )

    try:
        rec = ImportedSignatureIn.model_validate(raw)
    except PydanticValidationError as exc:
        return rejected(field_errors(exc.errors()))
    if rec.signed_at.tzinfo is None:
        return rejected([{"field": "signed_at", "detail": "签字时间须带时区"}])
    if rec.signed_at > now() + timedelta(minutes=5):
        return rejected([{"field": "signed_at", "detail": "签字时间不能晚于当前时间"}])
    quality = domain.opinion_quality(rec.opinion, ctx.workflow.opinion_rules)
    row_sha = hashlib.sha256(rec.model_dump_json().encode()).hexdigest()
    case_id = legacy_case_id(rec.legacy_case_no)
    application_id = legacy_application_id(rec.legacy_case_no)
    key = {
        "legacy_case_no": rec.legacy_case_no,
        "stage": rec.stage,
        "role": rec.role,
        "signed_at": rec.signed_at,
    }
    inserted = await uow.conn.scalar(
        insert(legacy_signatures)
        .values(
            **key,
            case_id=case_id,
            application_id=application_id,
            level=rec.level,
            unit=rec.unit,
            decision=rec.decision,
            signer=rec.signer,
            opinion=rec.opinion,
            opinion_quality=quality,
            row_sha256=row_sha,
            imported_by=principal.sub,
            imported_at=now(),
        )
        .on_conflict_do_nothing()
        .returning(legacy_signatures.c.row_sha256)
    )
    if inserted is None:
        stored = await uow.conn.scalar(
            sa.select(legacy_signatures.c.row_sha256).where(
                *(legacy_signatures.c[k] == v for k, v in key.items())
            )
        )
        if stored != row_sha:
            detail = "该签字已导入且内容不同，不会覆盖"
            return rejected([{"field": "legacy_case_no", "detail": detail}])
        return ImportRowOut(
            row=n, legacy_case_no=case_no, outcome="unchanged", application_id=application_id
        )
    uow.emit(
        ReviewOpinionSigned(
            case_id=case_id,
            application_id=application_id,
            stage=rec.stage,
            level=rec.level,
            unit=rec.unit,
            role=rec.role,
            decision=rec.decision,
            signer=rec.signer,
            signed_at=rec.signed_at,
            opinion_quality=quality,
            imported=True,
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    return ImportRowOut(
        row=n, legacy_case_no=case_no, outcome="imported", application_id=application_id
    )

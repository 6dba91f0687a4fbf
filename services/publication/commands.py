"""Use cases of the publication service: one function per POST and per event reaction.

Event reactions keep the public progress read model and the agency blacklist, and log key
process events for the province (``adapters.province.record_pushes``) in the same transaction.
Each runs in the consumer's transaction (inbox claim included), so a redelivered event changes
nothing; the upserts are idempotent by effect as well. Stage changes carry the event's
``occurred_at``: an older event that arrives late does not move an application's stage back.

Notices (公示 / 公告): where qualification entries come from: review publishes
``application.qualified`` when the city confirmed a family's qualification; the read model marks
the application ``qualified``. A clerk then creates a qualification notice for a unit and batch
(``POST /notices``); without an explicit list it gathers every qualified application of that
unit not yet on a qualification notice. Acceptance and objection-conclusion notices gather the
same way (accepted applications; concluded objections not yet published); lottery shortlists,
allocation results and exits list the applications the clerk names, or are made from
allocation's events (below).

Allocation (轮候配租): ``allocation.pool_frozen`` becomes a lottery shortlist notice (摇号入围名单)
at once, open to objection until the pool's objection period ends; ``allocation.round_drawn``
keeps the draw's values and ranking for the public ranking page; ``allocation.unit_allocated``
results wait in ``allocation_results`` and the notice sweep publishes them as one allocation
results notice (配租结果公示) per round and selection day, the morning after that day
(``publish_allocation_results``), which is what a housing office posts after each selection
session. The waiting-list events keep ``waiting_households``, from which the household's
position and the waiting statistics are computed.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client import Counter
from sqlalchemy.dialects.postgresql import ARRAY, insert

from services.publication import domain, queries
from services.publication.adapters.province import record_pushes
from services.publication.context import PublicationContext
from services.publication.schemas import (
    NoticeClose,
    NoticeCreate,
    NoticeSummary,
    ObjectionConclusionIn,
    ObjectionIn,
    ObjectionReceipt,
)
from services.publication.store import (
    QUALIFIED_STAGE,
    application_ids,
    entry_of,
    gather_entries,
    set_stage,
    upsert_application,
)
from services.publication.tables import (
    allocation_results,
    applications,
    blacklist,
    credit_notices,
    decision_signers,
    lottery_commitments,
    lottery_rounds,
    notice_entries,
    notices,
    objections,
    published_checkpoints,
    waiting_households,
)
from shared.audit import record
from shared.audit.checkpoint import Checkpoint, CheckpointRefused, jwks, keys_of
from shared.auth import Principal, ensure_can_act
from shared.clock import SHANGHAI, now
from shared.db import UnitOfWork
from shared.events.base import EventPayload
from shared.events.catalogue import (
    AllocationCommitmentPublished,
    AllocationEntrySuspended,
    AllocationPoolFrozen,
    AllocationRoundDrawn,
    AllocationSubsidyChosen,
    AllocationUnitAllocated,
    AllocationUnitsChanged,
    AllocationWaitingEntered,
    AuditCheckpointed,
    CreditCaseExposed,
    CreditNoticeStep,
    ObjectionConcluded,
    ObjectionFiled,
    PublicityClosed,
    PublicityOpened,
    ReviewOpinionSigned,
)
from shared.events.envelope import Envelope
from shared.pii import keyed_hash, mask_mobile, mask_name, mask_resident_id, scrub
from shared.problems import Conflict, Forbidden, NotFound, ValidationProblem

log = structlog.get_logger(__name__)

CHECKPOINTS_REFUSED = Counter(
    "audit_checkpoints_refused_total",
    "Audit checkpoints received whose signature does not verify (not kept, not pushed)",
    ["service"],
)


# --- event reactions ---------------------------------------------------------------------


async def log_push(ctx: PublicationContext, uow: UnitOfWork, envelope: Envelope) -> None:
    """Log a key process event for the province (if it is one)."""
    if domain.is_pushed(envelope.type, envelope.data):
        await record_pushes(
            uow.conn,
            ctx.settings.province_endpoints,
            event_id=envelope.id,
            event_type=envelope.type,
            occurred_at=envelope.occurred_at,
            items=[envelope.data],
        )


async def project_submitted(uow: UnitOfWork, payload: EventPayload, env: Envelope) -> None:
    d = payload.model_dump()
    await upsert_application(
        uow.conn,
        {
            "application_id": d["application_id"],
            "tracking_no": d["tracking_no"],
            "id_tail": domain.id_tail(d["applicant_id_masked"]),
            "name_masked": d["applicant_name_masked"],
            "id_masked": d["applicant_id_masked"],
            "city": d["city"],
            "district": d["district"],
            "street": d["street"],
            "category": d["category"],
            "member_count": d["member_count"],
            "submitted_at": d["submitted_at"],
        },
        "submitted",
        env.occurred_at,
    )


async def project_accepted(uow: UnitOfWork, payload: EventPayload, env: Envelope) -> None:
    d = payload.model_dump()
    applicant = next(m for m in d["household"]["members"] if m["relationship"] == "applicant")
    # Masked here, on receipt: the full name and number are never stored by publication.
    masked_id = mask_resident_id(applicant["resident_id"])
    await upsert_application(
        uow.conn,
        {
            "application_id": d["application_id"],
            "tracking_no": d["tracking_no"],
            "id_tail": domain.id_tail(masked_id),
            "name_masked": mask_name(applicant["name"]),
            "id_masked": masked_id,
            "city": d["city"],
            "district": d["district"],
            "street": d["street"],
            "category": d["category"],
            "member_count": len(d["household"]["members"]),
            "accepted_at": d["accepted_at"],
        },
        "accepted",
        env.occurred_at,
    )


async def project_stage(
    uow: UnitOfWork,
    payload: EventPayload,
    env: Envelope,
    stage: str,
    *,
    level: bool = False,
    **columns: Any,
) -> None:
    """Move the application of ``payload`` to ``stage`` (see ``store.set_stage``)."""
    d = payload.model_dump()
    touched = await set_stage(
        uow.conn,
        d["application_id"],
        stage,
        env.occurred_at,
        level=d.get("level") if level else None,
        **columns,
    )
    if not touched:
        log.info("progress_unknown_application", event_type=env.type)


async def project_qualified(uow: UnitOfWork, payload: EventPayload, env: Envelope) -> None:
    """Review confirms qualification after the publicity closed (轮候资格).

    Arriving after the family's notice, it is the final stage ``confirmed`` and must not send
    the public progress back to "awaiting publicity"; arriving before any notice (a workflow
    that publishes later), it marks the application ready for a qualification notice.
    """
    d = payload.model_dump()
    touched = await set_stage(
        uow.conn,
        d["application_id"],
        QUALIFIED_STAGE,
        env.occurred_at,
        qualified_at=d["qualified_at"],
        outcome="qualified",
        member_count=d["member_count"],
    )
    if not touched:
        log.info("progress_unknown_application", event_type=env.type)


async def project_agency_blacklisted(uow: UnitOfWork, payload: EventPayload, env: Envelope) -> None:
    d = payload.model_dump()
    statement = insert(blacklist).values(
        record_id=d["record_id"],
        agency_name=d["agency_name"],
        org_credit_code=d.get("org_credit_code"),
        behaviour=d["behaviour"],
        listed_on=d["listed_on"],
        until=d.get("until"),
    )
    await uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[blacklist.c.record_id],
            set_={"agency_name": statement.excluded.agency_name, "until": statement.excluded.until},
        )
    )


async def project_ban_lifted(uow: UnitOfWork, payload: EventPayload, env: Envelope) -> None:
    # A lifted agency record leaves the public list; other bans are not ours to show.
    lifted_on = payload.model_dump()["lifted_on"]
    await uow.conn.execute(
        blacklist.update()
        .where(blacklist.c.record_id == env.data["record_id"])
        .values(until=lifted_on)
    )
    # An exposed case is shown while its ban is in force (信用修复: once lifted it leaves).
    await uow.conn.execute(
        credit_notices.update()
        .where(
            credit_notices.c.record_id == env.data["record_id"],
            credit_notices.c.kind == "typical_case",
            credit_notices.c.withdrawn_on.is_(None),
        )
        .values(withdrawn_on=lifted_on)
    )


def _public_subject(subject_kind: str | None, display: str) -> str:
    # Organisations are named in full (their names are public); a person only masked, even if
    # an unmasked name ever arrived.
    if subject_kind in ("employer", "agency"):
        return display
    return display if "*" in display else mask_name(display)


def _public_id(masked: str | None) -> str | None:
    if masked is None:
        return None
    return masked if "*" in masked else mask_resident_id(masked)


async def project_credit_announcement(uow: UnitOfWork, event: CreditNoticeStep) -> None:
    """公告送达: the notice letter could not be delivered, credit announced it instead."""
    if event.step != "public_announcement" or event.announcement is None:
        return
    await uow.conn.execute(
        insert(credit_notices)
        .values(
            record_id=event.record_id,
            kind="announcement",
            subject_kind=event.subject_kind,
            subject_display=_public_subject(event.subject_kind, event.subject_display or "当事人"),
            subject_id_masked=_public_id(event.subject_id_masked),
            behaviour=event.behaviour,
            text=scrub(event.announcement),
            correction_deadline=event.correction_deadline,
            published_at=event.taken_at,
        )
        .on_conflict_do_nothing()
    )


async def project_case_exposed(uow: UnitOfWork, event: CreditCaseExposed) -> None:
    """典型案例曝光: a filed record a city leader approved for exposure."""
    await uow.conn.execute(
        insert(credit_notices)
        .values(
            record_id=event.record_id,
            kind="typical_case",
            subject_kind=event.subject_kind,
            subject_display=_public_subject(event.subject_kind, event.subject_display),
            behaviour=event.behaviour,
            record_no=event.record_no,
            severity=event.severity,
            kind_title=event.kind_title,
            text=scrub(event.summary_text),
            filed_on=event.filed_on,
            ban_ends_on=event.ban_ends_on,
            published_at=event.exposed_at,
        )
        .on_conflict_do_nothing()
    )


# --- notices -------------------------------------------------------------------------------


def notice_no(kind: str, at: datetime) -> str:
    prefix = {"qualification": "GS", "lottery_shortlist": "YH", "allocation": "FP"}.get(kind, "GG")
    return f"{prefix}{at.astimezone(SHANGHAI):%Y%m%d}-{secrets.token_hex(3).upper()}"


async def insert_notice(
    ctx: PublicationContext,
    uow: UnitOfWork,
    *,
    kind: str,
    city: str,
    unit: str,
    batch: str | None,
    opens_at: datetime,
    days: int,
    entries: list[dict[str, Any]],
    created_by: str,
    notice_id: uuid.UUID | None = None,
    closes_at: datetime | None = None,
) -> dict[str, Any]:
    """A new notice with its entries, opened at once when ``opens_at`` has come. ``closes_at``
    (default ``opens_at`` + ``days``) lets an event-made notice end when its source says (a
    pool's objection period)."""
    at = now()
    notice_id = notice_id or uuid.uuid4()
    status = domain.initial_status(opens_at, at)
    row = {
        "id": notice_id,
        "notice_no": notice_no(kind, at),
        "kind": kind,
        "title": domain.KIND_TITLES[kind] + (f"（{batch}）" if batch else ""),
        "city": city,
        "unit": unit,
        "batch": batch,
        "status": "scheduled",
        "opens_at": opens_at,
        "closes_at": closes_at or opens_at + timedelta(days=days),
        "planned_days": days,
        "entry_count": len(entries),
        "created_by": created_by,
        "created_at": at,
    }
    await uow.conn.execute(notices.insert().values(**row))
    await uow.conn.execute(
        notice_entries.insert(),
        [
            {
                "id": uuid.uuid4(),
                "notice_id": notice_id,
                "seq": i,
                "objection_id": None,
                "remark": None,
                **entry,
            }
            for i, entry in enumerate(entries, start=1)
        ],
    )
    if kind == "objection_conclusion":
        await uow.conn.execute(
            objections.update()
            .where(objections.c.id.in_([e["objection_id"] for e in entries]))
            .values(published_notice_id=notice_id)
        )
    if status == "open":
        await open_notice(ctx, uow, row, at)
        row["status"] = "open"
        row["opened_at"] = at
    return row


async def open_notice(ctx: PublicationContext, uow: UnitOfWork, notice: Any, at: datetime) -> None:
    n = notice if isinstance(notice, dict) else notice._mapping
    ids = await application_ids(uow.conn, n["id"])
    # Opened later than planned (the sweep's tick): the public still gets the full period.
    closes_at = max(n["closes_at"], at + timedelta(days=n["planned_days"]))
    await uow.conn.execute(
        notices.update()
        .where(notices.c.id == n["id"])
        .values(status="open", opened_at=at, closes_at=closes_at)
    )
    allocation_ids: list[uuid.UUID] = []
    if n["kind"] == "allocation":
        # The results this notice publishes: alerting puts out F4 for exactly these.
        allocation_ids = list(
            await uow.conn.scalars(
                sa.select(allocation_results.c.allocation_id)
                .where(allocation_results.c.notice_id == n["id"])
                .order_by(allocation_results.c.allocated_at, allocation_results.c.allocation_id)
            )
        )
    event = PublicityOpened(
        notice_id=n["id"],
        kind=n["kind"],
        city=n["city"],
        unit=n["unit"],
        batch=n["batch"],
        application_ids=ids,
        opened_at=at,
        closes_at=closes_at,
        planned_days=n["planned_days"],
        allocation_ids=allocation_ids,
    )
    envelope = uow.emit(event, subject=str(n["id"]))
    if n["kind"] == "qualification":
        await set_stage(uow.conn, ids, "publicity", at)
    await _push(ctx, uow, envelope, ids)


async def close_notice(
    ctx: PublicationContext,
    uow: UnitOfWork,
    notice: Any,
    at: datetime,
    *,
    early: bool = False,
    override_by: str | None = None,
    reason: str | None = None,
) -> None:
    n = notice if isinstance(notice, dict) else notice._mapping
    ids = await application_ids(uow.conn, n["id"])
    opened_at = n["opened_at"] or at
    await uow.conn.execute(
        notices.update()
        .where(notices.c.id == n["id"])
        .values(
            status="closed",
            closed_at=at,
            opened_at=opened_at,
            closed_early=early,
            override_by=override_by,
            override_reason=reason,
        )
    )
    event = PublicityClosed(
        notice_id=n["id"],
        kind=n["kind"],
        application_ids=ids,
        opened_at=opened_at,
        closed_at=at,
        closed_early=early,
        override_by=override_by,
        reason=reason,
    )
    envelope = uow.emit(event, subject=str(n["id"]))
    if n["kind"] == "qualification":
        await set_stage(uow.conn, ids, "publicity_closed", at)
    await _push(ctx, uow, envelope, ids)


async def _push(
    ctx: PublicationContext, uow: UnitOfWork, envelope: Any, ids: list[uuid.UUID]
) -> None:
    # One push per listed application, so each application's stream at the province shows
    # its publicity in order with the rest of its history.
    await record_pushes(
        uow.conn,
        ctx.settings.province_endpoints,
        event_id=envelope.id,
        event_type=envelope.type,
        occurred_at=envelope.occurred_at,
        items=[{**envelope.data, "application_id": str(a)} for a in ids],
    )


# --- staff and public POSTs ----------------------------------------------------------------


def check_notice(ctx: PublicationContext, principal: Principal, body: NoticeCreate) -> None:
    """What ``POST /notices`` refuses before a transaction is opened."""
    if ctx.city.unit(body.unit) is None:
        raise ValidationProblem(f"{body.unit} 不是本市的行政单位", field="unit")
    ensure_can_act(principal, body.unit)
    reason = domain.period_problem(body.kind, body.days, ctx.city.publicity.min_days)
    if reason is not None:
        raise ValidationProblem(reason, field="days")
    if body.kind in ("lottery_shortlist", "allocation", "exit") and not body.application_ids:
        raise ValidationProblem("该类型须列明申请编号", field="application_ids")


async def create_notice(
    ctx: PublicationContext,
    uow: UnitOfWork,
    principal: Principal,
    body: NoticeCreate,
    opens_at: datetime,
) -> NoticeSummary:
    entries, unknown = await gather_entries(
        uow.conn, kind=body.kind, unit=body.unit, application_ids=body.application_ids
    )
    if unknown:
        index = (body.application_ids or []).index(unknown[0])
        raise ValidationProblem(
            f"申请 {unknown[0]} 不存在、不属于该单位或不符合列入条件",
            field=f"application_ids.{index}",
        )
    if not entries:
        raise ValidationProblem("没有可列入的申请", field="application_ids")
    row = await insert_notice(
        ctx,
        uow,
        kind=body.kind,
        city=ctx.city.city.code,
        unit=body.unit,
        batch=body.batch,
        opens_at=opens_at,
        days=body.days,
        entries=entries,
        created_by=principal.sub,
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="notice.created",
        subject_type="notice",
        subject_id=row["id"],
        details={
            "kind": body.kind,
            "unit": body.unit,
            "batch": body.batch,
            "days": body.days,
            "entries": len(entries),
            "status": row["status"],
        },
    )
    created = (await uow.conn.execute(sa.select(notices).where(notices.c.id == row["id"]))).one()
    return queries.summary(ctx.city, created)


async def close_early(
    ctx: PublicationContext,
    uow: UnitOfWork,
    principal: Principal,
    notice_id: uuid.UUID,
    body: NoticeClose,
) -> NoticeSummary:
    notice = (
        await uow.conn.execute(
            sa.select(notices).where(notices.c.id == notice_id).with_for_update()
        )
    ).first()
    if notice is None:
        raise NotFound("公示不存在", field="notice_id")
    ensure_can_act(principal, notice.unit)
    at = now()
    if notice.status != "open":
        raise Conflict("只有公示中的公示可以提前结束", field="notice_id")
    if at >= notice.closes_at:
        raise Conflict("公示期已满，将按期自动结束", field="notice_id")
    await close_notice(
        ctx, uow, notice, at, early=True, override_by=principal.sub, reason=body.reason
    )
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="notice.closed_early",
        subject_type="notice",
        subject_id=notice_id,
        details={"reason": body.reason, "planned_closes_at": notice.closes_at.isoformat()},
    )
    closed = (await uow.conn.execute(sa.select(notices).where(notices.c.id == notice_id))).one()
    return queries.summary(ctx.city, closed)


async def file_objection(
    ctx: PublicationContext, uow: UnitOfWork, body: ObjectionIn
) -> ObjectionReceipt:
    notice = (
        await uow.conn.execute(
            sa.select(notices)
            .where(notices.c.id == body.notice_id, notices.c.status != "scheduled")
            .with_for_update()
        )
    ).first()
    if notice is None:
        raise NotFound("公示不存在", field="notice_id")
    at = now()
    if notice.kind not in domain.OBJECTABLE_KINDS:
        raise Conflict("该公告不受理异议", field="notice_id")
    window_end = min(
        notice.closes_at,
        (notice.opened_at or at) + timedelta(days=ctx.city.publicity.objection_window_days),
    )
    if notice.status != "open" or at >= window_end:
        raise Conflict("公示期已结束，不再受理异议", field="notice_id")
    entry = (
        await uow.conn.execute(
            sa.select(notice_entries.c.application_id).where(
                notice_entries.c.id == body.entry_id,
                notice_entries.c.notice_id == body.notice_id,
            )
        )
    ).first()
    if entry is None:
        raise ValidationProblem("该公示中没有此条目", field="entry_id")
    contact_hash = keyed_hash(body.contact, ctx.id_hash_key)
    # Counted under the notice's row lock taken above, so parallel filings cannot pass the cap.
    filed_by_contact = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(objections)
        .where(objections.c.notice_id == body.notice_id, objections.c.contact_hash == contact_hash)
    )
    cap = ctx.settings.objections_per_contact_per_notice
    if (filed_by_contact or 0) >= cap:
        raise Conflict(f"同一联系电话对本公示提出的异议已达上限（{cap}件）", field="contact")
    objection_id = uuid.uuid4()
    conclude_by = ctx.calendar.add_workdays(at, ctx.settings.objection_conclude_working_days).date
    await uow.conn.execute(
        objections.insert().values(
            id=objection_id,
            notice_id=body.notice_id,
            entry_id=body.entry_id,
            application_id=entry.application_id,
            unit=notice.unit,
            channel="online",
            anonymous=False,
            # Keyed with the platform's resident-ID hash key, as intake and credit do.
            contact_hash=contact_hash,
            contact_masked=mask_mobile(body.contact),
            content=scrub(body.content),
            filed_at=at,
            conclude_by=conclude_by,
            status="pending",
        )
    )
    envelope = uow.emit(
        ObjectionFiled(
            objection_id=objection_id,
            notice_id=body.notice_id,
            application_id=entry.application_id,
            channel="online",
            anonymous=False,
            filed_at=at,
            conclude_by=conclude_by,
        ),
        subject=str(entry.application_id),
    )
    await log_push(ctx, uow, envelope)
    return ObjectionReceipt(
        objection_id=objection_id, status="pending", filed_at=at, conclude_by=conclude_by
    )


def check_conclusion(body: ObjectionConclusionIn) -> None:
    if domain.has_unmasked_pii(body.conclusion):
        raise ValidationProblem(
            "核查结论将公开发布，不得包含完整的身份证号码或手机号码", field="conclusion"
        )


async def record_signer(uow: UnitOfWork, event: ReviewOpinionSigned) -> None:
    await uow.conn.execute(
        insert(decision_signers)
        .values(application_id=event.application_id, signer=event.signer)
        .on_conflict_do_nothing()
    )


async def conclude_objection(
    ctx: PublicationContext,
    uow: UnitOfWork,
    principal: Principal,
    objection_id: uuid.UUID,
    body: ObjectionConclusionIn,
) -> dict[str, object]:
    row = (
        await uow.conn.execute(
            sa.select(objections, notices.c.city)
            .join(notices, notices.c.id == objections.c.notice_id)
            .where(objections.c.id == objection_id)
            .with_for_update(of=objections)
        )
    ).first()
    if row is None:
        raise NotFound("异议不存在", field="objection_id")
    ensure_can_act(principal, row.unit)
    if row.status != "pending":
        raise Conflict("该异议已办结", field="objection_id")
    signed = await uow.conn.scalar(
        sa.select(sa.func.count())
        .select_from(decision_signers)
        .where(
            decision_signers.c.application_id == row.application_id,
            decision_signers.c.signer == principal.sub,
        )
    )
    if signed:
        # Nobody judges an objection against a decision they signed.
        raise Forbidden("参与过该申请审核签字的人员不能办结针对该决定的异议")
    at = now()
    await uow.conn.execute(
        objections.update()
        .where(objections.c.id == objection_id)
        .values(
            status="concluded",
            outcome=body.outcome,
            conclusion=body.conclusion,
            concluded_by=principal.sub,
            concluded_at=at,
        )
    )
    envelope = uow.emit(
        ObjectionConcluded(
            objection_id=objection_id,
            notice_id=row.notice_id,
            application_id=row.application_id,
            outcome=body.outcome,
            conclusion=body.conclusion,
            concluded_by=principal.sub,
            concluded_at=at,
        ),
        subject=str(row.application_id),
    )
    await log_push(ctx, uow, envelope)
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="objection.concluded",
        subject_type="objection",
        subject_id=objection_id,
        details={"outcome": body.outcome, "conclusion": body.conclusion},
    )
    return {
        "objection_id": str(objection_id),
        "status": "concluded",
        "outcome": body.outcome,
        "concluded_at": at.isoformat(),
    }


# --- allocation (轮候配租) ----------------------------------------------------------------


async def project_waiting_entered(
    uow: UnitOfWork, event: AllocationWaitingEntered, env: Envelope
) -> None:
    # A later status (suspended, allocated) that overtook this event is kept.
    entry = {
        "entry_id": event.entry_id,
        "application_id": event.application_id,
        "category": event.category,
        "priority_tier": event.priority_tier,
        "qualified_at": event.qualified_at,
    }
    statement = insert(waiting_households).values(
        household_reference=event.household_reference,
        status="waiting",
        updated_at=env.occurred_at,
        **entry,
    )
    await uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[waiting_households.c.household_reference],
            set_={**{k: statement.excluded[k] for k in entry}, "updated_at": now()},
        )
    )


async def _leave_waiting(
    uow: UnitOfWork, reference: str, status: str, at: datetime, **columns: Any
) -> None:
    """Move a household out of ``waiting``; an allocation or subsidy is final, a suspension
    does not undo it."""
    statement = insert(waiting_households).values(
        household_reference=reference, status=status, updated_at=at, **columns
    )
    final = waiting_households.c.status.in_(("allocated", "subsidised"))
    keep = final if status == "suspended" else sa.false()
    await uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[waiting_households.c.household_reference],
            set_={
                "status": sa.case((keep, waiting_households.c.status), else_=status),
                "updated_at": now(),
                **{
                    k: sa.case((keep, waiting_households.c[k]), else_=statement.excluded[k])
                    for k in columns
                },
            },
        )
    )


async def project_entry_suspended(
    uow: UnitOfWork, event: AllocationEntrySuspended, env: Envelope
) -> None:
    await _leave_waiting(
        uow,
        event.household_reference,
        "suspended",
        env.occurred_at,
        suspended_reason=event.reason,
        suspended_until=event.until,
    )


async def project_subsidy_chosen(
    uow: UnitOfWork, event: AllocationSubsidyChosen, env: Envelope
) -> None:
    await _leave_waiting(
        uow, event.household_reference, "subsidised", event.chosen_at, left_at=event.chosen_at
    )


_UPSERT_UNITS = sa.text(
    "INSERT INTO housing_units (unit_id, project_code, project_name, building_code, unit_code, "
    "district, address, area_m2, rooms, floor, accessible, base_rent_per_m2, status, updated_at) "
    "SELECT v.*, :at FROM unnest("
    "CAST(:ids AS uuid[]), CAST(:projects AS text[]), CAST(:project_names AS text[]), "
    "CAST(:buildings AS text[]), CAST(:codes AS text[]), CAST(:districts AS text[]), "
    "CAST(:addresses AS text[]), CAST(:areas AS numeric[]), CAST(:rooms AS int[]), "
    "CAST(:floors AS int[]), CAST(:accessible AS boolean[]), CAST(:rents AS numeric[]), "
    "CAST(:statuses AS text[])) AS v "
    "ON CONFLICT (unit_id) DO UPDATE SET project_code = EXCLUDED.project_code, "
    "project_name = EXCLUDED.project_name, building_code = EXCLUDED.building_code, "
    "unit_code = EXCLUDED.unit_code, district = EXCLUDED.district, "
    "address = EXCLUDED.address, area_m2 = EXCLUDED.area_m2, rooms = EXCLUDED.rooms, "
    "floor = EXCLUDED.floor, accessible = EXCLUDED.accessible, "
    "base_rent_per_m2 = EXCLUDED.base_rent_per_m2, status = EXCLUDED.status, "
    "updated_at = EXCLUDED.updated_at "
    # Events of one unit may arrive out of order: only a newer one replaces its state.
    "WHERE housing_units.updated_at < EXCLUDED.updated_at"
)


async def project_units(uow: UnitOfWork, event: AllocationUnitsChanged, env: Envelope) -> None:
    """The disclosed stock (六公开: 房源): one statement from arrays, a whole import is one
    round trip."""
    u = event.units
    await uow.conn.execute(
        _UPSERT_UNITS,
        {
            "at": env.occurred_at,
            "ids": [x.unit_id for x in u],
            "projects": [x.project_code for x in u],
            "project_names": [x.project_name for x in u],
            "buildings": [x.building_code for x in u],
            "codes": [x.unit_code for x in u],
            "districts": [x.district for x in u],
            "addresses": [x.address for x in u],
            "areas": [x.area_m2 for x in u],
            "rooms": [x.rooms for x in u],
            "floors": [x.floor for x in u],
            "accessible": [x.accessible for x in u],
            "rents": [x.base_rent_per_m2 for x in u],
            "statuses": [x.status for x in u],
        },
    )


async def _round_entries(
    conn: Any, references: list[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Notice entries (masked, from the progress read model) for households by tracking
    number, in the given order; the second value maps each found reference to its entry."""
    if not references:
        return [], {}
    rows = (
        await conn.execute(
            sa.select(
                applications.c.application_id,
                applications.c.tracking_no,
                applications.c.name_masked,
                applications.c.id_masked,
                applications.c.street,
                applications.c.category,
                applications.c.member_count,
                # One array parameter: a pool of 20,000 households is not 20,000 bind values.
            ).where(
                applications.c.tracking_no
                == sa.any_(sa.bindparam("refs", references, type_=ARRAY(sa.Text)))
            )
        )
    ).all()
    by_reference = {r.tracking_no: entry_of(r) for r in rows}
    return [by_reference[r] for r in references if r in by_reference], by_reference


async def shortlist_from_pool(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationPoolFrozen, env: Envelope
) -> None:
    """The frozen pool as a lottery shortlist notice (摇号入围名单公示), masked, open to
    objection until the pool's objection period ends; its digest shows on the notice."""
    values = {
        "category": event.category,
        "pool_digest": event.pool_digest,
        "households": event.households,
        "cut_off": event.cut_off,
        "objection_until": event.objection_until,
        "updated_at": now(),
    }
    statement = insert(lottery_rounds).values(round_id=event.round_id, **values)
    await uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[lottery_rounds.c.round_id],
            set_={k: statement.excluded[k] for k in values},
        )
    )
    entries, found = await _round_entries(uow.conn, event.household_references)
    missing = len(event.household_references) - len(found)
    if missing:
        # Every qualified household was submitted first; one that is not known here is a
        # gap in this read model, logged (with a count only) rather than published blank.
        log.warning("shortlist_households_unknown", round_id=str(event.round_id), count=missing)
    await log_push(ctx, uow, env)
    if not entries:
        return
    at = now()
    remaining = event.objection_until - at
    row = await insert_notice(
        ctx,
        uow,
        kind="lottery_shortlist",
        city=ctx.city.city.code,
        unit=ctx.city.city.code,
        batch=_round_batch(ctx, event.category, event.round_id),
        opens_at=at,
        # Whole days that fit in the pool's objection period; it closes when that period ends.
        days=max(int(remaining.total_seconds() // 86400), 0),
        closes_at=max(event.objection_until, at),
        entries=entries,
        created_by="system:publication",
    )
    await uow.conn.execute(
        lottery_rounds.update()
        .where(lottery_rounds.c.round_id == event.round_id)
        .values(shortlist_notice_id=row["id"])
    )


def _round_batch(ctx: PublicationContext, category: str, round_id: uuid.UUID) -> str:
    return f"{queries.category_name(ctx.city, category)} 批次{str(round_id)[:8]}"


async def keep_commitment(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationCommitmentPublished, env: Envelope
) -> None:
    """The commitment, kept before the draw and pushed to the province (first copy wins)."""
    await uow.conn.execute(
        insert(lottery_commitments)
        .values(
            round_id=event.round_id,
            category=event.category,
            pool_digest=event.pool_digest,
            commitment=event.commitment,
            committed_at=event.committed_at,
            received_at=now(),
        )
        .on_conflict_do_nothing()
    )
    await log_push(ctx, uow, env)


async def keep_draw(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationRoundDrawn, env: Envelope
) -> None:
    """The draw's public values and ranking, for the ranking page (摇号结果)."""
    published = await uow.conn.scalar(
        sa.select(lottery_commitments.c.commitment).where(
            lottery_commitments.c.round_id == event.round_id
        )
    )
    if published is not None and published != event.commitment:
        # Shown on /public/lottery/{id}/commitment as matches=false; the log names it too.
        log.error("lottery_commitment_mismatch", round_id=str(event.round_id))
    values = {
        "category": event.category,
        "pool_digest": event.pool_digest,
        "households": event.households,
        "commitment": event.commitment,
        "public_input": event.public_input,
        "secret": event.secret,
        "seed": event.seed,
        "drawn_at": event.drawn_at,
        "updated_at": now(),
    }
    statement = insert(lottery_rounds).values(round_id=event.round_id, **values)
    await uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[lottery_rounds.c.round_id],
            set_={k: statement.excluded[k] for k in values},
        )
    )
    if event.ranking:
        # One statement from arrays: a round of 20,000 households is one round trip.
        await uow.conn.execute(
            sa.text(
                "INSERT INTO lottery_ranks (round_id, rank, household_reference, priority_tier) "
                "SELECT :round_id, k, r, t FROM unnest("
                "CAST(:ranks AS int[]), CAST(:refs AS text[]), CAST(:tiers AS int[])) "
                "AS v(k, r, t) "
                "ON CONFLICT DO NOTHING"
            ),
            {
                "round_id": event.round_id,
                "ranks": [r.rank for r in event.ranking],
                "refs": [r.household_reference for r in event.ranking],
                "tiers": [r.priority_tier for r in event.ranking],
            },
        )
    await log_push(ctx, uow, env)


async def register_result(
    ctx: PublicationContext, uow: UnitOfWork, event: AllocationUnitAllocated, env: Envelope
) -> None:
    """An allocation result (配租结果): waits for its round's results notice, leaves the
    waiting list, and goes to the province in the household's application stream."""
    await uow.conn.execute(
        insert(allocation_results)
        .values(
            allocation_id=event.allocation_id,
            round_id=event.round_id,
            household_reference=event.household_reference,
            unit_code=event.unit_code,
            rank=event.rank,
            allocated_at=event.allocated_at,
        )
        .on_conflict_do_nothing()
    )
    await _leave_waiting(
        uow, event.household_reference, "allocated", event.allocated_at, left_at=event.allocated_at
    )
    application_id = await uow.conn.scalar(
        sa.select(applications.c.application_id).where(
            applications.c.tracking_no == event.household_reference
        )
    )
    data = dict(env.data)
    if application_id is not None:
        data["application_id"] = str(application_id)
    await record_pushes(
        uow.conn,
        ctx.settings.province_endpoints,
        event_id=env.id,
        event_type=env.type,
        occurred_at=env.occurred_at,
        items=[data],
    )


async def publish_allocation_results(ctx: PublicationContext, uow: UnitOfWork, at: datetime) -> int:
    """One allocation results notice (配租结果公示) per round and selection day, for every
    day that has ended (China time); returns the notices opened. Results of a household
    unknown to the progress read model stay unpublished (and F4 lights for them)."""
    today = at.astimezone(SHANGHAI).date()
    local_day = sa.cast(
        sa.func.timezone("Asia/Shanghai", allocation_results.c.allocated_at), sa.Date
    )
    pending = (
        await uow.conn.execute(
            sa.select(allocation_results, local_day.label("day"), lottery_rounds.c.category)
            .outerjoin(lottery_rounds, lottery_rounds.c.round_id == allocation_results.c.round_id)
            .where(allocation_results.c.notice_id.is_(None), local_day < today)
            .order_by(allocation_results.c.round_id, "day", allocation_results.c.rank)
            .with_for_update(of=allocation_results, skip_locked=True)
        )
    ).all()
    groups: dict[tuple[uuid.UUID, Any], list[Any]] = {}
    for r in pending:
        groups.setdefault((r.round_id, r.day), []).append(r)
    opened = 0
    for (round_id, day), results in groups.items():
        _, found = await _round_entries(uow.conn, [r.household_reference for r in results])
        listed = [r for r in results if r.household_reference in found]
        if not listed:
            continue
        entries = [
            {
                **found[r.household_reference],
                "remark": f"摇号序号第{r.rank}号，配租房源{r.unit_code}",
            }
            for r in listed
        ]
        notice_id = uuid.uuid4()
        await uow.conn.execute(
            allocation_results.update()
            .where(allocation_results.c.allocation_id.in_([r.allocation_id for r in listed]))
            .values(notice_id=notice_id)
        )
        category = listed[0].category or listed[0].category
        label = _round_batch(ctx, category, round_id) if category else f"批次{str(round_id)[:8]}"
        await insert_notice(
            ctx,
            uow,
            kind="allocation",
            city=ctx.city.city.code,
            unit=ctx.city.city.code,
            batch=f"{label} {day.isoformat()}",
            opens_at=at,
            days=ctx.city.publicity.min_days,
            entries=entries,
            created_by="system:publication",
            notice_id=notice_id,
        )
        opened += 1
    return opened


# --- audit checkpoints (docs/audit.md) ------------------------------------------------------


async def keep_checkpoint(
    ctx: PublicationContext, uow: UnitOfWork, event: AuditCheckpointed, envelope: Envelope
) -> bool:
    """Keep a service's signed chain head for the public page and log it for the province;
    False when refused (signature that does not verify with the key it names, or a service
    signing for another), which keeps and pushes nothing."""
    checkpoint = Checkpoint.from_json(event.model_dump())
    try:
        if envelope.producer != event.service:
            raise CheckpointRefused(f"{envelope.producer} may not sign for {event.service}")
        # Only proves the checkpoint is intact and self-consistent: whether the key is the
        # service's is for the verifier to decide, against the key set the service publishes.
        checkpoint.check(keys_of(jwks([event.public_key])))
    except (CheckpointRefused, ValueError) as exc:
        CHECKPOINTS_REFUSED.labels(event.service).inc()
        log.warning(
            "audit_checkpoint_refused", service=event.service, seq=event.seq, reason=str(exc)
        )
        return False
    await uow.conn.execute(
        insert(published_checkpoints)
        .values(**event.model_dump(), event_id=envelope.id, received_at=now())
        .on_conflict_do_nothing()
    )
    await log_push(ctx, uow, envelope)
    return True

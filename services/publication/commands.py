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
allocation results and exits list the applications the clerk names (their sources, the
allocation service, do not exist yet).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert

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
    application_ids,
    gather_entries,
    set_stage,
    upsert_application,
)
from services.publication.tables import applications, blacklist, notice_entries, notices, objections
from shared.audit import record
from shared.auth import Principal, ensure_can_act
from shared.clock import SHANGHAI, now
from shared.db import UnitOfWork
from shared.events.base import EventPayload
from shared.events.catalogue import (
    ObjectionConcluded,
    ObjectionFiled,
    PublicityClosed,
    PublicityOpened,
)
from shared.events.envelope import Envelope
from shared.pii import keyed_hash, mask_mobile, mask_name, mask_resident_id, scrub
from shared.problems import Conflict, NotFound, ValidationProblem

log = structlog.get_logger(__name__)


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
    after_publicity = applications.c.stage.in_(("publicity", "publicity_closed"))
    touched = await set_stage(
        uow.conn,
        d["application_id"],
        sa.case((after_publicity, "confirmed"), else_="qualified"),
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
    await uow.conn.execute(
        blacklist.update()
        .where(blacklist.c.record_id == env.data["record_id"])
        .values(until=payload.model_dump()["lifted_on"])
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
) -> dict[str, Any]:
    at = now()
    notice_id = uuid.uuid4()
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
        "closes_at": opens_at + timedelta(days=days),
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
            contact_hash=keyed_hash(body.contact, ctx.id_hash_key),
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

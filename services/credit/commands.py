"""The credit service's use cases: record, approve, walk the notice procedure, ban, lift, and
the two event reactions (pledges, candidates).

One function per POST and per event reaction. Each runs inside the caller's unit of work: the
state change, its audit entry and its events commit together or not at all. POST commands
return the response body. The rules themselves are in :mod:`services.credit.domain`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from services.credit import domain, queries, schemas, store
from services.credit.context import CreditContext
from services.credit.domain import InvalidTransition, Procedure, RecordKind, Stage
from services.credit.problems import ensure_can_act, same_officer, transition_conflict
from services.credit.tables import bans, candidates, credit_shares, notice_steps, pledges, records
from shared import db
from shared.audit import record as audit
from shared.auth import SUPERVISOR, Principal
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationSubmitted,
    ComplaintAgencyReferred,
    CreditAgencyBlacklisted,
    CreditBanImposed,
    CreditBanLifted,
    CreditCaseExposed,
    CreditNoticeStep,
    CreditRecordCreated,
    VerificationCompleted,
)
from shared.pii import keyed_hash, mask_name, mask_resident_id, scrub
from shared.problems import Conflict, ValidationProblem


def _record_no(record_id: uuid.UUID) -> str:
    return f"CX-{today_shanghai():%Y%m%d}-{record_id.hex[:8].upper()}"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Subject:
    id_hash: str
    id_masked: str | None = None
    name_masked: str | None = None
    org_name: str | None = None
    org_credit_code: str | None = None


def subject_of(
    ctx: CreditContext,
    category: str,
    *,
    resident_id: str | None,
    name: str | None,
    org_name: str | None,
    org_credit_code: str | None,
) -> Subject:
    """Who the record is about, reduced to what the registry keeps (hash and masked values)."""
    if category in ("family", "tenancy"):
        if resident_id is None:
            raise ValidationProblem("家庭或承租人失信记录须填写身份证号码", field="resident_id")
        if org_name is not None or org_credit_code is not None:
            raise ValidationProblem("家庭或承租人失信记录不应填写单位信息", field="org_name")
        return Subject(
            id_hash=keyed_hash(resident_id, ctx.id_hash_key),
            id_masked=mask_resident_id(resident_id),
            name_masked=mask_name(name) if name else None,
        )
    if org_name is None:
        raise ValidationProblem("单位或中介失信记录须填写名称", field="org_name")
    if resident_id is not None or name is not None:
        raise ValidationProblem("单位或中介失信记录不应填写个人身份信息", field="resident_id")
    if category == "employer" and org_credit_code is None:
        raise ValidationProblem("单位失信记录须填写统一社会信用代码", field="org_credit_code")
    # An unregistered agency (黑中介) often has no credit code: it is known by its name.
    key_value = org_credit_code or f"AGENCY:{org_name}"
    return Subject(
        id_hash=keyed_hash(key_value, ctx.id_hash_key),
        org_name=org_name,
        org_credit_code=org_credit_code,
    )


async def create_record(
    ctx: CreditContext, uow: UnitOfWork, principal: Principal, body: schemas.RecordIn
) -> schemas.RecordOut:
    """``POST /records``: enter a record awaiting a second officer's approval."""
    subject = subject_of(
        ctx,
        body.category,
        resident_id=body.resident_id,
        name=body.name,
        org_name=body.org_name,
        org_credit_code=body.org_credit_code,
    )
    record_id = await _enter_record(
        ctx,
        uow,
        principal,
        category=body.category,
        kind=body.kind,
        severity=body.severity,
        origin=body.origin,
        facts=body.facts,
        evidence=[e.model_dump(exclude_none=True) for e in body.evidence],
        subject=subject,
        application_id=body.application_id,
    )
    return await queries.record_detail(ctx, uow, record_id)


async def _enter_record(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    *,
    category: str,
    kind: str,
    severity: str,
    origin: str,
    facts: str,
    evidence: list[dict[str, Any]],
    subject: Subject,
    application_id: uuid.UUID | None,
    candidate_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Enter a record awaiting a second officer's approval (待审批); no sanction yet."""
    ensure_can_act(principal, principal.org)  # read-only roles never record
    known = ctx.kinds.get(kind)
    if known is None or known.category != category:
        raise ValidationProblem(f"失信行为种类「{kind}」不属于对象类别「{category}」", field="kind")
    record_id = uuid.uuid4()
    at = now()
    await uow.conn.execute(
        records.insert().values(
            id=record_id,
            record_no=_record_no(record_id),
            category=category,
            kind=kind,
            severity=severity,
            id_hash=subject.id_hash,
            subject_id_masked=subject.id_masked,
            subject_name_masked=subject.name_masked,
            org_name=subject.org_name,
            org_credit_code=subject.org_credit_code,
            application_id=application_id,
            origin=origin,
            facts=facts,
            evidence=evidence,
            candidate_id=candidate_id,
            unit=principal.org,
            recorded_by=principal.sub,
            recorded_at=at,
            stage=Stage.PENDING_APPROVAL.value,
            stage_at=at,
            updated_at=at,
        )
    )
    await uow.conn.execute(
        notice_steps.insert().values(
            record_id=record_id,
            from_stage=None,
            stage=Stage.PENDING_APPROVAL.value,
            taken_by=principal.sub,
            taken_at=at,
        )
    )
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action="credit.record.create",
        subject_type="credit_record",
        subject_id=record_id,
        details={
            "category": category,
            "kind": kind,
            "severity": severity,
            "origin": origin,
            "subject": subject.id_masked or subject.org_name,
            "candidate_id": str(candidate_id) if candidate_id else None,
        },
    )
    return record_id


async def approve_record(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.ApproveIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/approve``."""
    await _decide_record(uow, principal, record_id, approve=True, note=body.note)
    return await queries.record_detail(ctx, uow, record_id)


async def reject_record(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.ReasonIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/reject``: not to be recorded."""
    await _decide_record(uow, principal, record_id, approve=False, note=body.reason)
    return await queries.record_detail(ctx, uow, record_id)


async def _decide_record(
    uow: UnitOfWork, principal: Principal, record_id: uuid.UUID, *, approve: bool, note: str | None
) -> None:
    """A second officer approves (or rejects) a record entered by someone else (四眼原则)."""
    row = await store.load_record(uow, record_id, lock=True)
    ensure_can_act(principal, row.unit)
    target = Stage.APPROVED if approve else Stage.REJECTED
    current = Stage(row.stage)
    if target not in domain.TRANSITIONS[current]:
        raise transition_conflict(InvalidTransition(current, target))
    try:
        domain.ensure_four_eyes(row.recorded_by, principal.sub)
    except domain.SameOfficer:
        raise same_officer("审批人不能与录入人为同一人（四眼原则）") from None
    at = now()
    values: dict[str, Any] = {"stage": target.value, "stage_at": at, "updated_at": at}
    if approve:
        values |= {"approved_by": principal.sub, "approved_at": at}
    await uow.conn.execute(records.update().where(records.c.id == record_id).values(**values))
    await store.log_step(uow, row, current, target, principal.sub, at, note=note)
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action="credit.record.approve" if approve else "credit.record.reject",
        subject_type="credit_record",
        subject_id=record_id,
        details={"note": note},
    )


# --------------------------------------------------------------------------- notice procedure


def announcement_text(row: Row[Any], kind_title: str, deadline: date) -> str:
    """The public announcement (公告) for a notice letter that could not be delivered."""
    who = store.display(row) or "当事人"
    if row.subject_id_masked:
        who += f"（身份证号码{row.subject_id_masked}）"
    return (
        f"{who}：本机构就你（单位）存在的「{kind_title}」失信行为发出的告知函无法送达，"
        f"现予公告。请于{deadline:%Y年%m月%d日}前予以纠正；逾期仍不纠正的，将记入住房保障"
        f"诚信档案，同时记入市征信管理系统。记录编号{row.record_no}。"
    )


async def take_step(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.NoticeStepIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/notices``: the next step of the notice procedure; timestamped,
    audited and announced."""
    step, document_no, note = body.step, body.document_no, body.note
    announcement = body.announcement
    row = await store.load_record(uow, record_id, lock=True)
    ensure_can_act(principal, row.unit)
    current, target = Stage(row.stage), Stage(step)
    if target not in domain.NOTICE_STEPS:
        raise ValidationProblem("该步骤须通过审批接口办理", field="step")
    today = today_shanghai()
    try:
        after = Procedure(current, row.correction_deadline).advance(
            target, today=today, correction_days=ctx.config.correction_days
        )
    except InvalidTransition as exc:
        raise transition_conflict(exc) from None
    if announcement is not None and target is not Stage.ANNOUNCED:
        raise ValidationProblem("公告正文仅在 announced 步骤填写", field="announcement")

    kind = ctx.kind_of(row.kind, row.category)
    at = now()
    values: dict[str, Any] = {
        "stage": target.value,
        "stage_at": at,
        "updated_at": at,
        "correction_deadline": after.correction_deadline,
    }
    if target is Stage.RECORDED:
        values["filed_on"] = today
    await uow.conn.execute(records.update().where(records.c.id == record_id).values(**values))
    await store.log_step(
        uow,
        row,
        current,
        target,
        principal.sub,
        at,
        document_no=document_no,
        note=note,
        correction_deadline=after.correction_deadline,
    )

    event_step, delivered = domain.EVENT_STEP[target]
    if target is Stage.ANNOUNCED:
        assert after.correction_deadline is not None
        announcement = announcement or announcement_text(row, kind.title, after.correction_deadline)
    uow.emit(
        CreditNoticeStep(
            record_id=row.id,
            step=event_step,  # type: ignore[arg-type]
            delivered=delivered,
            taken_by=principal.sub,
            taken_at=at,
            subject_kind=domain.event_subject_kind(row.category),
            behaviour=kind.behaviour,  # type: ignore[arg-type]
            correction_deadline=after.correction_deadline,
            subject_display=store.display(row),
            subject_id_masked=row.subject_id_masked,
            announcement=announcement,
        ),
        subject=str(row.id),
    )
    details: dict[str, Any] = {
        "from": current.value,
        "to": target.value,
        "document_no": document_no,
        "correction_deadline": after.correction_deadline,
    }
    if target is Stage.RECORDED:
        details |= await _file_record(ctx, uow, row, kind, today, at)
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action=f"credit.notice.{target.value}",
        subject_type="credit_record",
        subject_id=record_id,
        details=details,
    )
    return await queries.record_detail(ctx, uow, record_id)


async def _file_record(
    ctx: CreditContext, uow: UnitOfWork, row: Row[Any], kind: RecordKind, today: date, at: Any
) -> dict[str, Any]:
    """记入诚信档案: impose the ban, queue the push to the city credit system, list agencies."""
    subject_kind = domain.event_subject_kind(row.category)
    ends_on = domain.ban_ends_on(today, row.severity, ctx.config.ban_years)
    await uow.conn.execute(
        bans.insert().values(
            id=uuid.uuid4(),
            record_id=row.id,
            id_hash=row.id_hash,
            subject_kind=subject_kind,
            severity=row.severity,
            starts_on=today,
            ends_on=ends_on,
            status="active",
        )
    )
    await uow.conn.execute(
        credit_shares.insert().values(
            id=uuid.uuid4(),
            record_id=row.id,
            payload=share_payload(row, kind, today, ends_on),
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
    )
    uow.emit(
        CreditRecordCreated(
            record_id=row.id,
            subject_kind=subject_kind,
            id_hash=row.id_hash,
            behaviour=kind.behaviour,  # type: ignore[arg-type]
            severity=row.severity,
            application_id=row.application_id,
            source=domain.ORIGIN_TO_SOURCE[row.origin],
            created_by=row.recorded_by,
            created_at=at,
            kind=row.kind,
            origin=row.origin,
        ),
        subject=str(row.id),
    )
    uow.emit(
        CreditBanImposed(
            record_id=row.id,
            id_hash=row.id_hash,
            subject_kind=subject_kind,
            severity=row.severity,
            starts_on=today,
            ends_on=ends_on,
        ),
        subject=str(row.id),
    )
    if row.category == "agency":
        uow.emit(
            CreditAgencyBlacklisted(
                record_id=row.id,
                id_hash=row.id_hash,
                agency_name=row.org_name,
                org_credit_code=row.org_credit_code,
                behaviour=kind.behaviour,  # type: ignore[arg-type]
                listed_on=today,
                until=date.fromordinal(ends_on.toordinal() - 1),
            ),
            subject=str(row.id),
        )
    return {"ban_starts_on": today, "ban_ends_on": ends_on}


def share_payload(row: Row[Any], kind: RecordKind, filed_on: date, ends_on: date) -> dict[str, Any]:
    """What the city credit system receives (联合惩戒、信用记录共享): no full ID number."""
    return {
        "record_no": row.record_no,
        "record_id": str(row.id),
        "subject_kind": domain.event_subject_kind(row.category),
        "id_hash": row.id_hash,
        "subject_id_masked": row.subject_id_masked,
        "subject_name_masked": row.subject_name_masked,
        "org_name": row.org_name,
        "org_credit_code": row.org_credit_code,
        "behaviour": kind.code,
        "behaviour_title": kind.title,
        "severity": row.severity,
        "severity_title": domain.SEVERITY_TITLES[row.severity],
        "filed_on": filed_on.isoformat(),
        "sanction_ends_on": ends_on.isoformat(),
    }


# --------------------------------------------------------------------------- bans


async def request_lift(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.ReasonIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/lift``: propose lifting a ban early; nothing changes until a
    second officer approves."""
    reason = body.reason
    row = await store.load_record(uow, record_id)
    ensure_can_act(principal, row.unit)
    ban = await store.active_ban(uow, record_id)
    if ban.lift_requested_by is not None:
        raise Conflict("该禁入已有待审批的提前解除申请", field="record_id")
    await uow.conn.execute(
        bans.update()
        .where(bans.c.id == ban.id)
        .values(lift_requested_by=principal.sub, lift_requested_at=now(), lift_reason=reason)
    )
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action="credit.ban.lift_request",
        subject_type="credit_record",
        subject_id=record_id,
        details={"reason": reason},
    )
    return await queries.record_detail(ctx, uow, record_id)


async def approve_lift(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.ApproveIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/lift/approve``: lift the ban early; needs a pending request with
    its reason and a different approver."""
    note = body.note
    row = await store.load_record(uow, record_id)
    ensure_can_act(principal, row.unit)
    ban = await store.active_ban(uow, record_id)
    if ban.lift_requested_by is None:
        raise Conflict("提前解除禁入须先提出申请并说明理由", field="record_id")
    try:
        domain.ensure_four_eyes(ban.lift_requested_by, principal.sub)
    except domain.SameOfficer:
        raise same_officer("审批人不能与申请人为同一人（四眼原则）") from None
    today, at = today_shanghai(), now()
    await uow.conn.execute(
        bans.update()
        .where(bans.c.id == ban.id)
        .values(
            status="lifted",
            lifted_on=today,
            early=True,
            lift_approved_by=principal.sub,
            lifted_at=at,
        )
    )
    uow.emit(
        CreditBanLifted(
            record_id=record_id,
            id_hash=ban.id_hash,
            lifted_on=today,
            early=True,
            reason=ban.lift_reason,
        ),
        subject=str(record_id),
    )
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action="credit.ban.lift_approve",
        subject_type="credit_record",
        subject_id=record_id,
        details={"requested_by": ban.lift_requested_by, "note": note, "lifted_on": today},
    )
    return await queries.record_detail(ctx, uow, record_id)


# --------------------------------------------------------------------------- exposure


async def propose_exposure(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.ExposureIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/exposure``: propose a filed record as a typical case (典型案例曝光);
    nothing is public until a city leader approved it."""
    row = await store.load_record(uow, record_id, lock=True)
    ensure_can_act(principal, row.unit)
    if not domain.exposable(Stage(row.stage)):
        raise Conflict(
            f"仅已记入诚信档案的记录可作为典型案例曝光，当前步骤为「{domain.STAGE_TITLES[Stage(row.stage)]}」",
            field="record_id",
            extra={"current_step": row.stage},
        )
    ban = await store.record_ban(uow, record_id)
    if ban is None or ban.status != "active":
        raise Conflict("禁入已解除的记录不再曝光", field="record_id")
    if row.exposed_at is not None:
        raise Conflict("该记录已曝光", field="record_id")
    if scrub(body.summary) != body.summary:
        raise ValidationProblem("曝光正文不得含身份证号或手机号", field="summary")
    at = now()
    await uow.conn.execute(
        records.update()
        .where(records.c.id == record_id)
        .values(
            exposure_summary=body.summary,
            exposure_proposed_by=principal.sub,
            exposure_proposed_at=at,
            updated_at=at,
        )
    )
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action="credit.exposure.propose",
        subject_type="credit_record",
        subject_id=record_id,
        details={"summary_length": len(body.summary)},
    )
    return await queries.record_detail(ctx, uow, record_id)


async def approve_exposure(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    record_id: uuid.UUID,
    body: schemas.ApproveIn,
) -> schemas.RecordOut:
    """``POST /records/{id}/exposure/approve``: a city leader (not the proposer) approves;
    ``credit.case_exposed`` carries the masked case to publication."""
    row = await store.load_record(uow, record_id, lock=True)
    ensure_can_act(principal, row.unit)
    if row.exposed_at is not None:
        raise Conflict("该记录已曝光", field="record_id")
    if row.exposure_proposed_by is None:
        raise Conflict("典型案例曝光须先由工作人员提出", field="record_id")
    try:
        domain.ensure_four_eyes(row.exposure_proposed_by, principal.sub)
    except domain.SameOfficer:
        raise same_officer("审批人不能与提出人为同一人（四眼原则）") from None
    ban = await store.record_ban(uow, record_id)
    if ban is None or ban.status != "active":
        raise Conflict("禁入已解除的记录不再曝光", field="record_id")
    kind = ctx.kind_of(row.kind, row.category)
    display = store.display(row)
    assert display is not None and row.filed_on is not None
    at = now()
    await uow.conn.execute(
        records.update()
        .where(records.c.id == record_id)
        .values(exposure_approved_by=principal.sub, exposed_at=at, updated_at=at)
    )
    uow.emit(
        CreditCaseExposed(
            record_id=row.id,
            record_no=row.record_no,
            subject_kind=domain.event_subject_kind(row.category),  # type: ignore[arg-type]
            subject_display=display,
            behaviour=kind.behaviour,  # type: ignore[arg-type]
            kind_title=kind.title,
            severity=row.severity,
            summary_text=row.exposure_summary,
            filed_on=row.filed_on,
            ban_ends_on=ban.ends_on,
            proposed_by=row.exposure_proposed_by,
            approved_by=principal.sub,
            exposed_at=at,
        ),
        subject=str(row.id),
    )
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action="credit.exposure.approve",
        subject_type="credit_record",
        subject_id=record_id,
        details={"proposed_by": row.exposure_proposed_by, "note": body.note},
    )
    return await queries.record_detail(ctx, uow, record_id)


# --------------------------------------------------------------------------- candidates


async def register_pledge(
    ctx: CreditContext, uow: UnitOfWork, submitted: ApplicationSubmitted
) -> None:
    """``application.submitted``: keep the integrity pledge (守信承诺书) it was submitted with.

    Idempotent by effect (ON CONFLICT DO NOTHING on the application), on top of the inbox's
    deduplication of redelivered event ids.
    """
    hashes = list(submitted.member_id_hashes)
    await db.fetch(
        uow.conn,
        _REGISTER_PLEDGE,
        submitted.application_id,
        submitted.tracking_no,
        submitted.street,
        hashes[0],
        hashes,
        submitted.applicant_name_masked,
        submitted.applicant_id_masked,
        submitted.pledge_version,
        submitted.pledge_signed_at,
        submitted.submitted_at,
        now(),
    )


# Every submission: a fixed statement on the driver.
_REGISTER_PLEDGE = """
INSERT INTO pledges (application_id, tracking_no, street, applicant_id_hash, member_id_hashes,
                     applicant_name_masked, applicant_id_masked, pledge_version,
                     pledge_signed_at, submitted_at, registered_at)
VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9, $10, $11)
ON CONFLICT (application_id) DO NOTHING
"""


async def open_candidates(
    ctx: CreditContext, uow: UnitOfWork, completed: VerificationCompleted
) -> int:
    """``verification.completed``: discrepancies become candidates for an officer to confirm or
    dismiss, never a record. One candidate per person concerned; household-level findings
    concern the applicant. Idempotent by effect (one candidate per case and subject)."""
    if not completed.discrepancies:
        return 0
    case_id, application_id = completed.case_id, completed.application_id
    discrepancies = [d.model_dump() for d in completed.discrepancies]
    applicant = await uow.conn.scalar(
        sa.select(pledges.c.applicant_id_hash).where(pledges.c.application_id == application_id)
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in discrepancies:
        who = item.get("member_id_hash") or applicant or ""
        grouped.setdefault(who, []).append(item)
    if not grouped:
        return 0
    at = now()
    rows = [
        {
            "id": uuid.uuid4(),
            "case_id": case_id,
            "application_id": application_id,
            "id_hash": who,
            "discrepancies": items,
            "suggested_kind": domain.suggested_kind(i["field"] for i in items),
            "status": "open",
            "created_at": at,
        }
        for who, items in grouped.items()
    ]
    result = await uow.conn.execute(
        insert(candidates)
        .values(rows)
        .on_conflict_do_nothing(constraint="candidates_case_subject")
        .returning(candidates.c.id)
    )
    return len(result.all())


async def confirm_candidate(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    candidate_id: uuid.UUID,
    body: schemas.CandidateConfirmIn,
) -> schemas.RecordOut:
    """``POST /candidates/{id}/confirm``: an officer turns a candidate into a record awaiting
    approval; never automatic."""
    resident_id, name = body.resident_id, body.name
    cand = await store.open_candidate(uow, candidate_id)
    id_hash = cand.id_hash
    id_masked = name_masked = None
    if resident_id is not None:
        given = keyed_hash(resident_id, ctx.id_hash_key)
        if id_hash and given != id_hash:
            raise ValidationProblem("身份证号码与线索对象不一致", field="resident_id")
        id_hash, id_masked = given, mask_resident_id(resident_id)
    if not id_hash:
        raise ValidationProblem("该线索未能确定对象，须填写对象身份证号码", field="resident_id")
    pledge = (
        await uow.conn.execute(
            sa.select(pledges).where(pledges.c.application_id == cand.application_id)
        )
    ).first()
    if pledge is not None and pledge.applicant_id_hash == id_hash:
        id_masked = id_masked or pledge.applicant_id_masked
        name_masked = pledge.applicant_name_masked
    if name is not None:
        name_masked = mask_name(name)
    evidence = [
        {
            "title": (
                f"协查比对差异：{d['field']}（申报{d.get('declared')}，核实{d.get('verified')}）"
            ),
            "reference": f"{d['department']}/{cand.case_id}",
        }
        for d in cand.discrepancies
    ]
    record_id = await _enter_record(
        ctx,
        uow,
        principal,
        category="family",
        kind=body.kind or cand.suggested_kind,
        severity=body.severity,
        origin="verification",
        facts=body.facts,
        evidence=evidence,
        subject=Subject(id_hash=id_hash, id_masked=id_masked, name_masked=name_masked),
        application_id=cand.application_id,
        candidate_id=cand.id,
    )
    await _decide_candidate(uow, principal, cand.id, "confirmed", None, record_id)
    return await queries.record_detail(ctx, uow, record_id)


async def dismiss_candidate(
    ctx: CreditContext,
    uow: UnitOfWork,
    principal: Principal,
    candidate_id: uuid.UUID,
    body: schemas.ReasonIn,
) -> dict[str, str]:
    """``POST /candidates/{id}/dismiss``: not to be recorded."""
    ensure_can_act(principal, principal.org)
    cand = await store.open_candidate(uow, candidate_id)
    await _decide_candidate(uow, principal, cand.id, "dismissed", body.reason, None)
    return {"id": str(candidate_id), "status": "dismissed"}


async def _decide_candidate(
    uow: UnitOfWork,
    principal: Principal,
    candidate_id: uuid.UUID,
    status: str,
    reason: str | None,
    record_id: uuid.UUID | None,
) -> None:
    await uow.conn.execute(
        candidates.update()
        .where(candidates.c.id == candidate_id)
        .values(
            status=status,
            decided_by=principal.sub,
            decided_at=now(),
            decision_reason=reason,
            record_id=record_id,
        )
    )
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action=f"credit.candidate.{status}",
        subject_type="credit_candidate",
        subject_id=candidate_id,
        details={"reason": reason, "record_id": str(record_id) if record_id else None},
    )


async def record_from_complaint(
    ctx: CreditContext, uow: UnitOfWork, referred: ComplaintAgencyReferred
) -> uuid.UUID:
    """``complaint.agency_referred``: a complaint about an agency starts a record (有偿代办),
    entered in the name of the supervisor who referred it and awaiting a credit officer's
    approval like any other; the complaint's ledger number is its evidence. The inbox makes
    a redelivered referral harmless; alerting refers a complaint once."""
    referrer = Principal(
        sub=referred.referred_by,
        name="投诉举报台账转入",
        roles=frozenset({SUPERVISOR}),
        org=referred.unit,
    )
    subject = subject_of(
        ctx,
        "agency",
        resident_id=None,
        name=None,
        org_name=referred.agency_name,
        org_credit_code=referred.org_credit_code,
    )
    return await _enter_record(
        ctx,
        uow,
        referrer,
        category="agency",
        kind="paid_proxy_application",
        severity="general",
        origin="complaint",
        facts=referred.facts,
        evidence=[{"title": "投诉举报", "reference": referred.complaint_no}],
        subject=subject,
        application_id=None,
    )

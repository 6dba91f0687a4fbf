"""The complaints ledger (投诉举报台账): filing, lookup, answer, transfer, credit referral, C1.

Anyone files a complaint, anonymously or by name, about a tenant (转租转借), an agency (有偿代办),
fraud (骗取保障资格) or a member of staff. It gets a ledger number, a check code (查询码, shown
once, stored hashed: numbers are sequential, the code keeps them from being enumerated), a
responsible unit and a deadline in working days (``complaint_answer_working_days``). Past the
deadline without an answer the clock sweep lights C1; the answer puts it out. Supervision owns
ledgers and tickets, so the ledger lives here, in its own module beside the rule machinery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from services.alerting.context import AlertingContext
from services.alerting.evaluation import clear_alerts, of_condition
from services.alerting.schemas_complaints import (
    TRANSFER_BODIES,
    AnswerIn,
    ComplaintFiled,
    ComplaintIn,
    ComplaintOut,
    PublicComplaintOut,
    TransferIn,
    TransferOut,
)
from services.alerting.tables import complaint_seq, complaint_transfers, complaints
from shared import audit
from shared.auth import Principal, ensure_can_act, unit_level, within
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import ComplaintAgencyReferred
from shared.pii import mask_mobile, mask_name, scrub
from shared.problems import Conflict, NotFound, ValidationProblem

# No 0/O, 1/I/L: a code read out on the phone is typed right.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 8


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def _new_number(seq: int) -> str:
    return f"TS-{today_shanghai():%Y%m%d}-{seq:06d}"


# -- filing and the public lookup ----------------------------------------------------------


async def file_complaint(
    ctx: AlertingContext, uow: UnitOfWork, body: ComplaintIn
) -> ComplaintFiled:
    """``POST /public/complaints``: enter the ledger; answers the number and the check code."""
    city = ctx.city
    if body.street is not None and not city.is_street(body.street):
        raise ValidationProblem("所选街道（镇）不属于本市", field="street")
    if body.anonymous and (body.name or body.mobile):
        raise ValidationProblem("匿名举报不需要填写姓名和电话", field="anonymous")
    if not body.anonymous and not (body.name and body.mobile):
        raise ValidationProblem("实名举报请填写姓名和联系电话", field="name")
    if body.kind == "agency" and not body.agency_name:
        raise ValidationProblem("举报中介或代办请填写其名称", field="agency_name")
    at = now()
    days = ctx.rules.complaint_answer_working_days
    due = ctx.rules.calendar.add_workdays(at, days).at
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    number = _new_number(int(await uow.conn.scalar(sa.select(complaint_seq.next_value()))))
    complaint_id = uuid.uuid4()
    # A complaint names a street when it knows one; otherwise the city answers it.
    unit = body.street or ctx.rules.city
    await uow.conn.execute(
        complaints.insert().values(
            complaint_id=complaint_id,
            complaint_no=number,
            check_code_sha256=_digest(code),
            kind=body.kind,
            about=body.about,
            content=body.content,
            agency_name=body.agency_name,
            org_credit_code=body.org_credit_code,
            anonymous=body.anonymous,
            complainant_name=None if body.anonymous else body.name,
            complainant_mobile=None if body.anonymous else body.mobile,
            unit=unit,
            filed_at=at,
            due_at=due,
            due_working_days=days,
            status="open",
        )
    )
    await audit.record(
        uow.conn,
        actor="public",
        actor_org=unit,
        action="complaint.filed",
        subject_type="complaint",
        subject_id=complaint_id,
        details={"complaint_no": number, "kind": body.kind, "anonymous": body.anonymous},
    )
    return ComplaintFiled(complaint_no=number, check_code=code, unit=unit, filed_at=at, due_at=due)


async def public_lookup(
    ctx: AlertingContext, uow: UnitOfWork, complaint_no: str, check_code: str
) -> PublicComplaintOut:
    """``GET /public/complaints/{no}``: the complainant's view; a wrong code is "not found"."""
    row = (
        await uow.conn.execute(
            sa.select(complaints).where(complaints.c.complaint_no == complaint_no)
        )
    ).first()
    if row is None or not hmac.compare_digest(row.check_code_sha256, _digest(check_code)):
        raise NotFound("未找到该投诉举报，请核对编号和查询码", field="check_code")
    transfers = await _transfers(uow, row.complaint_id)
    return PublicComplaintOut(
        complaint_no=row.complaint_no,
        kind=row.kind,
        status=row.status,
        unit=row.unit,
        filed_at=row.filed_at,
        due_at=row.due_at,
        response=row.response,
        answered_at=row.answered_at,
        transferred_to=[t.to_body for t in transfers],
    )


# -- the ledger for staff ------------------------------------------------------------------


async def ledger(uow: UnitOfWork, principal: Principal, status: str | None) -> list[ComplaintOut]:
    """The ledger of the caller's jurisdiction, newest first."""
    where = [] if principal.is_admin else [within(complaints.c.unit, principal.org)]
    if unit_level(principal.org) == "city" or "discipline_inspector" in principal.roles:
        where = []  # the city centre and inspectors watch the whole city's ledger
    if status is not None:
        where.append(complaints.c.status == status)
    rows = (
        await uow.conn.execute(
            sa.select(complaints).where(*where).order_by(complaints.c.filed_at.desc()).limit(500)
        )
    ).all()
    return [await _out(uow, r) for r in rows]


async def _load(uow: UnitOfWork, complaint_id: uuid.UUID, principal: Principal) -> Row[Any]:
    row = (
        await uow.conn.execute(
            sa.select(complaints).where(complaints.c.complaint_id == complaint_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("投诉举报不存在", field="complaint_id")
    ensure_can_act(principal, row.unit)
    return row


async def answer(
    ctx: AlertingContext,
    uow: UnitOfWork,
    principal: Principal,
    complaint_id: uuid.UUID,
    body: AnswerIn,
) -> ComplaintOut:
    """Record the response (答复); a late C1 goes out with it."""
    row = await _load(uow, complaint_id, principal)
    if row.status == "answered":
        raise Conflict("该投诉举报已答复", field="response")
    at = now()
    await uow.conn.execute(
        complaints.update()
        .where(complaints.c.complaint_id == complaint_id)
        .values(
            status="answered", response=body.response, answered_by=principal.sub, answered_at=at
        )
    )
    await clear_alerts(
        uow,
        of_condition("C1", scope=f"complaint:{complaint_id}"),
        reason="投诉举报已答复",
        source="event",
        actor=principal.sub,
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="complaint.answered",
        subject_type="complaint",
        subject_id=complaint_id,
        details={"complaint_no": row.complaint_no, "late": at > row.due_at},
    )
    return await _out(uow, await _load(uow, complaint_id, principal))


async def transfer(
    ctx: AlertingContext,
    uow: UnitOfWork,
    principal: Principal,
    complaint_id: uuid.UUID,
    body: TransferIn,
) -> ComplaintOut:
    """Hand a clue to the discipline commission, the police or market supervision (线索移送);
    the transfer is recorded. The complaint still needs its answer to the complainant."""
    row = await _load(uow, complaint_id, principal)
    at = now()
    await uow.conn.execute(
        complaint_transfers.insert().values(
            transfer_id=uuid.uuid4(),
            complaint_id=complaint_id,
            to_body=body.to,
            note=body.note,
            transferred_by=principal.sub,
            transferred_at=at,
        )
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="complaint.transferred",
        subject_type="complaint",
        subject_id=complaint_id,
        details={"complaint_no": row.complaint_no, "to": body.to},
    )
    return await _out(uow, row)


async def refer_to_credit(
    ctx: AlertingContext, uow: UnitOfWork, principal: Principal, complaint_id: uuid.UUID
) -> ComplaintOut:
    """An agency complaint starts a credit record: ``complaint.agency_referred``, which credit
    turns into a record awaiting its officers' approval. Once per complaint."""
    row = await _load(uow, complaint_id, principal)
    if row.kind != "agency" or not row.agency_name:
        raise ValidationProblem("只有针对中介或代办的投诉举报可以转入诚信档案", field="kind")
    if row.credit_referred_at is not None:
        raise Conflict("该投诉举报已转入诚信档案", field="complaint_id")
    at = now()
    await uow.conn.execute(
        complaints.update()
        .where(complaints.c.complaint_id == complaint_id)
        .values(credit_referred_by=principal.sub, credit_referred_at=at)
    )
    uow.emit(
        ComplaintAgencyReferred(
            complaint_id=complaint_id,
            complaint_no=row.complaint_no,
            agency_name=row.agency_name,
            org_credit_code=row.org_credit_code,
            facts=scrub(row.content)[:500],
            unit=row.unit,
            referred_by=principal.sub,
            referred_at=at,
        ),
        subject=str(complaint_id),
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="complaint.credit_referred",
        subject_type="complaint",
        subject_id=complaint_id,
        details={"complaint_no": row.complaint_no, "agency": row.agency_name},
    )
    return await _out(uow, await _load(uow, complaint_id, principal))


async def _transfers(uow: UnitOfWork, complaint_id: uuid.UUID) -> list[Row[Any]]:
    return list(
        (
            await uow.conn.execute(
                sa.select(complaint_transfers)
                .where(complaint_transfers.c.complaint_id == complaint_id)
                .order_by(complaint_transfers.c.transferred_at)
            )
        ).all()
    )


async def _out(uow: UnitOfWork, row: Row[Any]) -> ComplaintOut:
    return ComplaintOut(
        complaint_id=row.complaint_id,
        complaint_no=row.complaint_no,
        kind=row.kind,
        about=scrub(row.about),
        content=scrub(row.content),
        agency_name=row.agency_name,
        org_credit_code=row.org_credit_code,
        anonymous=row.anonymous,
        complainant_name_masked=mask_name(row.complainant_name) if row.complainant_name else None,
        complainant_mobile_masked=mask_mobile(row.complainant_mobile)
        if row.complainant_mobile
        else None,
        unit=row.unit,
        filed_at=row.filed_at,
        due_at=row.due_at,
        status=row.status,
        response=row.response,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
        credit_referred_at=row.credit_referred_at,
        transfers=[
            TransferOut(
                to=t.to_body,
                to_name=TRANSFER_BODIES[t.to_body],
                note=scrub(t.note),
                transferred_by=t.transferred_by,
                transferred_at=t.transferred_at,
            )
            for t in await _transfers(uow, row.complaint_id)
        ],
    )

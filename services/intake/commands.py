"""Use cases of the intake service: one function per POST and per event reaction.

Each runs in the unit of work it is given: the state change, its events (outbox) and its audit
entry commit together, or nothing happens. Every refusal is a ``shared.problems.Problem``
raised before anything is written. The endpoints (``api.py``) run the POSTs through
``Idempotency.run``; the event reactions are called from ``handlers.py``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import domain, material_files, messages, problems, store
from services.intake.context import IntakeContext
from services.intake.domain import Status
from services.intake.schemas import (
    AcceptIn,
    ApplicationIn,
    DraftIn,
    DraftOut,
    ImportedApplicationIn,
    MaterialOut,
    NoticeItemOut,
    ReasonIn,
    ReceiptOut,
    ReceivedMaterial,
    StatusOut,
    SubmittedOut,
    SupplementNoticeIn,
    SupplementNoticeOut,
)
from services.intake.tables import (
    applications,
    legacy_imports,
    materials,
    members,
    notice_seq,
    receipt_seq,
    supplement_notices,
    tracking_seq,
)
from shared import audit
from shared.auth import (
    APPLICANT,
    CITY_CLERK,
    DISTRICT_CLERK,
    PORTAL,
    STREET_CLERK,
    Principal,
    can_act,
)
from shared.city import CityConfig, NotConfiguredError
from shared.clock import SHANGHAI, now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationAccepted,
    ApplicationMaterialsUploaded,
    ApplicationQualified,
    ApplicationRefused,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationSupplementReceived,
    ApplicationSupplementRequested,
    ApplicationWithdrawn,
    CreditBanImposed,
    CreditBanLifted,
    Household,
    HouseholdMember,
    MissingItem,
    VerificationCompleted,
)
from shared.idempotency import Answer
from shared.legacy import ImportFieldError, ImportReport, ImportRowOut, legacy_application_id
from shared.pii import keyed_hash, mask_resident_id, scrub
from shared.problems import Forbidden, NotFound, ValidationProblem, field_errors

log = structlog.get_logger(__name__)

CLOSING_ROLES = (STREET_CLERK, DISTRICT_CLERK, CITY_CLERK)


# -- who may act -------------------------------------------------------------------------------


def ensure_may_accept(principal: Principal, row: Any, city: CityConfig) -> None:
    """全城通办: any street office of the city may accept, unless the city restricts it."""
    if city.acceptance.any_street_may_accept:
        if not city.is_street(principal.org):
            raise Forbidden("只有本市街道（镇）受理窗口可以办理受理业务")
        return
    if not can_act(principal, row.street):
        raise Forbidden("本市仅允许申请所属街道（镇）受理该申请")


def is_owner(principal: Principal, row: Any) -> bool:
    return principal.has_role(APPLICANT, PORTAL) and principal.sub == row.submitted_by


async def _load_for_update(conn: Any, application_id: uuid.UUID) -> Any:
    row = await store.load_application(conn, application_id, for_update=True)
    if row is None:
        raise NotFound("申请不存在", field="application_id")
    return row


# -- submission --------------------------------------------------------------------------------


async def submit_application(
    ctx: IntakeContext, uow: UnitOfWork, principal: Principal, body: ApplicationIn
) -> SubmittedOut:
    """Submit an application (网上申请 / 窗口申请); answers the tracking number."""
    city = ctx.city
    _check_submission(body, city)
    key = ctx.id_hash_key
    hashes = [keyed_hash(m.resident_id, key) for m in body.members]
    position_of = {h: i for i, h in enumerate(hashes)}
    at = now()
    today = today_shanghai()
    application_id = uuid.uuid4()
    conn = uow.conn

    await store.lock_people(conn, hashes)
    taken = await store.active_memberships(conn, hashes)
    if taken:
        i = min(position_of[h] for h in taken)
        raise problems.duplicate(body.members[i].resident_id, i)
    banned: dict[str, date] = {}
    for ban in await store.bans_of(conn, hashes):
        if domain.ban_in_force(today, ban.starts_on, ban.ends_on, ban.lifted_on):
            banned[ban.id_hash] = max(ban.ends_on, banned.get(ban.id_hash, ban.ends_on))
    if banned:
        i = min(position_of[h] for h in banned)
        raise problems.banned(body.members[i].resident_id, i, banned[hashes[i]])
    seq = await store.next_value(conn, tracking_seq)
    tracking_no = domain.tracking_number(city.city.code, today, seq)
    district = city.district_of(body.street)
    pledge = body.pledge
    assert pledge is not None  # _check_submission refused a missing pledge
    await conn.execute(
        applications.insert().values(
            id=application_id,
            tracking_no=tracking_no,
            city=city.city.code,
            district=district,
            street=body.street,
            channel=body.channel,
            category=body.category,
            status=Status.SUBMITTED,
            mobile=body.mobile,
            housing_address=body.housing.address,
            housing_area_m2=body.housing.area_m2,
            housing_tenure=body.housing.tenure,
            pledge_version=pledge.version,
            pledge_signed_at=pledge.signed_at,
            submitted_at=at,
            submitted_by=principal.sub,
            updated_at=at,
        )
    )
    try:
        await conn.execute(
            members.insert(),
            [
                {
                    "application_id": application_id,
                    "position": i,
                    "id_hash": hashes[i],
                    "active": True,
                    **m.model_dump(),
                }
                for i, m in enumerate(body.members)
            ],
        )
    except sa.exc.IntegrityError:
        # Only reachable if a writer bypassed the person locks: the unique index held.
        raise problems.DuplicateApplication(
            "家庭成员已有在办申请，请勿重复申请", field="members"
        ) from None
    if principal.has_role(APPLICANT, PORTAL):
        # The draft becomes the application: nothing of it stays behind (网上申请草稿).
        await store.delete_draft(conn, principal.sub)
    applicant = body.members[0]
    uow.emit(
        ApplicationSubmitted(
            application_id=application_id,
            tracking_no=tracking_no,
            city=city.city.code,
            district=district,
            street=body.street,
            channel=body.channel,
            category=body.category,
            member_count=len(body.members),
            submitted_at=at,
            member_id_hashes=hashes,
            applicant_name_masked=domain.masked_name(applicant.name),
            applicant_id_masked=mask_resident_id(applicant.resident_id),
            pledge_version=pledge.version,
            pledge_signed_at=pledge.signed_at,
            applicant_account=principal.sub if principal.has_role(APPLICANT) else None,
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    # Last: the audit chain lock is held from here to commit, keep that window short.
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="application.submitted",
        subject_type="application",
        subject_id=application_id,
        details={
            "tracking_no": tracking_no,
            "channel": body.channel,
            "category": body.category,
            "street": body.street,
            "member_count": len(body.members),
            "applicant_id_masked": mask_resident_id(applicant.resident_id),
        },
        correlation_id=str(application_id),
    )
    return SubmittedOut(
        id=application_id, tracking_no=tracking_no, status=Status.SUBMITTED, submitted_at=at
    )


def _check_submission(body: ApplicationIn, city: CityConfig) -> None:
    try:
        city.category(body.category)
    except NotConfiguredError:
        raise ValidationProblem(f"未知的申请类别：{body.category}", field="category") from None
    if not city.is_street(body.street):
        raise ValidationProblem(
            f"受理街道（镇）代码 {body.street} 不属于{city.city.name}", field="street"
        )
    if body.pledge is None:
        raise ValidationProblem("未签署守信承诺书，不能提交申请", field="pledge")
    if body.pledge.signed_at > now() + timedelta(minutes=5):
        raise ValidationProblem("守信承诺书签署时间不能晚于当前时间", field="pledge.signed_at")
    errors = domain.household_errors(
        [m.relationship for m in body.members], [m.resident_id for m in body.members]
    )
    if errors:
        raise problems.validation(errors)


# -- online drafts (网上申请草稿) ----------------------------------------------------------------


def draft_out(ctx: IntakeContext, row: Any) -> DraftOut | None:
    """The stored draft, opened; None when it is too old or sealed under a key no longer
    configured (it cannot be read, so it is as good as none)."""
    data = ctx.drafts.open(row.payload, max_age_seconds=ctx.settings.draft_days * 86400)
    try:
        if data is not None:
            return DraftOut.model_validate(
                {**data, "created_at": row.created_at, "saved_at": row.updated_at}
            )
    except PydanticValidationError:
        pass  # saved by a version whose draft had other fields
    # Never the content: only that a draft could not be used.
    log.warning("draft_unreadable", saved_at=row.updated_at.isoformat())
    return None


async def save_draft(
    ctx: IntakeContext, uow: UnitOfWork, principal: Principal, body: DraftIn
) -> DraftOut:
    """Save the signed-in applicant's draft, replacing the one before (one per account)."""
    at = now()
    conn = uow.conn
    await store.purge_drafts(conn, at - timedelta(days=ctx.settings.draft_days))
    payload = ctx.drafts.seal(body.model_dump(mode="json"))
    row = await store.save_draft(conn, principal.sub, payload, at)
    return DraftOut(**body.model_dump(), created_at=row.created_at, saved_at=row.updated_at)


async def discard_draft(ctx: IntakeContext, uow: UnitOfWork, principal: Principal) -> None:
    """The applicant gives the draft up (放弃草稿); nothing to discard is not an error."""
    await store.delete_draft(uow.conn, principal.sub)


# -- materials ---------------------------------------------------------------------------------


async def upload_material(
    ctx: IntakeContext,
    uow: UnitOfWork,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    material_type: str,
    file_name: str,
    content_type: str,
    declared_length: str | None,
    content: bytes,
) -> MaterialOut | Answer:
    """Store one material; the same file again changes nothing and answers 200 with it."""
    city = ctx.city
    policy = city.acceptance
    try:
        city.material(material_type)
    except NotConfiguredError:
        raise ValidationProblem(f"未知的材料类型：{material_type}", field="material_type") from None
    if "/" in file_name or "\\" in file_name or not file_name.isprintable():
        raise ValidationProblem("文件名不能包含路径或控制字符", field="file_name")
    if content_type not in policy.allowed_content_types:
        raise problems.UnsupportedMediaType(
            "仅接受以下文件类型：" + "、".join(policy.allowed_content_types),
            field="Content-Type",
        )
    if (
        declared_length is not None
        and declared_length.isdigit()
        and int(declared_length) > policy.max_upload_bytes
    ):
        raise problems.too_large(policy.max_upload_bytes)
    if len(content) > policy.max_upload_bytes:
        raise problems.too_large(policy.max_upload_bytes)
    if not content:
        raise ValidationProblem("上传的文件为空", field="body")
    digest = hashlib.sha256(content).hexdigest()
    at = now()
    conn = uow.conn

    row = await _load_for_update(conn, application_id)
    if not is_owner(principal, row):
        if not principal.has_role(STREET_CLERK) or principal.is_admin:
            raise Forbidden("只能为本人提交的申请上传材料")
        ensure_may_accept(principal, row, city)
    if not domain.is_active(row.status):
        raise problems.invalid_state(row, "上传材料")
    # The application's row lock above orders uploads to it, so looking first is safe and no
    # large object is written for a file that is already there.
    existing = await store.material_by_digest(conn, application_id, material_type, digest)
    if existing is not None:
        # The same file for the same material: answer what is stored, change nothing.
        return Answer(material_out(existing), status_code=200)
    material_id = uuid.uuid4()
    await conn.execute(
        materials.insert().values(
            id=material_id,
            application_id=application_id,
            material_type=material_type,
            file_name=file_name,
            content_type=content_type,
            sha256=digest,
            size_bytes=len(content),
            content_oid=material_files.write(content),
            uploaded_by=principal.sub,
            uploaded_at=at,
        )
    )
    # Alerting keeps Y1 on until every required material is in, so the event says what the
    # category still lacks after this upload (the row lock above orders concurrent uploads).
    present = (m.material_type for m in await store.load_materials(conn, application_id))
    still_missing = domain.missing_materials(
        city.category(row.category).required_materials, present
    )
    uow.emit(
        ApplicationMaterialsUploaded(
            application_id=application_id,
            material_id=material_id,
            material_type=material_type,
            sha256=digest,
            size_bytes=len(content),
            uploaded_by=principal.sub,
            uploaded_at=at,
            missing_materials=still_missing,
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    if row.status == Status.SUPPLEMENT_REQUESTED:
        await _maybe_supplement_received(uow, row, at)
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="application.material_uploaded",
        subject_type="application",
        subject_id=application_id,
        details={"material_type": material_type, "sha256": digest, "size": len(content)},
        correlation_id=str(application_id),
    )
    return MaterialOut(
        id=material_id,
        application_id=application_id,
        material_type=material_type,
        file_name=file_name,
        content_type=content_type,
        sha256=digest,
        size_bytes=len(content),
        uploaded_at=at,
    )


def material_out(row: Any) -> MaterialOut:
    return MaterialOut(
        id=row.id,
        application_id=row.application_id,
        material_type=row.material_type,
        file_name=row.file_name,
        content_type=row.content_type,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        uploaded_at=row.uploaded_at,
    )


async def _maybe_supplement_received(uow: UnitOfWork, row: Any, at: Any) -> None:
    """When everything an open notice asked for has arrived, the application goes on."""
    conn = uow.conn
    notice = await store.latest_notice(conn, row.id, ["open", "overdue"])
    if notice is None:
        return
    codes = [item["code"] for item in notice.items]
    arrived = await store.material_types_since(conn, row.id, notice.requested_at)
    if not domain.items_received(codes, arrived):
        return
    await conn.execute(
        supplement_notices.update()
        .where(
            supplement_notices.c.application_id == row.id,
            supplement_notices.c.n == notice.n,
        )
        .values(status="received", received_at=at)
    )
    await conn.execute(
        applications.update()
        .where(applications.c.id == row.id)
        .values(status=row.resume_status or Status.SUBMITTED, resume_status=None, updated_at=at)
    )
    uow.emit(
        ApplicationSupplementReceived(
            application_id=row.id,
            tracking_no=row.tracking_no,
            notice_no=notice.notice_no,
            items=codes,
            received_at=at,
        ),
        subject=str(row.id),
        correlation_id=str(row.id),
    )


# -- acceptance --------------------------------------------------------------------------------


async def _street_desk(
    ctx: IntakeContext,
    conn: AsyncConnection,
    principal: Principal,
    application_id: uuid.UUID,
    allowed: Collection[str],
    action: str,
) -> tuple[Any, Sequence[Any], list[str]]:
    """What accepting and the supplement notice both start with: the application locked, the
    street clerk's right to act on it and its status checked, its materials and the required
    ones still missing."""
    row = await _load_for_update(conn, application_id)
    ensure_may_accept(principal, row, ctx.city)
    if row.status not in allowed:
        raise problems.invalid_state(row, action)
    received = await store.load_materials(conn, application_id)
    required = ctx.city.category(row.category).required_materials
    missing = domain.missing_materials(required, (m.material_type for m in received))
    return row, received, missing


async def accept_application(
    ctx: IntakeContext,
    uow: UnitOfWork,
    principal: Principal,
    application_id: uuid.UUID,
    body: AcceptIn,
) -> ReceiptOut:
    """Accept (受理) and issue the acceptance receipt (受理回执)."""
    city = ctx.city
    at = now()
    today = today_shanghai()
    conn = uow.conn
    row, received, missing = await _street_desk(
        ctx, conn, principal, application_id, domain.CAN_ACCEPT, "受理"
    )
    reason = body.incomplete_reason if missing else None
    if missing and reason is None:
        names = "、".join(city.material(code).name for code in missing)
        raise ValidationProblem(
            f"材料不全（缺少：{names}），如仍予受理须填写理由", field="incomplete_reason"
        )
    accepting_unit = principal.org if city.is_street(principal.org) else row.street
    receipt_no = domain.receipt_number(
        accepting_unit, today, await store.next_value(conn, receipt_seq)
    )
    await conn.execute(
        applications.update()
        .where(applications.c.id == application_id)
        .values(
            status=Status.ACCEPTED,
            receipt_no=receipt_no,
            accepted_by=principal.sub,
            accepted_by_name=principal.name,
            accepted_org=accepting_unit,
            accepted_at=at,
            materials_complete=not missing,
            incomplete_reason=reason,
            updated_at=at,
        )
    )
    member_rows = await store.load_members(conn, application_id)
    uow.emit(
        ApplicationAccepted(
            application_id=application_id,
            tracking_no=row.tracking_no,
            receipt_no=receipt_no,
            city=row.city,
            district=row.district,
            street=row.street,
            category=row.category,
            accepted_by=principal.sub,
            accepted_at=at,
            materials_complete=not missing,
            incomplete_reason=reason,
            household=Household(
                members=[
                    HouseholdMember(
                        member_id_hash=m.id_hash,
                        name=m.name,
                        resident_id=m.resident_id,
                        relationship=m.relationship,
                        declared_monthly_income=m.declared_monthly_income,
                        declared_financial_assets=m.declared_financial_assets,
                        declared_vehicle_count=m.declared_vehicle_count,
                        declared_vehicle_value=m.declared_vehicle_value,
                        hukou_division=m.hukou_division,
                        employer=m.employer,
                    )
                    for m in member_rows
                ],
                declared_housing_area_m2=row.housing_area_m2,
                housing_tenure=row.housing_tenure,
            ),
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    await messages.tell(
        conn,
        application_id,
        "accepted",
        f"accepted:{application_id}",
        names=[m.name for m in member_rows],
        tracking_no=row.tracking_no,
        receipt_no=receipt_no,
    )
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="application.accepted",
        subject_type="application",
        subject_id=application_id,
        details={
            "receipt_no": receipt_no,
            "materials_complete": not missing,
            "missing": missing,
        },
        correlation_id=str(application_id),
    )
    return ReceiptOut(
        application_id=application_id,
        tracking_no=row.tracking_no,
        receipt_no=receipt_no,
        accepted_by=principal.sub,
        accepted_by_name=principal.name,
        accepting_unit=accepting_unit,
        accepted_at=at,
        materials_received=_grouped(city, received),
        materials_missing=[
            ReceivedMaterial(code=c, name=city.material(c).name, file_names=[]) for c in missing
        ],
        materials_complete=not missing,
        incomplete_reason=reason,
    )


def _grouped(city: CityConfig, rows: list[Any]) -> list[ReceivedMaterial]:
    by_code: dict[str, list[str]] = {}
    for m in rows:
        by_code.setdefault(m.material_type, []).append(m.file_name)
    return [
        ReceivedMaterial(code=code, name=city.material(code).name, file_names=names)
        for code, names in by_code.items()
    ]


# -- supplement notices ------------------------------------------------------------------------


async def request_supplement(
    ctx: IntakeContext,
    uow: UnitOfWork,
    principal: Principal,
    application_id: uuid.UUID,
    body: SupplementNoticeIn,
) -> SupplementNoticeOut:
    """Issue the one-time supplementary-materials notice (一次性补件通知单)."""
    city = ctx.city
    at = now()
    today = today_shanghai()
    conn = uow.conn
    row, _received, missing = await _street_desk(
        ctx, conn, principal, application_id, domain.CAN_REQUEST_SUPPLEMENT, "发出补件通知"
    )
    codes = [item.code for item in body.items]
    errors = domain.notice_errors(
        codes,
        (m.code for m in city.materials),
        missing,
        {m.code: m.name for m in city.materials},
    )
    if errors:
        raise problems.validation(errors)
    deadline = ctx.calendar.add_workdays(today, city.acceptance.supplement_deadline_working_days)
    n = await store.last_notice_n(conn, application_id) + 1
    unit = principal.org if city.is_street(principal.org) else row.street
    notice_no = domain.notice_number(unit, today, await store.next_value(conn, notice_seq))
    items = [
        {"code": i.code, "name": city.material(i.code).name, "note": i.note} for i in body.items
    ]
    await conn.execute(
        supplement_notices.insert().values(
            application_id=application_id,
            n=n,
            notice_no=notice_no,
            items=items,
            deadline=deadline.date,
            deadline_fallback=deadline.used_fallback,
            requested_by=principal.sub,
            requested_by_name=principal.name,
            requested_org=unit,
            requested_at=at,
            status="open",
        )
    )
    await conn.execute(
        applications.update()
        .where(applications.c.id == application_id)
        .values(status=Status.SUPPLEMENT_REQUESTED, resume_status=row.status, updated_at=at)
    )
    uow.emit(
        ApplicationSupplementRequested(
            application_id=application_id,
            tracking_no=row.tracking_no,
            notice_no=notice_no,
            items=[MissingItem(**item) for item in items],
            deadline=deadline.date,
            requested_by=principal.sub,
            requested_at=at,
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    await messages.tell(
        conn,
        application_id,
        "supplement_requested",
        f"supplement_requested:{notice_no}",
        tracking_no=row.tracking_no,
        items="、".join(i["name"] for i in items),
        deadline=f"{deadline.date:%Y年%m月%d日}",
        notice_no=notice_no,
    )
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="application.supplement_requested",
        subject_type="application",
        subject_id=application_id,
        details={"notice_no": notice_no, "items": codes, "deadline": deadline.date},
        correlation_id=str(application_id),
    )
    return SupplementNoticeOut(
        application_id=application_id,
        n=n,
        notice_no=notice_no,
        items=[NoticeItemOut(**item) for item in items],
        deadline=deadline.date,
        deadline_uses_fallback_calendar=deadline.used_fallback,
        requested_at=at,
        status="open",
        url=f"/applications/{application_id}/supplement-notices/{n}",
    )


# -- withdraw and reject -----------------------------------------------------------------------


async def withdraw_application(
    ctx: IntakeContext,
    uow: UnitOfWork,
    principal: Principal,
    application_id: uuid.UUID,
    body: ReasonIn,
) -> StatusOut:
    """Withdraw (撤回) at the applicant's request; members may apply again afterwards."""
    at = now()
    conn = uow.conn
    row = await _load_for_update(conn, application_id)
    owner = is_owner(principal, row)
    if not owner and not (
        principal.has_role(*CLOSING_ROLES)
        and not principal.is_admin
        and can_act(principal, row.street)
    ):
        raise Forbidden("只有申请人本人或辖区经办人员可以撤回申请")
    if row.status not in domain.CAN_WITHDRAW:
        raise problems.invalid_state(row, "撤回")
    await store.close_application(
        conn, application_id, status=Status.WITHDRAWN, by=principal.sub, at=at, reason=body.reason
    )
    uow.emit(
        ApplicationWithdrawn(
            application_id=application_id,
            tracking_no=row.tracking_no,
            initiated_by="applicant" if owner else "staff",
            withdrawn_by=principal.sub,
            withdrawn_at=at,
            reason=body.reason,
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="application.withdrawn",
        subject_type="application",
        subject_id=application_id,
        details={"reason": body.reason, "by_applicant": owner},
        correlation_id=str(application_id),
    )
    return StatusOut(id=application_id, tracking_no=row.tracking_no, status=Status.WITHDRAWN, at=at)


async def reject_application(
    ctx: IntakeContext,
    uow: UnitOfWork,
    principal: Principal,
    application_id: uuid.UUID,
    body: ReasonIn,
) -> StatusOut:
    """Refuse to accept (不予受理) with the reason the family is told."""
    at = now()
    conn = uow.conn
    row = await _load_for_update(conn, application_id)
    if not can_act(principal, row.street):
        raise Forbidden("无权在该单位办理业务")
    if row.status not in domain.CAN_REJECT:
        raise problems.invalid_state(row, "不予受理")
    await store.close_application(
        conn, application_id, status=Status.REJECTED, by=principal.sub, at=at, reason=body.reason
    )
    uow.emit(
        ApplicationRefused(
            application_id=application_id,
            tracking_no=row.tracking_no,
            city=row.city,
            district=row.district,
            street=row.street,
            category=row.category,
            reasons=[body.reason],
            refused_at=at,
            refused_by=principal.sub,
        ),
        subject=str(application_id),
        correlation_id=str(application_id),
    )
    await messages.tell(
        conn,
        application_id,
        "refused",
        f"refused:{application_id}",
        tracking_no=row.tracking_no,
        reasons=body.reason,
    )
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="application.rejected",
        subject_type="application",
        subject_id=application_id,
        details={"reason": body.reason},
        correlation_id=str(application_id),
    )
    return StatusOut(id=application_id, tracking_no=row.tracking_no, status=Status.REJECTED, at=at)


# -- event reactions ---------------------------------------------------------------------------
# Each is idempotent by effect (upserts, conditional updates); the inbox already drops
# redeliveries of the same event id.


async def project_ban(ctx: IntakeContext, uow: UnitOfWork, ban: CreditBanImposed) -> None:
    """Keep the local ban projection that submission checks (no synchronous call to credit)."""
    if ban.subject_kind != "family":
        return  # employers and agencies do not apply for housing
    await store.upsert_ban(
        uow.conn,
        {
            "record_id": ban.record_id,
            "id_hash": ban.id_hash,
            "starts_on": ban.starts_on,
            "ends_on": ban.ends_on,
            "updated_at": now(),
        },
    )


async def project_lift(ctx: IntakeContext, uow: UnitOfWork, lift: CreditBanLifted) -> None:
    # Also stored when the ban itself has not arrived yet, so that a late ban is born lifted.
    await store.upsert_ban(
        uow.conn,
        {
            "record_id": lift.record_id,
            "id_hash": lift.id_hash,
            "lifted_on": lift.lifted_on,
            "updated_at": now(),
        },
    )


async def close_rejected(ctx: IntakeContext, uow: UnitOfWork, event: ApplicationRejected) -> None:
    """Review's rejection ends a live application: its members may apply again."""
    if event.case_id is None:
        return  # our own refusal (不予受理), already applied when it was published
    row = await store.load_application(uow.conn, event.application_id, for_update=True)
    if row is None:
        return
    await messages.tell(
        uow.conn,
        row.id,
        "rejected",
        f"rejected:{event.case_id}",
        tracking_no=row.tracking_no,
        reasons=messages.reasons_text(event.reasons),
    )
    if not domain.is_active(row.status):
        return
    await store.close_application(
        uow.conn,
        uuid.UUID(str(event.application_id)),
        status=Status.REJECTED,
        by="review",
        at=event.rejected_at,
        reason="；".join(event.reasons),
    )
    log.info("application_closed_by_review", application_id=str(event.application_id))


# -- telling the applicant (及时告知) ------------------------------------------------------------
# Events of review, verification and allocation about this city's applications become a stored
# message for the applicant (portal + SMS); ``messages.tell`` dedupes per occurrence.


async def tell_verification_failed(
    ctx: IntakeContext, uow: UnitOfWork, event: VerificationCompleted
) -> None:
    """Only an ineligible result is a failure the family must hear about with its reasons;
    ``needs_review`` goes on to a person and ``eligible`` to review's decision."""
    if event.recommendation != "ineligible":
        return
    row = await store.load_application(uow.conn, event.application_id)
    if row is None:
        return
    await messages.tell(
        uow.conn,
        row.id,
        "verification_failed",
        f"verification_failed:{event.case_id}",
        tracking_no=row.tracking_no,
        reasons=messages.reasons_text(event.reasons),
    )


async def tell_qualified(ctx: IntakeContext, uow: UnitOfWork, event: ApplicationQualified) -> None:
    row = await store.load_application(uow.conn, event.application_id)
    if row is None:
        return
    await messages.tell(
        uow.conn,
        row.id,
        "qualified",
        f"qualified:{event.case_id}",
        tracking_no=row.tracking_no,
    )


async def tell_household(
    ctx: IntakeContext,
    uow: UnitOfWork,
    household_reference: str,
    kind: str,
    occurrence: str,
    **fields: Any,
) -> None:
    """An allocation event names the household by its reference (the tracking number)."""
    row = await messages.application_by_tracking_no(uow.conn, household_reference)
    if row is None:
        return  # a household this intake never held (imported): nobody here has its mobile
    await messages.tell(
        uow.conn, row.id, kind, f"{kind}:{occurrence}", tracking_no=row.tracking_no, **fields
    )


# -- historical import (历史数据导入) ----------------------------------------------------------


async def import_applications(
    ctx: IntakeContext, uow: UnitOfWork, principal: Principal, rows: Sequence[dict[str, Any]]
) -> ImportReport:
    """Load historical cases row by row; a bad row stores nothing and is named in the report.

    All-or-nothing per row, not per file: a city's export of thousands of cases with a few bad
    rows imports the good ones, and the bad ones come back fixed in a later file (the good ones
    are then ``unchanged``). Each row is its own savepoint; its events are queued only once
    the savepoint held, so a refused row publishes nothing.
    """
    digest = hashlib.sha256(
        json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    report = [await _import_one(ctx, uow, principal, n, raw) for n, raw in enumerate(rows, 1)]
    counts = {k: sum(1 for r in report if r.outcome == k) for k in _OUTCOMES}
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="applications.imported",
        subject_type="import",
        subject_id=uuid.uuid5(uuid.NAMESPACE_OID, digest),
        details={"file_sha256": digest, "rows": len(rows), **counts},
    )
    return ImportReport(file_sha256=digest, rows=len(rows), report=report, **counts)


_OUTCOMES = ("imported", "unchanged", "rejected")


async def _import_one(
    ctx: IntakeContext, uow: UnitOfWork, principal: Principal, n: int, raw: dict[str, Any]
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
        rec = ImportedApplicationIn.model_validate(raw)
    except PydanticValidationError as exc:
        return rejected(field_errors(exc.errors()))
    errors = _imported_errors(rec, ctx.city)
    if errors:
        return rejected(errors)
    row_sha = hashlib.sha256(rec.model_dump_json().encode()).hexdigest()
    conn = uow.conn
    await conn.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"legacy:{case_no}", 0)))
    )
    seen = (
        await conn.execute(
            sa.select(legacy_imports, applications.c.tracking_no)
            .join(applications, applications.c.id == legacy_imports.c.application_id)
            .where(legacy_imports.c.legacy_case_no == rec.legacy_case_no)
        )
    ).first()
    if seen is not None:
        if seen.row_sha256 != row_sha:
            return rejected(
                [{"field": "legacy_case_no", "detail": "该原系统案卷号已导入且内容不同，不会覆盖"}]
            )
        return ImportRowOut(
            row=n,
            legacy_case_no=case_no,
            outcome="unchanged",
            application_id=seen.application_id,
            tracking_no=seen.tracking_no,
        )
    try:
        async with conn.begin_nested():
            events = await _store_imported(ctx, conn, principal, rec, row_sha)
    except sa.exc.IntegrityError as exc:
        return rejected([_integrity_error(exc)])
    application_id = legacy_application_id(rec.legacy_case_no)
    for event in events:
        uow.emit(event, subject=str(application_id), correlation_id=str(application_id))
    return ImportRowOut(
        row=n,
        legacy_case_no=case_no,
        outcome="imported",
        application_id=application_id,
        tracking_no=events[0].tracking_no,  # type: ignore[attr-defined]
    )


def _imported_errors(rec: ImportedApplicationIn, city: CityConfig) -> list[dict[str, str]]:
    """What submission and acceptance refuse, less what a past fact cannot help (no
    receipt, empty or missing materials: those are what R1, R2 and Y1 are there to light)."""
    errors: list[dict[str, str]] = []
    try:
        city.category(rec.category)
    except NotConfiguredError:
        errors.append({"field": "category", "detail": "未知的申请类别"})
    if not city.is_street(rec.street):
        errors.append({"field": "street", "detail": f"街道（镇）代码不属于{city.city.name}"})
    errors += [
        {"field": e.field, "detail": e.detail}
        for e in domain.household_errors(
            [m.relationship for m in rec.members], [m.resident_id for m in rec.members]
        )
    ]
    at = now() + timedelta(minutes=5)
    if rec.submitted_at > at:
        errors.append({"field": "submitted_at", "detail": "申请时间不能晚于当前时间"})
    if rec.accepted_at is not None:
        if rec.accepted_at > at:
            errors.append({"field": "accepted_at", "detail": "受理时间不能晚于当前时间"})
        if rec.accepted_at < rec.submitted_at:
            errors.append({"field": "accepted_at", "detail": "受理时间不能早于申请时间"})
    elif rec.receipt_no is not None:
        errors.append({"field": "accepted_at", "detail": "有受理回执编号时须填写受理时间"})
    for i, m in enumerate(rec.materials):
        try:
            city.material(m.material_type)
        except NotConfiguredError:
            errors.append({"field": f"materials.{i}.material_type", "detail": "未知的材料类型"})
        if m.size_bytes > 0 and m.sha256 is None:
            errors.append({"field": f"materials.{i}.sha256", "detail": "非空材料须填写SHA-256"})
    return errors


def _integrity_error(exc: sa.exc.IntegrityError) -> dict[str, str]:
    text = str(exc.orig)
    if "members_one_active_application" in text:
        return {"field": "members", "detail": "家庭成员已有在办申请，不能重复导入"}
    if "receipt_no" in text:
        return {"field": "receipt_no", "detail": "受理回执编号已被其他申请使用"}
    if "materials" in text:
        return {"field": "materials", "detail": "同一材料类型下有重复文件"}
    return {"field": "legacy_case_no", "detail": "该行与已有数据冲突，未导入"}


async def _store_imported(
    ctx: IntakeContext,
    conn: AsyncConnection,
    principal: Principal,
    rec: ImportedApplicationIn,
    row_sha: str,
) -> list[Any]:
    """Rows as intake writes them on submission and acceptance (the same columns, the ID
    numbers hashed the same way), and the events those would have published, in order."""
    city = ctx.city
    at = now()
    application_id = legacy_application_id(rec.legacy_case_no)
    hashes = [keyed_hash(m.resident_id, ctx.id_hash_key) for m in rec.members]
    await store.lock_people(conn, hashes)
    seq = await store.next_value(conn, tracking_seq)
    day = rec.submitted_at.astimezone(SHANGHAI).date()  # the day the window saw
    tracking_no = domain.tracking_number(city.city.code, day, seq)
    district = city.district_of(rec.street)
    accepted = rec.accepted_at is not None
    required = city.category(rec.category).required_materials
    # An empty material is no material: it does not count towards completeness.
    missing = domain.missing_materials(
        required, (m.material_type for m in rec.materials if m.size_bytes > 0)
    )
    accepted_by = rec.accepted_by or f"import:{principal.sub}"
    await conn.execute(
        applications.insert().values(
            id=application_id,
            tracking_no=tracking_no,
            city=city.city.code,
            district=district,
            street=rec.street,
            channel=rec.channel,
            category=rec.category,
            status=Status.ACCEPTED if accepted else Status.SUBMITTED,
            mobile=rec.mobile,
            housing_address=rec.housing.address,
            housing_area_m2=rec.housing.area_m2,
            housing_tenure=rec.housing.tenure,
            pledge_version=rec.pledge.version,
            pledge_signed_at=rec.pledge.signed_at,
            submitted_at=rec.submitted_at,
            submitted_by=f"import:{principal.sub}",
            receipt_no=rec.receipt_no,
            accepted_by=accepted_by if accepted else None,
            accepted_org=rec.street if accepted else None,
            accepted_at=rec.accepted_at,
            materials_complete=(not missing) if accepted else None,
            incomplete_reason=rec.incomplete_reason if accepted and missing else None,
            updated_at=at,
        )
    )
    await conn.execute(
        members.insert(),
        [
            {
                "application_id": application_id,
                "position": i,
                "id_hash": hashes[i],
                "active": True,
                **m.model_dump(),
            }
            for i, m in enumerate(rec.members)
        ],
    )
    applicant = rec.members[0]
    events: list[Any] = [
        ApplicationSubmitted(
            application_id=application_id,
            tracking_no=tracking_no,
            city=city.city.code,
            district=district,
            street=rec.street,
            channel=rec.channel,
            category=rec.category,
            member_count=len(rec.members),
            submitted_at=rec.submitted_at,
            member_id_hashes=hashes,
            applicant_name_masked=domain.masked_name(applicant.name),
            applicant_id_masked=mask_resident_id(applicant.resident_id),
            pledge_version=rec.pledge.version,
            pledge_signed_at=rec.pledge.signed_at,
            imported=True,
        )
    ]
    present: list[str] = []
    for m in rec.materials:
        material_id = uuid.uuid4()
        sha = m.sha256 or hashlib.sha256(b"").hexdigest()
        await conn.execute(
            materials.insert().values(
                id=material_id,
                application_id=application_id,
                material_type=m.material_type,
                file_name=m.file_name,
                content_type=m.content_type,
                sha256=sha,
                size_bytes=m.size_bytes,
                # The file stays in the old system's archive; its size and digest are the fact
                # (no large object: content_oid stays NULL).
                uploaded_by=f"import:{principal.sub}",
                uploaded_at=m.uploaded_at,
            )
        )
        if m.size_bytes > 0:
            present.append(m.material_type)
        events.append(
            ApplicationMaterialsUploaded(
                application_id=application_id,
                material_id=material_id,
                material_type=m.material_type,
                sha256=sha,
                size_bytes=m.size_bytes,
                uploaded_by=f"import:{principal.sub}",
                uploaded_at=m.uploaded_at,
                missing_materials=domain.missing_materials(required, present),
            )
        )
    if rec.accepted_at is not None:
        member_rows = await store.load_members(conn, application_id)
        events.append(
            ApplicationAccepted(
                application_id=application_id,
                tracking_no=tracking_no,
                receipt_no=rec.receipt_no,
                city=city.city.code,
                district=district,
                street=rec.street,
                category=rec.category,
                accepted_by=accepted_by,
                accepted_at=rec.accepted_at,
                materials_complete=not missing,
                incomplete_reason=rec.incomplete_reason if missing else None,
                household=_household(member_rows, rec.housing.area_m2, rec.housing.tenure),
                imported=True,
            )
        )
    await conn.execute(
        legacy_imports.insert().values(
            legacy_case_no=rec.legacy_case_no,
            application_id=application_id,
            row_sha256=row_sha,
            imported_by=principal.sub,
            imported_at=at,
        )
    )
    return events


def _household(member_rows: Sequence[Any], area: Any, tenure: str) -> Household:
    return Household(
        members=[
            HouseholdMember(
                member_id_hash=m.id_hash,
                name=m.name,
                resident_id=m.resident_id,
                relationship=m.relationship,
                declared_monthly_income=m.declared_monthly_income,
                declared_financial_assets=m.declared_financial_assets,
                declared_vehicle_count=m.declared_vehicle_count,
                declared_vehicle_value=m.declared_vehicle_value,
                hukou_division=m.hukou_division,
                employer=m.employer,
            )
            for m in member_rows
        ],
        declared_housing_area_m2=area,
        housing_tenure=tenure,
    )

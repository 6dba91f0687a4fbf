"""HTTP API of the intake service: what portals, street windows and staff call.

Every command is one unit of work: the state change, its events (outbox) and its audit entry
commit together, or nothing happens. Every refusal is a ``shared.problems.Problem`` raised
before anything is written.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.intake import domain, store
from services.intake.config import id_hash_key
from services.intake.domain import Status
from services.intake.notices import render_notice
from services.intake.schemas import (
    AcceptIn,
    ApplicationIn,
    ApplicationOut,
    ApplicationSummary,
    HousingIn,
    MaterialOut,
    MemberOut,
    NoticeItemOut,
    PledgeIn,
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
    materials,
    members,
    notice_seq,
    receipt_seq,
    supplement_notices,
    tracking_seq,
)
from shared import audit
from shared.app import RuntimeDep
from shared.auth import (
    ADMIN,
    APPLICANT,
    CASEWORK_ROLES,
    CITY_CLERK,
    DISCIPLINE_INSPECTOR,
    DISTRICT_CLERK,
    PORTAL,
    STREET_CLERK,
    SUPERVISOR,
    CurrentPrincipal,
    Principal,
    can_act,
    can_read,
    ensure_can_read,
    require_roles,
)
from shared.auth.units import is_unit_code, unit_level
from shared.city import CityConfig, NotConfiguredError
from shared.clock import now, today_shanghai
from shared.events.catalogue import (
    ApplicationAccepted,
    ApplicationMaterialsUploaded,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationSupplementReceived,
    ApplicationSupplementRequested,
    ApplicationWithdrawn,
    Household,
    HouseholdMember,
    MissingItem,
)
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.pii import keyed_hash, mask_resident_id
from shared.problems import (
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ValidationProblem,
    problem_type,
)
from shared.workdays import default_calendar

router = APIRouter(tags=["intake"])

STAFF_READ_ROLES = (
    *CASEWORK_ROLES,
    SUPERVISOR,
    DISCIPLINE_INSPECTOR,
    ADMIN,
)
CLOSING_ROLES = (STREET_CLERK, DISTRICT_CLERK, CITY_CLERK)

Submitter = Annotated[Principal, Depends(require_roles(PORTAL, APPLICANT, STREET_CLERK))]
StreetClerk = Annotated[Principal, Depends(require_roles(STREET_CLERK))]
Uploader = Annotated[Principal, Depends(require_roles(PORTAL, APPLICANT, STREET_CLERK))]
Staff = Annotated[Principal, Depends(require_roles(*STAFF_READ_ROLES))]


# -- problems of this service ------------------------------------------------------------------


class DuplicateApplication(Conflict):
    type = problem_type("duplicate-application")
    title = "家庭成员已有在办申请"


class MemberBanned(Forbidden):
    type = problem_type("integrity-ban")
    title = "家庭成员处于失信禁止申请期"


class InvalidState(Conflict):
    type = problem_type("invalid-state")
    title = "申请当前状态不允许此操作"


class PayloadTooLarge(Problem):
    status = 413
    type = problem_type("payload-too-large")
    title = "上传文件过大"


class UnsupportedMediaType(Problem):
    status = 415
    type = problem_type("unsupported-media-type")
    title = "不支持的文件类型"


def _invalid_state(row: Any, action: str) -> InvalidState:
    name = domain.STATUS_NAMES.get(row.status, row.status)
    return InvalidState(f"申请当前状态为“{name}”，不能{action}", extra={"status": row.status})


def _validation(errors: list[domain.FieldError]) -> ValidationProblem:
    first = errors[0]
    return ValidationProblem(
        first.detail,
        field=first.field,
        extra={"errors": [{"field": e.field, "detail": e.detail} for e in errors]},
    )


def _audit_kwargs(principal: Principal) -> dict[str, Any]:
    return {
        "actor": principal.sub,
        "actor_roles": sorted(principal.roles),
        "actor_org": principal.org,
    }


# -- submission --------------------------------------------------------------------------------


@router.post("/applications", status_code=201, response_model=SubmittedOut)
async def submit_application(
    body: ApplicationIn, runtime: RuntimeDep, idem: IdempotencyDep, principal: Submitter
) -> Any:
    """Submit an application (网上申请 / 窗口申请); answers the tracking number."""
    city = runtime.city
    _check_submission(body, city)
    key = id_hash_key()
    hashes = [keyed_hash(m.resident_id, key) for m in body.members]
    position_of = {h: i for i, h in enumerate(hashes)}
    at = now()
    today = today_shanghai()
    application_id = uuid.uuid4()

    async with runtime.uow() as uow:
        conn = uow.conn
        if (replay := await idem.replay(conn)) is not None:
            return replay
        await store.lock_people(conn, hashes)
        taken = await store.active_memberships(conn, hashes)
        if taken:
            i = min(position_of[h] for h in taken)
            raise _duplicate(body, i)
        banned: dict[str, date] = {}
        for ban in await store.bans_of(conn, hashes):
            if domain.ban_in_force(today, ban.starts_on, ban.ends_on, ban.lifted_on):
                banned[ban.id_hash] = max(ban.ends_on, banned.get(ban.id_hash, ban.ends_on))
        if banned:
            i = min(position_of[h] for h in banned)
            ends_on = banned[hashes[i]]
            raise MemberBanned(
                f"家庭成员（身份证号 {mask_resident_id(body.members[i].resident_id)}）"
                f"因失信行为处于禁止申请期，{ends_on:%Y年%m月%d日}起方可重新申请",
                field=f"members.{i}.resident_id",
                extra={
                    "ban_ends_on": ends_on.isoformat(),
                    "member_id_masked": mask_resident_id(body.members[i].resident_id),
                },
            )
        seq = await store.next_value(conn, tracking_seq)
        tracking_no = domain.tracking_number(city.city.code, today, seq)
        district = city.district_of(body.street)
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
                pledge_version=body.pledge.version,  # type: ignore[union-attr]
                pledge_signed_at=body.pledge.signed_at,  # type: ignore[union-attr]
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
            raise DuplicateApplication(
                "家庭成员已有在办申请，请勿重复申请", field="members"
            ) from None
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
                pledge_version=body.pledge.version,  # type: ignore[union-attr]
                pledge_signed_at=body.pledge.signed_at,  # type: ignore[union-attr]
            ),
            subject=str(application_id),
            correlation_id=str(application_id),
        )
        result = SubmittedOut(
            id=application_id, tracking_no=tracking_no, status=Status.SUBMITTED, submitted_at=at
        )
        response = await idem.remember(conn, 201, result)
        # Last: the audit chain lock is held from here to commit, keep that window short.
        await audit.record(
            conn,
            **_audit_kwargs(principal),
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
        await uow.commit()
    return response


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
        raise _validation(errors)


def _duplicate(body: ApplicationIn, i: int) -> DuplicateApplication:
    masked = mask_resident_id(body.members[i].resident_id)
    return DuplicateApplication(
        f"家庭成员（身份证号 {masked}）已有在办的保障性住房申请，不能重复申请",
        field=f"members.{i}.resident_id",
        extra={"member_id_masked": masked},
    )


# -- jurisdiction ------------------------------------------------------------------------------


def _ensure_may_accept(principal: Principal, row: Any, city: CityConfig) -> None:
    """全城通办: any street office of the city may accept, unless the city restricts it."""
    if principal.is_admin:
        return
    if city.acceptance.any_street_may_accept:
        if not city.is_street(principal.org):
            raise Forbidden("只有本市街道（镇）受理窗口可以办理受理业务")
        return
    if not can_act(principal, row.street):
        raise Forbidden("本市仅允许申请所属街道（镇）受理该申请")


def _is_owner(principal: Principal, row: Any) -> bool:
    return principal.has_role(APPLICANT, PORTAL) and principal.sub == row.submitted_by


async def _load_for_update(conn: Any, application_id: uuid.UUID) -> Any:
    row = await store.load_application(conn, application_id, for_update=True)
    if row is None:
        raise NotFound("申请不存在", field="application_id")
    return row


# -- materials ---------------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/materials",
    status_code=201,
    response_model=MaterialOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("application/pdf", "image/jpeg", "image/png")
            },
        }
    },
)
async def upload_material(
    application_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    principal: Uploader,
    material_type: Annotated[str, Query(description="材料类型代码，如 id_card")],
    file_name: Annotated[str, Query(description="文件名", min_length=1, max_length=200)],
) -> Any:
    """Upload one material as the raw request body; the same file again changes nothing."""
    city = runtime.city
    policy = city.acceptance
    try:
        city.material(material_type)
    except NotConfiguredError:
        raise ValidationProblem(f"未知的材料类型：{material_type}", field="material_type") from None
    if "/" in file_name or "\\" in file_name or not file_name.isprintable():
        raise ValidationProblem("文件名不能包含路径或控制字符", field="file_name")
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in policy.allowed_content_types:
        raise UnsupportedMediaType(
            "仅接受以下文件类型：" + "、".join(policy.allowed_content_types),
            field="Content-Type",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > policy.max_upload_bytes:
        raise _too_large(policy.max_upload_bytes)
    content = await request.body()
    if len(content) > policy.max_upload_bytes:
        raise _too_large(policy.max_upload_bytes)
    if not content:
        raise ValidationProblem("上传的文件为空", field="body")
    digest = hashlib.sha256(content).hexdigest()
    at = now()

    async with runtime.uow() as uow:
        conn = uow.conn
        if (replay := await idem.replay(conn)) is not None:
            return replay
        row = await _load_for_update(conn, application_id)
        if not _is_owner(principal, row):
            if not principal.has_role(STREET_CLERK, ADMIN):
                raise Forbidden("只能为本人提交的申请上传材料")
            _ensure_may_accept(principal, row, city)
        if not domain.is_active(row.status):
            raise _invalid_state(row, "上传材料")
        material_id = uuid.uuid4()
        inserted = await conn.scalar(
            pg_insert(materials)
            .values(
                id=material_id,
                application_id=application_id,
                material_type=material_type,
                file_name=file_name,
                content_type=content_type,
                sha256=digest,
                size_bytes=len(content),
                content=content,
                uploaded_by=principal.sub,
                uploaded_at=at,
            )
            .on_conflict_do_nothing()
            .returning(materials.c.id)
        )
        if inserted is None:
            # The same file for the same material: answer what is stored, change nothing.
            existing = (
                await conn.execute(
                    sa.select(*(c for c in materials.c if c.name != "content")).where(
                        materials.c.application_id == application_id,
                        materials.c.material_type == material_type,
                        materials.c.sha256 == digest,
                    )
                )
            ).one()
            response = await idem.remember(conn, 200, _material_out(existing))
            await uow.commit()
            return response
        uow.emit(
            ApplicationMaterialsUploaded(
                application_id=application_id,
                material_id=material_id,
                material_type=material_type,
                sha256=digest,
                size_bytes=len(content),
                uploaded_by=principal.sub,
                uploaded_at=at,
            ),
            subject=str(application_id),
            correlation_id=str(application_id),
        )
        if row.status == Status.SUPPLEMENT_REQUESTED:
            await _maybe_supplement_received(uow, row, at)
        result = MaterialOut(
            id=material_id,
            application_id=application_id,
            material_type=material_type,
            file_name=file_name,
            content_type=content_type,
            sha256=digest,
            size_bytes=len(content),
            uploaded_at=at,
        )
        response = await idem.remember(conn, 201, result)
        await audit.record(
            conn,
            **_audit_kwargs(principal),
            action="application.material_uploaded",
            subject_type="application",
            subject_id=application_id,
            details={"material_type": material_type, "sha256": digest, "size": len(content)},
            correlation_id=str(application_id),
        )
        await uow.commit()
    return response


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"单个文件不能超过 {limit // (1024 * 1024)} MB", field="body")


def _material_out(row: Any) -> MaterialOut:
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


async def _maybe_supplement_received(uow: Any, row: Any, at: Any) -> None:
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


@router.post("/applications/{application_id}/accept", status_code=201, response_model=ReceiptOut)
async def accept_application(
    application_id: uuid.UUID,
    body: AcceptIn,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    principal: StreetClerk,
) -> Any:
    """Accept (受理) and issue the acceptance receipt (受理回执)."""
    city = runtime.city
    at = now()
    today = today_shanghai()
    async with runtime.uow() as uow:
        conn = uow.conn
        if (replay := await idem.replay(conn)) is not None:
            return replay
        row = await _load_for_update(conn, application_id)
        _ensure_may_accept(principal, row, city)
        if row.status not in domain.CAN_ACCEPT:
            raise _invalid_state(row, "受理")
        received = await store.load_materials(conn, application_id)
        required = city.category(row.category).required_materials
        missing = domain.missing_materials(required, (m.material_type for m in received))
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
        receipt = ReceiptOut(
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
        response = await idem.remember(conn, 201, receipt)
        await audit.record(
            conn,
            **_audit_kwargs(principal),
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
        await uow.commit()
    return response


def _grouped(city: CityConfig, rows: list[Any]) -> list[ReceivedMaterial]:
    by_code: dict[str, list[str]] = {}
    for m in rows:
        by_code.setdefault(m.material_type, []).append(m.file_name)
    return [
        ReceivedMaterial(code=code, name=city.material(code).name, file_names=names)
        for code, names in by_code.items()
    ]


# -- supplement notices ------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/supplement-notice",
    status_code=201,
    response_model=SupplementNoticeOut,
)
async def request_supplement(
    application_id: uuid.UUID,
    body: SupplementNoticeIn,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    principal: StreetClerk,
) -> Any:
    """Issue the one-time supplementary-materials notice (一次性补件通知单)."""
    city = runtime.city
    at = now()
    today = today_shanghai()
    async with runtime.uow() as uow:
        conn = uow.conn
        if (replay := await idem.replay(conn)) is not None:
            return replay
        row = await _load_for_update(conn, application_id)
        _ensure_may_accept(principal, row, city)
        if row.status not in domain.CAN_REQUEST_SUPPLEMENT:
            raise _invalid_state(row, "发出补件通知")
        received = await store.load_materials(conn, application_id)
        required = city.category(row.category).required_materials
        missing = domain.missing_materials(required, (m.material_type for m in received))
        codes = [item.code for item in body.items]
        errors = domain.notice_errors(
            codes,
            (m.code for m in city.materials),
            missing,
            {m.code: m.name for m in city.materials},
        )
        if errors:
            raise _validation(errors)
        deadline = default_calendar().add_workdays(
            today, city.acceptance.supplement_deadline_working_days
        )
        n = (
            int(
                await conn.scalar(
                    sa.select(sa.func.coalesce(sa.func.max(supplement_notices.c.n), 0)).where(
                        supplement_notices.c.application_id == application_id
                    )
                )
            )
            + 1
        )
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
        result = SupplementNoticeOut(
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
        response = await idem.remember(conn, 201, result)
        await audit.record(
            conn,
            **_audit_kwargs(principal),
            action="application.supplement_requested",
            subject_type="application",
            subject_id=application_id,
            details={"notice_no": notice_no, "items": codes, "deadline": deadline.date},
            correlation_id=str(application_id),
        )
        await uow.commit()
    return response


@router.get("/applications/{application_id}/supplement-notices/{n}", response_class=HTMLResponse)
async def print_supplement_notice(
    application_id: uuid.UUID, n: int, runtime: RuntimeDep, principal: CurrentPrincipal
) -> HTMLResponse:
    """The printable notice (补件通知单) in Chinese, as handed to the family."""
    async with runtime.uow() as uow:
        conn = uow.conn
        row = await store.load_application(conn, application_id)
        if row is None:
            raise NotFound("申请不存在", field="application_id")
        staff = _ensure_may_read(principal, row)
        notice = (
            await conn.execute(
                sa.select(supplement_notices).where(
                    supplement_notices.c.application_id == application_id,
                    supplement_notices.c.n == n,
                )
            )
        ).first()
        if notice is None:
            raise NotFound("补件通知单不存在", field="n")
        applicant = (await store.load_members(conn, application_id))[0]
        if staff:
            await _audit_read(conn, principal, application_id, "supplement_notice.read")
            await uow.commit()
    html = render_notice(
        city=runtime.city,
        application=row,
        applicant_name=applicant.name,
        notice=notice,
    )
    return HTMLResponse(html)


# -- withdraw and reject -----------------------------------------------------------------------


@router.post("/applications/{application_id}/withdraw", status_code=200, response_model=StatusOut)
async def withdraw_application(
    application_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    principal: CurrentPrincipal,
) -> Any:
    """Withdraw (撤回) at the applicant's request; members may apply again afterwards."""
    at = now()
    async with runtime.uow() as uow:
        conn = uow.conn
        if (replay := await idem.replay(conn)) is not None:
            return replay
        row = await _load_for_update(conn, application_id)
        owner = _is_owner(principal, row)
        if not owner and not (
            principal.has_role(*CLOSING_ROLES, ADMIN) and can_act(principal, row.street)
        ):
            raise Forbidden("只有申请人本人或辖区经办人员可以撤回申请")
        if row.status not in domain.CAN_WITHDRAW:
            raise _invalid_state(row, "撤回")
        await store.close_application(
            conn,
            application_id,
            status=Status.WITHDRAWN,
            by=principal.sub,
            at=at,
            reason=body.reason,
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
        result = StatusOut(
            id=application_id, tracking_no=row.tracking_no, status=Status.WITHDRAWN, at=at
        )
        response = await idem.remember(conn, 200, result)
        await audit.record(
            conn,
            **_audit_kwargs(principal),
            action="application.withdrawn",
            subject_type="application",
            subject_id=application_id,
            details={"reason": body.reason, "by_applicant": owner},
            correlation_id=str(application_id),
        )
        await uow.commit()
    return response


@router.post("/applications/{application_id}/reject", status_code=200, response_model=StatusOut)
async def reject_application(
    application_id: uuid.UUID,
    body: ReasonIn,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, Depends(require_roles(*CLOSING_ROLES))],
) -> Any:
    """Refuse to accept (不予受理) with the reason the family is told."""
    at = now()
    async with runtime.uow() as uow:
        conn = uow.conn
        if (replay := await idem.replay(conn)) is not None:
            return replay
        row = await _load_for_update(conn, application_id)
        if not can_act(principal, row.street):
            raise Forbidden("无权在该单位办理业务")
        if row.status not in domain.CAN_REJECT:
            raise _invalid_state(row, "不予受理")
        await store.close_application(
            conn,
            application_id,
            status=Status.REJECTED,
            by=principal.sub,
            at=at,
            reason=body.reason,
        )
        uow.emit(
            ApplicationRejected(
                application_id=application_id,
                case_id=None,
                tracking_no=row.tracking_no,
                city=row.city,
                district=row.district,
                street=row.street,
                category=row.category,
                stage="intake",
                reasons=[body.reason],
                rejected_at=at,
                rejected_by=principal.sub,
            ),
            subject=str(application_id),
            correlation_id=str(application_id),
        )
        result = StatusOut(
            id=application_id, tracking_no=row.tracking_no, status=Status.REJECTED, at=at
        )
        response = await idem.remember(conn, 200, result)
        await audit.record(
            conn,
            **_audit_kwargs(principal),
            action="application.rejected",
            subject_type="application",
            subject_id=application_id,
            details={"reason": body.reason},
            correlation_id=str(application_id),
        )
        await uow.commit()
    return response


# -- reads -------------------------------------------------------------------------------------


def _ensure_may_read(principal: Principal, row: Any) -> bool:
    """True for staff (whose read is audited), False for the owner; Forbidden otherwise."""
    if principal.has_role(*STAFF_READ_ROLES) and can_read(principal, row.street):
        return True
    if _is_owner(principal, row):
        return False
    raise Forbidden("无权查看该申请")


async def _audit_read(
    conn: Any, principal: Principal, application_id: uuid.UUID, what: str
) -> None:
    await audit.record(
        conn,
        **_audit_kwargs(principal),
        action="personal_data.read",
        subject_type="application",
        subject_id=application_id,
        details={"what": what},
        correlation_id=str(application_id),
    )


@router.get("/applications/{application_id}", response_model=ApplicationOut)
async def get_application(
    application_id: uuid.UUID, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ApplicationOut:
    """One application in full: staff within their jurisdiction (audited) or the applicant."""
    async with runtime.uow() as uow:
        conn = uow.conn
        row = await store.load_application(conn, application_id)
        if row is None:
            raise NotFound("申请不存在", field="application_id")
        staff = _ensure_may_read(principal, row)
        member_rows = await store.load_members(conn, application_id)
        material_rows = await store.load_materials(conn, application_id)
        notice_rows = await store.load_notices(conn, application_id)
        if staff:
            await _audit_read(conn, principal, application_id, "application.read")
            await uow.commit()
    return ApplicationOut(
        id=row.id,
        tracking_no=row.tracking_no,
        city=row.city,
        district=row.district,
        street=row.street,
        channel=row.channel,
        category=row.category,
        status=row.status,
        status_name=domain.STATUS_NAMES.get(row.status, row.status),
        mobile=row.mobile,
        housing=HousingIn(
            address=row.housing_address, area_m2=row.housing_area_m2, tenure=row.housing_tenure
        ),
        pledge=PledgeIn(version=row.pledge_version, signed_at=row.pledge_signed_at),
        submitted_at=row.submitted_at,
        members=[MemberOut.model_validate(m, from_attributes=True) for m in member_rows],
        materials=[_material_out(m) for m in material_rows],
        receipt_no=row.receipt_no,
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
        materials_complete=row.materials_complete,
        incomplete_reason=row.incomplete_reason,
        supplement_notices=[_notice_out(n) for n in notice_rows],
        closed_reason=row.closed_reason,
        closed_at=row.closed_at,
    )


def _notice_out(n: Any) -> SupplementNoticeOut:
    return SupplementNoticeOut(
        application_id=n.application_id,
        n=n.n,
        notice_no=n.notice_no,
        items=[NoticeItemOut(**item) for item in n.items],
        deadline=n.deadline,
        deadline_uses_fallback_calendar=n.deadline_fallback,
        requested_at=n.requested_at,
        status=n.status,
        url=f"/applications/{n.application_id}/supplement-notices/{n.n}",
    )


def unit_prefix(code: str) -> str:
    """The code prefix every unit below ``code`` shares (street codes start with it)."""
    level = unit_level(code)
    return {"province": code[:2], "city": code[:4], "district": code[:6]}.get(level, code)


@router.get("/applications", response_model=Page[ApplicationSummary])
async def list_applications(
    runtime: RuntimeDep,
    principal: Staff,
    page: PageDep,
    status: Annotated[Status | None, Query(description="按状态筛选")] = None,
    unit: Annotated[str | None, Query(description="行政区划代码（默认本人所在单位）")] = None,
) -> Page[ApplicationSummary]:
    """Applications in the caller's jurisdiction, newest first; personal data masked."""
    unit = unit or principal.org
    if not is_unit_code(unit):
        raise ValidationProblem("行政区划代码应为6位或9位数字", field="unit")
    ensure_can_read(principal, unit)
    applicant = members.alias("applicant")
    count = (
        sa.select(sa.func.count())
        .select_from(members)
        .where(members.c.application_id == applications.c.id)
        .scalar_subquery()
    )
    where = [applications.c.street.startswith(unit_prefix(unit), autoescape=True)]
    if status is not None:
        where.append(applications.c.status == status)
    async with runtime.engine.connect() as conn:
        total = int(
            await conn.scalar(sa.select(sa.func.count()).select_from(applications).where(*where))
            or 0
        )
        rows = await conn.execute(
            sa.select(
                applications.c.id,
                applications.c.tracking_no,
                applications.c.street,
                applications.c.category,
                applications.c.channel,
                applications.c.status,
                applications.c.submitted_at,
                applications.c.receipt_no,
                applicant.c.name,
                applicant.c.resident_id,
                count.label("member_count"),
            )
            .join(
                applicant,
                sa.and_(applicant.c.application_id == applications.c.id, applicant.c.position == 0),
            )
            .where(*where)
            .order_by(applications.c.submitted_at.desc(), applications.c.id)
            .limit(page.limit)
            .offset(page.offset)
        )
        items = [
            ApplicationSummary(
                id=r.id,
                tracking_no=r.tracking_no,
                street=r.street,
                category=r.category,
                channel=r.channel,
                status=r.status,
                applicant_name_masked=domain.masked_name(r.name),
                applicant_id_masked=mask_resident_id(r.resident_id),
                member_count=r.member_count,
                submitted_at=r.submitted_at,
                receipt_no=r.receipt_no,
            )
            for r in rows
        ]
    return Page.of(items, total, page)

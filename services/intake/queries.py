"""Read side of the intake service: one application in full, the printable notice, the staff list.

Staff reads of personal data are audited (``personal_data.read``) and committed; the owner's own
reads are not.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from services.intake import domain, material_files, store
from services.intake.commands import draft_out, is_owner, material_out
from services.intake.context import IntakeContext
from services.intake.domain import Status
from services.intake.printing import notice_document, receipt_document
from services.intake.schemas import (
    ApplicantMessageOut,
    ApplicationOut,
    ApplicationSummary,
    DraftOut,
    HousingIn,
    MemberOut,
    NoticeItemOut,
    PledgeIn,
    SupplementNoticeOut,
)
from services.intake.tables import applicant_messages, applications, materials, members
from shared import audit
from shared.auth import (
    ADMIN,
    CASEWORK_ROLES,
    DISCIPLINE_INSPECTOR,
    SUPERVISOR,
    Principal,
    can_read,
    ensure_can_read,
)
from shared.auth.units import is_unit_code, within
from shared.pagination import Page, PageParams
from shared.pii import mask_resident_id
from shared.printing import Document
from shared.problems import Forbidden, NotFound, ValidationProblem

STAFF_READ_ROLES = (
    *CASEWORK_ROLES,
    SUPERVISOR,
    DISCIPLINE_INSPECTOR,
    ADMIN,
)


def _ensure_may_read(principal: Principal, row: Any) -> bool:
    """True for staff (whose read is audited), False for the owner; Forbidden otherwise."""
    if principal.has_role(*STAFF_READ_ROLES) and can_read(principal, row.street):
        return True
    if is_owner(principal, row):
        return False
    raise Forbidden("无权查看该申请")


async def _audit_read(
    conn: Any, principal: Principal, application_id: uuid.UUID, what: str
) -> None:
    await audit.record(
        conn,
        **principal.audit_actor(),
        action="personal_data.read",
        subject_type="application",
        subject_id=application_id,
        details={"what": what},
        correlation_id=str(application_id),
    )


async def get_application(
    ctx: IntakeContext, principal: Principal, application_id: uuid.UUID
) -> ApplicationOut:
    """One application in full: staff within their jurisdiction (audited) or the applicant."""
    async with ctx.uow() as uow:
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
        materials=[material_out(m) for m in material_rows],
        receipt_no=row.receipt_no,
        accepted_by=row.accepted_by,
        accepted_by_name=row.accepted_by_name,
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


async def _readable(conn: Any, principal: Principal, application_id: uuid.UUID) -> tuple[Any, bool]:
    """The application and whether the caller reads it as staff (audited); 404 or 403."""
    row = await store.load_application(conn, application_id)
    if row is None:
        raise NotFound("申请不存在", field="application_id")
    return row, _ensure_may_read(principal, row)


async def supplement_notice_page(
    ctx: IntakeContext, principal: Principal, application_id: uuid.UUID, n: int
) -> str:
    """The printable notice (补件通知单) in Chinese, as handed to the family."""
    return (await supplement_notice_document(ctx, principal, application_id, n)).html


async def supplement_notice_document(
    ctx: IntakeContext, principal: Principal, application_id: uuid.UUID, n: int
) -> Document:
    """补件通知单 for the applicant or staff within jurisdiction (a staff read is audited)."""
    async with ctx.uow() as uow:
        conn = uow.conn
        row, staff = await _readable(conn, principal, application_id)
        notice = await store.load_notice(conn, application_id, n)
        if notice is None:
            raise NotFound("补件通知单不存在", field="n")
        applicant = (await store.load_members(conn, application_id))[0]
        if staff:
            await _audit_read(conn, principal, application_id, "supplement_notice.read")
            await uow.commit()
    return notice_document(
        city=ctx.city, application=row, applicant_name=applicant.name, notice=notice
    )


async def acceptance_receipt(
    ctx: IntakeContext, principal: Principal, application_id: uuid.UUID
) -> Document:
    """受理回执 of an accepted application, rendered on request (never on the accept path):
    the materials held at acceptance and those still missing then."""
    async with ctx.uow() as uow:
        conn = uow.conn
        row, staff = await _readable(conn, principal, application_id)
        if row.receipt_no is None or row.accepted_at is None:
            raise NotFound("该申请尚未受理，没有受理回执", field="application_id")
        applicant = (await store.load_members(conn, application_id))[0]
        # Only the names: the scans themselves are never read for a printout.
        held = (
            await conn.execute(
                sa.select(materials.c.material_type, sa.func.count())
                .where(
                    materials.c.application_id == application_id,
                    materials.c.uploaded_at <= row.accepted_at,
                )
                .group_by(materials.c.material_type)
            )
        ).all()
        if staff:
            await _audit_read(conn, principal, application_id, "acceptance_receipt.read")
            await uow.commit()
    counts = {code: int(files) for code, files in held}
    required = [m.code for m in ctx.city.required_materials(row.category)]
    # The city's order: required materials first, then any others the family brought.
    order = required + sorted(code for code in counts if code not in required)
    return receipt_document(
        city=ctx.city,
        application=row,
        applicant=applicant,
        received=[(code, counts[code]) for code in order if code in counts],
        missing=domain.missing_materials(required, counts),
    )


async def list_applications(
    ctx: IntakeContext,
    principal: Principal,
    page: PageParams,
    status: Status | None,
    unit: str | None,
) -> Page[ApplicationSummary]:
    """Applications in the caller's jurisdiction, newest first; personal data masked."""
    unit = unit or principal.org
    if not is_unit_code(unit):
        raise ValidationProblem("行政区划代码应为6位或9位数字", field="unit")
    ensure_can_read(principal, unit)
    where = [within(applications.c.street, unit)]
    if status is not None:
        where.append(applications.c.status == status)
    # A read-only transaction: nothing is audited here (the list shows masked data only).
    async with ctx.uow() as uow:
        conn = uow.conn
        total = int(
            await conn.scalar(sa.select(sa.func.count()).select_from(applications).where(*where))
            or 0
        )
        rows = await conn.execute(
            _summary_select()
            .where(*where)
            .order_by(applications.c.submitted_at.desc(), applications.c.id)
            .limit(page.limit)
            .offset(page.offset)
        )
        items = [_summary(r) for r in rows]
    return Page.of(items, total, page)


def _summary_select() -> Any:
    """A list row's columns: the application, its applicant (position 0), its member count."""
    applicant = members.alias("applicant")
    count = (
        sa.select(sa.func.count())
        .select_from(members)
        .where(members.c.application_id == applications.c.id)
        .scalar_subquery()
    )
    return sa.select(
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
    ).join(
        applicant,
        sa.and_(applicant.c.application_id == applications.c.id, applicant.c.position == 0),
    )


def _summary(r: Any) -> ApplicationSummary:
    return ApplicationSummary(
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


def _messages_select() -> Any:
    m = applicant_messages.c
    return (
        sa.select(
            m.id,
            m.application_id,
            applications.c.tracking_no,
            m.kind,
            m.text,
            m.created_at,
            m.sms_status,
            m.attempts.label("sms_attempts"),
            m.delivered_at.label("sms_delivered_at"),
            m.provider_ref.label("sms_provider_ref"),
        )
        .join(applications, applications.c.id == m.application_id)
        .order_by(m.created_at.desc(), m.id)
    )


async def application_messages(
    ctx: IntakeContext, principal: Principal, application_id: uuid.UUID
) -> list[ApplicantMessageOut]:
    """What the applicant of one application was told: the owner, or staff in jurisdiction
    (the same check as reading the application; the texts hold no personal data)."""
    async with ctx.uow() as uow:
        row = await store.load_application(uow.conn, application_id)
        if row is None:
            raise NotFound("申请不存在", field="application_id")
        _ensure_may_read(principal, row)
        rows = (
            await uow.conn.execute(
                _messages_select().where(applicant_messages.c.application_id == application_id)
            )
        ).all()
    return [ApplicantMessageOut.model_validate(r, from_attributes=True) for r in rows]


async def portal_messages(
    ctx: IntakeContext, principal: Principal, page: PageParams
) -> Page[ApplicantMessageOut]:
    """The signed-in applicant's messages across the applications they submitted, newest first
    (ownership as for reading an application: the token's ``sub`` submitted it)."""
    owned = applications.c.submitted_by == principal.sub
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count())
            .select_from(applicant_messages.join(applications))
            .where(owned)
        )
        rows = (
            await uow.conn.execute(
                _messages_select().where(owned).limit(page.limit).offset(page.offset)
            )
        ).all()
    return Page.of(
        [ApplicantMessageOut.model_validate(r, from_attributes=True) for r in rows],
        int(total or 0),
        page,
    )


async def get_draft(ctx: IntakeContext, principal: Principal) -> DraftOut:
    """The signed-in applicant's own draft; another account's is never reachable (the key is
    the token's ``sub``), so "not yours" and "none" are the same 404."""
    async with ctx.uow() as uow:
        row = await store.load_draft(uow.conn, principal.sub)
    found = draft_out(ctx, row) if row is not None else None
    if found is None:
        raise NotFound("没有保存的申请草稿")
    return found


async def portal_applications(
    ctx: IntakeContext, principal: Principal, page: PageParams
) -> Page[ApplicationSummary]:
    """The applications the signed-in applicant submitted, newest first (我的申请)."""
    owned = applications.c.submitted_by == principal.sub
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(applications).where(owned)
        )
        rows = (
            await uow.conn.execute(
                _summary_select()
                .where(owned)
                .order_by(applications.c.submitted_at.desc(), applications.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of([_summary(r) for r in rows], int(total or 0), page)


async def download_material(
    ctx: IntakeContext, principal: Principal, application_id: uuid.UUID, material_id: uuid.UUID
) -> tuple[Any, bytes]:
    """One uploaded file, verified against its SHA-256, for whoever may read the application
    (the applicant, staff in its jurisdiction); every download is on the audit chain."""
    async with ctx.uow() as uow:
        conn = uow.conn
        row = await store.load_application(conn, application_id)
        if row is None:
            raise NotFound("申请不存在", field="application_id")
        _ensure_may_read(principal, row)
        material = await store.load_material(conn, application_id, material_id)
        if material is None:
            raise NotFound("该申请没有此材料", field="material_id")
        content = await material_files.read(conn, material)
        await audit.record(
            conn,
            **principal.audit_actor(),
            action="material.downloaded",
            subject_type="application",
            subject_id=application_id,
            details={
                "material_id": str(material.id),
                "material_type": material.material_type,
                "sha256": material.sha256,
            },
            correlation_id=str(application_id),
        )
        await uow.commit()
    return material, content

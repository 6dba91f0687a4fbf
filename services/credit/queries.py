"""The credit service's read side: records, bans, the blacklist, shared records, candidates and
pledges. Every staff read of household data (masked as it is) writes an audit entry, so each
query runs in a unit of work of its own and commits it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from services.credit import domain, schemas, store
from services.credit.context import CreditContext
from services.credit.printing import render_notice_letter
from services.credit.tables import bans, candidates, pboc_exports, pledges, records
from shared.audit import record as audit
from shared.auth import ADMIN, GLOBAL_READ_ROLES, SERVICE, Principal, ensure_can_read, within
from shared.clock import today_shanghai
from shared.db import UnitOfWork
from shared.pagination import Page, PageParams
from shared.printing import Document
from shared.problems import Conflict, NotFound


async def _audit_read(
    uow: UnitOfWork, principal: Principal, what: str, subject: str, **details: Any
) -> None:
    await audit(
        uow.conn,
        **principal.audit_actor(),
        action=f"credit.read.{what}",
        subject_type=what,
        subject_id=subject,
        details=details,
    )


def _jurisdiction(principal: Principal, column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """Rows of the principal's unit and every unit below it; global readers see everything."""
    if principal.has_role(*GLOBAL_READ_ROLES):
        return sa.true()
    return within(column, principal.org)


def ban_out(row: Row[Any]) -> schemas.BanOut:
    return schemas.BanOut.model_validate(row, from_attributes=True)


def record_out(
    ctx: CreditContext,
    row: Row[Any],
    steps: list[Row[Any]] | None = None,
    ban: Row[Any] | None = None,
) -> schemas.RecordOut:
    data = dict(row._mapping)
    data |= {
        "kind_title": ctx.kind_of(row.kind, row.category).title,
        "stage_title": domain.STAGE_TITLES[domain.Stage(row.stage)],
        "steps": None
        if steps is None
        else [
            schemas.StepOut(
                **{k: v for k, v in s._mapping.items() if k in schemas.StepOut.model_fields},
                stage_title=domain.STAGE_TITLES[domain.Stage(s.stage)],
            )
            for s in steps
        ],
        "ban": ban_out(ban) if ban is not None else None,
    }
    return schemas.RecordOut.model_validate(data)


async def record_detail(
    ctx: CreditContext, uow: UnitOfWork, record_id: uuid.UUID
) -> schemas.RecordOut:
    """A record with its notice steps and ban: the answer of every record command too."""
    row = await store.load_record(uow, record_id)
    steps = await store.record_steps(uow, record_id)
    ban = await store.record_ban(uow, record_id)
    return record_out(ctx, row, steps, ban)


async def list_records(
    ctx: CreditContext,
    principal: Principal,
    page: PageParams,
    *,
    stage: domain.Stage | None,
    category: str | None,
    id_hash: str | None,
) -> Page[schemas.RecordOut]:
    where = [_jurisdiction(principal, records.c.unit)]
    if stage is not None:
        where.append(records.c.stage == stage.value)
    if category is not None:
        where.append(records.c.category == category)
    if id_hash is not None:
        where.append(records.c.id_hash == id_hash)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(records).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(records)
                .where(*where)
                .order_by(records.c.recorded_at.desc(), records.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        await _audit_read(
            uow,
            principal,
            "credit_records",
            "list",
            count=len(rows),
            stage=stage,
            category=category,
        )
        await uow.commit()
    return Page.of([record_out(ctx, r) for r in rows], int(total or 0), page)


async def get_record(
    ctx: CreditContext, principal: Principal, record_id: uuid.UUID
) -> schemas.RecordOut:
    async with ctx.uow() as uow:
        out = await record_detail(ctx, uow, record_id)
        ensure_can_read(principal, out.unit)
        await _audit_read(uow, principal, "credit_record", str(record_id))
        await uow.commit()
    return out


async def notice_letter(ctx: CreditContext, principal: Principal, record_id: uuid.UUID) -> Document:
    """告知函 of a record whose letter has been issued (the ``notice_issued`` step), as the
    officer prints it for delivery; read like the record itself (audited)."""
    async with ctx.uow() as uow:
        row = await store.load_record(uow, record_id)
        ensure_can_read(principal, row.unit)
        issued = [
            s
            for s in await store.record_steps(uow, record_id)
            if s.stage == domain.Stage.NOTICE_ISSUED
        ]
        if not issued:
            raise Conflict("该记录尚未发出告知函", field="record_id")
        await _audit_read(uow, principal, "credit_notice_letter", str(record_id))
        await uow.commit()
    return render_notice_letter(
        city=ctx.city,
        record=row,
        step=issued[-1],
        kind_title=ctx.kind_of(row.kind, row.category).title,
        correction_days=ctx.config.correction_days,
        ban_years=ctx.config.ban_years[row.severity],
    )


async def ban_status(
    ctx: CreditContext, principal: Principal, id_hash: str
) -> schemas.BanStatusOut:
    today = today_shanghai()
    async with ctx.uow() as uow:
        rows = (
            await uow.conn.execute(
                sa.select(bans)
                .where(bans.c.id_hash == id_hash, bans.c.status == "active", bans.c.ends_on > today)
                .order_by(bans.c.ends_on.desc())
            )
        ).all()
        if principal.has_role(ADMIN) and not principal.has_role(SERVICE):
            await _audit_read(uow, principal, "credit_ban", id_hash)
            await uow.commit()
    return schemas.BanStatusOut(id_hash=id_hash, banned=bool(rows), bans=[ban_out(r) for r in rows])


async def blacklist(ctx: CreditContext, page: PageParams) -> Page[schemas.BlacklistEntryOut]:
    today = today_shanghai()
    where = [records.c.category == "agency", bans.c.status == "active", bans.c.ends_on > today]
    joined = records.join(bans, bans.c.record_id == records.c.id)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(joined).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(
                    records.c.id,
                    records.c.org_name,
                    records.c.org_credit_code,
                    records.c.kind,
                    bans.c.starts_on,
                    bans.c.ends_on,
                )
                .select_from(joined)
                .where(*where)
                .order_by(bans.c.starts_on.desc(), records.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [
        schemas.BlacklistEntryOut(
            record_id=r.id,
            org_name=r.org_name,
            org_credit_code=r.org_credit_code,
            kind=r.kind,
            kind_title=ctx.kind_of(r.kind, "agency").title,
            listed_on=r.starts_on,
            until=r.ends_on - timedelta(days=1),
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), page)


async def shared_records(
    ctx: CreditContext, principal: Principal, id_hash: str, page: PageParams
) -> Page[schemas.SharedRecordOut]:
    # Only filed records (记入诚信档案 and later), and only what joint punishment needs:
    # no facts, evidence or officers.
    filed = [s.value for s in domain.FILED_STAGES]
    where = [records.c.id_hash == id_hash, records.c.stage.in_(filed)]
    joined = records.join(bans, bans.c.record_id == records.c.id)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(joined).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(
                    records.c.id,
                    records.c.record_no,
                    records.c.category,
                    records.c.kind,
                    records.c.severity,
                    records.c.filed_on,
                    bans.c.ends_on,
                    bans.c.status,
                    bans.c.lifted_on,
                )
                .select_from(joined)
                .where(*where)
                .order_by(records.c.filed_on.desc(), records.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        await _audit_read(uow, principal, "credit_shared_records", id_hash, count=len(rows))
        await uow.commit()
    today = today_shanghai()
    items = [
        schemas.SharedRecordOut(
            record_id=r.id,
            record_no=r.record_no,
            subject_kind=domain.event_subject_kind(r.category),
            kind=r.kind,
            kind_title=ctx.kind_of(r.kind, r.category).title,
            severity=r.severity,
            filed_on=r.filed_on,
            sanction_ends_on=r.ends_on,
            sanction_in_force=domain.ban_in_force(r.ends_on, r.status != "active", today),
            lifted_on=r.lifted_on,
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), page)


async def list_candidates(
    ctx: CreditContext,
    principal: Principal,
    page: PageParams,
    *,
    status: str | None,
    application_id: uuid.UUID | None,
) -> Page[schemas.CandidateOut]:
    where = []
    if status is not None:
        where.append(candidates.c.status == status)
    if application_id is not None:
        where.append(candidates.c.application_id == application_id)
    joined = candidates.outerjoin(pledges, pledges.c.application_id == candidates.c.application_id)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(candidates).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(candidates, pledges.c.applicant_id_hash, pledges.c.applicant_id_masked)
                .select_from(joined)
                .where(*where)
                .order_by(candidates.c.created_at, candidates.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        await _audit_read(
            uow, principal, "credit_candidates", "list", count=len(rows), status=status
        )
        await uow.commit()
    items = [
        schemas.CandidateOut(
            **{
                k: v
                for k, v in r._mapping.items()
                if k in schemas.CandidateOut.model_fields and k != "id_hash"
            },
            # Empty hash: a household-level finding whose applicant is not known here yet.
            id_hash=r.id_hash or None,
            subject_id_masked=r.applicant_id_masked
            if r.id_hash and r.id_hash == r.applicant_id_hash
            else None,
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), page)


async def list_pledges(
    ctx: CreditContext,
    principal: Principal,
    page: PageParams,
    *,
    id_hash: str | None,
    application_id: uuid.UUID | None,
) -> Page[schemas.PledgeOut]:
    where = []
    if id_hash is not None:
        where.append(sa.literal(id_hash) == sa.any_(pledges.c.member_id_hashes))
    if application_id is not None:
        where.append(pledges.c.application_id == application_id)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(pledges).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(pledges)
                .where(*where)
                .order_by(pledges.c.submitted_at.desc(), pledges.c.application_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        await _audit_read(uow, principal, "credit_pledges", "list", count=len(rows))
        await uow.commit()
    items = [
        schemas.PledgeOut(
            **{k: v for k, v in r._mapping.items() if k in schemas.PledgeOut.model_fields},
            member_count=len(r.member_id_hashes),
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), page)


async def list_pboc_exports(
    ctx: CreditContext, principal: Principal, page: PageParams
) -> Page[schemas.PbocExportSummary]:
    columns = [c for c in pboc_exports.c if c.name != "content"]
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(pboc_exports))
        rows = (
            await uow.conn.execute(
                sa.select(*columns)
                .order_by(pboc_exports.c.period_start.desc())
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        await _audit_read(uow, principal, "pboc_exports", "list", count=len(rows))
        await uow.commit()
    items = [schemas.PbocExportSummary.model_validate(r, from_attributes=True) for r in rows]
    return Page.of(items, int(total or 0), page)


async def pboc_export(
    ctx: CreditContext, principal: Principal, export_id: uuid.UUID
) -> tuple[Row[Any], Any]:
    """The export's row and its file content; the download is audited."""
    async with ctx.uow() as uow:
        row = (
            await uow.conn.execute(sa.select(pboc_exports).where(pboc_exports.c.id == export_id))
        ).first()
        if row is None:
            raise NotFound("没有该报送文件", field="export_id")
        await _audit_read(
            uow, principal, "pboc_export", str(export_id), period_start=row.period_start
        )
        await uow.commit()
    return row, row.content

"""Every change of tenancy state: leases, rent and payments, arrears, visits, violations,
exits, subsidies and campaigns.

Each function runs in the unit of work it is given, writes audit and emits its events there.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert

from services.tenancy import domain, store
from services.tenancy.context import TenancyContext
from services.tenancy.schemas import (
    BillingOut,
    CampaignLease,
    CampaignOut,
    ExitIn,
    ExitOut,
    ImportReport,
    InspectionIn,
    MoveOutIn,
    NoteIn,
    PaymentIn,
    PaymentOut,
    PhotoOut,
    PowerReadingsIn,
    PowerReadingsOut,
    PowerRequestsOut,
    RentBandIn,
    RentBandOut,
    ScheduleOut,
    SubsidyEndIn,
    UnmatchedRow,
    ViolationOut,
    VisitIn,
    VisitOut,
)
from services.tenancy.tables import (
    arrears_steps,
    bills,
    campaigns,
    credit_referrals,
    exits,
    households,
    leases,
    payments,
    power_readings,
    rent_band_changes,
    rereviews,
    subsidy_accounts,
    subsidy_payments,
    violations,
    visit_photos,
    visits,
    withholding_imports,
)
from shared import audit
from shared.auth import Principal
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import (
    AllocationContractSigned,
    AllocationSubsidyChosen,
    ApplicationSubmitted,
    TenancyArrearsStep,
    TenancyCourtReferred,
    TenancyCreditReferred,
    TenancyLeaseOpened,
    TenancyRecoveryNoticed,
    TenancyRentBandChanged,
    TenancyRereviewConcluded,
    TenancyRereviewDue,
    TenancyRereviewRequested,
    TenancySubsidyEnded,
    TenancySubsidyOpened,
    TenancyUnitVacated,
    TenancyViolationClosed,
    TenancyViolationOpened,
    TenancyVisitDue,
    TenancyVisitRecorded,
    VerificationCompleted,
    VerificationRereviewCompleted,
)
from shared.idempotency import Answer
from shared.problems import Conflict, NotFound, PayloadTooLarge, ValidationProblem

SYSTEM: dict[str, Any] = {"actor": "system:tenancy", "actor_roles": ["service"], "actor_org": None}
ZERO = Decimal("0.00")
_SHANGHAI = ZoneInfo("Asia/Shanghai")


def _doc_no(prefix: str, day: date, ident: uuid.UUID) -> str:
    return f"{prefix}-{day:%Y%m%d}-{ident.hex[:8].upper()}"


# -- households (what intake and verification tell) ----------------------------------------


async def register_household(uow: UnitOfWork, event: ApplicationSubmitted) -> None:
    """Whom a credit record names later: the applicant's hash and masked name and ID."""
    await uow.conn.execute(
        insert(households)
        .values(
            application_id=event.application_id,
            household_reference=event.tracking_no,
            member_id_hashes=list(event.member_id_hashes),
            applicant_name_masked=event.applicant_name_masked,
            applicant_id_masked=event.applicant_id_masked,
            district=event.district,
            updated_at=now(),
        )
        .on_conflict_do_nothing()
    )


async def record_verified_income(uow: UnitOfWork, event: VerificationCompleted) -> None:
    """The latest verified assistance status; a new lease takes its rent band from it.

    An older result arriving late never overwrites a newer one. A lease already open keeps its
    band until an officer records a re-review result (``POST /leases/{id}/rent-band``).
    """
    await uow.conn.execute(
        sa.update(households)
        .where(
            households.c.application_id == event.application_id,
            sa.or_(
                households.c.verified_at.is_(None),
                households.c.verified_at < event.completed_at,
            ),
        )
        .values(
            assistance_status=event.profile.assistance_status,
            verified_at=event.completed_at,
            updated_at=now(),
        )
    )


# -- leases --------------------------------------------------------------------------------


async def open_lease(ctx: TenancyContext, uow: UnitOfWork, event: AllocationContractSigned) -> None:
    """``allocation.contract_signed``: the lease, its band, deposit and first visit date."""
    rules = ctx.rules
    household = await store.household(uow.conn, event.household_reference)
    band = domain.band_for(rules, household.assistance_status if household else None)
    lease_id = uuid.uuid4()
    lease_no = _doc_no("ZL", event.starts_on, lease_id)
    next_visit = domain.add_months(event.starts_on, rules.visits.interval_months)
    at = now()
    inserted = await uow.conn.scalar(
        insert(leases)
        .values(
            id=lease_id,
            lease_no=lease_no,
            contract_id=event.contract_id,
            allocation_id=event.allocation_id,
            household_reference=event.household_reference,
            unit_id=event.unit_id,
            starts_on=event.starts_on,
            monthly_rent=event.monthly_rent,
            recovery_clauses=list(event.recovery_clauses),
            rent_band=band,
            deposit=(event.monthly_rent * rules.exit.deposit_months).quantize(domain.CENT),
            prepaid=ZERO,
            status="active",
            arrears_months=0,
            arrears_step="none",
            next_visit_due=next_visit,
            opened_at=at,
        )
        .on_conflict_do_nothing(index_elements=[leases.c.contract_id])
        .returning(leases.c.id)
    )
    if inserted is None:
        return
    await audit.record(
        uow.conn,
        **SYSTEM,
        action="lease.opened",
        subject_type="lease",
        subject_id=lease_id,
        details={"contract": str(event.contract_id), "rent_band": band},
    )
    uow.emit(
        TenancyLeaseOpened(
            lease_id=lease_id,
            lease_no=lease_no,
            contract_id=event.contract_id,
            household_reference=event.household_reference,
            unit_id=event.unit_id,
            starts_on=event.starts_on,
            monthly_rent=event.monthly_rent,
            rent_band=band,
            next_visit_due=next_visit,
            opened_at=at,
        ),
        subject=str(lease_id),
    )


async def change_rent_band(
    ctx: TenancyContext,
    uow: UnitOfWork,
    principal: Principal,
    lease_id: uuid.UUID,
    body: RentBandIn,
) -> RentBandOut:
    """A re-review result: the band applies from the next month not yet billed."""
    if ctx.rules.band(body.rent_band) is None:
        known = "、".join(b.code for b in ctx.rules.rent_bands)
        raise ValidationProblem(
            f"未知的租金档：{body.rent_band}（可选：{known}）", field="rent_band"
        )
    lease = await store.lease(uow.conn, lease_id, lock=True)
    if lease.status != "active":
        raise domain.LeaseNotActive("租约已终止，不能调整租金档")
    effective = await set_band(
        uow, lease, body.rent_band, body.reason, principal.audit_actor(), principal.sub
    )
    await _officer_decided(
        uow,
        lease,
        "continued" if body.rent_band == lease.rent_band else "band_changed",
        body.rent_band,
    )
    return RentBandOut(
        lease_id=lease_id,
        from_band=lease.rent_band,
        to_band=body.rent_band,
        effective_month=effective,
    )


async def set_band(
    uow: UnitOfWork, lease: Any, band: str, reason: str, actor: dict[str, Any], decided_by: str
) -> date:
    """The lease's band from the next month not yet billed (its first month when none is);
    returns that month. The same band again changes nothing."""
    last_billed = await uow.conn.scalar(
        sa.select(sa.func.max(bills.c.month)).where(bills.c.lease_id == lease.id)
    )
    effective = (
        domain.add_months(last_billed, 1)
        if last_billed is not None
        else domain.month_start(lease.starts_on)
    )
    if band == lease.rent_band:
        return effective
    at = now()
    await uow.conn.execute(sa.update(leases).where(leases.c.id == lease.id).values(rent_band=band))
    await uow.conn.execute(
        rent_band_changes.insert().values(
            lease_id=lease.id,
            from_band=lease.rent_band,
            to_band=band,
            effective_month=effective,
            reason=reason,
            decided_by=decided_by,
            decided_at=at,
        )
    )
    await audit.record(
        uow.conn,
        **actor,
        action="lease.rent_band_changed",
        subject_type="lease",
        subject_id=lease.id,
        details={"from": lease.rent_band, "to": band, "from_month": str(effective)},
    )
    uow.emit(
        TenancyRentBandChanged(
            lease_id=lease.id,
            household_reference=lease.household_reference,
            from_band=lease.rent_band,
            to_band=band,
            effective_month=effective,
            decided_by=decided_by,
            reason=reason,
        ),
        subject=str(lease.id),
    )
    return effective


# -- rent ----------------------------------------------------------------------------------


async def bill_month(ctx: TenancyContext, uow: UnitOfWork, month: date) -> BillingOut:
    """Bills of ``month`` for every lease covering a day of it; once per lease and month.

    Computed here (the domain's proration), written in bulk: one select, one insert per
    chunk of leases, an update only where rent paid ahead covers part of a bill.
    """
    conn, at = uow.conn, now()
    month = domain.month_start(month)
    end = domain.month_end(month)
    rows = (
        await conn.execute(
            sa.select(
                leases.c.id,
                leases.c.rent_band,
                leases.c.monthly_rent,
                leases.c.starts_on,
                leases.c.ended_on,
                leases.c.prepaid,
            )
            .where(
                leases.c.starts_on <= end,
                sa.or_(leases.c.ended_on.is_(None), leases.c.ended_on > month),
                ~sa.exists().where(bills.c.lease_id == leases.c.id, bills.c.month == month),
            )
            .order_by(leases.c.id)
            .with_for_update(of=leases, skip_locked=True)
        )
    ).all()
    default = ctx.rules.band(ctx.rules.default_rent_band)
    assert default is not None  # validated with the rules
    values: list[dict[str, Any]] = []
    prepaid_used: dict[uuid.UUID, Decimal] = {}
    for lease in rows:
        band = ctx.rules.band(lease.rent_band) or default
        line = domain.bill_for(
            ctx.rules,
            band,
            monthly_rent=lease.monthly_rent,
            starts_on=lease.starts_on,
            ended_on=lease.ended_on,
            month=month,
        )
        if line is None:
            continue
        paid = min(lease.prepaid, line.amount)
        if paid:
            prepaid_used[lease.id] = paid
        values.append(
            {
                "id": uuid.uuid4(),
                "lease_id": lease.id,
                "month": month,
                "rent_band": band.code,
                "factor": line.factor,
                "days": line.days,
                "amount": line.amount,
                "paid_amount": paid,
                "due_on": line.due_on,
                "paid_at": at if paid >= line.amount else None,
                "created_at": at,
            }
        )
    billed: set[uuid.UUID] = set()
    for chunk in _chunks(values, 1000):
        billed.update(
            (
                await conn.execute(
                    insert(bills)
                    .values(chunk)
                    .on_conflict_do_nothing(constraint="bills_lease_month")
                    .returning(bills.c.lease_id)
                )
            ).scalars()
        )
    used = [{"l_id": k, "l_used": v} for k, v in prepaid_used.items() if k in billed]
    if used:
        await conn.execute(
            sa.update(leases)
            .where(leases.c.id == sa.bindparam("l_id"))
            .values(prepaid=leases.c.prepaid - sa.bindparam("l_used")),
            used,
        )
    return BillingOut(month=month, billed=len(billed))


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _any(values: list[Any], item_type: Any) -> Any:
    """One array parameter for ``column = ANY(:values)`` however many values there are."""
    return sa.any_(sa.bindparam(None, values, type_=ARRAY(item_type)))


async def receive_payments(
    uow: UnitOfWork,
    incoming: list[domain.WithholdingRow],
    *,
    channel: str,
    import_id: uuid.UUID | None = None,
) -> list[PaymentOut]:
    """Bank transactions, each once: the reference is the key, a repeat changes nothing.

    One outcome per incoming row, in order (``duplicate`` for a reference already recorded,
    in an earlier file or earlier in this one). Set-based, so a city's monthly file is a
    handful of statements rather than several per row.
    """
    conn, at, today = uow.conn, now(), today_shanghai()
    refs = [r.reference for r in incoming]
    known = {
        row.reference: row
        for row in (
            await conn.execute(
                sa.select(payments).where(payments.c.reference == _any(refs, sa.Text))
            )
        ).all()
    }
    lease_rows = {
        row.lease_no: row
        for row in (
            await conn.execute(
                sa.select(leases.c.id, leases.c.lease_no)
                .where(leases.c.lease_no == _any(sorted({r.lease_no for r in incoming}), sa.Text))
                .order_by(leases.c.id)
                .with_for_update()
            )
        ).all()
    }
    fresh: dict[str, dict[str, Any]] = {}
    for row in incoming:
        if row.reference in known or row.reference in fresh:
            continue
        lease = lease_rows.get(row.lease_no)
        fresh[row.reference] = {
            "id": uuid.uuid4(),
            "reference": row.reference,
            "channel": channel,
            "lease_no": row.lease_no,
            "lease_id": lease.id if lease is not None else None,
            "amount": row.amount,
            "paid_on": row.paid_on,
            "status": "applied" if lease is not None else "unmatched",
            "reason": None if lease is not None else "租约编号不存在",
            "import_id": import_id,
            "received_at": at,
        }
    inserted: set[str] = set()
    for chunk in _chunks(list(fresh.values()), 1000):
        inserted.update(
            (
                await conn.execute(
                    insert(payments)
                    .values(chunk)
                    .on_conflict_do_nothing(index_elements=[payments.c.reference])
                    .returning(payments.c.reference)
                )
            ).scalars()
        )
    raced = [r for r in fresh if r not in inserted]  # committed meanwhile by another request
    if raced:
        for row in (
            await conn.execute(
                sa.select(payments).where(payments.c.reference == _any(raced, sa.Text))
            )
        ).all():
            known[row.reference] = row
    paid: dict[uuid.UUID, Decimal] = {}
    for ref in inserted:
        if fresh[ref]["lease_id"] is not None:
            lease_id = fresh[ref]["lease_id"]
            paid[lease_id] = paid.get(lease_id, ZERO) + fresh[ref]["amount"]
    if paid:
        await _settle(conn, paid, at, today)
    first: set[str] = set()
    outcomes = []
    for row in incoming:
        if row.reference in inserted and row.reference not in first:
            first.add(row.reference)
            outcomes.append(PaymentOut.model_validate(fresh[row.reference]))
        elif row.reference in known:
            outcomes.append(
                PaymentOut.model_validate({**known[row.reference]._mapping, "duplicate": True})
            )
        else:  # the same reference twice in one file: the second is a duplicate of the first
            outcomes.append(PaymentOut.model_validate({**fresh[row.reference], "duplicate": True}))
    return outcomes


async def _settle(conn: Any, paid: dict[uuid.UUID, Decimal], at: Any, today: date) -> None:
    """Settle each lease's bills oldest first; what is left is prepaid for the next bill;
    the arrears count follows."""
    ids = sorted(paid)
    open_rows = (
        await conn.execute(
            sa.select(
                bills.c.id,
                bills.c.lease_id,
                (bills.c.amount - bills.c.paid_amount).label("outstanding"),
            )
            .where(bills.c.lease_id == _any(ids, UUID(as_uuid=True)), bills.c.paid_at.is_(None))
            .order_by(bills.c.lease_id, bills.c.month)
            .with_for_update()
        )
    ).all()
    by_lease: dict[uuid.UUID, list[tuple[object, Decimal]]] = {}
    for r in open_rows:
        by_lease.setdefault(r.lease_id, []).append((r.id, r.outstanding))
    bill_updates, lease_updates = [], []
    for lease_id in ids:
        open_bills = by_lease.get(lease_id, [])
        outstanding = dict(open_bills)
        shares = domain.allocate(paid[lease_id], open_bills)
        for bill_id, share in shares:
            settled = at if share >= outstanding[bill_id] else None
            bill_updates.append({"b_id": bill_id, "b_share": share, "b_settled": settled})
        left = paid[lease_id] - sum((s for _, s in shares), ZERO)
        if left:
            lease_updates.append({"l_id": lease_id, "l_left": left})
    if bill_updates:
        await conn.execute(
            sa.update(bills)
            .where(bills.c.id == sa.bindparam("b_id"))
            .values(
                paid_amount=bills.c.paid_amount + sa.bindparam("b_share"),
                paid_at=sa.bindparam("b_settled"),
            ),
            bill_updates,
        )
    if lease_updates:
        await conn.execute(
            sa.update(leases)
            .where(leases.c.id == sa.bindparam("l_id"))
            .values(prepaid=leases.c.prepaid + sa.bindparam("l_left")),
            lease_updates,
        )
    months = (
        sa.select(sa.func.count())
        .where(bills.c.lease_id == leases.c.id, bills.c.paid_at.is_(None), bills.c.due_on < today)
        .scalar_subquery()
    )
    # A paid-up lease ends its arrears episode (a new one starts from scratch); a lease gone
    # to recovery stays there: paying does not withdraw the recovery notice by itself.
    await conn.execute(
        sa.update(leases)
        .where(leases.c.id == _any(ids, UUID(as_uuid=True)))
        .values(
            arrears_months=months,
            arrears_step=sa.case(
                (sa.and_(months == 0, leases.c.arrears_step != "recovery"), "none"),
                else_=leases.c.arrears_step,
            ),
        )
    )


async def pay_via_channel(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, body: PaymentIn
) -> Answer:
    """``POST /payments``: a payment channel's notification; the same reference again is 200."""
    row = domain.WithholdingRow(0, body.transaction_ref, body.lease_no, body.amount, body.paid_on)
    [out] = await receive_payments(uow, [row], channel="channel")
    if not out.duplicate:
        await audit.record(
            uow.conn,
            **principal.audit_actor(),
            action="payment.received",
            subject_type="payment",
            subject_id=out.id,
            details={"reference": out.reference, "status": out.status},
        )
    return Answer(out, 200 if out.duplicate else 201)


async def import_withholding(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, file_name: str, content: bytes
) -> ImportReport:
    """The bank's withholding file (代扣): each row once by its reference; unmatched rows and
    unreadable rows are reported, the rest applied."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationProblem("代扣文件应为 UTF-8 编码的 CSV", field="body") from None
    rows, problems = domain.parse_withholding(text)
    if problems and problems[0].field == "header":
        raise ValidationProblem(problems[0].message, field="header")
    import_id = uuid.uuid4()
    await uow.conn.execute(
        withholding_imports.insert().values(
            id=import_id,
            sha256=hashlib.sha256(content).hexdigest(),
            file_name=file_name,
            rows=0,
            applied=0,
            duplicates=0,
            unmatched=0,
            report=[],
            imported_by=principal.sub,
            imported_at=now(),
        )
    )
    unmatched = [UnmatchedRow(**p.__dict__) for p in problems]
    applied = duplicates = 0
    outcomes = await receive_payments(uow, rows, channel="withholding", import_id=import_id)
    for row, out in zip(rows, outcomes, strict=True):
        if out.duplicate:
            duplicates += 1
        elif out.status == "unmatched":
            unmatched.append(
                UnmatchedRow(
                    row=row.row, field="lease_no", message=out.reason or "", reference=row.reference
                )
            )
        else:
            applied += 1
    unmatched.sort(key=lambda u: u.row)
    report = ImportReport(
        id=import_id,
        file_name=file_name,
        rows=len(rows) + len(problems),
        applied=applied,
        duplicates=duplicates,
        unmatched=unmatched,
    )
    await uow.conn.execute(
        sa.update(withholding_imports)
        .where(withholding_imports.c.id == import_id)
        .values(
            rows=report.rows,
            applied=applied,
            duplicates=duplicates,
            unmatched=len(unmatched),
            report=[u.model_dump() for u in unmatched],
        )
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="withholding.imported",
        subject_type="withholding_import",
        subject_id=import_id,
        details={"rows": report.rows, "applied": applied, "duplicates": duplicates},
    )
    return report


async def age_arrears(ctx: TenancyContext, uow: UnitOfWork, lease: Any) -> None:
    """One lease's arrears today: months unpaid past due, and the steps they call for."""
    conn, today, at = uow.conn, today_shanghai(), now()
    overdue = await store.overdue(conn, lease.id, today)
    months = int(overdue.months)
    target = domain.arrears_step(ctx.rules.arrears, months, lease.recovery_clauses)
    values: dict[str, Any] = {"arrears_months": months}
    if target == "none":
        if lease.arrears_step != "recovery":
            values["arrears_step"] = "none"
        await conn.execute(sa.update(leases).where(leases.c.id == lease.id).values(**values))
        return
    amount = Decimal(overdue.amount).quantize(domain.CENT)
    # The reminder goes once for each month that falls overdue; the notice once per episode
    # (keyed by its oldest unpaid month).
    steps = [("reminder", overdue.newest)]
    if domain.STEP_ORDER[target] >= domain.STEP_ORDER["notice"]:
        steps.append(("notice", overdue.oldest))
    for step, month in steps:
        taken = await conn.scalar(
            insert(arrears_steps)
            .values(
                lease_id=lease.id,
                step=step,
                month=month,
                arrears_months=months,
                amount_due=amount,
                taken_at=at,
            )
            .on_conflict_do_nothing(constraint="arrears_steps_once")
            .returning(arrears_steps.c.id)
        )
        if taken is None:
            continue
        await audit.record(
            conn,
            **SYSTEM,
            action=f"arrears.{step}",
            subject_type="lease",
            subject_id=lease.id,
            details={"months": months, "amount_due": str(amount)},
        )
        uow.emit(
            TenancyArrearsStep(
                lease_id=lease.id,
                lease_no=lease.lease_no,
                household_reference=lease.household_reference,
                step=step,  # type: ignore[arg-type]
                arrears_months=months,
                amount_due=amount,
                oldest_month=overdue.oldest,
                taken_at=at,
            ),
            subject=str(lease.id),
        )
    if domain.STEP_ORDER[target] > domain.STEP_ORDER[lease.arrears_step]:
        values["arrears_step"] = target
    await conn.execute(sa.update(leases).where(leases.c.id == lease.id).values(**values))
    if target == "recovery" and lease.arrears_step != "recovery":
        clause = ctx.rules.arrears.recovery_clause
        exit_id = await open_exit(
            ctx,
            uow,
            SYSTEM,
            lease,
            kind="early_recovery",
            clause=clause,
            reason=f"累计欠缴租金 {months} 个月，共 {amount} 元",
        )
        if exit_id is None:  # already being recovered (a violation): the arrears count too
            exit_id = await uow.conn.scalar(
                sa.select(exits.c.id).where(
                    exits.c.lease_id == lease.id, exits.c.status != "vacated"
                )
            )
        if exit_id is not None:
            await refer_to_credit(
                ctx,
                uow,
                lease,
                kind="tenancy_rent_arrears",
                source_id=exit_id,
                facts=f"租约 {lease.lease_no} 累计欠缴租金 {months} 个月，共 {amount} 元",
            )


async def refer_to_credit(
    ctx: TenancyContext,
    uow: UnitOfWork,
    lease: Any,
    *,
    kind: str,
    source_id: uuid.UUID,
    facts: str,
) -> uuid.UUID | None:
    """Send a violation to the integrity registry, once per source; the tenant is the
    household's applicant as intake announced it (no record can name an unknown person)."""
    household = await store.household(uow.conn, lease.household_reference)
    if household is None:
        await audit.record(
            uow.conn,
            **SYSTEM,
            action="credit.referral_blocked",
            subject_type="lease",
            subject_id=lease.id,
            details={"kind": kind, "reason": "household unknown to tenancy"},
        )
        return None
    referral_id = uuid.uuid4()
    at = now()
    inserted = await uow.conn.scalar(
        insert(credit_referrals)
        .values(id=referral_id, lease_id=lease.id, kind=kind, source_id=source_id, referred_at=at)
        .on_conflict_do_nothing(constraint="credit_referrals_once")
        .returning(credit_referrals.c.id)
    )
    if inserted is None:
        return None
    await audit.record(
        uow.conn,
        **SYSTEM,
        action="credit.referred",
        subject_type="lease",
        subject_id=lease.id,
        details={"kind": kind, "source": str(source_id)},
    )
    uow.emit(
        TenancyCreditReferred(
            referral_id=referral_id,
            lease_id=lease.id,
            household_reference=lease.household_reference,
            application_id=household.application_id,
            id_hash=household.member_id_hashes[0],
            subject_id_masked=household.applicant_id_masked,
            subject_name_masked=household.applicant_name_masked,
            kind=kind,  # type: ignore[arg-type]
            facts=facts,
            referred_at=at,
        ),
        subject=str(lease.id),
    )
    return referral_id


# -- home visits ---------------------------------------------------------------------------


async def record_visit(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, lease_id: uuid.UUID, body: VisitIn
) -> VisitOut:
    """A home visit (入户走访): the next is due a year on; a finding opens a rectification."""
    lease = await store.lease(uow.conn, lease_id, lock=True)
    if lease.status != "active":
        raise domain.LeaseNotActive("租约已终止，不能登记走访")
    if body.visited_on > today_shanghai():
        raise ValidationProblem("走访日期不能晚于今天", field="visited_on")
    if body.visited_on < lease.starts_on:
        raise ValidationProblem("走访日期不能早于租约起租日", field="visited_on")
    visit_id, at = uuid.uuid4(), now()
    next_due = domain.add_months(body.visited_on, ctx.rules.visits.interval_months)
    await uow.conn.execute(
        visits.insert().values(
            id=visit_id,
            lease_id=lease_id,
            visited_on=body.visited_on,
            visitors=body.visitors,
            finding=body.finding,
            note=body.note,
            recorded_by=principal.sub,
            recorded_at=at,
        )
    )
    if next_due > lease.next_visit_due:
        await uow.conn.execute(
            sa.update(leases).where(leases.c.id == lease_id).values(next_visit_due=next_due)
        )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="visit.recorded",
        subject_type="lease",
        subject_id=lease_id,
        details={"visit": str(visit_id), "finding": body.finding},
    )
    uow.emit(
        TenancyVisitRecorded(
            visit_id=visit_id,
            lease_id=lease_id,
            unit_id=lease.unit_id,
            visited_on=body.visited_on,
            finding=body.finding,
            recorded_by=principal.sub,
            next_visit_due=next_due,
        ),
        subject=str(lease_id),
    )
    violation_id = None
    rule = ctx.rules.finding(body.finding)
    if rule is not None:
        violation_id = uuid.uuid4()
        deadline = body.visited_on + timedelta(days=rule.rectify_days)
        await uow.conn.execute(
            violations.insert().values(
                id=violation_id,
                lease_id=lease_id,
                visit_id=visit_id,
                finding=body.finding,
                clause=rule.clause,
                deadline=deadline,
                status="open",
                opened_at=at,
            )
        )
        uow.emit(
            TenancyViolationOpened(
                violation_id=violation_id,
                lease_id=lease_id,
                household_reference=lease.household_reference,
                finding=body.finding,
                clause=rule.clause,
                deadline=deadline,
            ),
            subject=str(lease_id),
        )
        if rule.credit_kind is not None:
            await refer_to_credit(
                ctx,
                uow,
                lease,
                kind=rule.credit_kind,
                source_id=violation_id,
                facts=(
                    f"{body.visited_on} 入户走访发现承租家庭{rule.name}公共租赁住房"
                    f"（租约 {lease.lease_no}）"
                ),
            )
    return VisitOut(
        id=visit_id,
        lease_id=lease_id,
        visited_on=body.visited_on,
        visitors=body.visitors,
        finding=body.finding,
        note=body.note,
        next_visit_due=next_due,
        violation_id=violation_id,
    )


async def add_photo(
    ctx: TenancyContext,
    uow: UnitOfWork,
    principal: Principal,
    visit_id: uuid.UUID,
    *,
    file_name: str,
    content_type: str,
    content: bytes,
) -> Answer:
    """A photo of the visit, size-limited; the same photo again is 200 with the stored one."""
    settings = ctx.settings
    if "/" in file_name or "\\" in file_name or not file_name.isprintable():
        raise ValidationProblem("文件名不能包含路径或控制字符", field="file_name")
    if content_type not in settings.photo_content_types:
        raise UnsupportedPhoto(
            "仅接受以下图片类型：" + "、".join(settings.photo_content_types), field="Content-Type"
        )
    if len(content) > settings.max_photo_bytes:
        raise PayloadTooLarge(
            f"单张照片不能超过 {settings.max_photo_bytes // (1024 * 1024)} MB", field="body"
        )
    if not content:
        raise ValidationProblem("上传的照片为空", field="body")
    exists = await uow.conn.scalar(sa.select(visits.c.id).where(visits.c.id == visit_id))
    if exists is None:
        raise NotFound("走访记录不存在")
    digest = hashlib.sha256(content).hexdigest()
    photo_id = uuid.uuid4()
    inserted = await uow.conn.scalar(
        insert(visit_photos)
        .values(
            id=photo_id,
            visit_id=visit_id,
            file_name=file_name,
            content_type=content_type,
            sha256=digest,
            size_bytes=len(content),
            content=content,
            uploaded_by=principal.sub,
            uploaded_at=now(),
        )
        .on_conflict_do_nothing(constraint="visit_photos_once")
        .returning(visit_photos.c.id)
    )
    if inserted is None:
        row = (
            await uow.conn.execute(
                sa.select(visit_photos).where(
                    visit_photos.c.visit_id == visit_id, visit_photos.c.sha256 == digest
                )
            )
        ).one()
        return Answer(PhotoOut.model_validate(dict(row._mapping)), 200)
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="visit.photo_added",
        subject_type="visit",
        subject_id=visit_id,
        details={"photo": str(photo_id), "sha256": digest},
    )
    out = PhotoOut(
        id=photo_id,
        visit_id=visit_id,
        file_name=file_name,
        content_type=content_type,
        sha256=digest,
        size_bytes=len(content),
    )
    return Answer(out, 201)


class UnsupportedPhoto(ValidationProblem):
    status = 415
    title = "不支持的图片类型"


# -- violations ----------------------------------------------------------------------------


def _violation_out(row: Any, **extra: Any) -> ViolationOut:
    return ViolationOut.model_validate({**row._mapping, **extra})


async def rectified(
    ctx: TenancyContext,
    uow: UnitOfWork,
    principal: Principal,
    violation_id: uuid.UUID,
    body: NoteIn,
) -> ViolationOut:
    """The fix was checked on site (整改到位): the order closes."""
    row = await store.violation(uow.conn, violation_id)
    if row.status not in ("open", "overdue"):
        raise domain.ViolationStepRefused(f"整改单状态为 {row.status}，不能确认整改")
    at = now()
    await uow.conn.execute(
        sa.update(violations)
        .where(violations.c.id == violation_id)
        .values(status="rectified", closed_at=at, closed_by=principal.sub, closing_note=body.note)
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="violation.rectified",
        subject_type="violation",
        subject_id=violation_id,
        details={"lease": str(row.lease_id)},
    )
    uow.emit(
        TenancyViolationClosed(
            violation_id=violation_id,
            lease_id=row.lease_id,
            outcome="rectified",
            closed_by=principal.sub,
            closed_at=at,
        ),
        subject=str(row.lease_id),
    )
    return _violation_out(row, status="rectified", closed_by=principal.sub)


async def escalate(
    ctx: TenancyContext,
    uow: UnitOfWork,
    principal: Principal,
    violation_id: uuid.UUID,
    body: NoteIn,
) -> ViolationOut:
    """Not rectified by the deadline: early recovery under the clause the finding breaks."""
    row = await store.violation(uow.conn, violation_id)
    # Past the deadline is enough: the officer need not wait for the sweep to mark it.
    missed = row.status == "open" and row.deadline < today_shanghai()
    if row.status != "overdue" and not missed:
        raise domain.ViolationStepRefused(
            f"整改期限 {row.deadline} 届满且未整改到位后方可提前收回"
            if row.status == "open"
            else f"整改单状态为 {row.status}"
        )
    lease = await store.lease(uow.conn, row.lease_id, lock=True)
    if row.clause not in lease.recovery_clauses:
        raise domain.ClauseNotInContract(f"租赁合同未约定提前收回情形 {row.clause}")
    at = now()
    exit_id = await open_exit(
        ctx,
        uow,
        principal.audit_actor(),
        lease,
        kind="early_recovery",
        clause=row.clause,
        reason=body.note,
        violation_id=violation_id,
    )
    if exit_id is None:
        raise domain.ExitStepRefused("该租约已有未结束的退出案件")
    await _officer_decided(uow, lease, "exit_noticed", lease.rent_band, exit_id=exit_id)
    await uow.conn.execute(
        sa.update(violations)
        .where(violations.c.id == violation_id)
        .values(status="escalated", closed_at=at, closed_by=principal.sub, closing_note=body.note)
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="violation.escalated",
        subject_type="violation",
        subject_id=violation_id,
        details={"exit": str(exit_id), "clause": row.clause},
    )
    uow.emit(
        TenancyViolationClosed(
            violation_id=violation_id,
            lease_id=row.lease_id,
            outcome="escalated",
            closed_by=principal.sub,
            closed_at=at,
        ),
        subject=str(row.lease_id),
    )
    return _violation_out(row, status="escalated", closed_by=principal.sub, exit_id=exit_id)


# -- exits ---------------------------------------------------------------------------------


async def open_exit(
    ctx: TenancyContext,
    uow: UnitOfWork,
    actor: dict[str, Any],
    lease: Any,
    *,
    kind: str,
    clause: str | None,
    reason: str,
    violation_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """The recovery notice (收回通知) with its move-out deadline; None when one is open."""
    today, at = today_shanghai(), now()
    exit_id = uuid.uuid4()
    exit_no = _doc_no("TH", today, exit_id)
    move_out_by = today + timedelta(days=ctx.rules.exit.move_out_days)
    inserted = await uow.conn.scalar(
        insert(exits)
        .values(
            id=exit_id,
            exit_no=exit_no,
            lease_id=lease.id,
            kind=kind,
            clause=clause,
            reason=reason,
            violation_id=violation_id,
            opened_by=actor["actor"],
            opened_at=at,
            move_out_by=move_out_by,
            status="notice_issued",
        )
        .on_conflict_do_nothing(
            index_elements=[exits.c.lease_id], index_where=sa.text("status <> 'vacated'")
        )
        .returning(exits.c.id)
    )
    if inserted is None:
        return None
    await audit.record(
        uow.conn,
        **actor,
        action="exit.noticed",
        subject_type="exit",
        subject_id=exit_id,
        details={"lease": str(lease.id), "kind": kind, "clause": clause},
    )
    uow.emit(
        TenancyRecoveryNoticed(
            exit_id=exit_id,
            exit_no=exit_no,
            lease_id=lease.id,
            household_reference=lease.household_reference,
            unit_id=lease.unit_id,
            kind=kind,  # type: ignore[arg-type]
            clause=clause,
            move_out_by=move_out_by,
            issued_at=at,
        ),
        subject=str(lease.id),
    )
    return exit_id


async def start_exit(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, lease_id: uuid.UUID, body: ExitIn
) -> ExitOut:
    """``POST /leases/{id}/exits``: the tenant leaves (退租) or the lessor recovers early
    under a clause of the contract."""
    lease = await store.lease(uow.conn, lease_id, lock=True)
    if lease.status != "active":
        raise domain.LeaseNotActive("租约已终止")
    if body.kind == "early_recovery":
        if body.clause is None:
            raise ValidationProblem("提前收回须写明合同约定的收回情形", field="clause")
        if body.clause not in lease.recovery_clauses:
            raise domain.ClauseNotInContract(f"租赁合同未约定提前收回情形 {body.clause}")
    exit_id = await open_exit(
        ctx,
        uow,
        principal.audit_actor(),
        lease,
        kind=body.kind,
        clause=body.clause if body.kind == "early_recovery" else None,
        reason=body.reason,
    )
    if exit_id is None:
        raise domain.ExitStepRefused("该租约已有未结束的退出案件")
    await _officer_decided(uow, lease, "exit_noticed", lease.rent_band, exit_id=exit_id)
    return _exit_out(await store.exit_row(uow.conn, exit_id))


def _day(at: Any) -> date:
    """The calendar day in China of a stored timestamp."""
    return at.astimezone(_SHANGHAI).date()


def _exit_out(row: Any) -> ExitOut:
    return ExitOut.model_validate(dict(row._mapping))


async def inspect(
    ctx: TenancyContext,
    uow: UnitOfWork,
    principal: Principal,
    exit_id: uuid.UUID,
    body: InspectionIn,
) -> ExitOut:
    """Move-out inspection (验房): damages, unpaid rent and the deposit settled."""
    row = await store.exit_row(uow.conn, exit_id, lock=True)
    if row.status not in ("notice_issued", "court_referred"):
        raise domain.ExitStepRefused(f"退出案件状态为 {row.status}，不能验房")
    if body.inspected_on > today_shanghai():
        raise ValidationProblem("验房日期不能晚于今天", field="inspected_on")
    if body.inspected_on < _day(row.opened_at):
        raise ValidationProblem("验房日期不能早于退出通知日期", field="inspected_on")
    lease = await store.lease(uow.conn, row.lease_id)
    # Rent paid ahead (prepaid) counts for the tenant: the net may be a credit.
    arrears = await store.unpaid_total(uow.conn, lease.id) - lease.prepaid
    settlement = domain.settle(lease.deposit, (d.amount for d in body.damages), arrears)
    damages = [{"item": d.item, "amount": str(d.amount)} for d in body.damages]
    await uow.conn.execute(
        sa.update(exits)
        .where(exits.c.id == exit_id)
        .values(
            status="inspected",
            inspected_by=principal.sub,
            inspected_on=body.inspected_on,
            damages=damages,
            damages_total=settlement.damages_total,
            arrears_total=settlement.arrears_total,
            deposit=settlement.deposit,
            settlement=settlement.balance,
        )
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="exit.inspected",
        subject_type="exit",
        subject_id=exit_id,
        details={
            "damages_total": str(settlement.damages_total),
            "settlement": str(settlement.balance),
        },
    )
    return _exit_out(await store.exit_row(uow.conn, exit_id))


async def move_out(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, exit_id: uuid.UUID, body: MoveOutIn
) -> ExitOut:
    """The keys are back (腾退): the lease ends and the unit is announced vacated."""
    row = await store.exit_row(uow.conn, exit_id, lock=True)
    if row.status != "inspected":
        raise domain.ExitStepRefused("须先完成验房和押金结算")
    if body.vacated_on > today_shanghai():
        raise ValidationProblem("腾退日期不能晚于今天", field="vacated_on")
    if body.vacated_on < _day(row.opened_at):
        raise ValidationProblem("腾退日期不能早于退出通知日期", field="vacated_on")
    lease = await store.lease(uow.conn, row.lease_id, lock=True)
    await uow.conn.execute(
        sa.update(exits)
        .where(exits.c.id == exit_id)
        .values(status="vacated", vacated_on=body.vacated_on)
    )
    await uow.conn.execute(
        sa.update(leases)
        .where(leases.c.id == lease.id)
        .values(status="ended", ended_on=body.vacated_on)
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="exit.vacated",
        subject_type="exit",
        subject_id=exit_id,
        details={"lease": str(lease.id), "vacated_on": str(body.vacated_on)},
    )
    uow.emit(
        TenancyUnitVacated(
            unit_id=lease.unit_id,
            vacated_on=body.vacated_on,
            recovered=row.kind == "early_recovery",
        ),
        subject=str(lease.unit_id),
    )
    return _exit_out(await store.exit_row(uow.conn, exit_id))


async def refer_to_court(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, exit_id: uuid.UUID
) -> ExitOut:
    """Still there after the move-out deadline (拒不腾退): a court-enforcement referral."""
    row = await store.exit_row(uow.conn, exit_id, lock=True)
    if row.status not in ("notice_issued", "inspected"):
        raise domain.ExitStepRefused(f"退出案件状态为 {row.status}，不能移送法院")
    today = today_shanghai()
    if today <= row.move_out_by:
        raise domain.ExitStepRefused(f"腾退期限 {row.move_out_by} 未届满，不能申请强制执行")
    at = now()
    referral_no = _doc_no("FY", today, row.id)
    await uow.conn.execute(
        sa.update(exits)
        .where(exits.c.id == exit_id)
        .values(status="court_referred", court_referral_no=referral_no, court_referred_at=at)
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="exit.court_referred",
        subject_type="exit",
        subject_id=exit_id,
        details={"referral_no": referral_no},
    )
    uow.emit(
        TenancyCourtReferred(
            exit_id=exit_id,
            lease_id=row.lease_id,
            referral_no=referral_no,
            move_out_by=row.move_out_by,
            referred_at=at,
        ),
        subject=str(row.lease_id),
    )
    return _exit_out(await store.exit_row(uow.conn, exit_id))


# -- subsidies -----------------------------------------------------------------------------


async def open_subsidy(
    ctx: TenancyContext, uow: UnitOfWork, event: AllocationSubsidyChosen
) -> None:
    """``allocation.subsidy_chosen``: the account, paid from the day of the choice."""
    account_id = uuid.uuid4()
    starts_on = _day(event.chosen_at)
    inserted = await uow.conn.scalar(
        insert(subsidy_accounts)
        .values(
            id=account_id,
            round_id=event.round_id,
            household_reference=event.household_reference,
            member_count=event.member_count,
            income_band=event.income_band,
            monthly_amount=event.monthly_amount,
            starts_on=starts_on,
            status="active",
            opened_at=now(),
        )
        .on_conflict_do_nothing(constraint="subsidy_accounts_once")
        .returning(subsidy_accounts.c.id)
    )
    if inserted is None:
        return
    await audit.record(
        uow.conn,
        **SYSTEM,
        action="subsidy.opened",
        subject_type="subsidy_account",
        subject_id=account_id,
        details={"monthly_amount": str(event.monthly_amount)},
    )
    uow.emit(
        TenancySubsidyOpened(
            account_id=account_id,
            household_reference=event.household_reference,
            monthly_amount=event.monthly_amount,
            starts_on=starts_on,
        ),
        subject=str(account_id),
    )


async def schedule_subsidies(ctx: TenancyContext, uow: UnitOfWork, month: date) -> ScheduleOut:
    """The month's subsidy payments, once per account; none for days after eligibility."""
    month = domain.month_start(month)
    rows = (
        await uow.conn.execute(
            sa.select(subsidy_accounts).where(
                subsidy_accounts.c.starts_on <= domain.month_end(month),
                sa.or_(subsidy_accounts.c.ends_on.is_(None), subsidy_accounts.c.ends_on > month),
                ~sa.exists().where(
                    subsidy_payments.c.account_id == subsidy_accounts.c.id,
                    subsidy_payments.c.month == month,
                ),
            )
        )
    ).all()
    scheduled = 0
    for account in rows:
        days, amount = domain.subsidy_for(
            account.monthly_amount, account.starts_on, account.ends_on, month
        )
        if days == 0:
            continue
        done = await uow.conn.scalar(
            insert(subsidy_payments)
            .values(
                id=uuid.uuid4(),
                account_id=account.id,
                month=month,
                days=days,
                amount=amount,
                pay_on=month.replace(day=ctx.rules.subsidy.pay_day),
                status="scheduled",
                scheduled_at=now(),
            )
            .on_conflict_do_nothing(constraint="subsidy_payments_once")
            .returning(subsidy_payments.c.id)
        )
        scheduled += done is not None
    return ScheduleOut(month=month, scheduled=scheduled)


async def end_subsidy(
    ctx: TenancyContext,
    uow: UnitOfWork,
    principal: Principal,
    account_id: uuid.UUID,
    body: SubsidyEndIn,
) -> dict[str, Any]:
    """Eligibility ended (实时取消): later months cancelled, the month of the end cut to the
    days before it."""
    account = (
        await uow.conn.execute(
            sa.select(subsidy_accounts).where(subsidy_accounts.c.id == account_id).with_for_update()
        )
    ).first()
    if account is None:
        raise NotFound("补贴账户不存在")
    if account.status != "active":
        raise domain.TenancyError("补贴已停止发放")
    if body.ends_on < account.starts_on:
        raise ValidationProblem("资格终止日不能早于补贴起始日", field="ends_on")
    await uow.conn.execute(
        sa.update(subsidy_accounts)
        .where(subsidy_accounts.c.id == account_id)
        .values(status="ended", ends_on=body.ends_on, end_reason=body.reason)
    )
    await uow.conn.execute(
        sa.update(subsidy_payments)
        .where(
            subsidy_payments.c.account_id == account_id,
            subsidy_payments.c.month >= body.ends_on,
            subsidy_payments.c.status == "scheduled",
        )
        .values(status="cancelled", days=0, amount=ZERO)
    )
    month = domain.month_start(body.ends_on)
    days, amount = domain.subsidy_for(
        account.monthly_amount, account.starts_on, body.ends_on, month
    )
    await uow.conn.execute(
        sa.update(subsidy_payments)
        .where(
            subsidy_payments.c.account_id == account_id,
            subsidy_payments.c.month == month,
            subsidy_payments.c.status == "scheduled",
        )
        .values(days=days, amount=amount, status="scheduled" if days else "cancelled")
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="subsidy.ended",
        subject_type="subsidy_account",
        subject_id=account_id,
        details={"ends_on": str(body.ends_on)},
    )
    uow.emit(
        TenancySubsidyEnded(
            account_id=account_id,
            household_reference=account.household_reference,
            ends_on=body.ends_on,
            reason=body.reason,
        ),
        subject=str(account_id),
    )
    return {"id": str(account_id), "status": "ended", "ends_on": body.ends_on.isoformat()}


# -- re-review campaign --------------------------------------------------------------------


async def record_campaign(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, year: int
) -> CampaignOut:
    """The year's re-review (年度复核) covers every lease active and begun before the year;
    recording it again answers the leases first recorded."""
    existing = (
        await uow.conn.execute(sa.select(campaigns).where(campaigns.c.year == year))
    ).first()
    if existing is not None:
        ids = list(existing.lease_ids)
    else:
        ids = list(
            (
                await uow.conn.execute(
                    sa.select(leases.c.id)
                    .where(leases.c.status == "active", leases.c.starts_on < date(year, 1, 1))
                    .order_by(leases.c.lease_no)
                )
            ).scalars()
        )
        await uow.conn.execute(
            campaigns.insert().values(
                year=year, lease_ids=ids, recorded_by=principal.sub, recorded_at=now()
            )
        )
        await audit.record(
            uow.conn,
            **principal.audit_actor(),
            action="campaign.recorded",
            subject_type="campaign",
            subject_id=str(year),
            details={"leases": len(ids)},
        )
    await request_rereviews(ctx, uow, year, ids)
    # The campaign's figures, not this call's: recording it again answers the same.
    requested, deadline = (
        await uow.conn.execute(
            sa.select(sa.func.count(), sa.func.min(rereviews.c.deadline)).where(
                rereviews.c.campaign == year
            )
        )
    ).one()
    rows = (
        await uow.conn.execute(
            sa.select(leases.c.id, leases.c.lease_no, leases.c.household_reference)
            .where(leases.c.id.in_(ids))
            .order_by(leases.c.lease_no)
        )
    ).all()
    return CampaignOut(
        year=year,
        leases=[
            CampaignLease(
                lease_id=r.id, lease_no=r.lease_no, household_reference=r.household_reference
            )
            for r in rows
        ],
        requested=requested,
        deadline=deadline,
    )


async def request_rereviews(
    ctx: TenancyContext, uow: UnitOfWork, year: int, lease_ids: list[uuid.UUID]
) -> int:
    """One ``tenancy.rereview_requested`` per lease of the campaign still active and not yet
    requested: one INSERT … SELECT, the events in the transaction's one outbox insert.

    A lease whose household tenancy never heard of (no ``application.submitted``) has no
    application for verification to find; it is left out and shows in no re-review.
    """
    at = now()
    deadline = today_shanghai() + timedelta(days=ctx.rules.rereview.deadline_days)
    cols = [
        "lease_id",
        "campaign",
        "application_id",
        "household_reference",
        "deadline",
        "status",
        "requested_at",
    ]
    source = (
        sa.select(
            leases.c.id,
            sa.literal(year, sa.Integer),
            households.c.application_id,
            leases.c.household_reference,
            sa.literal(deadline, sa.Date),
            sa.literal("requested", sa.Text),
            sa.literal(at, sa.DateTime(timezone=True)),
        )
        .select_from(
            leases.join(
                households, households.c.household_reference == leases.c.household_reference
            )
        )
        .where(leases.c.id == _any(lease_ids, UUID(as_uuid=True)), leases.c.status == "active")
    )
    rows = (
        await uow.conn.execute(
            insert(rereviews)
            .from_select(cols, source)
            .on_conflict_do_nothing()
            .returning(
                rereviews.c.lease_id, rereviews.c.application_id, rereviews.c.household_reference
            )
        )
    ).all()
    for r in rows:
        uow.emit(
            TenancyRereviewRequested(
                lease_id=r.lease_id,
                application_id=r.application_id,
                household_reference=r.household_reference,
                campaign=year,
                deadline=deadline,
                requested_at=at,
            ),
            subject=str(r.lease_id),
        )
    return len(rows)


async def apply_rereview(
    ctx: TenancyContext, uow: UnitOfWork, event: VerificationRereviewCompleted
) -> None:
    """Verification's answer: continue, change the band from the next unbilled month, graded
    exit (market band for the transition months, then the recovery notice), an officer's
    decision when it could not verify everything, or a violation when it holds no household.

    Once per re-review: an answer after the deadline finds it already not cooperated.
    """
    rr = (
        await uow.conn.execute(
            sa.select(rereviews)
            .where(rereviews.c.lease_id == event.lease_id, rereviews.c.campaign == event.campaign)
            .with_for_update()
        )
    ).first()
    if rr is None or rr.status != "requested":
        return
    lease = await store.lease(uow.conn, event.lease_id, lock=True)
    facts = {
        "household_found": event.household_found,
        "meets_continuation": event.meets_continuation,
        "income_band": event.income_band,
        "verified_at": event.completed_at,
    }
    if lease.status != "active":
        await _conclude(uow, rr, lease, "continued", lease.rent_band, **facts)
        return
    reason = f"{event.campaign}年度复核结果"
    if not event.household_found:
        await _not_cooperated(ctx, uow, rr, lease, facts)
    elif event.meets_continuation is None:
        await _conclude(uow, rr, lease, "officer_decides", lease.rent_band, **facts)
    elif event.meets_continuation is False:
        market = ctx.rules.rereview.market_band
        effective = await set_band(
            uow,
            lease,
            market,
            reason + "：不再符合保障条件，过渡期按市场租金计收",
            SYSTEM,
            "system",
        )
        exit_on = domain.add_months(effective, ctx.rules.rereview.transition_months)
        await _conclude(uow, rr, lease, "graded_exit", market, exit_on=exit_on, **facts)
    else:
        band = (
            event.income_band if event.income_band and ctx.rules.band(event.income_band) else None
        )
        band = band or lease.rent_band
        if band == lease.rent_band:
            await _conclude(uow, rr, lease, "continued", band, **facts)
        else:
            await set_band(uow, lease, band, reason + "：按核定收入调整租金档", SYSTEM, "system")
            await _conclude(uow, rr, lease, "band_changed", band, **facts)


async def _officer_decided(
    uow: UnitOfWork, lease: Any, outcome: str, band: str, *, exit_id: uuid.UUID | None = None
) -> None:
    """A re-review verification left to an officer (``officer_decides``) is concluded by the
    officer's band decision or recovery notice on the lease."""
    rows = (
        await uow.conn.execute(
            sa.update(rereviews)
            .where(rereviews.c.lease_id == lease.id, rereviews.c.status == "officer_decides")
            .values(status=outcome, rent_band=band, exit_id=exit_id, concluded_at=now())
            .returning(rereviews.c.campaign)
        )
    ).scalars()
    for campaign in rows:
        uow.emit(
            TenancyRereviewConcluded(
                lease_id=lease.id,
                household_reference=lease.household_reference,
                campaign=campaign,
                outcome=outcome,  # type: ignore[arg-type]
                rent_band=band,
                concluded_at=now(),
            ),
            subject=str(lease.id),
        )


async def _conclude(
    uow: UnitOfWork,
    rr: Any,
    lease: Any,
    outcome: str,
    band: str,
    *,
    exit_on: date | None = None,
    violation_id: uuid.UUID | None = None,
    **facts: Any,
) -> None:
    at = now()
    await uow.conn.execute(
        sa.update(rereviews)
        .where(rereviews.c.lease_id == rr.lease_id, rereviews.c.campaign == rr.campaign)
        .values(
            status=outcome,
            rent_band=band,
            exit_on=exit_on,
            violation_id=violation_id,
            concluded_at=at,
            **facts,
        )
    )
    await audit.record(
        uow.conn,
        **SYSTEM,
        action="rereview.concluded",
        subject_type="lease",
        subject_id=rr.lease_id,
        details={"campaign": rr.campaign, "outcome": outcome, "rent_band": band},
    )
    uow.emit(
        TenancyRereviewConcluded(
            lease_id=rr.lease_id,
            household_reference=rr.household_reference,
            campaign=rr.campaign,
            outcome=outcome,  # type: ignore[arg-type]
            rent_band=band,
            exit_on=exit_on,
            concluded_at=at,
        ),
        subject=str(rr.lease_id),
    )


async def _not_cooperated(
    ctx: TenancyContext, uow: UnitOfWork, rr: Any, lease: Any, facts: dict[str, Any]
) -> None:
    """不配合年度复核: a rectification order under the re-review clause, as any violation."""
    rule = ctx.rules.rereview
    violation_id = uuid.uuid4()
    deadline = today_shanghai() + timedelta(days=rule.rectify_days)
    await uow.conn.execute(
        violations.insert().values(
            id=violation_id,
            lease_id=lease.id,
            visit_id=None,
            finding="rereview_not_cooperated",
            clause=rule.violation_clause,
            deadline=deadline,
            status="open",
            opened_at=now(),
        )
    )
    uow.emit(
        TenancyViolationOpened(
            violation_id=violation_id,
            lease_id=lease.id,
            household_reference=lease.household_reference,
            finding="rereview_not_cooperated",
            clause=rule.violation_clause,
            deadline=deadline,
        ),
        subject=str(lease.id),
    )
    await _conclude(
        uow, rr, lease, "not_cooperated", lease.rent_band, violation_id=violation_id, **facts
    )


async def rereview_deadlines(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """No answer by the deadline: the household did not cooperate (a violation)."""
    rows = (
        await uow.conn.execute(
            sa.select(rereviews)
            .where(rereviews.c.status == "requested", rereviews.c.deadline < today_shanghai())
            .order_by(rereviews.c.lease_id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for rr in rows:
        lease = await store.lease(uow.conn, rr.lease_id, lock=True)
        if lease.status == "active":
            await _not_cooperated(ctx, uow, rr, lease, {})
        else:
            await _conclude(uow, rr, lease, "continued", lease.rent_band)


async def rereview_reminders(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """N5: a re-review still open within ``reminder_days`` of its deadline, once."""
    horizon = today_shanghai() + timedelta(days=ctx.rules.rereview.reminder_days)
    rows = (
        await uow.conn.execute(
            sa.update(rereviews)
            .where(
                rereviews.c.status == "requested",
                rereviews.c.reminded_at.is_(None),
                rereviews.c.deadline <= horizon,
            )
            .values(reminded_at=now())
            .returning(
                rereviews.c.lease_id,
                rereviews.c.household_reference,
                rereviews.c.campaign,
                rereviews.c.deadline,
            )
        )
    ).all()
    for r in rows:
        uow.emit(
            TenancyRereviewDue(
                lease_id=r.lease_id,
                household_reference=r.household_reference,
                campaign=r.campaign,
                deadline=r.deadline,
            ),
            subject=str(r.lease_id),
        )


async def graded_exits(ctx: TenancyContext, uow: UnitOfWork) -> None:
    """The transition at market rent is over: the recovery notice (the exit procedure)."""
    rows = (
        await uow.conn.execute(
            sa.select(rereviews)
            .where(rereviews.c.status == "graded_exit", rereviews.c.exit_on <= today_shanghai())
            .order_by(rereviews.c.lease_id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for rr in rows:
        lease = await store.lease(uow.conn, rr.lease_id, lock=True)
        exit_id = None
        if lease.status == "active":
            exit_id = await open_exit(
                ctx,
                uow,
                SYSTEM,
                lease,
                kind="early_recovery",
                clause=ctx.rules.rereview.exit_clause,
                reason=f"{rr.campaign}年度复核不再符合保障条件，梯度退出过渡期已满",
            )
            if exit_id is None:  # an exit already open (another ground) carries the move-out
                exit_id = await uow.conn.scalar(
                    sa.select(exits.c.id).where(
                        exits.c.lease_id == lease.id, exits.c.status != "vacated"
                    )
                )
        await uow.conn.execute(
            sa.update(rereviews)
            .where(rereviews.c.lease_id == rr.lease_id, rereviews.c.campaign == rr.campaign)
            .values(status="exit_noticed", exit_id=exit_id)
        )


# -- electricity use (power company) and vacancy leads -------------------------------------


async def request_power_readings(
    ctx: TenancyContext, uow: UnitOfWork, month: date
) -> PowerRequestsOut:
    """Ask the power company for ``month``'s use of every let unit: one row per unit-month,
    a unit already asked for the month is not asked again."""
    if month >= domain.month_start(today_shanghai()):
        raise ValidationProblem("只能请求已结束月份的用电量", field="month")
    inserted = (
        await uow.conn.execute(
            insert(power_readings)
            .from_select(
                ["id", "lease_id", "unit_id", "month", "requested_at"],
                sa.select(
                    sa.func.gen_random_uuid(),
                    leases.c.id,
                    leases.c.unit_id,
                    sa.literal(month, sa.Date),
                    sa.literal(now(), sa.DateTime(timezone=True)),
                ).where(leases.c.status == "active", leases.c.starts_on <= domain.month_end(month)),
            )
            .on_conflict_do_nothing(constraint="power_readings_unit_month")
            .returning(power_readings.c.id)
        )
    ).all()
    return PowerRequestsOut(month=month.strftime("%Y-%m"), requested=len(inserted))


def _reading_key(i: int, item: Any) -> tuple[str, Any]:
    if item.request_id is not None:
        return "request_id", item.request_id
    if item.unit_id is None or item.month is None:
        raise ValidationProblem(
            "应填写请求编号 request_id，或单元 unit_id 与月份 month",
            field=f"readings.{i}.request_id",
        )
    return "unit_month", (item.unit_id, date.fromisoformat(f"{item.month}-01"))


async def record_power_readings(
    ctx: TenancyContext, uow: UnitOfWork, principal: Principal, body: PowerReadingsIn
) -> PowerReadingsOut:
    """The power company's answers: each fills its unit-month once. The same use again is a
    duplicate (nothing changes); a different use for a unit-month already answered is refused
    for the whole batch, so a batch is applied entirely or not at all."""
    keys = [_reading_key(i, item) for i, item in enumerate(body.readings)]
    ids = [k for kind, k in keys if kind == "request_id"]
    pairs = [k for kind, k in keys if kind == "unit_month"]
    c = power_readings.c
    rows = (
        await uow.conn.execute(
            sa.select(c.id, c.unit_id, c.month, c.kwh)
            .where(sa.or_(c.id.in_(ids), sa.tuple_(c.unit_id, c.month).in_(pairs)))
            .with_for_update()
        )
    ).all()
    by_id = {r.id: r for r in rows}
    by_pair = {(r.unit_id, r.month): r for r in rows}
    fresh: dict[uuid.UUID, Decimal] = {}
    duplicates = 0
    for i, ((kind, key), item) in enumerate(zip(keys, body.readings, strict=True)):
        row = by_id.get(key) if kind == "request_id" else by_pair.get(key)
        field = f"readings.{i}.{'request_id' if kind == 'request_id' else 'unit_id'}"
        if row is None:
            raise ValidationProblem("没有该单元该月的用电量请求", field=field)
        known = row.kwh if row.kwh is not None else fresh.get(row.id)
        if known is None:
            fresh[row.id] = item.kwh
        elif known == item.kwh:
            duplicates += 1
        else:
            raise Conflict(
                f"该单元 {row.month:%Y-%m} 的用电量已报送为 {known} 千瓦时，与本次不同",
                field=f"readings.{i}.kwh",
            )
    if fresh:
        answers = sa.values(
            sa.column("id", UUID(as_uuid=True)), sa.column("kwh", sa.Numeric(10, 1)), name="answers"
        ).data(list(fresh.items()))
        await uow.conn.execute(
            sa.update(power_readings)
            .where(c.id == answers.c.id, c.kwh.is_(None))
            .values(kwh=answers.c.kwh, answered_at=now(), answered_by=principal.sub)
        )
    return PowerReadingsOut(recorded=len(fresh), duplicates=duplicates)


# Runs of consecutive answered months under the threshold (gaps and islands: within a run,
# month number minus row number is constant); a run long enough is a lead, once per run (its
# first month), and brings the lease's visit forward. Announced (N6) only when the due date
# was not announced already.
_VACANCY_LEADS = sa.text(
    """
WITH low AS (
    SELECT r.lease_id, r.unit_id, r.month,
           (EXTRACT(YEAR FROM r.month)::int * 12 + EXTRACT(MONTH FROM r.month)::int)
             - ROW_NUMBER() OVER (PARTITION BY r.lease_id ORDER BY r.month) AS run
    FROM power_readings r JOIN leases l ON l.id = r.lease_id
    WHERE l.status = 'active' AND r.kwh < :threshold
), streaks AS (
    SELECT lease_id, unit_id, MIN(month) AS streak_from, MAX(month) AS streak_to,
           COUNT(*) AS months
    FROM low GROUP BY lease_id, unit_id, run HAVING COUNT(*) >= :months
), leads AS (
    INSERT INTO vacancy_leads (id, lease_id, unit_id, household_reference, streak_from,
                               streak_to, months, visit_due, detected_at)
    SELECT gen_random_uuid(), s.lease_id, s.unit_id, l.household_reference, s.streak_from,
           s.streak_to, s.months, LEAST(l.next_visit_due, :due), :at
    FROM streaks s JOIN leases l ON l.id = s.lease_id
    ON CONFLICT (lease_id, streak_from) DO NOTHING
    RETURNING lease_id, visit_due
), due AS (
    SELECT lease_id, MIN(visit_due) AS visit_due FROM leads GROUP BY lease_id
)
UPDATE leases SET next_visit_due = due.visit_due, visit_reminded_for = due.visit_due
FROM due
WHERE leases.id = due.lease_id AND leases.visit_reminded_for IS DISTINCT FROM due.visit_due
RETURNING leases.id, leases.household_reference, leases.unit_id, leases.next_visit_due
"""
)


async def vacancy_leads(ctx: TenancyContext, uow: UnitOfWork) -> int:
    """Find the vacancy leads in the readings (one statement) and announce their visits."""
    rule = ctx.rules.vacancy
    rows = (
        await uow.conn.execute(
            _VACANCY_LEADS,
            {
                "threshold": rule.kwh_threshold,
                "months": rule.months,
                "due": today_shanghai() + timedelta(days=rule.visit_within_days),
                "at": now(),
            },
        )
    ).all()
    for row in rows:
        uow.emit(
            TenancyVisitDue(
                lease_id=row.id,
                household_reference=row.household_reference,
                unit_id=row.unit_id,
                due_on=row.next_visit_due,
            ),
            subject=str(row.id),
        )
    return len(rows)

"""Read side of tenancy: leases and their bills and payments, visits due, violations, exits
(and the public exit list), subsidy accounts, withholding imports."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.tenancy import store
from services.tenancy.context import TenancyContext
from services.tenancy.schemas import (
    BillOut,
    DueVisitOut,
    ExitOut,
    ImportReport,
    LeaseOut,
    PaymentOut,
    PowerRequestOut,
    PublicExitOut,
    PublicRereviewOut,
    RereviewOut,
    StatisticsOut,
    SubsidyOut,
    SubsidyPaymentOut,
    UnmatchedRow,
    VacancyLeadOut,
    ViolationOut,
    VisitOut,
)
from services.tenancy.tables import (
    bills,
    exits,
    households,
    leases,
    payments,
    power_readings,
    rereviews,
    subsidy_accounts,
    subsidy_payments,
    vacancy_leads,
    violations,
    visit_photos,
    visits,
    withholding_imports,
)
from shared.pagination import Page, PageParams
from shared.problems import NotFound

KIND_NAMES = {"early_recovery": "提前收回", "voluntary": "主动退租"}


def _model(model: Any, row: Any, **extra: Any) -> Any:
    return model.model_validate({**row._mapping, **extra})


async def lease(ctx: TenancyContext, lease_id: uuid.UUID) -> LeaseOut:
    async with ctx.uow() as uow:
        return _model(LeaseOut, await store.lease(uow.conn, lease_id))


async def leases_of(
    ctx: TenancyContext, household_reference: str | None, status: str | None, page: PageParams
) -> Page[LeaseOut]:
    where = []
    if household_reference is not None:
        where.append(leases.c.household_reference == household_reference)
    if status is not None:
        where.append(leases.c.status == status)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(leases).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(leases)
                .where(*where)
                .order_by(leases.c.lease_no)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of([_model(LeaseOut, r) for r in rows], total or 0, page)


async def bills_of(ctx: TenancyContext, lease_id: uuid.UUID) -> list[BillOut]:
    async with ctx.uow() as uow:
        await store.lease(uow.conn, lease_id)
        rows = (
            await uow.conn.execute(
                sa.select(bills).where(bills.c.lease_id == lease_id).order_by(bills.c.month)
            )
        ).all()
    return [_model(BillOut, r) for r in rows]


async def payments_of(
    ctx: TenancyContext, lease_id: uuid.UUID | None, status: str | None, page: PageParams
) -> Page[PaymentOut]:
    where = []
    if lease_id is not None:
        where.append(payments.c.lease_id == lease_id)
    if status is not None:
        where.append(payments.c.status == status)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(payments).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(payments)
                .where(*where)
                .order_by(payments.c.received_at, payments.c.reference)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of([_model(PaymentOut, r) for r in rows], total or 0, page)


async def withholding_import(ctx: TenancyContext, import_id: uuid.UUID) -> ImportReport:
    async with ctx.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(withholding_imports).where(withholding_imports.c.id == import_id)
            )
        ).first()
    if row is None:
        raise NotFound("代扣文件导入记录不存在")
    return ImportReport(
        id=row.id,
        file_name=row.file_name,
        rows=row.rows,
        applied=row.applied,
        duplicates=row.duplicates,
        unmatched=[UnmatchedRow.model_validate(u) for u in row.report],
    )


async def visits_due(ctx: TenancyContext, by: date, page: PageParams) -> Page[DueVisitOut]:
    """The rolling schedule: active leases whose yearly visit is due by ``by``."""
    where = [leases.c.status == "active", leases.c.next_visit_due <= by]
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(leases).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(
                    leases.c.id.label("lease_id"),
                    leases.c.lease_no,
                    leases.c.household_reference,
                    leases.c.unit_id,
                    leases.c.next_visit_due,
                )
                .where(*where)
                .order_by(leases.c.next_visit_due, leases.c.lease_no)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of([_model(DueVisitOut, r) for r in rows], total or 0, page)


async def visit(ctx: TenancyContext, visit_id: uuid.UUID) -> VisitOut:
    async with ctx.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(visits, leases.c.next_visit_due)
                .join(leases, leases.c.id == visits.c.lease_id)
                .where(visits.c.id == visit_id)
            )
        ).first()
        if row is None:
            raise NotFound("走访记录不存在")
        photos = await uow.conn.scalar(
            sa.select(sa.func.count()).where(visit_photos.c.visit_id == visit_id)
        )
        violation_id = await uow.conn.scalar(
            sa.select(violations.c.id).where(violations.c.visit_id == visit_id)
        )
    return _model(VisitOut, row, photos=photos or 0, violation_id=violation_id)


async def violations_of(
    ctx: TenancyContext, status: str | None, lease_id: uuid.UUID | None, page: PageParams
) -> Page[ViolationOut]:
    where = []
    if status is not None:
        where.append(violations.c.status == status)
    if lease_id is not None:
        where.append(violations.c.lease_id == lease_id)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(violations).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(violations, exits.c.id.label("exit_id"))
                .outerjoin(exits, exits.c.violation_id == violations.c.id)
                .where(*where)
                .order_by(violations.c.deadline, violations.c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    return Page.of([_model(ViolationOut, r) for r in rows], total or 0, page)


async def exit_case(ctx: TenancyContext, exit_id: uuid.UUID) -> ExitOut:
    async with ctx.uow() as uow:
        return _model(ExitOut, await store.exit_row(uow.conn, exit_id))


async def public_exits(ctx: TenancyContext, page: PageParams) -> Page[PublicExitOut]:
    """Exits as published (六公开: 退出情况): masked tenant, district, how and when only."""
    where = [exits.c.status == "vacated"]
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(exits).where(*where))
        rows = (
            await uow.conn.execute(
                sa.select(
                    exits.c.exit_no,
                    exits.c.kind,
                    exits.c.clause,
                    exits.c.vacated_on,
                    households.c.applicant_name_masked,
                    households.c.district,
                )
                .join(leases, leases.c.id == exits.c.lease_id)
                .outerjoin(
                    households, households.c.household_reference == leases.c.household_reference
                )
                .where(*where)
                .order_by(exits.c.vacated_on.desc(), exits.c.exit_no)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [
        PublicExitOut(
            exit_no=r.exit_no,
            tenant=r.applicant_name_masked or "*",
            district=r.district,
            kind=KIND_NAMES.get(r.kind, r.kind),
            clause=r.clause,
            vacated_on=r.vacated_on,
        )
        for r in rows
    ]
    return Page.of(items, total or 0, page)


async def subsidy(ctx: TenancyContext, account_id: uuid.UUID) -> SubsidyOut:
    async with ctx.uow() as uow:
        row = (
            await uow.conn.execute(
                sa.select(subsidy_accounts).where(subsidy_accounts.c.id == account_id)
            )
        ).first()
        if row is None:
            raise NotFound("补贴账户不存在")
        pays = (
            await uow.conn.execute(
                sa.select(subsidy_payments)
                .where(subsidy_payments.c.account_id == account_id)
                .order_by(subsidy_payments.c.month)
            )
        ).all()
    return _model(SubsidyOut, row, payments=[_model(SubsidyPaymentOut, p) for p in pays])


async def subsidies_of(ctx: TenancyContext, household_reference: str) -> list[SubsidyOut]:
    async with ctx.uow() as uow:
        ids = list(
            (
                await uow.conn.execute(
                    sa.select(subsidy_accounts.c.id)
                    .where(subsidy_accounts.c.household_reference == household_reference)
                    .order_by(subsidy_accounts.c.opened_at)
                )
            ).scalars()
        )
    return [await subsidy(ctx, i) for i in ids]


async def statistics(ctx: TenancyContext, year: int, today: date) -> StatisticsOut:
    """Use and exit figures: occupancy, arrears, visits against plan, violations, exits."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    count = sa.func.count()
    async with ctx.uow() as uow:
        conn = uow.conn
        by_status = dict(
            (await conn.execute(sa.select(leases.c.status, count).group_by(leases.c.status))).all()
        )
        overdue = (
            await conn.execute(
                sa.select(
                    sa.func.count(sa.distinct(bills.c.lease_id)),
                    sa.func.coalesce(sa.func.sum(bills.c.amount - bills.c.paid_amount), 0),
                ).where(bills.c.paid_at.is_(None), bills.c.due_on < today)
            )
        ).one()
        visits_due = await conn.scalar(
            sa.select(count).where(
                leases.c.status == "active", leases.c.next_visit_due.between(first, last)
            )
        )
        visits_done = await conn.scalar(
            sa.select(sa.func.count(sa.distinct(visits.c.lease_id))).where(
                visits.c.visited_on.between(first, last)
            )
        )
        violation_counts = dict(
            (
                await conn.execute(
                    sa.select(violations.c.status, count).group_by(violations.c.status)
                )
            ).all()
        )
        exit_counts = dict(
            (
                await conn.execute(
                    sa.select(exits.c.kind, count)
                    .where(exits.c.status == "vacated", exits.c.vacated_on.between(first, last))
                    .group_by(exits.c.kind)
                )
            ).all()
        )
        exits_open = await conn.scalar(sa.select(count).where(exits.c.status != "vacated"))
        subsidies = await conn.scalar(sa.select(count).where(subsidy_accounts.c.status == "active"))
        rereview_counts = dict(
            (
                await conn.execute(
                    sa.select(rereviews.c.status, count)
                    .where(rereviews.c.campaign == year)
                    .group_by(rereviews.c.status)
                )
            ).all()
        )
    return StatisticsOut(
        year=year,
        leases_active=by_status.get("active", 0),
        leases_ended=by_status.get("ended", 0),
        leases_in_arrears=overdue[0],
        arrears_amount=overdue[1],
        visits_due_this_year=visits_due or 0,
        visits_done_this_year=visits_done or 0,
        violations={
            s: violation_counts.get(s, 0) for s in ("open", "overdue", "rectified", "escalated")
        },
        exits_this_year={k: exit_counts.get(k, 0) for k in ("early_recovery", "voluntary")},
        exits_open=exits_open or 0,
        subsidies_active=subsidies or 0,
        rereviews={s: rereview_counts.get(s, 0) for s in ("requested", *OUTCOME_NAMES)},
    )


OUTCOME_NAMES = {
    "continued": "继续保障",
    "band_changed": "调整租金档",
    "graded_exit": "梯度退出（过渡期）",
    "exit_noticed": "退出",
    "officer_decides": "待人工认定",
    "not_cooperated": "不配合复核",
}


async def rereviews_of(
    ctx: TenancyContext, year: int, status: str | None, page: PageParams
) -> Page[RereviewOut]:
    """A campaign's re-reviews; ``status=officer_decides`` is what awaits an officer."""
    where: list[Any] = [rereviews.c.campaign == year]
    if status is not None:
        where.append(rereviews.c.status == status)
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(rereviews).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(rereviews)
                .where(*where)
                .order_by(rereviews.c.deadline, rereviews.c.lease_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [RereviewOut.model_validate(dict(r._mapping)) for r in rows]
    return Page.of(items, total or 0, page)


async def public_rereviews(
    ctx: TenancyContext, year: int, page: PageParams
) -> Page[PublicRereviewOut]:
    """Re-review results as published (Fujian's portal): masked tenant, district, outcome;
    only concluded ones, never the household reference."""
    where = [rereviews.c.campaign == year, rereviews.c.status != "requested"]
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(rereviews).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(
                    rereviews.c.status,
                    rereviews.c.rent_band,
                    households.c.applicant_name_masked,
                    households.c.district,
                )
                .outerjoin(households, households.c.application_id == rereviews.c.application_id)
                .where(*where)
                .order_by(households.c.district, rereviews.c.lease_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [
        PublicRereviewOut(
            tenant=r.applicant_name_masked or "*",
            district=r.district,
            outcome=OUTCOME_NAMES.get(r.status, r.status),
            rent_band=r.rent_band,
        )
        for r in rows
    ]
    return Page.of(items, total or 0, page)


async def power_requests(
    ctx: TenancyContext, month: date | None, page: PageParams
) -> Page[PowerRequestOut]:
    """Unit-months still awaiting the power company's answer: the unit only, no household."""
    c = power_readings.c
    where = [c.kwh.is_(None)] + ([c.month == month] if month else [])
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(power_readings).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(c.id, c.unit_id, c.month)
                .where(*where)
                .order_by(c.month, c.unit_id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [
        PowerRequestOut(request_id=r.id, unit_id=r.unit_id, month=r.month.strftime("%Y-%m"))
        for r in rows
    ]
    return Page.of(items, total or 0, page)


async def vacancy_leads_of(
    ctx: TenancyContext, lease_id: uuid.UUID | None, page: PageParams
) -> Page[VacancyLeadOut]:
    c = vacancy_leads.c
    where = [c.lease_id == lease_id] if lease_id else []
    async with ctx.uow() as uow:
        total = await uow.conn.scalar(
            sa.select(sa.func.count()).select_from(vacancy_leads).where(*where)
        )
        rows = (
            await uow.conn.execute(
                sa.select(vacancy_leads)
                .where(*where)
                .order_by(c.detected_at.desc(), c.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
    items = [
        _model(
            VacancyLeadOut,
            r,
            streak_from=r.streak_from.strftime("%Y-%m"),
            streak_to=r.streak_to.strftime("%Y-%m"),
        )
        for r in rows
    ]
    return Page.of(items, total or 0, page)

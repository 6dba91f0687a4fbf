"""HTTP endpoints of tenancy: leases and rent, payments, visits, violations, exits, subsidies."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.tenancy import commands, queries
from services.tenancy.context import Ctx
from services.tenancy.problems import translated
from services.tenancy.schemas import (
    BillingOut,
    BillOut,
    CampaignOut,
    DueVisitOut,
    ExitIn,
    ExitOut,
    ImportReport,
    InspectionIn,
    LeaseOut,
    MoveOutIn,
    NoteIn,
    PaymentIn,
    PaymentOut,
    PhotoOut,
    PowerReadingsIn,
    PowerReadingsOut,
    PowerRequestOut,
    PowerRequestsOut,
    PublicExitOut,
    PublicRereviewOut,
    RentBandIn,
    RentBandOut,
    RereviewOut,
    ScheduleOut,
    StatisticsOut,
    SubsidyEndIn,
    SubsidyOut,
    VacancyLeadOut,
    ViolationOut,
    VisitIn,
    VisitOut,
)
from shared.auth import (
    CITY_LEADER,
    DISCIPLINE_INSPECTOR,
    HOUSING_OFFICER,
    SERVICE,
    SUPERVISOR,
    CurrentPrincipal,
    Principal,
    require_roles,
)
from shared.clock import today_shanghai
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep
from shared.problems import Forbidden, problem_responses

router = APIRouter(tags=["tenancy"])

Officer = Annotated[Principal, Depends(require_roles(HOUSING_OFFICER))]
Channel = Annotated[Principal, Depends(require_roles(SERVICE))]
Reader = Annotated[
    Principal,
    Depends(require_roles(HOUSING_OFFICER, CITY_LEADER, SUPERVISOR, DISCIPLINE_INSPECTOR)),
]
Month = Annotated[
    str, Path(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="月份，如 2026-03")
]
FileName = Annotated[str, Query(description="文件名", min_length=1, max_length=200)]


def _work(fn: Callable[[UnitOfWork], Awaitable[Any]]) -> Callable[[UnitOfWork], Awaitable[Any]]:
    """The command with its domain refusals turned into problems (inside the transaction)."""

    async def work(uow: UnitOfWork) -> Any:
        return await translated(lambda: fn(uow))

    return work


def _month(value: str) -> date:
    return date.fromisoformat(f"{value}-01")


def _binary(*types: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in types},
        }
    }


# -- leases and rent -----------------------------------------------------------------------


@router.get("/leases", response_model=Page[LeaseOut])
async def list_leases(
    ctx: Ctx,
    principal: Reader,
    page: PageDep,
    household_reference: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern=r"^(active|ended)$")] = None,
) -> Page[LeaseOut]:
    return await queries.leases_of(ctx, household_reference, status, page)


@router.get("/leases/{lease_id}", response_model=LeaseOut)
async def get_lease(lease_id: uuid.UUID, ctx: Ctx, principal: Reader) -> LeaseOut:
    return await queries.lease(ctx, lease_id)


@router.get("/leases/{lease_id}/bills", response_model=list[BillOut])
async def lease_bills(lease_id: uuid.UUID, ctx: Ctx, principal: Reader) -> list[BillOut]:
    return await queries.bills_of(ctx, lease_id)


@router.post("/leases/{lease_id}/rent-band", response_model=RentBandOut)
async def set_rent_band(
    lease_id: uuid.UUID, body: RentBandIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """A re-review result: the new band from the next month not yet billed (audited)."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.change_rent_band(ctx, uow, principal, lease_id, body))
    )


@router.post("/billing/{month}", response_model=BillingOut)
async def run_billing(month: Month, ctx: Ctx, idem: IdempotencyDep, principal: Officer) -> Response:
    """The month's bills for every lease covering it; a second run bills nothing more."""
    return await idem.run(ctx.uow, _work(lambda uow: commands.bill_month(ctx, uow, _month(month))))


# -- payments ------------------------------------------------------------------------------


@router.post("/payments", response_model=PaymentOut, status_code=201)
async def channel_payment(
    body: PaymentIn, ctx: Ctx, idem: IdempotencyDep, principal: Channel
) -> Response:
    """A payment channel's notification; the same transaction reference again answers 200."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.pay_via_channel(ctx, uow, principal, body))
    )


@router.get("/payments", response_model=Page[PaymentOut])
async def list_payments(
    ctx: Ctx,
    principal: Reader,
    page: PageDep,
    lease_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern=r"^(applied|unmatched)$")] = None,
) -> Page[PaymentOut]:
    return await queries.payments_of(ctx, lease_id, status, page)


@router.post(
    "/withholding-imports",
    response_model=ImportReport,
    status_code=201,
    openapi_extra=_binary("text/csv"),
)
async def import_withholding(
    request: Request, ctx: Ctx, idem: IdempotencyDep, principal: Officer, file_name: FileName
) -> Response:
    """The bank's withholding file (代扣) as the raw body; rows already seen change nothing."""
    content = await request.body()
    return await idem.run(
        ctx.uow,
        _work(lambda uow: commands.import_withholding(ctx, uow, principal, file_name, content)),
        status_code=201,
    )


@router.get("/withholding-imports/{import_id}", response_model=ImportReport)
async def get_import(import_id: uuid.UUID, ctx: Ctx, principal: Reader) -> ImportReport:
    return await queries.withholding_import(ctx, import_id)


# -- home visits ---------------------------------------------------------------------------


@router.post("/leases/{lease_id}/visits", response_model=VisitOut, status_code=201)
async def record_visit(
    lease_id: uuid.UUID, body: VisitIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow,
        _work(lambda uow: commands.record_visit(ctx, uow, principal, lease_id, body)),
        status_code=201,
    )


@router.get("/visits/due", response_model=Page[DueVisitOut])
async def visits_due(
    ctx: Ctx, principal: Reader, page: PageDep, by: date | None = None
) -> Page[DueVisitOut]:
    """The rolling schedule: leases whose yearly visit is due by ``by`` (default today)."""
    return await queries.visits_due(ctx, by or today_shanghai(), page)


@router.get("/visits/{visit_id}", response_model=VisitOut)
async def get_visit(visit_id: uuid.UUID, ctx: Ctx, principal: Reader) -> VisitOut:
    return await queries.visit(ctx, visit_id)


@router.post(
    "/visits/{visit_id}/photos",
    response_model=PhotoOut,
    status_code=201,
    openapi_extra=_binary("image/jpeg", "image/png"),
    responses=problem_responses(commands.UnsupportedPhoto),
)
async def add_photo(
    visit_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: Officer,
    file_name: FileName,
) -> Response:
    """One photo as the raw body; the same photo again changes nothing (200)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    content = await request.body()
    return await idem.run(
        ctx.uow,
        _work(
            lambda uow: commands.add_photo(
                ctx,
                uow,
                principal,
                visit_id,
                file_name=file_name,
                content_type=content_type,
                content=content,
            )
        ),
        status_code=201,
    )


# -- violations ----------------------------------------------------------------------------


@router.get("/violations", response_model=Page[ViolationOut])
async def list_violations(
    ctx: Ctx,
    principal: Reader,
    page: PageDep,
    status: Annotated[str | None, Query(pattern=r"^(open|overdue|rectified|escalated)$")] = None,
    lease_id: uuid.UUID | None = None,
) -> Page[ViolationOut]:
    return await queries.violations_of(ctx, status, lease_id, page)


@router.post("/violations/{violation_id}/rectified", response_model=ViolationOut)
async def violation_rectified(
    violation_id: uuid.UUID, body: NoteIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """The fix was verified on site; the order closes."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.rectified(ctx, uow, principal, violation_id, body))
    )


@router.post("/violations/{violation_id}/escalate", response_model=ViolationOut)
async def violation_escalate(
    violation_id: uuid.UUID, body: NoteIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Past the deadline without a fix: early recovery under the clause the finding breaks."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.escalate(ctx, uow, principal, violation_id, body))
    )


# -- exits ---------------------------------------------------------------------------------


@router.post("/leases/{lease_id}/exits", response_model=ExitOut, status_code=201)
async def start_exit(
    lease_id: uuid.UUID, body: ExitIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """The recovery notice (or the tenant's own notice to leave) with its move-out deadline."""
    return await idem.run(
        ctx.uow,
        _work(lambda uow: commands.start_exit(ctx, uow, principal, lease_id, body)),
        status_code=201,
    )


@router.get("/exits/{exit_id}", response_model=ExitOut)
async def get_exit(exit_id: uuid.UUID, ctx: Ctx, principal: Reader) -> ExitOut:
    return await queries.exit_case(ctx, exit_id)


@router.post("/exits/{exit_id}/inspection", response_model=ExitOut)
async def inspect(
    exit_id: uuid.UUID, body: InspectionIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Move-out inspection (验房): damages, unpaid rent, deposit settlement."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.inspect(ctx, uow, principal, exit_id, body))
    )


@router.post("/exits/{exit_id}/move-out", response_model=ExitOut)
async def move_out(
    exit_id: uuid.UUID, body: MoveOutIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Keys returned: the lease ends and ``tenancy.unit_vacated`` goes to allocation."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.move_out(ctx, uow, principal, exit_id, body))
    )


@router.post("/exits/{exit_id}/court-referral", response_model=ExitOut)
async def court_referral(
    exit_id: uuid.UUID, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Refusal to leave after the deadline: a court-enforcement referral record."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.refer_to_court(ctx, uow, principal, exit_id))
    )


@router.get("/public/exits", response_model=Page[PublicExitOut])
async def public_exits(ctx: Ctx, page: PageDep) -> Page[PublicExitOut]:
    """Exits as published (退出情况): masked tenant, district, how and when."""
    return await queries.public_exits(ctx, page)


# -- subsidies -----------------------------------------------------------------------------


@router.get("/subsidies", response_model=list[SubsidyOut])
async def list_subsidies(
    ctx: Ctx, principal: Reader, household_reference: Annotated[str, Query(max_length=40)]
) -> list[SubsidyOut]:
    return await queries.subsidies_of(ctx, household_reference)


@router.get("/subsidies/{account_id}", response_model=SubsidyOut)
async def get_subsidy(account_id: uuid.UUID, ctx: Ctx, principal: Reader) -> SubsidyOut:
    return await queries.subsidy(ctx, account_id)


@router.post("/subsidies/{account_id}/end")
async def end_subsidy(
    account_id: uuid.UUID, body: SubsidyEndIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Eligibility ended: nothing is paid for that day or later (实时取消)."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.end_subsidy(ctx, uow, principal, account_id, body))
    )


@router.post("/subsidy-payments/{month}", response_model=ScheduleOut)
async def schedule_subsidies(
    month: Month, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.schedule_subsidies(ctx, uow, _month(month)))
    )


# -- figures -------------------------------------------------------------------------------


@router.get("/statistics", response_model=StatisticsOut)
async def statistics(
    ctx: Ctx, principal: Reader, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> StatisticsOut:
    """Use and exit figures (使用、退出) for the cockpit and the periodic reports."""
    today = today_shanghai()
    return await queries.statistics(ctx, year or today.year, today)


# -- re-review campaign --------------------------------------------------------------------


@router.post("/campaigns/{year}", response_model=CampaignOut)
async def record_campaign(
    year: Annotated[int, Path(ge=2000, le=2100)], ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """The year's re-review campaign: the leases it covers, recorded once."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.record_campaign(ctx, uow, principal, year))
    )


@router.get("/rereviews/{year}", response_model=Page[RereviewOut])
async def list_rereviews(
    year: Annotated[int, Path(ge=2000, le=2100)],
    ctx: Ctx,
    principal: Reader,
    page: PageDep,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$")] = None,
) -> Page[RereviewOut]:
    """A campaign's re-reviews; ``status=officer_decides``: verdicts an officer must make."""
    return await queries.rereviews_of(ctx, year, status, page)


@router.get("/public/rereviews/{year}", response_model=Page[PublicRereviewOut])
async def public_rereviews(
    year: Annotated[int, Path(ge=2000, le=2100)], ctx: Ctx, page: PageDep
) -> Page[PublicRereviewOut]:
    """Re-review results as published: masked tenant, district, outcome, rent band."""
    return await queries.public_rereviews(ctx, year, page)


# -- electricity use (power company) and vacancy leads -------------------------------------

POWER_COMPANY = "power_company"


async def _power_company(principal: CurrentPrincipal) -> Principal:
    # Only the power company's own system: not admins, not another department.
    if POWER_COMPANY not in principal.departments:
        raise Forbidden(detail="仅供电公司的系统可以访问用电量请求。")
    return principal


PowerCompany = Annotated[Principal, Depends(_power_company)]


@router.post("/power-requests/{month}", response_model=PowerRequestsOut)
async def request_power_readings(
    month: Month, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Ask the power company for the month's use of every let unit (once per unit-month)."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.request_power_readings(ctx, uow, _month(month)))
    )


@router.get(
    f"/departments/{POWER_COMPANY}/requests",
    response_model=Page[PowerRequestOut],
    tags=["departments"],
)
async def power_requests(
    ctx: Ctx,
    principal: PowerCompany,
    page: PageDep,
    month: Annotated[
        str | None, Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="月份，如 2026-03")
    ] = None,
) -> Page[PowerRequestOut]:
    """Unit-months awaiting the month's electricity use (the unit only, no household)."""
    return await queries.power_requests(ctx, _month(month) if month else None, page)


@router.post(
    f"/departments/{POWER_COMPANY}/readings",
    response_model=PowerReadingsOut,
    tags=["departments"],
)
async def power_readings(
    body: PowerReadingsIn, ctx: Ctx, idem: IdempotencyDep, principal: PowerCompany
) -> Response:
    """A batch of monthly use; the same answer again changes nothing, a different one is 409."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.record_power_readings(ctx, uow, principal, body))
    )


@router.get("/vacancy-leads", response_model=Page[VacancyLeadOut])
async def vacancy_leads(
    ctx: Ctx, principal: Reader, page: PageDep, lease_id: uuid.UUID | None = None
) -> Page[VacancyLeadOut]:
    """Units whose use stayed under the threshold for the configured months (空置线索)."""
    return await queries.vacancy_leads_of(ctx, lease_id, page)

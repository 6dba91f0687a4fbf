"""HTTP endpoints of allocation: stock, waiting list, rounds and lottery, selection, contracts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.allocation import commands, domain, queries
from services.allocation.context import Ctx
from services.allocation.problems import translated
from services.allocation.schemas import (
    AllocationOut,
    ChoicesOut,
    ConfirmationNoticeIn,
    ContractOut,
    DeclineIn,
    DeclineOut,
    DrawIn,
    EntryOut,
    FreezeIn,
    ImportReport,
    OnlineSelectIn,
    OverrideIn,
    PriorityIn,
    RoundAllocationOut,
    RoundIn,
    RoundOut,
    RoundSummaryOut,
    SelectIn,
    SubsidyChoiceIn,
    SubsidyIn,
    SubsidyOut,
    UnitIn,
    UnitOut,
    UnitPatch,
)
from shared.auth import (
    APPLICANT,
    CITY_LEADER,
    HOUSING_OFFICER,
    NOTARY,
    Principal,
    require_roles,
)
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyDep
from shared.pagination import Page, PageDep

router = APIRouter(tags=["allocation"])

Officer = Annotated[Principal, Depends(require_roles(HOUSING_OFFICER))]
Leader = Annotated[Principal, Depends(require_roles(CITY_LEADER))]
Notary = Annotated[Principal, Depends(require_roles(NOTARY))]
Staff = Annotated[Principal, Depends(require_roles(HOUSING_OFFICER, CITY_LEADER, NOTARY))]
Applicant = Annotated[Principal, Depends(require_roles(APPLICANT))]
StaffOrApplicant = Annotated[
    Principal, Depends(require_roles(HOUSING_OFFICER, CITY_LEADER, NOTARY, APPLICANT))
]


def _work(fn: Callable[[UnitOfWork], Awaitable[Any]]) -> Callable[[UnitOfWork], Awaitable[Any]]:
    """The command with its domain refusals turned into problems (inside the transaction)."""

    async def work(uow: UnitOfWork) -> Any:
        return await translated(lambda: fn(uow))

    return work


# -- stock --------------------------------------------------------------------------------


@router.post("/stock/import", response_model=ImportReport, status_code=201)
async def import_stock(
    request: Request, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """CSV (UTF-8) of units; all or nothing, the 422 report names every bad row and field."""
    text = (await request.body()).decode("utf-8", errors="replace")
    return await idem.run(
        ctx.uow,
        _work(lambda uow: commands.import_stock(ctx, uow, principal, text)),
        status_code=201,
    )


@router.post("/units", response_model=UnitOut, status_code=201)
async def add_unit(body: UnitIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.add_unit(ctx, uow, principal, body)), status_code=201
    )


@router.patch("/units/{unit_id}", response_model=UnitOut)
async def edit_unit(
    unit_id: uuid.UUID, body: UnitPatch, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.edit_unit(ctx, uow, principal, unit_id, body))
    )


@router.get("/units", response_model=list[UnitOut])
async def list_units(ctx: Ctx, principal: Staff, status: str | None = None) -> list[UnitOut]:
    return await queries.list_units(ctx, status)


@router.get("/public/stock", response_model=list[UnitOut])
async def public_stock(ctx: Ctx) -> list[UnitOut]:
    """The stock as disclosed (六公开: 房源): units carry no personal data."""
    return await queries.list_units(ctx, None)


# -- waiting list -------------------------------------------------------------------------


@router.get("/waiting/{reference}", response_model=EntryOut)
async def waiting_entry(reference: str, ctx: Ctx, principal: Staff) -> EntryOut:
    return await queries.entry(ctx, reference)


@router.post("/waiting/{reference}/priority")
async def set_priority(
    reference: str, body: PriorityIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.set_priority(ctx, uow, principal, reference, body))
    )


@router.post("/waiting/confirmation-notices")
async def request_confirmations(
    body: ConfirmationNoticeIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """The annual confirmation of need: every waiting household of the category is asked."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.request_confirmations(ctx, uow, principal, body))
    )


@router.post("/waiting/{reference}/confirm")
async def confirm_need(
    reference: str, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.confirm_need(ctx, uow, principal, reference))
    )


@router.get("/public/waiting/{category}")
async def public_waiting(category: str, ctx: Ctx) -> list[dict[str, Any]]:
    return await queries.public_list(ctx, category)


@router.get("/public/waiting-statistics")
async def waiting_statistics(ctx: Ctx) -> list[dict[str, Any]]:
    return await queries.statistics(ctx)


@router.post("/subsidy/quote", response_model=SubsidyOut)
async def subsidy_quote(body: SubsidyIn, ctx: Ctx, principal: Staff) -> SubsidyOut:
    amount = await translated(
        lambda: _async(domain.subsidy(ctx.rules, body.member_count, body.income_band))
    )
    return SubsidyOut(monthly_amount=amount)


async def _async(value: Any) -> Any:
    return value


# -- rounds and the lottery ---------------------------------------------------------------


@router.post("/rounds", status_code=201)
async def open_round(body: RoundIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.open_round(ctx, uow, principal, body)), status_code=201
    )


@router.get("/rounds", response_model=Page[RoundSummaryOut])
async def list_rounds(ctx: Ctx, principal: Staff, page: PageDep) -> Page[RoundSummaryOut]:
    """The rounds, newest first (the staff's list; the public one is publication's)."""
    return await queries.list_rounds(ctx, page)


@router.get("/rounds/{round_id}/allocations", response_model=list[RoundAllocationOut])
async def round_allocations(
    round_id: uuid.UUID, ctx: Ctx, principal: Staff
) -> list[RoundAllocationOut]:
    """The round's allocations in rank order, with the contract of each once drafted."""
    return await queries.round_allocations(ctx, round_id)


@router.post("/rounds/{round_id}/approve")
async def approve_round(
    round_id: uuid.UUID, ctx: Ctx, idem: IdempotencyDep, principal: Leader
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.approve_round(ctx, uow, principal, round_id))
    )


@router.post("/rounds/{round_id}/freeze")
async def freeze_pool(
    round_id: uuid.UUID, body: FreezeIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.freeze_pool(ctx, uow, principal, round_id, body))
    )


@router.post("/rounds/{round_id}/commitment")
async def publish_commitment(
    round_id: uuid.UUID, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.publish_commitment(ctx, uow, principal, round_id))
    )


@router.post("/rounds/{round_id}/draw")
async def draw(
    round_id: uuid.UUID, body: DrawIn, ctx: Ctx, idem: IdempotencyDep, principal: Notary
) -> Response:
    async def draw_and_schedule(uow: UnitOfWork) -> Any:
        drawn = await commands.draw(ctx, uow, principal, round_id, body)
        return {**drawn, **await commands.schedule_selection(ctx, uow, round_id)}

    return await idem.run(ctx.uow, _work(draw_and_schedule))


@router.get("/public/rounds/{round_id}", response_model=RoundOut)
async def public_round(round_id: uuid.UUID, ctx: Ctx) -> RoundOut:
    return await queries.round_out(ctx, round_id)


@router.get("/public/rounds/{round_id}/files/{name}")
async def round_file(round_id: uuid.UUID, name: str, ctx: Ctx) -> Response:
    """pool.csv, pool_digest.txt, commitment.txt, public_input.txt, secret.txt, ranking.csv;
    after the draw also quotas.csv and selection.csv (the selection order)."""
    return await queries.round_file(ctx, round_id, name)


# -- selection and contracts --------------------------------------------------------------


@router.post("/rounds/{round_id}/selections", response_model=AllocationOut, status_code=201)
async def select_unit(
    round_id: uuid.UUID, body: SelectIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow,
        _work(lambda uow: commands.select_unit(ctx, uow, principal, round_id, body)),
        status_code=201,
    )


@router.get("/rounds/{round_id}/households/{reference}/choices", response_model=ChoicesOut)
async def choices(
    round_id: uuid.UUID, reference: str, ctx: Ctx, principal: StaffOrApplicant
) -> ChoicesOut:
    """The household's slot and the units of the round it may choose (vacant, of its size):
    for staff, or for the household's own applicant account."""
    return await queries.choices(ctx, principal, round_id, reference)


@router.post(
    "/rounds/{round_id}/households/{reference}/selection",
    response_model=AllocationOut,
    status_code=201,
)
async def select_online(
    round_id: uuid.UUID,
    reference: str,
    body: OnlineSelectIn,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: Applicant,
) -> Response:
    """Online selection (网上选房) by the household itself, in its turn, as in person."""
    select = SelectIn(household_reference=reference, unit_id=body.unit_id)

    async def work(uow: UnitOfWork) -> Any:
        await commands.check_household_account(uow, principal, reference)
        return await commands.select_unit(ctx, uow, principal, round_id, select)

    return await idem.run(ctx.uow, _work(work), status_code=201)


@router.post("/rounds/{round_id}/overrides", response_model=AllocationOut, status_code=201)
async def override_order(
    round_id: uuid.UUID, body: OverrideIn, ctx: Ctx, idem: IdempotencyDep, principal: Leader
) -> Response:
    """A leader's allocation out of rank order, with a written reason: announced as
    ``allocation.order_overridden`` for the queue-jump rule."""
    select = SelectIn(household_reference=body.household_reference, unit_id=body.unit_id)
    return await idem.run(
        ctx.uow,
        _work(
            lambda uow: commands.select_unit(
                ctx, uow, principal, round_id, select, override_reason=body.reason
            )
        ),
        status_code=201,
    )


@router.post("/rounds/{round_id}/subsidy", response_model=SubsidyOut)
async def choose_subsidy(
    round_id: uuid.UUID, body: SubsidyChoiceIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """In its turn, the household takes the rental subsidy (city formula) instead of a unit."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.choose_subsidy(ctx, uow, principal, round_id, body))
    )


@router.post("/rounds/{round_id}/declines", response_model=DeclineOut)
async def decline(
    round_id: uuid.UUID, body: DeclineIn, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.decline(ctx, uow, principal, round_id, body))
    )


@router.post("/allocations/{allocation_id}/contract", response_model=ContractOut, status_code=201)
async def draft_contract(
    allocation_id: uuid.UUID, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    return await idem.run(
        ctx.uow,
        _work(lambda uow: commands.draft_contract(ctx, uow, principal, allocation_id)),
        status_code=201,
    )


@router.post("/contracts/{contract_id}/sign", response_model=ContractOut)
async def sign_contract(
    contract_id: uuid.UUID, ctx: Ctx, idem: IdempotencyDep, principal: Officer
) -> Response:
    """Signed at the office in the household's presence (the officer records it)."""
    return await idem.run(
        ctx.uow, _work(lambda uow: commands.sign_contract(ctx, uow, principal, contract_id))
    )

"""Event entrypoints: qualified households, their members' hashes, bans, vacated units."""

from __future__ import annotations

from services.allocation import commands
from services.allocation.context import AllocationContext
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationQualified,
    ApplicationSubmitted,
    CreditBanImposed,
    TenancyUnitVacated,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(ApplicationSubmitted)
async def on_application_submitted(
    ctx: AllocationContext, uow: UnitOfWork, event: ApplicationSubmitted, envelope: Envelope
) -> None:
    """Members' id hashes, so that a ban on any of them finds the household later."""
    await commands.link_household(uow, event)


@handles(ApplicationQualified)
async def on_application_qualified(
    ctx: AllocationContext, uow: UnitOfWork, event: ApplicationQualified, envelope: Envelope
) -> None:
    await commands.enter_waiting_list(ctx, uow, event)


@handles(CreditBanImposed)
async def on_ban_imposed(
    ctx: AllocationContext, uow: UnitOfWork, ban: CreditBanImposed, envelope: Envelope
) -> None:
    await commands.suspend_for_ban(ctx, uow, ban)


@handles(TenancyUnitVacated)
async def on_unit_vacated(
    ctx: AllocationContext, uow: UnitOfWork, event: TenancyUnitVacated, envelope: Envelope
) -> None:
    await commands.unit_vacated(ctx, uow, event)


HANDLERS = handler_map(
    on_application_submitted, on_application_qualified, on_ban_imposed, on_unit_vacated
)

"""Event entrypoints of the intake service: typed payload in, command out.

* ``credit.ban_imposed`` / ``credit.ban_lifted`` keep the local ban projection that submission
  checks, so that applying never waits on a synchronous call to credit.
* ``application.rejected`` from review ends a live application: its members may apply again.

The queue's bindings derive from ``HANDLERS`` (``shared.handlers.derive_bindings``).
"""

from __future__ import annotations

from services.intake import commands
from services.intake.context import IntakeContext
from shared.db import UnitOfWork
from shared.events.catalogue import ApplicationRejected, CreditBanImposed, CreditBanLifted
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(CreditBanImposed)
async def on_ban_imposed(
    ctx: IntakeContext, uow: UnitOfWork, ban: CreditBanImposed, envelope: Envelope
) -> None:
    await commands.project_ban(ctx, uow, ban)


@handles(CreditBanLifted)
async def on_ban_lifted(
    ctx: IntakeContext, uow: UnitOfWork, lift: CreditBanLifted, envelope: Envelope
) -> None:
    await commands.project_lift(ctx, uow, lift)


@handles(ApplicationRejected)
async def on_application_rejected(
    ctx: IntakeContext, uow: UnitOfWork, rejected: ApplicationRejected, envelope: Envelope
) -> None:
    await commands.close_rejected(ctx, uow, rejected)


HANDLERS = handler_map(on_ban_imposed, on_ban_lifted, on_application_rejected)

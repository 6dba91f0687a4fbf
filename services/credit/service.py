"""Composition root of the credit service: what it listens to, handles and serves."""

from __future__ import annotations

from services.credit import handlers, registry
from services.credit.api import build_router
from services.credit.config import CreditConfig, load_config
from services.credit.registry import CreditContext
from services.credit.sharing import share_sweep
from services.credit.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition
from shared.scheduler import periodic

# Routing keys on housing.events this service hears: pledges come with submitted applications,
# dishonesty candidates with completed verifications. ``application.#`` rather than only
# ``.submitted``: the platform's walking-skeleton contract is that every intake event reaches
# every other service; events without a handler here are acknowledged and ignored.
BINDINGS = (
    Binding("application.#"),
    Binding("verification.completed"),
)


def definition(config: CreditConfig | None = None) -> ServiceDefinition:
    ctx = CreditContext(config or load_config())
    return ServiceDefinition(
        name="credit",
        title="Credit 诚信档案",
        description="Integrity records, notice procedure, bans and the agency blacklist.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={
            "application.submitted": handlers.on_application_submitted,
            "verification.completed": handlers.on_verification_completed,
        },
        routers=(build_router(ctx),),
        background=(
            periodic("credit-ban-expiry", ctx.config.expiry_sweep_seconds, registry.expire_bans),
            periodic(
                "credit-share-push",
                ctx.config.share_sweep_seconds,
                share_sweep(ctx.config.city_credit_system),
            ),
        ),
    )

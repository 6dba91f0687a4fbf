"""Composition root of the credit service: reads its settings and rules, builds its context,
and says what it handles, serves and runs periodically. The only module that reads
configuration."""

from __future__ import annotations

from services.credit import api, printing_api, sweeps
from services.credit.adapters.city_credit import CityCredit
from services.credit.context import CreditContext
from services.credit.handlers import HANDLERS
from services.credit.settings import CreditConfig, CreditSettings, load_config
from services.credit.tables import metadata
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job


def definition(
    config: CreditConfig | None = None, settings: CreditSettings | None = None
) -> ServiceDefinition:
    """The credit service; tests may pass the credit rules or the settings directly."""
    settings = settings or CreditSettings()
    config = config or load_config(settings.config_file)
    city_credit = CityCredit(config.city_credit_system)

    def build_context(runtime: Runtime) -> CreditContext:
        return CreditContext(
            **base_fields(runtime), settings=settings, config=config, city_credit=city_credit
        )

    return ServiceDefinition(
        name="credit",
        title="Credit 诚信档案",
        description="Integrity records, notice procedure, bans and the agency blacklist.",
        metadata=metadata,
        # Bindings derive from HANDLERS: application.submitted and verification.completed.
        handlers=HANDLERS,
        routers=(api.router, printing_api.router),
        background=(
            sweep_job("credit-ban-expiry", config.expiry_sweep_seconds, sweeps.expire_bans),
            sweep_job("credit-share-push", config.share_sweep_seconds, sweeps.push_shares),
            sweep_job("credit-pboc-export", config.pboc_export.sweep_seconds, sweeps.export_pboc),
        ),
        outbound_urls=lambda ctx: [
            ("credit.city_credit_system.url", ctx.config.city_credit_system.url)
        ],
        context=build_context,
    )

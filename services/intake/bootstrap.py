"""Composition root of the intake service: reads its settings, builds its context, and says
what it handles, serves and runs periodically. The only module that reads configuration."""

from __future__ import annotations

from services.intake import api, sweeps
from services.intake.context import IntakeContext
from services.intake.handlers import HANDLERS
from services.intake.settings import IntakeSettings
from services.intake.tables import metadata
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job


def definition(settings: IntakeSettings | None = None) -> ServiceDefinition:
    """The intake service; tests may pass its settings directly."""
    settings = settings or IntakeSettings()

    def build_context(runtime: Runtime) -> IntakeContext:
        return IntakeContext(**base_fields(runtime), settings=settings)

    return ServiceDefinition(
        name="intake",
        title="Intake 申请受理",
        description="Online and window applications, acceptance receipts and supplement notices.",
        metadata=metadata,
        # Bindings derive from HANDLERS: credit.ban_imposed, credit.ban_lifted (the ban
        # projection) and application.rejected (review's rejections free the members).
        handlers=HANDLERS,
        routers=(api.router,),
        background=(
            sweep_job(
                "intake.supplement_overdue",
                settings.overdue_sweep_seconds,
                sweeps.overdue_notices,
            ),
        ),
        context=build_context,
    )

"""Composition root of the intake service: reads its settings, builds its context, and says
what it handles, serves and runs periodically. The only module that reads configuration."""

from __future__ import annotations

from services.intake import api, materials_api, printing_api, reference_api, sweeps
from services.intake.adapters.notifier import HttpSmsNotifier, LogNotifier, Notifier
from services.intake.context import IntakeContext
from services.intake.handlers import HANDLERS
from services.intake.settings import DEV_DRAFT_KEY, IntakeSettings
from services.intake.tables import metadata
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job
from shared.sealing import JsonSealer


def build_notifier(settings: IntakeSettings) -> Notifier:
    if settings.notifier == "http":
        if not settings.sms_gateway_url:
            raise ValueError("HOUSING_INTAKE_NOTIFIER=http needs HOUSING_INTAKE_SMS_GATEWAY_URL")
        return HttpSmsNotifier(
            settings.sms_gateway_url,
            retries=settings.sms_retries,
            backoff_seconds=settings.sms_backoff_seconds,
            timeout_seconds=settings.sms_timeout_seconds,
            token=settings.sms_gateway_token.get_secret_value()
            if settings.sms_gateway_token
            else None,
        )
    return LogNotifier()


def draft_sealer(settings: IntakeSettings, environment: str) -> JsonSealer:
    """The sealer of the online drafts; production refuses the development key, which anyone
    could use to read every household a draft holds."""
    keys = [k.get_secret_value() for k in settings.draft_keys]
    if environment == "production" and DEV_DRAFT_KEY in keys:
        raise ValueError(
            "HOUSING_INTAKE_DRAFT_KEYS holds the development key; set the city's own keys "
            "before running with HOUSING_ENVIRONMENT=production"
        )
    return JsonSealer(keys)


def definition(settings: IntakeSettings | None = None) -> ServiceDefinition:
    """The intake service; tests may pass its settings directly."""
    settings = settings or IntakeSettings()
    notifier = build_notifier(settings)

    def build_context(runtime: Runtime) -> IntakeContext:
        return IntakeContext(
            **base_fields(runtime),
            settings=settings,
            notifier=notifier,
            drafts=draft_sealer(settings, runtime.settings.environment),
        )

    return ServiceDefinition(
        name="intake",
        title="Intake 申请受理",
        description="Online and window applications, acceptance receipts and supplement notices.",
        metadata=metadata,
        # Bindings derive from HANDLERS: credit.ban_imposed, credit.ban_lifted (the ban
        # projection), application.rejected (review's rejections free the members), and what
        # the applicant is told of: verification.completed, application.qualified, allocation.*.
        handlers=HANDLERS,
        routers=(printing_api.router, api.router, materials_api.router, reference_api.router),
        background=(
            sweep_job(
                "intake.supplement_overdue",
                settings.overdue_sweep_seconds,
                sweeps.overdue_notices,
            ),
            sweep_job("intake.notify", settings.notify_seconds, sweeps.send_messages),
        ),
        outbound_urls=lambda ctx: [
            ("HOUSING_INTAKE_SMS_GATEWAY_URL", ctx.settings.sms_gateway_url)
        ],
        context=build_context,
    )

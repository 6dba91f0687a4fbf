"""Composition root of the alerting service: what it listens to, handles and serves.

It hears the events it has a handler for (bindings derived from the handler map), keeps its
own timelines, and runs
three periodic jobs: the clock sweep (clock rules, ticket escalation, reminders), the
notification dispatcher and the report sweep (定期通报). The only module that reads configuration.
"""

from __future__ import annotations

from services.alerting import queries, sweeps
from services.alerting.adapters.limiter import ComplaintLimiter
from services.alerting.adapters.notifier import HttpSmsNotifier, LogNotifier, Notifier
from services.alerting.api import router
from services.alerting.complaints_api import router as complaints_router
from services.alerting.context import AlertingContext, RuleConfig
from services.alerting.handlers import HANDLERS
from services.alerting.printing_api import router as printing_router
from services.alerting.rules import catalogue
from services.alerting.settings import AlertingSettings
from services.alerting.tables import metadata
from shared.city import city_config
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job
from shared.settings import settings_for
from shared.workdays import default_calendar


def rule_config(settings: AlertingSettings | None = None, city: str | None = None) -> RuleConfig:
    settings = settings or AlertingSettings()
    config = city_config(settings_for("alerting").city_config)
    return RuleConfig(
        calendar=default_calendar(),
        city=city or config.city.code,
        materials_grace_working_days=settings.materials_grace_working_days,
        publish_within_working_days=settings.publish_within_working_days,
        allocation_publish_within_working_days=settings.allocation_publish_within_working_days,
        acceptance_working_days=config.acceptance.time_limit_working_days,
        total_working_days=config.time_limits.total_working_days,
        complaint_answer_working_days=settings.complaint_answer_working_days,
    )


def build_notifier(settings: AlertingSettings) -> Notifier:
    if settings.notifier == "http":
        if not settings.sms_gateway_url:
            raise ValueError(
                "HOUSING_ALERTING_NOTIFIER=http needs HOUSING_ALERTING_SMS_GATEWAY_URL"
            )
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


def definition(settings: AlertingSettings | None = None) -> ServiceDefinition:
    settings = settings or AlertingSettings()
    catalogue()  # a broken data/rules.yaml stops the service at start
    cfg = rule_config(settings)
    notifier = build_notifier(settings)
    limiter = ComplaintLimiter(settings.complaint_rate_burst, settings.complaint_rate_per_minute)

    def build_context(runtime: Runtime) -> AlertingContext:
        return AlertingContext(
            **base_fields(runtime),
            settings=settings,
            rules=cfg,
            notifier=notifier,
            complaint_limiter=limiter,
        )

    return ServiceDefinition(
        name="alerting",
        title="Alerting 预警督办",
        description="Supervision rules, red and yellow lights, tickets and the cockpit.",
        metadata=metadata,
        handlers=HANDLERS,
        routers=(router, complaints_router, printing_router),
        background=(
            sweep_job("alerting-clock-sweep", settings.sweep_seconds, sweeps.clock),
            sweep_job("alerting-notify", settings.dispatch_seconds, sweeps.notify),
            sweep_job(
                "alerting-periodic-reports", settings.report_sweep_seconds, sweeps.periodic_reports
            ),
        ),
        outbound_urls=lambda ctx: [
            ("HOUSING_ALERTING_SMS_GATEWAY_URL", ctx.settings.sms_gateway_url)
        ],
        context=build_context,
        gauges=queries.gauges,
    )

"""Composition root of the tenancy service (租后管理): the only module reading configuration."""

from __future__ import annotations

from services.tenancy import api, sweeps
from services.tenancy.context import TenancyContext
from services.tenancy.handlers import HANDLERS
from services.tenancy.settings import TenancySettings, load_rules
from services.tenancy.tables import metadata
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job


def definition(settings: TenancySettings | None = None) -> ServiceDefinition:
    own = settings or TenancySettings()
    rules = load_rules(own.rules_file)

    def build_context(runtime: Runtime) -> TenancyContext:
        return TenancyContext(**base_fields(runtime), settings=own, rules=rules)

    every = own.sweep_seconds
    return ServiceDefinition(
        name="tenancy",
        title="Tenancy 租后管理",
        description=(
            "Leases, income-graded rent and its collection, arrears, home visits, violations "
            "and rectification, exits, rental subsidy payments."
        ),
        metadata=metadata,
        handlers=HANDLERS,
        routers=(api.router,),
        background=(
            sweep_job("tenancy-billing", every, sweeps.billing),
            sweep_job("tenancy-arrears", every, sweeps.arrears),
            sweep_job("tenancy-visit-reminders", every, sweeps.visit_reminders),
            sweep_job("tenancy-rectification", every, sweeps.rectification_deadlines),
            sweep_job("tenancy-subsidies", every, sweeps.subsidies),
            sweep_job("tenancy-rereview-reminders", every, sweeps.rereview_reminders),
            sweep_job("tenancy-rereview-deadlines", every, sweeps.rereview_deadlines),
            sweep_job("tenancy-graded-exits", every, sweeps.graded_exits),
            sweep_job("tenancy-power-requests", own.power_sweep_seconds, sweeps.power_requests),
            sweep_job("tenancy-vacancy-leads", own.power_sweep_seconds, sweeps.vacancy_leads),
        ),
        context=build_context,
    )

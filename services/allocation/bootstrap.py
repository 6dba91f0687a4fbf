"""Composition root of the allocation service (轮候配租): the only module reading configuration."""

from __future__ import annotations

from services.allocation import api, printing_api, sweeps
from services.allocation.context import AllocationContext
from services.allocation.handlers import HANDLERS
from services.allocation.settings import AllocationSettings, load_clauses, load_rules
from services.allocation.tables import metadata
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job


def definition(settings: AllocationSettings | None = None) -> ServiceDefinition:
    own = settings or AllocationSettings()
    rules = load_rules(own.rules_file)
    template = own.contract_template.read_text(encoding="utf-8")
    clauses = load_clauses(own.recovery_clauses_file)

    def build_context(runtime: Runtime) -> AllocationContext:
        return AllocationContext(
            **base_fields(runtime),
            settings=own,
            rules=rules,
            contract_template=template,
            clauses=clauses,
        )

    return ServiceDefinition(
        name="allocation",
        title="Allocation 轮候配租",
        description="Housing stock, waiting list, verifiable lottery rounds, selection, contracts.",
        metadata=metadata,
        handlers=HANDLERS,
        routers=(api.router, printing_api.router),
        background=(
            sweep_job(
                "allocation-contract-deadlines", own.sweep_seconds, sweeps.contract_deadlines
            ),
            sweep_job("allocation-unconfirmed", own.sweep_seconds, sweeps.unconfirmed_entries),
            sweep_job(
                "allocation-selection-deadlines",
                own.selection_sweep_seconds,
                sweeps.selection_deadlines,
            ),
        ),
        context=build_context,
    )

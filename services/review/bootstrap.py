"""Composition root of the review service: reads its settings, loads the workflow presets,
builds the context from the runtime's city, and lists what it handles, serves and runs.

The only module of review that reads configuration.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.review import api, sweeps
from services.review.context import ReviewContext
from services.review.handlers import HANDLERS
from services.review.settings import ReviewSettings
from services.review.tables import metadata
from services.review.workflow import Workflow, load_workflows
from shared.context import base_fields
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import sweep_job


def definition(
    settings: ReviewSettings | None = None, workflows: Mapping[str, Workflow] | None = None
) -> ServiceDefinition:
    settings = settings or ReviewSettings()
    # Every preset is loaded and validated here, before anything is served: a bad definition
    # stops start-up with the file and field named (WorkflowError).
    presets = dict(workflows) if workflows is not None else load_workflows()

    def build_context(runtime: Runtime) -> ReviewContext:
        # The city file (validated by the runtime) names the preset in force.
        if runtime.city.workflow.value not in presets:
            raise ValueError(f"workflow: no preset named {runtime.city.workflow.value!r}")
        return ReviewContext(**base_fields(runtime), settings=settings, workflows=presets)

    return ServiceDefinition(
        name="review",
        title="Review 分级审核",
        description="Tiered review with ordered real-name signatures and working-day time limits.",
        metadata=metadata,
        handlers=HANDLERS,
        routers=(api.router,),
        # The clock runs for as long as the service does (readiness watches it).
        background=(sweep_job("review-clock", settings.clock_sweep_seconds, sweeps.clock),),
        context=build_context,
    )

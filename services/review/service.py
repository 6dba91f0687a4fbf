"""Composition root of the review service: what it listens to, handles and serves."""

from services.review.api import build_router
from services.review.casework import ReviewContext
from services.review.handlers import build_handlers
from services.review.sweeps import clock_sweep
from services.review.tables import metadata
from services.review.workflow import load_workflows
from shared.amqp.topology import Binding
from shared.runtime import Runtime, ServiceDefinition
from shared.scheduler import periodic

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("application.#"),
    Binding("verification.completed"),
    Binding("publicity.#"),
    Binding("objection.#"),
)

# Suspensions end and deadlines pass at day boundaries; a minute is early enough to notice.
CLOCK_SWEEP_SECONDS = 60.0


def definition(ctx: ReviewContext | None = None) -> ServiceDefinition:
    # Every preset is loaded and validated here, before anything is served: a bad definition
    # stops start-up with the file and field named (WorkflowError).
    ctx = ctx or ReviewContext(workflows=load_workflows())

    sweep_job = periodic("review-clock", CLOCK_SWEEP_SECONDS, clock_sweep(ctx))

    async def review_clock(runtime: Runtime) -> None:
        # The city file (validated by the runtime) names the preset in force; handlers wait for
        # this. Then the clock runs for as long as the service does (readiness watches it).
        ctx.bind(runtime.city)
        await sweep_job(runtime)

    review_clock.__name__ = "review-clock"
    return ServiceDefinition(
        name="review",
        title="Review 分级审核",
        description="Tiered review with ordered real-name signatures and working-day time limits.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers=build_handlers(ctx),
        routers=(build_router(ctx),),
        background=(review_clock,),
    )

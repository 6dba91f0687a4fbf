"""Composition root of the review service: what it listens to, handles and serves."""

from services.review.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("application.#"),
    Binding("verification.completed"),
    Binding("publicity.#"),
    Binding("objection.#"),
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="review",
        title="Review 分级审核",
        description="Tiered review with ordered real-name signatures and working-day time limits.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={},
        routers=(),
    )

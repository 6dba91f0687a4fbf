"""Composition root of the credit service: what it listens to, handles and serves."""

from services.credit.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("application.#"),
    Binding("verification.completed"),
    Binding("review.#"),
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="credit",
        title="Credit 诚信档案",
        description="Integrity records, notice procedure, bans and the agency blacklist.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={},
        routers=(),
    )

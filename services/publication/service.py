"""Composition root of the publication service: what it listens to, handles and serves."""

from services.publication.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("application.#"),
    Binding("review.#"),
    Binding("verification.completed"),
    Binding("alert.#"),
    Binding("credit.#"),
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="publication",
        title="Publication 信息公开",
        description="Publicity notices, objections, disclosures and the provincial push.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={},
        routers=(),
    )

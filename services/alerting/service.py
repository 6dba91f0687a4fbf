"""Composition root of the alerting service: what it listens to, handles and serves."""

from services.alerting.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (Binding("#"),)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="alerting",
        title="Alerting 预警督办",
        description="Supervision rules, red and yellow lights, tickets and the cockpit.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={},
        routers=(),
    )

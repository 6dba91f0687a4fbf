"""Composition root of the intake service: what it listens to, handles and serves."""

from services.intake.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("credit.ban_imposed"),
    Binding("credit.ban_lifted"),
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="intake",
        title="Intake 申请受理",
        description="Online and window applications, acceptance receipts and supplement notices.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={},
        routers=(),
    )

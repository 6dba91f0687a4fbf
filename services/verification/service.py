"""Composition root of the verification service: what it listens to, handles and serves."""

from services.verification.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events (and housing.verification where marked) this service hears.
BINDINGS = (
    Binding("application.accepted"),
    Binding("response.*", exchange="verification"),
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="verification",
        title="Verification 联审联查",
        description="Parallel cross-department verification and eligibility recommendation.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers={},
        routers=(),
    )
